"""Deterministic scoring of eval outputs: pass rules of CONTRACT.md and the aggregate metrics.

Every function here works on plain JSON (the `output` a case recorded), so anyone can re-score a results
file without the index. Definitions and thresholds are documented in evals/README.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from trialfinder.ids import find_ids, strip_ids

if TYPE_CHECKING:
    from evals.schema import DialogueCase

VERDICT_ORDER = {"ineligible": 0, "possibly_eligible": 1, "eligible": 2}
NOT_RULED_OUT = {"eligible", "possibly_eligible"}

# A sentence is "supported" by a passage when at least this share of its key terms occur in the passage.
GROUNDED_OVERLAP = 0.5
# A citation is "precise" when some answer sentence has at least this share of its key terms in the cited text.
CITATION_OVERLAP = 0.5
# Sentences with fewer key terms than this carry no checkable fact (headings, "Here is what I found").
MIN_TERMS = 2

_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "being",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "may",
        "might",
        "must",
        "my",
        "no",
        "nor",
        "not",
        "of",
        "on",
        "or",
        "our",
        "she",
        "should",
        "so",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "too",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "also",
        "any",
        "all",
        "each",
        "other",
        "only",
        "own",
        "same",
        "both",
        "few",
        "more",
        "most",
        "some",
        "very",
        "just",
        "about",
        "above",
        "after",
        "again",
        "against",
        "before",
        "below",
        "between",
        "during",
        "out",
        "over",
        "under",
        "up",
        "down",
        "further",
        "once",
        "here",
        "per",
        "via",
        "trial",
        "trials",
        "study",
        "studies",
        "patient",
        "patients",
        "participant",
        "participants",
        "nct",
        "document",
        "documents",
        "section",
        "says",
        "according",
        "listed",
        "list",
        "following",
        "shown",
    ]
)
_TERM = re.compile(r"[a-z0-9]+(?:[.,/:][a-z0-9]+)*")
_MARKER = re.compile(r"\[[^\]]{0,120}\]|\([^)]*·[^)]*\)")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")


# ---------------------------------------------------------------- text helpers


def key_terms(text: str) -> set[str]:
    """Lower-case content words and numbers of a text (stop words, trial ids and citation markers removed)."""
    text = _MARKER.sub(" ", strip_ids(text.lower().replace("\\", "")))
    return {t for t in _TERM.findall(text) if t not in _STOPWORDS and (len(t) > 2 or t.isdigit())}


def sentences(text: str) -> list[str]:
    """Answer text split into sentences and list items (markdown bullets stripped)."""
    parts = (p.strip().lstrip("-*•#> ").strip() for p in _SENTENCE_SPLIT.split(text or ""))
    return [p for p in parts if p]


def coverage(sentence_terms: set[str], passage_terms: set[str]) -> float:
    """Share of a sentence's key terms found in a passage."""
    return len(sentence_terms & passage_terms) / len(sentence_terms) if sentence_terms else 0.0


def contains_ci(text: str, needle: str) -> bool:
    """Case-insensitive containment, with markdown escapes (`\\^`, `\\<`) ignored on both sides."""
    return needle.lower().replace("\\", "") in (text or "").lower().replace("\\", "")


# ---------------------------------------------------------------- eligibility claims in free text

_CLAIM = re.compile(
    r"possibly[ _]eligible|(?<![a-z])eligible(?![a-z])|\bqualif(?:y|ies|ied)\b|"
    r"\b(?:can|could|may|might|are able to)\s+(?:join|enrol|enroll|take part|participate)\b",
    re.IGNORECASE,
)
_NEGATION = re.compile(
    r"\b(?:not|never|no|cannot|can't|isn't|aren't|won't|wouldn't|don't|doesn't|unable|unlikely|neither|nor|"
    r"ineligible|excluded|excludes|exclude|rules? (?:you|them|him|her) out|ruled out)\b|n't\b",
    re.IGNORECASE,
)
_CLAUSE_SPLIT = re.compile(r"[.;!?\n]+|\bbut\b|\bhowever\b", re.IGNORECASE)


