"""External judged data (TREC Clinical Trials 2022, SIGIR 2016) on the 6,785-record CT.gov archive.

Runs only with `trialfinder eval --external` and when `../shared/external` exists (never inside pytest:
it needs the whole archive indexed). Next to trialfinder's figures it computes, in the same run and on the
same corpus, a plain BM25 baseline: bm25s (k1 1.2, b 0.75, Robertson IDF, English stop words, Snowball
stemming) over all the text of each XML record, with the topic's words as the query.
"""

from __future__ import annotations

import sys
import tarfile
from collections import defaultdict
from pathlib import Path

from defusedxml import ElementTree

from evals import metrics
from evals.schema import EligibilityCase, RankingCase, load_datasets
from ingest.passages import FACTS_SECTION
from trialfinder.settings import Settings

SHARED = Settings().shared_dir
EXTERNAL_DIR = SHARED / "external"
ARCHIVE = SHARED / "corpus" / "ctgov-xml-2023-02.tar.xz"
SETS = ("trec_2022", "sigir")

CAUSE_EXTRACTION = "extraction missed a fact"
CAUSE_RULE = "rule missing"
CAUSE_MATCHING = "matching"
CAUSE_STRUCTURED = "record's structured age/sex limits"


def archive_records(
    archive: Path, keep: frozenset[str] | set[str] = frozenset()
) -> tuple[list[str], list[str], dict[str, bytes]]:
    """(NCT ids, all text of each record, raw bytes of the records in `keep`), read without unpacking."""
    ids, texts, kept = [], [], {}
    with tarfile.open(archive) as tar:
        for member in tar:
            if not (member.isfile() and member.name.endswith(".xml")):
                continue
            handle = tar.extractfile(member)
            if handle is None:
                continue
            data = handle.read()
            root = ElementTree.fromstring(data)
            nct_id = root.findtext("id_info/nct_id") or Path(member.name).stem
            ids.append(nct_id)
            texts.append(" ".join(part.strip() for part in root.itertext() if part.strip()))
            if nct_id in keep:
                kept[nct_id] = data
    return ids, texts, kept


def parse_records(records: dict[str, bytes]) -> dict:
    """trial id -> Trial, parsed by the project's own XML parser (what ingest would store)."""
    from ingest.formats import parse_document_each

    trials = {}
    for nct_id, data in records.items():
        for result in parse_document_each(f"{nct_id}.xml", data):
            if hasattr(result, "trial_id"):
                trials[result.trial_id] = result
    return trials


class Bm25Baseline:
    """Plain BM25 over whole records: the yardstick the issue and the external README name."""

    def __init__(self, ids: list[str], texts: list[str]):
        import bm25s
        import Stemmer

        self.ids = ids
        self._stemmer = Stemmer.Stemmer("english")
        self._bm25 = bm25s.BM25(k1=1.2, b=0.75, method="robertson")
        self._bm25.index(self._tokens(texts), show_progress=False)

    def _tokens(self, texts: list[str]):
        import bm25s

        return bm25s.tokenize(texts, stopwords="en", stemmer=self._stemmer, show_progress=False)

    def rank(self, queries: list[str], k: int = 10) -> list[list[str]]:
        """The top-k record ids for each query."""
        results, _ = self._bm25.retrieve(self._tokens(queries), k=min(k, len(self.ids)), show_progress=False)
        return [[self.ids[i] for i in row] for row in results]


def open_archive_index(settings, folder: Path):
    """The archive's own index in `folder`, ingested on first use (and when the archive changed)."""
    from app.indexer import ingest_paths, is_stale
    from vectorstore.index import TrialIndex

    index = TrialIndex.open(settings.model_copy(update={"index_dir": Path(folder)}))
    if is_stale(index, ARCHIVE):
        print(f"eval --external: ingesting {ARCHIVE} into {folder} (once; later runs reuse it)", file=sys.stderr)
        report = ingest_paths([ARCHIVE], index, progress=True)
        print(
            f"eval --external: {report.ingested} added, {report.unchanged} unchanged, {report.failed} failed "
            f"in {report.timings.total_seconds:.0f} s",
            file=sys.stderr,
        )
    return index


