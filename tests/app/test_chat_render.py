"""The chat's layout of an answer, its patient profile, its offline page filter and the widget demo page.

Real seed index, real chunks and real fact extraction; the answers are built from real passages so the
layout is checked against the titles and registry links the chat will really show.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

from app.chat_profile import facts_from_statements
from app.chat_render import index_overview, marker_name, render_reply, second_person, split_verdicts
from app.models import Answer, NextQuestion
from app.web_security import strip_external_resources
from app.widget.serve import DEFAULT_CHAT_SERVER, demo_html
from eligibility.models import FailedCriterion, TrialVerdict, UnknownCriterion
from trialfinder.settings import PROJECT_ROOT


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
    cited = {"NCT03171194 · Study groups", "NCT04356287 · Status and enrollment"}
    assert set(names) == cited | {"Notes on the trial documents"}
    for name in cited:
        assert name in reply.body
        assert name in reply.details and f"[{name}]" not in reply.markdown  # drawn as links, no brackets
    study_groups = names["NCT03171194 · Study groups"].content
    assert arms.text.splitlines()[0] in study_groups  # verbatim passage
    assert "https://clinicaltrials.gov/study/NCT03171194" in study_groups
    assert arms.id not in study_groups  # chunk ids are internal
    assert "[NCT04356287 registry page](https://clinicaltrials.gov/study/NCT04356287)" in reply.details
    assert "backend" not in reply.markdown and "extractive" not in reply.markdown
    assert "Not medical advice" in reply.details
    notes = {p.name: p.content for p in reply.passages}["Notes on the trial documents"]
    assert "study design is not specified" in notes and "Notes on the trial documents" in reply.details
    assert reply.markdown.startswith(reply.body)

    assert "language model" not in reply.markdown  # none answered
    worded = render_reply(answer.model_copy(update={"backend": "ollama"}), seed_index)
    assert "A language model worded this answer" in worded.details and "ollama" not in worded.markdown

    clinician = render_reply(answer, seed_index, view="clinician")
    assert "no language model" in clinician.details and "backend" not in clinician.details
    assert "study design is not specified" in clinician.details


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

    reply = render_reply(answer, seed_index, view="clinician")

    rows = [line for line in reply.details.splitlines() if line.startswith("| NCT")]
    assert len(rows) == 2
    failed_name = "NCT03171194 · Eligibility · exclusion #2"
    assert "✗ ineligible" in rows[0] and failed_name in rows[0] and "eGFR 25 is below 30" in rows[0]
    assert (
        "| SLE |" in rows[1]
        and "? possibly eligible" in rows[1]
        and "SLEDAI lupus activity score, time since diagnosis" in rows[1]
    )
    assert "- **NCT03171194**" not in reply.markdown  # the chain's bullet list gave way to the table
    assert "Facts used: age 45; eGFR 25" in reply.details
    assert "| Trial |" not in reply.body  # streamed text stays short; the table is sent in one piece
    assert reply.details.index("| Trial |") < reply.details.index("Facts used")
    assert reply.markdown.count("What is your SLEDAI score?") == 1
    assert "**To narrow this down:** What is your SLEDAI score?" in reply.details
    passage = {p.name: p.content for p in reply.passages}[failed_name]
    assert criterion.text in passage


def _verdicts_for_cards(seed_index):
    age = _chunk(seed_index, "NCT04356287", "eligibility.inclusion", 1)
    ra = _chunk(seed_index, "NCT06888973", "eligibility.inclusion", 1)
    sledai = next(c for c in seed_index.chunks("NCT06888973") if "(SLE)" in c.title and "inclusion" in c.section)
    return [
        TrialVerdict(
            trial_id="NCT04356287",
            verdict="ineligible",
            failed=[
                FailedCriterion(
                    criterion=age.text,
                    kind="inclusion",
                    reason="age 81 is above the maximum of 70",
                    citation=age.citation(),
                ),
                FailedCriterion(
                    criterion=age.text,
                    kind="inclusion",
                    reason="the patient's diagnosis (lupus) is not\nsystemic sclerosis",
                    citation=age.citation(),
                ),
            ],
        ),
        TrialVerdict(
            trial_id="NCT06888973",
            cohort="RA",
            verdict="ineligible",
            failed=[FailedCriterion(criterion=ra.text, kind="inclusion", reason="not RA", citation=ra.citation())],
        ),
        TrialVerdict(
            trial_id="NCT06888973",
            cohort="SLE",
            verdict="possibly_eligible",
            unknown=[
                UnknownCriterion(
                    criterion=sledai.text, kind="inclusion", needs=["sledai", "age"], citation=sledai.citation()
                )
            ],
        ),
        TrialVerdict(
            trial_id="NCT03171194",
            verdict="possibly_eligible",
            unknown=[UnknownCriterion(criterion="SLEDAI ≥ 6", kind="inclusion", needs=["sledai"])],
        ),
    ]


def test_patient_view_shows_one_plain_card_per_trial(seed_index):
    chain_text = (
        "One trial may fit you and is enrolling: NCT06888973 in Rawalpindi.\n\n"
        "**NCT06888973 — Mesenchymal Stem Cells (Enrolling by invitation)** [NCT06888973 · Status and enrollment]\n"
        "- A passage loosely about the trial\n\n"
        "**Eligibility check** (by the rule checker)\nFacts used: age 81; lupus\n"
        "- **NCT04356287**: ineligible\n  - Not met (inclusion): ...\n- **NCT06888973 · SLE**: possibly eligible\n\n"
        "What is your SLEDAI score?"
    )
    answer = Answer(
        answer=chain_text,
        eligibility=_verdicts_for_cards(seed_index),
        intent="eligibility",
        backend="extractive",
        warnings=["KCT0004337:eligibility.inclusion:4: a sign seems lost: 'defined as:\\no unresponsive'"],
        next_question=NextQuestion(fact="sledai", question="What is your SLEDAI score?"),
    )

    reply = render_reply(answer, seed_index)

    assert reply.body == "One trial may fit you and is enrolling: NCT06888973 in Rawalpindi."  # the lead only
    text = reply.markdown
    assert "|" not in text and "Facts used" not in text  # no table
    for internal in ("backend", "extractive", "sledai,", "eligibility.inclusion", ":4", "\\n", "possibly_eligible"):
        assert internal not in text, internal
    assert "**What you told me:** age 81; lupus" in text
    cards = [block for block in text.split("\n\n") if block.startswith("> **")]
    assert [c.split("**")[1] for c in cards] == ["NCT04356287", "NCT06888973", "NCT03171194"]
    ineligible, cohorts, completed = cards
    assert "This trial does not fit you." in ineligible
    assert "- Your age 81 is above the maximum of 70. NCT04356287 · Eligibility · inclusion #1" in ineligible
    assert "- Your diagnosis (lupus) is not systemic sclerosis." in ineligible
    assert "You may fit." in cohorts and "The SLE group may fit you." in cohorts
    assert "Its RA group is for other patients." in cohorts
    assert "I still need two answers from you" in cohorts
    assert "Not enrolling (completed)" in completed and "did not check it" in completed
    assert "You may fit" not in completed  # a closed trial is never screened
    assert text.count("What is your SLEDAI score?") == 1
    why = re.search(
        r"\*\*Next question:\*\* What is your SLEDAI score\? \(for the rule (NCT06888973 · [^\n]*#\d+)\)", text
    )
    assert why and "(SLE)" in why.group(1) and why.group(1) in {p.name for p in reply.passages}
    assert max(len(line) for line in text.splitlines()) < 200  # no wide rows
    names = {p.name for p in reply.passages}
    assert "NCT04356287 · Eligibility · inclusion #1" in names and "Notes on the trial documents" in names
    notes = {p.name: p.content for p in reply.passages}["Notes on the trial documents"]
    assert "\\n" not in notes and "defined as: o unresponsive" in notes


def test_second_person_speaks_to_the_patient():
    assert second_person("the patient's diagnosis (SLE) is not systemic sclerosis") == (
        "Your diagnosis (SLE) is not systemic sclerosis."
    )
    assert second_person("the patient has HIV") == "You have HIV."
    assert second_person("the patient is pregnant") == "You are pregnant."
    assert second_person("eGFR 25 is below the required ≥30") == "Your eGFR 25 is below the required ≥30."
    assert second_person("exclusion applies") == "Exclusion applies."


def test_first_screen_overview_counts_trials_and_their_diseases(seed_trials):
    overview = index_overview(seed_trials.values())
    assert overview.startswith(f"I know **{len(seed_trials)} clinical trials**.")
    assert "systemic lupus erythematosus (2)" in overview and "systemic sclerosis" in overview
    assert "stem cell" not in overview  # a procedure, not what the trials study
    assert index_overview([]) == "No trials are indexed yet."


def test_split_verdicts_without_a_verdict_list_keeps_the_text():
    assert split_verdicts("Some answer.") == ("Some answer.", None, "")


def test_profile_rereads_statements_and_a_later_one_wins():
    facts = facts_from_statements(["I'm 34, female, SLE, SLEDAI 6", "eGFR 95", "actually I'm 35"])
    assert facts.age == 35 and facts.sex == "female"
    assert {d.name for d in facts.diagnoses} == {"sle"}
    assert [m.name for m in facts.labs] == ["egfr"]
    assert facts_from_statements([]) is None


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
    assert 'chainlitServer: "http://127.0.0.1:9123",' in page
    assert '<script src="http://127.0.0.1:9123/public/trialfinder-a11y.js"></script>' in page
    assert 'customCssUrl: "http://127.0.0.1:9123/public/trialfinder.css"' in page
    assert DEFAULT_CHAT_SERVER not in page


def test_many_data_notes_show_a_few_inline_and_all_in_the_side_panel(seed_index):
    warnings = [f"KCT0004337: KCT0004337: note number {n}" for n in range(1, 6)] + ["KCT0004337: note number 1"]
    reply = render_reply(Answer(answer="Text.", warnings=warnings, backend="extractive"), seed_index, view="clinician")

    assert "> - KCT0004337: note number 1\n> - KCT0004337: note number 2\n" in reply.details
    assert "note number 3" not in reply.details
    assert "> - … 3 more: All 5 notes on the data" in reply.details
    notes = {p.name: p.content for p in reply.passages}["All 5 notes on the data"]
    assert notes.splitlines() == [f"- KCT0004337: note number {n}" for n in range(1, 6)]


def test_a_trial_no_group_of_which_fits_gives_its_closest_groups_reasons_first(seed_index):
    sle = _chunk(seed_index, "NCT06888973", "eligibility.inclusion", 1)
    verdicts = [
        TrialVerdict(
            trial_id="NCT06888973",
            cohort=cohort,
            verdict="ineligible",
            failed=[
                FailedCriterion(criterion=sle.text, kind="inclusion", reason=reason, citation=sle.citation())
                for reason in reasons
            ],
        )
        for cohort, reasons in (
            ("RA", ["the patient's diagnosis (lupus) is not rheumatoid arthritis", "the patient has lupus"]),
            ("SLE", ["age 15 is below the minimum of 18"]),
        )
    ]
    answer = Answer(answer="**Eligibility check**\n- **NCT06888973**: ineligible", eligibility=verdicts)

    card = render_reply(answer, seed_index).details.split("\n\n")[0]

    reasons = [line for line in card.splitlines() if line.startswith("> - ")]
    assert reasons[0].startswith("> - SLE group: your age 15 is below the minimum of 18.")
    assert reasons[1].startswith("> - RA group: your diagnosis (lupus) is not rheumatoid arthritis.")
    assert len(reasons) == 3 and "This trial does not fit you." in card

    # A carer asking for their mother reads about her, not about themselves.
    hers = render_reply(answer, seed_index, who="your mother").details.split("\n\n")[0]
    assert "This trial does not fit your mother." in hers
    assert "SLE group: your mother's age 15 is below the minimum of 18." in hers
    assert "RA group: your mother's diagnosis (lupus) is not rheumatoid arthritis." in hers
    assert "You " not in hers and "your diagnosis" not in hers


def test_translation_override_keeps_every_chainlit_key_and_drops_the_llm_warning():
    spec = importlib.util.find_spec("chainlit")
    shipped = json.loads((Path(spec.submodule_search_locations[0]) / "translations" / "en-US.json").read_text())
    ours = json.loads((PROJECT_ROOT / ".chainlit" / "translations" / "en-US.json").read_text())

    def keys(tree: dict, prefix: str = "") -> set[str]:
        out = set()
        for key, value in tree.items():
            out |= keys(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key}
        return out

    assert keys(shipped) <= keys(ours)  # a Chainlit upgrade that adds strings shows up here
    assert "LLM" not in ours["chat"]["watermark"] and "Not medical advice" in ours["chat"]["watermark"]