def claims_eligibility(answer: str, trial_id: str) -> bool:
    """Whether the answer text claims the person is (possibly) eligible for `trial_id`.

    A clause claims eligibility when it has a positive eligibility phrase ("eligible", "possibly eligible",
    "you qualify", "can join") and no negation. When the answer names trial ids, only clauses that name
    `trial_id` count (a clause naming other ids, or in a sentence naming only other ids, is about those);
    when it names none, every clause counts (the question was about that trial).
    """
    wanted = trial_id.lower()
    answer_names_ids = bool(find_ids(answer or ""))
    for sentence in sentences(answer):
        sentence_ids = {m.lower() for m in find_ids(sentence)}
        for clause in _CLAUSE_SPLIT.split(sentence):
            clause_ids = {m.lower() for m in find_ids(clause)}
            if clause_ids:
                about = wanted in clause_ids
            elif sentence_ids:
                about = wanted in sentence_ids
            else:
                about = not answer_names_ids
            if about and _CLAIM.search(clause) and not _NEGATION.search(clause):
                return True
    return False


def best_verdict(verdicts: Iterable[dict], trial_id: str | None = None) -> str | None:
    """The most favourable verdict across cohorts (eligible > possibly_eligible > ineligible)."""
    names = [v["verdict"] for v in verdicts if trial_id is None or v.get("trial_id") == trial_id]
    return max(names, key=VERDICT_ORDER.__getitem__) if names else None


# ---------------------------------------------------------------- pass rules (CONTRACT.md)


def judge_qa(case, output: dict) -> list[str]:
    """Reasons a question-answer case fails (empty list = passed)."""
    reasons: list[str] = []
    answer = output.get("answer", "") or ""
    cited = {c.get("trial_id") for c in output.get("citations", [])}
    missing = [t for t in case.trials if t not in cited]
    if missing:
        reasons.append(f"expected trial(s) not cited: {', '.join(missing)}")
    if case.answer_any and not any(contains_ci(answer, s) for s in case.answer_any):
        reasons.append(f"answer contains none of {case.answer_any}")
    if case.answer_all:
        absent = [s for s in case.answer_all if not contains_ci(answer, s)]
        if absent:
            reasons.append(f"answer lacks {absent}")
    if case.forbid_eligible:
        favourable = [
            v
            for v in output.get("eligibility", [])
            if v.get("trial_id") == case.forbid_eligible and v.get("verdict") in NOT_RULED_OUT
        ]
        if favourable:
            reasons.append(
                f"verdict for {case.forbid_eligible} is {favourable[0]['verdict']} "
                f"(cohort {favourable[0].get('cohort')}), but the case forbids eligibility"
            )
        if claims_eligibility(answer, case.forbid_eligible):
            reasons.append(f"answer text claims eligibility for {case.forbid_eligible}")
    return reasons


def judge_turn(expect, output: dict) -> list[str]:
    """Reasons one dialogue turn fails its expectations (empty list = passed)."""
    if expect is None:
        return []
    reasons: list[str] = []
    answer = output.get("answer", "") or ""
    cited = {c.get("trial_id") for c in output.get("citations", [])}
    missing = [t for t in expect.trials if t not in cited]
    if missing:
        reasons.append(f"expected trial(s) not cited: {', '.join(missing)}")
    if expect.answer_any and not any(contains_ci(answer, s) for s in expect.answer_any):
        reasons.append(f"answer contains none of {expect.answer_any}")
    absent = [s for s in expect.answer_all or [] if not contains_ci(answer, s)]
    if absent:
        reasons.append(f"answer lacks {absent}")
    present = [s for s in expect.answer_none or [] if contains_ci(answer, s)]
    if present:
        reasons.append(f"answer contains {present}")
    for trial_id, wanted in expect.verdicts.items():
        got = best_verdict(output.get("eligibility", []), trial_id)
        ok = (got in NOT_RULED_OUT or got is None) if wanted == "not_ineligible" else got == wanted
        if not ok:
            reasons.append(f"verdict for {trial_id} is {got}, expected {wanted}")
    facts = output.get("facts") or {}
    for name, wanted in expect.facts.items():
        if facts.get(name) != wanted:
            reasons.append(f"fact {name} is {facts.get(name)!r}, expected {wanted!r}")
    asked = (output.get("next_question") or {}).get("question") or ""
    repeated = [s for s in expect.question_none or [] if contains_ci(asked, s)]
    if repeated:
        reasons.append(f"next question {asked!r} contains {repeated}")
    return reasons