def run_external(settings, folder: Path, *, build_index: bool = True) -> tuple[dict, list[dict]]:
    """Metrics per external set (trialfinder and BM25) and the case records.

    Eligibility cases run the checker on the judged records parsed from the archive (no index needed).
    Ranking cases run `search` on the archive index in `folder`, built first when `build_index` (the
    slow part: every chunk of 6,785 records is embedded); without it and without a complete index, only
    the BM25 baseline is reported for ranking.
    """
    if not (EXTERNAL_DIR.is_dir() and ARCHIVE.is_file()):
        return {"skipped": f"{EXTERNAL_DIR} or {ARCHIVE} not found"}, []
    from evals.execute import CaseRunner
    from evals.runner import run_cases

    sets = {
        name: load_datasets(
            [
                EXTERNAL_DIR / name / f
                for f in ("ranking.jsonl", "eligibility.jsonl")
                if (EXTERNAL_DIR / name / f).is_file()
            ]
        )
        for name in SETS
        if (EXTERNAL_DIR / name).is_dir()
    }
    judged = {c.trial for cases in sets.values() for c in cases if isinstance(c, EligibilityCase)}
    ids, texts, raw = archive_records(ARCHIVE, judged)
    baseline = Bm25Baseline(ids, texts)
    index = _archive_index(settings, folder, len(ids), build_index)
    runner = CaseRunner(index, index.settings if index else settings, trials=parse_records(raw))
    results: dict = {"corpus": {"records": len(ids), "indexed_trials": index.stats().trials if index else 0}}
    records: list[dict] = []
    for name, cases in sets.items():
        runnable = [c for c in cases if index is not None or not isinstance(c, RankingCase)]
        pairs = run_cases(runner, runnable, label=name)
        for _, record in pairs:
            record["dataset"] = f"{name}/{record['dataset']}"
        records += [r for _, r in pairs]
        results[name] = score_set(pairs, [c for c in cases if isinstance(c, RankingCase)], baseline)
    return results, records


def _archive_index(settings, folder: Path, records: int, build: bool):
    """The archive index when it is complete (or `build` makes it so), else None."""
    from vectorstore.index import TrialIndex

    if build:
        return open_archive_index(settings, folder)
    if not (Path(folder) / "records.sqlite").is_file():
        return None
    index = TrialIndex.open(settings.model_copy(update={"index_dir": Path(folder)}))
    if index.stats().trials < 0.99 * records:
        index.close()
        return None
    return index


def score_set(pairs: list[tuple[object, dict]], ranking_cases: list[RankingCase], baseline: Bm25Baseline) -> dict:
    """Ranking (trialfinder vs BM25), eligibility figures and the failures grouped by cause for one set."""
    ranking = [(c, r) for c, r in pairs if isinstance(c, RankingCase)]
    elig = [(c, r) for c, r in pairs if isinstance(c, EligibilityCase)]
    if ranking:
        ours = metrics.ranking_summary([{"case": c, "output": r["output"], "passed": r["passed"]} for c, r in ranking])
    else:
        ours = {
            "cases": 0,
            "ndcg@10": None,
            "p@10": None,
            "pass_rate": None,
            "skipped": "archive index not built (run with the index, see evals/README.md)",
        }
    bm25_lists = baseline.rank([" ".join(filter(None, (c.query, c.patient))) for c in ranking_cases])
    bm25 = {
        "cases": len(ranking_cases),
        "ndcg@10": metrics.mean(
            metrics.ndcg_at(ranked, c.judged) for ranked, c in zip(bm25_lists, ranking_cases, strict=False)
        ),
        "p@10": metrics.mean(
            metrics.precision_at(ranked, c.judged) for ranked, c in zip(bm25_lists, ranking_cases, strict=False)
        ),
    }
    ratio = (ours["ndcg@10"] / bm25["ndcg@10"]) if ours["ndcg@10"] is not None and bm25["ndcg@10"] else None
    return {
        "ranking": ours,
        "bm25": bm25,
        "ndcg_vs_bm25": ratio,
        "eligibility": {
            **metrics.eligibility_summary([{"case": c, "output": r["output"]} for c, r in elig]),
            **structured_turned_away(elig),
        },
        "failures": failures_by_cause(elig),
    }


