"""The eval report: Markdown and one self-contained HTML page (chart embedded as a base64 PNG).

For every case: what was asked, what was answered, the citations, pass/fail and why; then the aggregate
metrics with their change against the committed baseline.
"""

from __future__ import annotations

import base64
import io
import itertools
from pathlib import Path

from markdown_it import MarkdownIt

from evals import metrics

# The headline metrics drawn in the chart and listed first in the tables (all in 0..1).
HEADLINE = [
    "pass_rate",
    "qa.pass_rate",
    "qa.citation_precision",
    "qa.citation_recall",
    "qa.groundedness",
    "retrieval.recall@10",
    "retrieval.section_recall@10",
    "retrieval.mrr",
    "eligibility.verdict_accuracy",
    "eligibility.false_eligible_rate",
    "eligibility.abstention_rate",
    "safety.pass_rate",
    "ranking.ndcg@10",
    "ranking.p@10",
]


def write_report(
    result: dict, pairs: list[tuple[object, dict]], baseline: dict[str, float], folder: Path
) -> list[Path]:
    """Write `report.md` and `report.html` into `folder`; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    summary = result["metrics"]
    rows = metric_rows(summary, baseline)
    chart = chart_png(rows)
    md_path, html_path = folder / "report.md", folder / "report.html"
    md_path.write_text(render_markdown(summary, rows, result["cases"], pairs), encoding="utf-8")
    html_path.write_text(render_html(summary, rows, result["cases"], pairs, chart), encoding="utf-8")
    return [md_path, html_path]


def metric_rows(summary: dict, baseline: dict[str, float]) -> list[tuple[str, float | None, float | None]]:
    """(metric, this run, baseline) for the headline metrics, then every other numeric metric."""
    flat = metrics.flatten({k: v for k, v in summary.items() if k not in ("run", "thresholds")})
    names = [n for n in HEADLINE if n in flat] + sorted(n for n in flat if n not in HEADLINE)
    return [(name, flat.get(name), baseline.get(name)) for name in names]


def chart_png(rows: list[tuple[str, float | None, float | None]]) -> bytes:
    """Horizontal bars of the headline metrics, this run next to the baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [(n, v, b) for n, v, b in rows if n in HEADLINE and v is not None]
    fig, ax = plt.subplots(figsize=(7, 0.38 * max(len(shown), 1) + 1.2), dpi=100)
    positions = range(len(shown))
    ax.barh([p + 0.2 for p in positions], [v for _, v, _ in shown], height=0.38, label="this run", color="#2b6cb0")
    ax.barh(
        [p - 0.2 for p in positions],
        [b if b is not None else 0 for _, _, b in shown],
        height=0.38,
        label="baseline",
        color="#a0aec0",
    )
    ax.set_yticks(list(positions), [n for n, _, _ in shown], fontsize=8)
    ax.set_xlim(0, 1.05)
    ax.invert_yaxis()
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Eval metrics vs baseline", fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if not float(value).is_integer() or abs(value) < 2 else f"{int(value)}"


def _delta(value: float | None, base: float | None) -> str:
    if value is None or base is None:
        return ""
    diff = value - base
    return "=" if abs(diff) < 5e-4 else f"{diff:+.3f}"


def _question(case) -> str:
    if hasattr(case, "question"):
        return case.question
    if hasattr(case, "trial"):
        return f"Is this patient eligible for {case.trial}? (expect {case.expect})"
    if hasattr(case, "turns"):
        return " / ".join(t.user for t in case.turns)
    return f"Rank trials for: {case.query or ''} {case.patient or ''}".strip()


def _answer_text(record: dict) -> str:
    output = record.get("output") or {}
    if "turns" in output:
        return "\n---\n".join(t.get("answer", "") for t in output["turns"])
    if "answer" in output:
        return output["answer"]
    if "results" in output:
        return (
            "; ".join(
                f"{v['trial_id']}{' [' + v['cohort'] + ']' if v.get('cohort') else ''}: {v['verdict']}"
                + "".join(f" (failed: {f['criterion'][:100]})" for f in v.get("failed", [])[:2])
                for v in output["results"]
            )
            or "(no verdict)"
        )
    if "trials" in output:
        return ", ".join(f"{t['trial_id']} ({t['verdict']})" for t in output["trials"]) or "(no trials)"
    return "(no output)"


def _citations(record: dict) -> list[str]:
    output = record.get("output") or {}
    return [f"{c['id']}: {c['text'][:140]}" for c in output.get("citations", [])]