def judge_dialogue(case, output: dict) -> list[str]:
    """Reasons a dialogue case fails: each failing turn's reasons, prefixed with its number."""
    return [
        f"turn {n}: {why}"
        for n, (turn, out) in enumerate(zip(case.turns, output.get("turns", []), strict=False), start=1)
        for why in judge_turn(turn.expect, out)
    ]


def dialogue_summary(pairs: Sequence[tuple[DialogueCase, dict]]) -> dict:
    """Cases and turns of the dialogue cases; a turn passes when its own expectations hold."""
    turns = [
        not judge_turn(t.expect, out)
        for c, r in pairs
        for t, out in zip(c.turns, r["output"].get("turns", []), strict=False)
    ]
    turns += [False for c, r in pairs for _ in c.turns[len(r["output"].get("turns", [])) :]]
    return {
        "cases": len(pairs),
        "pass_rate": mean(float(r["passed"]) for _, r in pairs),
        "turns": len(turns),
        "turn_pass_rate": mean(float(t) for t in turns),
    }


def judge_eligibility(case, output: dict) -> list[str]:
    """Reasons an eligibility case fails (empty list = passed)."""
    verdicts = [v for v in output.get("results", []) if v.get("trial_id") == case.trial]
    best = best_verdict(verdicts)
    if best is None:
        return [f"no verdict for {case.trial} (is the trial indexed?)"]
    reasons: list[str] = []
    ok = best in NOT_RULED_OUT if case.expect == "not_ineligible" else best == case.expect
    if not ok:
        reasons.append(f"best verdict {best}, expected {case.expect}")
    if (
        case.expect == "ineligible"
        and case.reason_any
        and best == "ineligible"
        and not failed_matches(verdicts, case.reason_any)
    ):
        reasons.append(f"no failed criterion or reason contains any of {case.reason_any}")
    return reasons


def failed_matches(verdicts: Sequence[dict], reason_any: Sequence[str]) -> list[dict]:
    """The `failed` entries whose criterion or reason contains one of the `reason_any` strings."""
    return [
        f
        for v in verdicts
        for f in v.get("failed", [])
        if any(contains_ci(f.get("criterion", ""), r) or contains_ci(f.get("reason", ""), r) for r in reason_any)
    ]


def judge_ranking(case, output: dict) -> list[str]:
    """Reasons a ranking case fails: no trial judged 2 (or, without any 2, judged 1) in the top ten."""
    top = [t["trial_id"] for t in output.get("trials", [])[:10]]
    wanted = 2 if 2 in case.judged.values() else 1
    if not any(case.judged.get(t, 0) >= wanted for t in top):
        return [f"no trial judged {wanted} among the top {len(top)}: {top}"]
    return []


# ---------------------------------------------------------------- answer quality


def citation_precision(output: dict) -> float | None:
    """Share of citations whose text covers >= CITATION_OVERLAP of the key terms of some answer sentence."""
    citations = output.get("citations", [])
    if not citations:
        return None
    claims = [t for t in (key_terms(s) for s in sentences(output.get("answer", ""))) if len(t) >= MIN_TERMS]
    precise = sum(
        1
        for c in citations
        if any(coverage(claim, key_terms(c.get("text", ""))) >= CITATION_OVERLAP for claim in claims)
    )
    return precise / len(citations)


def citation_recall(expected_trials: Sequence[str], output: dict) -> float | None:
    """Share of the expected trials that are cited."""
    if not expected_trials:
        return None
    cited = {c.get("trial_id") for c in output.get("citations", [])}
    return sum(t in cited for t in expected_trials) / len(expected_trials)


