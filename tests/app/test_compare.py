"""The clinician view's side-by-side comparison: one column per trial, each cell quoting the passage it links."""

from __future__ import annotations

import re

import pytest

from app.chain import Assistant
from app.chat_render import render_reply
from app.compare import ROWS, comparison_table, row_of
from app.conversation import Conversation
from ingest.models import Citation

PAIR = ("NCT03171194", "NCT04356287")


@pytest.fixture(scope="module")
def bot(seed_index, seed_settings):
    return Assistant(seed_index, seed_settings)


def _rows(table: str) -> dict[str, list[str]]:
    """Row label -> its cells, from a Markdown table."""
    out = {}
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        out[cells[0].strip("*")] = cells[1:]
    return out


def test_compare_in_the_clinician_view_is_one_column_per_trial(bot, seed_index):
    answer = bot.ask(f"compare {PAIR[0]} and {PAIR[1]}")
    reply = render_reply(answer, seed_index, view="clinician")

    table = next(block for block in reply.details.split("\n\n") if block.startswith("| |"))
    header = [c.strip() for c in table.splitlines()[0].strip("|").split("|")]
    assert header[1:] == list(PAIR)
    rows = _rows(table)
    assert list(rows) == list(ROWS)
    assert all(len(cells) == 2 for cells in rows.values())
    # Each stated cell links to passages of its own trial only, and each linked passage is attached.
    names = {p.name for p in reply.passages}
    for cells in rows.values():
        for trial_id, other, cell in zip(PAIR, reversed(PAIR), cells, strict=True):
            if cell == "not stated":
                continue
            assert any(name in cell for name in names if name.startswith(trial_id)), cell
            assert other not in cell
    assert "Sites" in rows and "Atlanta" in rows["Sites"][0]
    assert rows["Sex"][0].startswith("Sex: all")


def test_the_patient_view_keeps_the_compare_as_lists(bot, seed_index):
    answer = bot.ask(f"compare {PAIR[0]} and {PAIR[1]}")
    reply = render_reply(answer, seed_index, view="patient")
    assert "| |" not in reply.markdown and f"**{PAIR[0]} —" in reply.markdown


def test_these_two_and_both_compare_the_trials_in_focus(bot):
    conv = Conversation()
    listed = bot.ask("Which stem cell studies are there for lupus?", conversation=conv)
    shown = re.findall(r"\*\*(\S+) —", listed.answer)
    assert len(shown) >= 3

    compared = bot.ask("could you compare these two?", conversation=conv)
    assert compared.intent == "compare"
    assert re.findall(r"\*\*(\S+) —", compared.answer) == shown[:2]

    again = bot.ask("how do both of them differ in who they take?", conversation=conv)
    assert again.intent == "compare" and re.findall(r"\*\*(\S+) —", again.answer) == shown[:2]


@pytest.mark.parametrize(
    "section, text, row",
    [
        ("eligibility.facts", "Minimum age: 18 Years", "Age"),
        ("eligibility.facts", "Sex: all", "Sex"),
        ("eligibility.ra.inclusion", "Inclusion (RA): 18 Years and older", "Age"),
        (
            "eligibility.ra.inclusion",
            "Inclusion (RA): symptoms for more than 6 weeks but less than 5 years",
            "Key inclusions",
        ),
        ("eligibility.exclusion", "Exclusion: Active lupus nephritis requiring dialysis", "Key exclusions"),
        ("arms", "Participants will receive a single IV infusion", "Intervention"),
        ("locations", "Emory University, Atlanta", "Sites"),
        ("references", "Kamen DL et al.", None),
    ],
)
def test_each_line_goes_to_the_row_of_the_passage_it_cites(section, text, row):
    assert row_of(section, text) == row


def test_one_trial_is_no_comparison_and_pipes_stay_inside_their_cell():
    cite = Citation(id="NCT1:status:1", trial_id="NCT1", section="status", text="Status: A | B")
    one = "**NCT1 — One**\n- Status: A | B [NCT1 · Status]"
    assert comparison_table(one, {"NCT1 · Status": cite}) is None
    cite2 = cite.model_copy(update={"id": "NCT2:status:1", "trial_id": "NCT2"})
    two = one + "\n\n**NCT2 — Two**\n- Status: C [NCT2 · Status]"
    table = comparison_table(two, {"NCT1 · Status": cite, "NCT2 · Status": cite2})
    assert table is not None and "A \\| B" in table
    assert _rows(table)["Status"] == ["Status: A \\| B NCT1 · Status", "Status: C NCT2 · Status"]