def render_markdown(summary: dict, rows, records: list[dict], pairs) -> str:
    run = summary.get("run", {})
    lines = [
        "# trialfinder eval report",
        "",
        f"Run {run.get('date', '')}, backend `{run.get('backend', '')}`, index `{run.get('index', '')}`, "
        f"{summary['passed']}/{summary['cases']} cases passed in {run.get('seconds', 0)} s.",
        "",
    ]
    failed_thresholds = summary.get("thresholds", {}).get("failed", [])
    lines += [
        "**Thresholds:** " + ("all met." if not failed_thresholds else "missed: " + "; ".join(failed_thresholds)),
        "",
    ]
    lines += ["## Metrics", "", "| metric | this run | baseline | change |", "|---|---|---|---|"]
    lines += [f"| {n} | {_fmt(v)} | {_fmt(b)} | {_delta(v, b)} |" for n, v, b in rows]
    lines += ["", "Definitions: evals/README.md.", ""]
    lines += _external_markdown(summary.get("external") or {})
    lines += ["## Cases", ""]
    by_id = {case.id: case for case, _ in pairs}
    for record in sorted(records, key=lambda r: (r["passed"], r.get("dataset") or "", r["id"])):
        case = by_id.get(record["id"])
        if case is None:
            continue
        mark = "PASS" if record["passed"] else "FAIL"
        lines += [
            f"### {mark} `{record['id']}` ({record.get('type')}, {record.get('category') or '-'}, "
            f"{record.get('dataset')}, {record['seconds']:.2f} s)",
            "",
        ]
        lines += [f"**Asked:** {_question(case)}", ""]
        if getattr(case, "patient", None):
            lines += [f"**Patient:** {case.patient[:400]}", ""]
        lines += ["**Answered:**", "", *("> " + line for line in _answer_text(record).splitlines() or [""]), ""]
        cites = _citations(record)
        if cites:
            lines += ["**Citations:**", "", *(f"- {c}" for c in cites), ""]
        if record.get("reasons"):
            lines += ["**Why it failed:** " + "; ".join(record["reasons"]), ""]
    return "\n".join(lines) + "\n"


def _external_markdown(external: dict) -> list[str]:
    lines: list[str] = []
    for name, ext in external.items():
        if not isinstance(ext, dict) or "ranking" not in ext:
            continue
        lines += [
            f"## External: {name}",
            "",
            "| ranking | trialfinder | plain BM25 |",
            "|---|---|---|",
            f"| NDCG@10 | {_fmt(ext['ranking']['ndcg@10'])} | {_fmt(ext['bm25']['ndcg@10'])} |",
            f"| P@10 | {_fmt(ext['ranking']['p@10'])} | {_fmt(ext['bm25']['p@10'])} |",
            "",
        ]
        if ext["ranking"].get("skipped"):
            lines += [f"trialfinder ranking not measured: {ext['ranking']['skipped']}.", ""]
        lines += ["| eligibility | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v) if not isinstance(v, str) else v} |" for k, v in ext["eligibility"].items()]
        lines += ["", "Failures by cause:", ""]
        for cause, items in ext.get("failures", {}).items():
            lines += [f"- **{cause}** ({len(items)}):"]
            lines += [f"  - {item}" for item in items[:25]]
        lines.append("")
    return lines


def render_html(summary: dict, rows, records: list[dict], pairs, chart: bytes) -> str:
    """One page, no external assets: styles inline, chart as a data: URI."""
    md = render_markdown(summary, rows, records, pairs)
    image = base64.b64encode(chart).decode("ascii")
    body = _markdown_to_html(md)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>trialfinder eval report</title>'
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.4}"
        "table{border-collapse:collapse}td,th{border:1px solid #cbd5e0;padding:.2rem .5rem;font-size:.9rem}"
        "blockquote{background:#f7fafc;border-left:3px solid #a0aec0;margin:0;padding:.3rem .8rem;white-space:pre-wrap}"
        "h3{font-size:1rem;margin-top:1.5rem}h3.fail{color:#c53030}h3.pass{color:#2f855a}</style></head><body>"
        f'<img alt="metrics vs baseline" src="data:image/png;base64,{image}">' + body + "</body></html>\n"
    )


def _markdown_to_html(md: str) -> str:
    """CommonMark with tables (markdown-it-py); raw HTML in answers is escaped, never passed through.

    PASS/FAIL case headings get a class so the page can colour them.
    """
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = parser.parse(md)
    for opening, content in itertools.pairwise(tokens):
        if opening.type == "heading_open" and content.type == "inline":
            if content.content.startswith("FAIL"):
                opening.attrSet("class", "fail")
            elif content.content.startswith("PASS"):
                opening.attrSet("class", "pass")
    return parser.renderer.render(tokens, parser.options, {})