# A sentence saying the documents are silent ("NCT...'s documents don't say ...") or labelling the passage
# that follows claims nothing a passage could support, so it is not counted.
_ABSENCE = re.compile(
    r"\b(?:documents? (?:don'?t|do not|doesn'?t|does not) say|don'?t have that in|"
    r"nearest related passage)\b",
    re.IGNORECASE,
)


def groundedness(output: dict) -> float | None:
    """Share of answer sentences (with >= MIN_TERMS key terms) covered >= GROUNDED_OVERLAP by one cited passage;
    sentences stating that the documents are silent are not claims and are left out."""
    claims = [
        t
        for t in (key_terms(s) for s in sentences(output.get("answer", "")) if not _ABSENCE.search(s))
        if len(t) >= MIN_TERMS
    ]
    if not claims:
        return None
    passages = [key_terms(c.get("text", "")) for c in output.get("citations", [])]
    supported = sum(1 for claim in claims if any(coverage(claim, p) >= GROUNDED_OVERLAP for p in passages))
    return supported / len(claims)


# ---------------------------------------------------------------- retrieval and ranking


def retrieval_scores(
    expected_trials: Sequence[str], expected_sections: Sequence[str] | None, hits: Sequence[tuple[str, str]], k: int
) -> dict:
    """Recall@k of expected trials, section hit@k and reciprocal rank, from `(trial_id, section)` hits in rank order."""
    top = list(hits[:k])
    found = {t for t, _ in top}
    scores: dict = {"recall": sum(t in found for t in expected_trials) / len(expected_trials)}
    rank = next((i for i, (t, _) in enumerate(hits, start=1) if t in expected_trials), None)
    scores["rr"] = 1.0 / rank if rank else 0.0
    if expected_sections:
        scores["section_hit"] = float(
            any(t in expected_trials and any(s.startswith(e) for e in expected_sections) for t, s in top)
        )
    return scores


def ndcg_at(ranked: Sequence[str], judged: Mapping[str, int], k: int = 10) -> float:
    """NDCG@k with the judged values as linear gains (unjudged = 0), log2 discount (trec_eval ndcg_cut)."""
    dcg = sum(judged.get(t, 0) / math.log2(i + 2) for i, t in enumerate(ranked[:k]))
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def precision_at(ranked: Sequence[str], judged: Mapping[str, int], k: int = 10, level: int = 2) -> float:
    """Share of the top k (always divided by k) judged at least `level`."""
    return sum(judged.get(t, 0) >= level for t in ranked[:k]) / k


# ---------------------------------------------------------------- aggregation


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100) or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the non-None values, None when there are none."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def eligibility_summary(records: Sequence[dict]) -> dict:
    """Eligibility metrics over case records with `case` (EligibilityCase) and `output` (check result)."""
    decided, correct, abstained, false_eligible, expected_ineligible, called_eligible = 0, 0, 0, 0, 0, 0
    caught, eligible_total, turned_away = 0, 0, 0
    matched_failed, all_failed, with_reason, reason_found = 0, 0, 0, 0
    for record in records:
        case, output = record["case"], record["output"]
        verdicts = [v for v in output.get("results", []) if v.get("trial_id") == case.trial]
        best = best_verdict(verdicts)
        ok = (best in NOT_RULED_OUT) if case.expect == "not_ineligible" else best == case.expect
        correct += bool(ok)
        if case.expect in ("eligible", "ineligible"):
            decided += 1
            abstained += best == "possibly_eligible"
        if case.expect == "ineligible":
            expected_ineligible += 1
            false_eligible += best in NOT_RULED_OUT
            called_eligible += best == "eligible"
            caught += best == "ineligible"
            if case.reason_any:
                with_reason += 1
                matches = failed_matches(verdicts, case.reason_any)
                reason_found += bool(matches)
                all_failed += sum(len(v.get("failed", [])) for v in verdicts)
                matched_failed += len(matches)
        else:
            eligible_total += 1
            turned_away += best == "ineligible"
    n = len(records)
    return {
        "cases": n,
        "verdict_accuracy": correct / n if n else None,
        "false_eligible_rate": false_eligible / expected_ineligible if expected_ineligible else None,
        "false_eligible": false_eligible,
        "called_eligible": called_eligible,
        "excluded_caught": caught / expected_ineligible if expected_ineligible else None,
        "eligible_turned_away": turned_away / eligible_total if eligible_total else None,
        "abstention_rate": abstained / decided if decided else None,
        "failed_precision": matched_failed / all_failed if all_failed else None,
        "failed_recall": reason_found / with_reason if with_reason else None,
    }


