"""The chat's layout of an answer, its patient profile, its offline page filter and the widget demo page.

Real seed index, real chunks and real fact extraction; the answers are built from real passages so the
layout is checked against the titles and registry links the chat will really show.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from app.chat_profile import PROFILE_FIELD, apply_profile_edit, facts_from_statements, profile_fields
from app.chat_render import marker_name, render_reply, with_table
from app.conversation import Conversation
from app.models import Answer, NextQuestion
from app.web_security import strip_external_resources
from app.widget.serve import DEFAULT_CHAT_SERVER, demo_html
from eligibility.models import FailedCriterion, TrialVerdict, UnknownCriterion


def _chunk(index, trial_id: str, section: str, n: int = 1):
    return [c for c in index.chunks(trial_id) if c.section == section][n - 1]


def test_every_citation_becomes_a_named_passage_linked_from_the_text(seed_index):
    arms = _chunk(seed_index, "NCT03171194", "arms")
    status = _chunk(seed_index, "NCT04356287", "status")
    text = (
        f"The trial has a low-dose group [{marker_name(arms.trial_id, arms.title)}]. "
        f"The other one's status [{marker_name(status.trial_id, status.title)}]."
    )
    answer = Answer(
        answer=text,
        citations=[arms.citation(), status.citation(), arms.citation()],
        warnings=["NCT04356287: study design is not specified"],
        backend="extractive",
    )

    reply = render_reply(answer, seed_index)

    names = {p.name: p for p in reply.passages}
    assert set(names) == {"NCT03171194 · Study groups", "NCT04356287 · Status and enrollment"}
    for name in names:
        assert name in reply.body
        assert f"[{name}]" in reply.details  # the Sources line links every passage again
    study_groups = names["NCT03171194 · Study groups"].content
    assert arms.text.splitlines()[0] in study_groups  # verbatim passage
    assert arms.id in study_groups and "https://clinicaltrials.gov/study/NCT03171194" in study_groups
    assert "[NCT04356287 registry page](https://clinicaltrials.gov/study/NCT04356287)" in reply.details
    assert "`extractive` backend" in reply.details
    assert "study design is not specified" in reply.details
    assert reply.markdown.startswith(reply.body)


def test_eligibility_table_cites_failed_criteria_and_lists_missing_facts(seed_index):
    criterion = _chunk(seed_index, "NCT03171194", "eligibility.exclusion", 2)
    verdicts = [
        TrialVerdict(
            trial_id="NCT03171194",
            verdict="ineligible",
            failed=[
                FailedCriterion(
                    criterion=criterion.text,
                    kind="exclusion",
                    reason="eGFR 25 is below 30",
                    citation=criterion.citation(),
                )
            ],
        ),
        TrialVerdict(
            trial_id="NCT06888973",
            cohort="SLE",
            verdict="possibly_eligible",
            unknown=[
                UnknownCriterion(
                    criterion="SLEDAI-2K score ≥ 6", kind="inclusion", needs=["sledai", "disease_duration"]
                )
            ],
        ),
    ]
    chain_text = (
        "**NCT03171194 — Pilot Trial**\n\n**Eligibility check** (by the rule checker)\n"
        "Facts used: age 45; eGFR 25\n- **NCT03171194**: ineligible\n  - Not met (exclusion): ...\n"
        "- **NCT06888973 · SLE**: possibly eligible\n\nWhat is your SLEDAI score?"
    )
    answer = Answer(
        answer=chain_text,
        citations=[criterion.citation()],
        eligibility=verdicts,
        backend="extractive",
        next_question=NextQuestion(fact="sledai", question="What is your SLEDAI score?"),
    )

    reply = render_reply(answer, seed_index)

    rows = [line for line in reply.body.splitlines() if line.startswith("| NCT")]
    assert len(rows) == 2
    failed_name = "NCT03171194 · Eligibility · exclusion #2"
    assert "✗ ineligible" in rows[0] and failed_name in rows[0] and "eGFR 25 is below 30" in rows[0]
    assert "| SLE |" in rows[1] and "? possibly eligible" in rows[1] and "disease duration, sledai" in rows[1]
    assert "- **NCT03171194**" not in reply.body  # the chain's bullet list gave way to the table
    assert "Facts used: age 45; eGFR 25" in reply.body
    assert reply.body.index("Pilot Trial") < reply.body.index("| Trial |") < reply.body.index("Facts used")
    assert "**To narrow this down:** What is your SLEDAI score?" in reply.body
    passage = {p.name: p.content for p in reply.passages}[failed_name]
    assert criterion.text in passage


def test_with_table_appends_when_the_text_has_no_verdict_list():
    assert with_table("Some answer.", "| a |") == "Some answer.\n\n| a |"
    assert with_table("", "| a |") == "| a |"


def test_profile_rereads_statements_and_a_later_one_wins():
    facts = facts_from_statements(["I'm 34, female, SLE, SLEDAI 6", "eGFR 95", "actually I'm 35"])
    assert facts.age == 35 and facts.sex == "female"
    assert {d.name for d in facts.diagnoses} == {"sle"}
    assert [m.name for m in facts.labs] == ["egfr"]
    assert facts_from_statements([]) is None


def test_editing_the_profile_replaces_the_session_facts():
    conversation = Conversation()
    conversation.add_facts(facts_from_statements(["I'm 34 with SLE and eGFR 95"]), "I'm 34 with SLE and eGFR 95")
    field = profile_fields(conversation)[0]
    assert field.initial == "I'm 34 with SLE and eGFR 95"
    assert "age 34" in field.description

    summary = apply_profile_edit(conversation, {PROFILE_FIELD: "I'm 70 with SLE\n\n"}, today="2026-01-15")

    assert conversation.facts.age == 70
    assert conversation.facts.labs == []  # the deleted eGFR statement no longer counts
    assert conversation.patient_texts == ["I'm 70 with SLE"]
    assert "age 70" in summary
    apply_profile_edit(conversation, {PROFILE_FIELD: ""})
    assert conversation.facts is None and "nothing yet" in profile_fields(conversation)[0].description


def test_served_page_keeps_only_same_origin_resources():
    spec = importlib.util.find_spec("chainlit")
    template = Path(spec.submodule_search_locations[0]) / "frontend" / "dist" / "index.html"
    html = template.read_text(encoding="utf-8")
    assert "fonts.googleapis.com" in html and "cdn.jsdelivr.net" in html  # what Chainlit ships

    page = strip_external_resources(html)

    tags = re.findall(r"<(?:link|script)\b[^>]*>", page)
    assert tags and not [t for t in tags if re.search(r"(?:href|src)=\"(?:https?:)?//", t)]
    assert '<script type="module" crossorigin src="/assets/' in page  # the app itself stays


def test_widget_demo_page_points_at_the_given_chat_server():
    page = demo_html("http://127.0.0.1:9123/")
    assert '<script src="http://127.0.0.1:9123/copilot/index.js"></script>' in page
    assert 'mountChainlitWidget({ chainlitServer: "http://127.0.0.1:9123" })' in page
    assert DEFAULT_CHAT_SERVER not in page


def test_many_data_notes_show_a_few_inline_and_all_in_the_side_panel(seed_index):
    warnings = [f"KCT0004337: KCT0004337: note number {n}" for n in range(1, 6)] + ["KCT0004337: note number 1"]
    reply = render_reply(Answer(answer="Text.", warnings=warnings, backend="extractive"), seed_index)

    assert "> - KCT0004337: note number 1\n> - KCT0004337: note number 2\n" in reply.details
    assert "note number 3" not in reply.details
    assert "> - … 3 more: [All 5 notes on the data]" in reply.details
    notes = {p.name: p.content for p in reply.passages}["All 5 notes on the data"]
    assert notes.splitlines() == [f"- KCT0004337: note number {n}" for n in range(1, 6)]
