"""statements_markdown: list items and the blocks after them stay apart in rendered Markdown."""

from __future__ import annotations

from app.generators import Statement
from app.render import statements_markdown
from ingest.models import Chunk


def _chunk(tid: str, n: int) -> Chunk:
    return Chunk(
        id=f"{tid}:status:{n}", trial_id=tid, section="status", title="Status and enrollment", text="Status: RECRUITING"
    )


def test_a_heading_or_paragraph_after_a_list_item_is_set_apart_by_a_blank_line():
    chunks = {c.id: c for c in (_chunk("NCT00000001", 1), _chunk("NCT00000002", 1))}
    statements = [
        Statement(text="NCT00000001 — First", kind="heading", style="heading", citations=["NCT00000001:status:1"]),
        Statement(text="Status: Recruiting", style="bullet", citations=["NCT00000001:status:1"]),
        Statement(text="NCT00000002 — Second", kind="heading", style="heading", citations=["NCT00000002:status:1"]),
        Statement(text="Status: Recruiting", style="bullet", citations=["NCT00000002:status:1"]),
        Statement(text="A closing sentence.", kind="notice"),
    ]
    lines = statements_markdown(statements, chunks).split("\n")
    assert lines == [
        "**NCT00000001 — First** [NCT00000001 · Status and enrollment]",
        "- Status: Recruiting [NCT00000001 · Status and enrollment]",
        "",
        "**NCT00000002 — Second** [NCT00000002 · Status and enrollment]",
        "- Status: Recruiting [NCT00000002 · Status and enrollment]",
        "",
        "A closing sentence.",
    ]


def test_consecutive_list_items_and_a_heading_before_them_stay_together():
    chunks = {c.id: c for c in (_chunk("NCT00000001", 1),)}
    statements = [
        Statement(text="NCT00000001 — First", kind="heading", style="heading"),
        Statement(text="One", style="bullet", citations=["NCT00000001:status:1"]),
        Statement(text="Two", style="bullet", citations=["NCT00000001:status:1"]),
    ]
    assert "\n\n" not in statements_markdown(statements, chunks)


def test_a_paragraph_after_a_heading_is_its_own_block():
    chunks = {c.id: c for c in (_chunk("NCT00000001", 1),)}
    statements = [
        Statement(text="NCT00000001 — First", kind="heading", style="heading", citations=["NCT00000001:status:1"]),
        Statement(text="What the trial is about.", citations=["NCT00000001:status:1"]),
        Statement(text="One", style="bullet", citations=["NCT00000001:status:1"]),
    ]
    assert statements_markdown(statements, chunks).split("\n") == [
        "**NCT00000001 — First** [NCT00000001 · Status and enrollment]",
        "",
        "What the trial is about. [NCT00000001 · Status and enrollment]",
        "- One [NCT00000001 · Status and enrollment]",
    ]


def test_checker_reasons_show_the_patients_own_words(seed_trials):
    from app.render import verdicts_markdown
    from eligibility.evaluate import check_trial
    from eligibility.facts import extract_facts

    failed = check_trial(seed_trials["NCT03171194"], extract_facts("72-year-old woman with SLE"))
    text = verdicts_markdown(failed, None, {})
    assert "you said: '72-year-old'" in text
    unknown = check_trial(seed_trials["NCT03171194"], extract_facts("50-year-old woman with SLE, had rituximab"))
    assert unknown[0].verdict == "possibly_eligible"
    assert "Still needed:" in (text := verdicts_markdown(unknown, None, {})) and "you said: 'rituximab'" in text