def ranking_summary(records: Sequence[dict]) -> dict:
    """NDCG@10, P@10 and pass rate over ranking case records."""
    ndcgs, precisions = [], []
    for record in records:
        ranked = [t["trial_id"] for t in record["output"].get("trials", [])]
        ndcgs.append(ndcg_at(ranked, record["case"].judged))
        precisions.append(precision_at(ranked, record["case"].judged))
    return {
        "cases": len(records),
        "ndcg@10": mean(ndcgs),
        "p@10": mean(precisions),
        "pass_rate": mean(float(r["passed"]) for r in records),
    }


SAFETY_CATEGORIES = ("injection", "not_in_corpus")


def summarize(pairs: Sequence[tuple[object, dict]]) -> dict:
    """All aggregate metrics from `(case, record)` pairs of one run (see evals/README.md for each)."""
    from evals.schema import DialogueCase, EligibilityCase, QACase, RankingCase

    qa = [(c, r) for c, r in pairs if isinstance(c, QACase)]
    elig = [{"case": c, "output": r["output"]} for c, r in pairs if isinstance(c, EligibilityCase)]
    ranking = [
        {"case": c, "output": r["output"], "passed": r["passed"]} for c, r in pairs if isinstance(c, RankingCase)
    ]
    retrieval = [r["retrieval"] for _, r in qa if "retrieval" in r]
    safety = [r for c, r in qa if c.category in SAFETY_CATEGORIES]
    forbidding = [r for c, r in qa if c.forbid_eligible]
    summary: dict = {
        "cases": len(pairs),
        "passed": sum(r["passed"] for _, r in pairs),
        "pass_rate": mean(float(r["passed"]) for _, r in pairs),
        "qa": {
            "cases": len(qa),
            "pass_rate": mean(float(r["passed"]) for _, r in qa),
            "citation_precision": mean(citation_precision(r["output"]) for _, r in qa),
            "citation_recall": mean(citation_recall(c.trials, r["output"]) for c, r in qa),
            "groundedness": mean(groundedness(r["output"]) for _, r in qa),
        },
        "retrieval": {
            "cases": len(retrieval),
            "recall@10": mean(s["recall"] for s in retrieval),
            "section_recall@10": mean(s.get("section_hit") for s in retrieval),
            "mrr": mean(s["rr"] for s in retrieval),
        },
        "eligibility": eligibility_summary(elig),
        "safety": {
            "cases": len(safety),
            "pass_rate": mean(float(r["passed"]) for r in safety),
            "forbid_eligible_cases": len(forbidding),
            "forbid_eligible_violations": sum(
                any("forbids eligibility" in why or "claims eligibility" in why for why in r["reasons"])
                for r in forbidding
            ),
        },
        "ranking": ranking_summary(ranking),
        "dialogue": dialogue_summary([(c, r) for c, r in pairs if isinstance(c, DialogueCase)]),
        "latency": {},
        "datasets": {},
        "categories": {},
    }
    for kind in sorted({r["type"] for _, r in pairs}):
        seconds = [r["seconds"] for _, r in pairs if r["type"] == kind]
        summary["latency"][kind] = {"p50": percentile(seconds, 50), "p95": percentile(seconds, 95)}
    for key, field in (("datasets", "dataset"), ("categories", "category")):
        for name in sorted({r[field] or "-" for _, r in pairs}):
            group = [r for _, r in pairs if (r[field] or "-") == name]
            summary[key][name] = {"cases": len(group), "pass_rate": mean(float(r["passed"]) for r in group)}
    return summary


def flatten(metrics_tree: dict, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a nested metrics dict under dotted names ("qa.pass_rate")."""
    flat: dict[str, float] = {}
    for key, value in metrics_tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat
