"""`trialfinder eval`: run eval datasets in one process against the real index and chain.

Writes `{"metrics": {...}, "cases": [{"id", "passed", "output", "seconds", ...}]}` (CONTRACT.md) with
`--out`, a Markdown + HTML report with `--report`, and exits 1 when a metric misses
`evals/thresholds.json` (2 on a usage or dataset error).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from evals import metrics
from evals.schema import CaseError, load_datasets
from trialfinder.settings import BACKENDS, PROJECT_ROOT, Settings

EVALS_DIR = Path(__file__).resolve().parent
DATASETS_DIR = EVALS_DIR / "datasets"
THRESHOLDS = EVALS_DIR / "thresholds.json"
BASELINE = EVALS_DIR / "baseline.json"


def default_datasets() -> list[Path]:
    """The project's own datasets: every `evals/datasets/*.jsonl`."""
    return sorted(DATASETS_DIR.glob("*.jsonl"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trialfinder eval", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dataset",
        action="append",
        type=Path,
        metavar="FILE.jsonl",
        help="eval cases in the CONTRACT format (repeatable; default: evals/datasets/*.jsonl)",
    )
    parser.add_argument("--index", type=Path, metavar="DIR", help="index folder (default: the configured one)")
    parser.add_argument("--backend", choices=BACKENDS, help="answer generator to measure (default: the configured one)")
    parser.add_argument("--out", type=Path, metavar="FILE.json", help="write metrics and per-case outputs here")
    parser.add_argument("--report", type=Path, metavar="DIR", help="write report.md and report.html here")
    parser.add_argument(
        "--thresholds",
        type=Path,
        default=THRESHOLDS,
        metavar="FILE.json",
        help="minimum/maximum metric values (default: evals/thresholds.json)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=BASELINE,
        metavar="FILE.json",
        help="metrics to compare against in the report (default: evals/baseline.json)",
    )
    parser.add_argument(
        "--save-baseline", type=Path, metavar="FILE.json", help="write this run's metrics as a new baseline file"
    )
    parser.add_argument(
        "--external",
        action="store_true",
        help="also run ../shared/external/{trec_2022,sigir} on the 6,785-record archive index",
    )
    parser.add_argument(
        "--external-index",
        type=Path,
        default=PROJECT_ROOT / "var" / "index-ctgov",
        metavar="DIR",
        help="index of the archive for --external (built once, then reused)",
    )
    parser.add_argument(
        "--no-external-index",
        action="store_true",
        help="with --external, do not build the archive index: eligibility and the BM25 baseline "
        "only (ranking needs the index; embedding 6,785 records is slow on a small machine)",
    )
    parser.add_argument("--json", action="store_true", help="print the metrics as one JSON object on stdout")
    return parser


def main(argv: list[str]) -> int:
    """Entry point of `trialfinder eval`; returns the exit code."""
    args = build_parser().parse_args(argv)
    datasets = args.dataset or default_datasets()
    try:
        cases = load_datasets(datasets)
        thresholds = load_thresholds(args.thresholds)
    except (CaseError, ValueError) as exc:
        print(f"trialfinder eval: {exc}", file=sys.stderr)
        return 2
    settings = make_settings(args.index, args.backend)
    started = time.perf_counter()
    index = open_index(settings, bundled=not args.dataset)
    summary, pairs = evaluate(cases, index, settings)
    records = [record for _, record in pairs]
    if args.external:
        from evals.external import run_external

        summary["external"], external_records = run_external(
            settings, args.external_index, build_index=not args.no_external_index
        )
        if "skipped" in summary["external"]:
            print(
                f"trialfinder eval --external: skipped, the external sets are absent: {summary['external']['skipped']} "
                "(they lie beside the repository in ../shared, not in it)",
                file=sys.stderr,
            )
        records += external_records
    summary["run"] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "backend": settings.backend,
        "index": str(settings.index_dir),
        "datasets": [str(p) for p in datasets],
        "seconds": round(time.perf_counter() - started, 2),
    }
    failures = check_thresholds(summary, thresholds)
    summary["thresholds"] = {"file": str(args.thresholds), "failed": failures}
    result = {"metrics": summary, "cases": records}
    if args.out:
        write_json(args.out, result)
    if args.save_baseline:
        write_json(args.save_baseline, {"date": summary["run"]["date"], "metrics": metrics.flatten(_core(summary))})
    if args.report:
        from evals.report import write_report

        baseline = load_baseline(args.baseline)
        paths = write_report(result, pairs, baseline, args.report)
        print(f"trialfinder eval: report written to {', '.join(str(p) for p in paths)}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(render_summary(summary))
    for failure in failures:
        print(f"trialfinder eval: threshold missed: {failure}", file=sys.stderr)
    return 1 if failures else 0


def evaluate(cases: list, index, settings: Settings) -> tuple[dict, list[tuple[object, dict]]]:
    """Run `cases` against `index` with the real chain and checker; returns (metrics, (case, record) pairs)."""
    from evals.execute import CaseRunner

    pairs = run_cases(CaseRunner(index, settings), cases, label="eval")
    return metrics.summarize(pairs), pairs


def make_settings(index_dir: Path | None, backend: str | None) -> Settings:
    """The configured settings with the command-line overrides applied."""
    settings = Settings()
    updates: dict = {}
    if index_dir is not None:
        updates["index_dir"] = index_dir
    if backend is not None:
        updates["backend"] = backend
    return settings.model_copy(update=updates) if updates else settings


def open_index(settings: Settings, *, bundled: bool):
    """Open the index; ingest the bundled corpus first when the index is empty, or stale for the project's datasets."""
    from app.indexer import is_stale
    from vectorstore.index import TrialIndex

    index = TrialIndex.open(settings)
    if not index.trials() or (bundled and is_stale(index, Path(settings.corpus_dir))):
        from app.indexer import ingest_paths

        print(
            f"trialfinder eval: ingesting the bundled corpus {settings.corpus_dir} into {settings.index_dir}",
            file=sys.stderr,
        )
        report = ingest_paths([Path(settings.corpus_dir)], index, progress=False)
        for error in report.errors:
            print(f"trialfinder eval: ingest error {error.path}:{error.line}: {error.message}", file=sys.stderr)
    return index


def run_cases(runner, cases: list, *, label: str) -> list[tuple[object, dict]]:
    """Run every case in order; a case that raises is recorded as failed with the error, never skipped."""
    pairs = []
    for number, case in enumerate(cases, start=1):
        try:
            record = runner.run(case)
        except Exception as exc:  # one broken case must not hide the results of the others
            record = {
                "id": case.id,
                "passed": False,
                "output": {},
                "seconds": 0.0,
                "type": _type_name(case),
                "dataset": case.source,
                "category": case.category,
                "reasons": [f"raised {type(exc).__name__}: {exc}"],
            }
        pairs.append((case, record))
        if number % 20 == 0 or number == len(cases):
            print(f"{label}: {number}/{len(cases)} cases", file=sys.stderr)
    return pairs


def _type_name(case) -> str:
    from evals.schema import case_type

    return case_type(case.model_dump(exclude_none=True)) or "unknown"


def load_thresholds(path: Path) -> dict[str, dict[str, float]]:
    """`{"min": {metric: value}, "max": {metric: value}}` with dotted metric names."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read thresholds {path}: {exc}") from None
    unknown = set(data) - {"min", "max", "comment"}
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {sorted(unknown)}; allowed: comment, min, max")
    return {"min": data.get("min", {}), "max": data.get("max", {})}


def check_thresholds(summary: dict, thresholds: dict[str, dict[str, float]]) -> list[str]:
    """Human-readable threshold misses; a metric not measured in this run (no such cases) is not a miss."""
    flat = metrics.flatten(summary)
    failures = []
    for name, bound in thresholds["min"].items():
        if name in flat and flat[name] < bound:
            failures.append(f"{name} = {flat[name]:.3f} < minimum {bound}")
    for name, bound in thresholds["max"].items():
        if name in flat and flat[name] > bound:
            failures.append(f"{name} = {flat[name]:.3f} > maximum {bound}")
    return failures


def load_baseline(path: Path) -> dict[str, float]:
    """Flat metrics of the committed baseline ({} when there is none yet)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8")).get("metrics", {})
    except (OSError, json.JSONDecodeError):
        return {}


def _core(summary: dict) -> dict:
    """The metrics worth keeping in a baseline: everything but run facts and per-case lists."""
    return {k: v for k, v in summary.items() if k not in ("run", "thresholds")}


def write_json(path: Path, data: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def render_summary(summary: dict) -> str:
    """A short plain-text table of the headline metrics."""
    rows = [
        ("cases passed", f"{summary['passed']}/{summary['cases']}"),
        ("qa pass rate", summary["qa"]["pass_rate"]),
        ("citation precision", summary["qa"]["citation_precision"]),
        ("citation recall", summary["qa"]["citation_recall"]),
        ("groundedness", summary["qa"]["groundedness"]),
        ("retrieval recall@10", summary["retrieval"]["recall@10"]),
        ("retrieval MRR", summary["retrieval"]["mrr"]),
        ("eligibility accuracy", summary["eligibility"]["verdict_accuracy"]),
        ("false-eligible rate", summary["eligibility"]["false_eligible_rate"]),
        ("safety pass rate", summary["safety"]["pass_rate"]),
        ("ranking NDCG@10", summary["ranking"]["ndcg@10"]),
        ("dialogue turn pass rate", summary.get("dialogue", {}).get("turn_pass_rate")),
    ]
    for name, ext in summary.get("external", {}).items():
        if isinstance(ext, dict) and "ranking" in ext:
            rows.append(
                (f"{name} NDCG@10 (BM25)", f"{_fmt(ext['ranking']['ndcg@10'])} ({_fmt(ext['bm25']['ndcg@10'])})")
            )
    return "\n".join(f"{name:<28} {value if isinstance(value, str) else _fmt(value)}" for name, value in rows)


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