def _verdicts(case: EligibilityCase, record: dict) -> list[dict]:
    return [v for v in record["output"].get("results", []) if v.get("trial_id") == case.trial]


def _only_structured(verdicts: list[dict]) -> bool:
    """Every ineligible cohort was failed by the record's structured age/sex fields alone.

    Those fields are the registry's own limits, not criterion text: a judge who admits a patient outside
    them overrides the record, which the checker must not do; so such pairs are counted apart.
    """
    failing = [v for v in verdicts if v.get("verdict") == "ineligible"]
    return bool(failing) and all(
        f.get("citation", {}).get("section") == FACTS_SECTION for v in failing for f in v.get("failed", [])
    )


def structured_turned_away(pairs: list[tuple[EligibilityCase, dict]]) -> dict:
    """Eligible pairs turned away, split into those caused only by the structured limits and the rest."""
    eligible = [(c, r) for c, r in pairs if c.expect != "ineligible"]
    turned = [(c, r) for c, r in eligible if metrics.best_verdict(_verdicts(c, r)) == "ineligible"]
    structured = sum(_only_structured(_verdicts(c, r)) for c, r in turned)
    return {
        "turned_away_by_structured_limits": structured,
        "eligible_turned_away_by_criteria": (len(turned) - structured) / len(eligible) if eligible else None,
    }


def failures_by_cause(pairs: list[tuple[EligibilityCase, dict]]) -> dict[str, list[str]]:
    """Wrong eligibility verdicts grouped by what to fix.

    - an excluded pair not caught, with criteria still unknown: the fact extractor missed a fact it needs;
    - not caught, nothing unknown but criteria left to review: no rule was parsed for them;
    - not caught with every criterion decided, or an eligible pair turned away: the matching was wrong.
    """
    groups: dict[str, list[str]] = defaultdict(list)
    for case, record in pairs:
        verdicts = [v for v in record["output"].get("results", []) if v.get("trial_id") == case.trial]
        best = metrics.best_verdict(verdicts)
        if case.expect == "ineligible" and best in metrics.NOT_RULED_OUT:
            needs = sorted({n for v in verdicts for u in v.get("unknown", []) for n in u.get("needs", [])})
            reviews = [r["criterion"] for v in verdicts for r in v.get("needs_review", [])]
            if needs:
                groups[CAUSE_EXTRACTION].append(f"{case.id}: {best}; unknown facts {needs[:6]}")
            elif reviews:
                groups[CAUSE_RULE].append(
                    f"{case.id}: {best}; {len(reviews)} criteria need review, e.g. {reviews[0][:90]!r}"
                )
            else:
                groups[CAUSE_MATCHING].append(f"{case.id}: {best}; every criterion judged met")
        elif case.expect == "not_ineligible" and best == "ineligible":
            failed = [f for v in verdicts for f in v.get("failed", [])]
            first = failed[0] if failed else {"criterion": "?", "reason": "?"}
            cause = CAUSE_STRUCTURED if _only_structured(verdicts) else CAUSE_MATCHING
            groups[cause].append(
                f"{case.id}: eligible pair turned away by {first['criterion'][:90]!r} ({first['reason'][:80]})"
            )
        elif best is None:
            groups[CAUSE_MATCHING].append(f"{case.id}: trial {case.trial} not in the index")
    return dict(groups)
