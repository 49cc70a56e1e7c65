"""The chat's "summary for my doctor": a printable page and a FHIR R4 Bundle from one conversation."""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B.bundle import Bundle  # FHIR R4 (R4B): what clinical systems speak

from app.chain import Assistant
from app.conversation import Conversation
from app.handoff import can_hand_off, handoff
from eligibility.evaluate import check_trial


@pytest.fixture(scope="module")
def bot(seed_index, seed_settings):
    return Assistant(seed_index, seed_settings)


def _talk(bot, *turns: str) -> Conversation:
    conv = Conversation()
    for text in turns:
        bot.ask(text, conversation=conv)
    return conv


def test_the_files_carry_the_profile_the_trials_and_the_checkers_verdicts(bot, seed_index):
    conv = _talk(bot, "I'm a 34 year old woman with SLE and my eGFR is 95. Could I join NCT03171194 or NCT04356287?")
    assert can_hand_off(conv)

    files = handoff(conv, seed_index)

    assert "34 year old woman with SLE" in files.markdown and "NCT03171194" in files.html
    bundle = Bundle.model_validate(json.loads(files.fhir_json))
    resources = [e.resource for e in bundle.entry]
    patient = next(r for r in resources if r.get_resource_type() == "Patient")
    assert patient.gender == "female"
    subjects = {r.study.display: r.status for r in resources if r.get_resource_type() == "ResearchSubject"}
    assert set(subjects) == {"NCT03171194", "NCT04356287"}
    for trial_id, status in subjects.items():
        verdicts = check_trial(seed_index.trial(trial_id), conv.facts, rules=seed_index.store.compiled_rules)
        ineligible = all(v.verdict == "ineligible" for v in verdicts)
        assert status == ("ineligible" if ineligible else "candidate"), trial_id
    assert [name for name, _, _ in files.files()] == [
        "trial-summary.html",
        "trial-summary.md",
        "trial-summary.fhir.json",
    ]


def test_an_excluded_patient_is_an_ineligible_subject(bot, seed_index):
    conv = _talk(bot, "I'm 12 with lupus, could I join NCT03171194?")  # under its minimum age of 18
    bundle = json.loads(handoff(conv, seed_index).fhir_json)
    (subject,) = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "ResearchSubject"]
    assert subject["status"] == "ineligible"


def test_the_page_shows_hostile_words_as_text(bot, seed_index):
    conv = _talk(
        bot,
        "I'm 40 with lupus <script>alert(1)</script> ![x](http://evil.example/p.png) [click](http://evil.example). "
        "Could I join NCT03171194?",
    )
    html = handoff(conv, seed_index).html
    assert "<script" not in html and "<img" not in html and "evil.example" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; x click." in html  # the words stay, as text


def test_no_summary_before_a_profile_and_a_trial(bot):
    assert not can_hand_off(Conversation())
    assert not can_hand_off(_talk(bot, "What is lupus nephritis?"))


def test_a_trial_not_enrolling_gets_no_verdict_on_the_page(tmp_path, make_settings, write_study):
    from app.indexer import ingest_paths
    from app.summary import doctor_summary
    from vectorstore.index import TrialIndex

    docs = tmp_path / "docs"
    write_study(docs, "NCT99300001", "Closed lupus study", status="COMPLETED")
    write_study(docs, "NCT99300002", "Open lupus study")
    settings = make_settings(corpus_dir=docs)
    index = TrialIndex.open(settings)
    try:
        assert not ingest_paths([docs], index, progress=False).errors
        conv = _talk(Assistant(index, settings), "I'm 40 with lupus. Could I join NCT99300001 or NCT99300002?")
        page = doctor_summary(conv, index).markdown
        closed, open_ = page.split("### NCT99300002")
        assert "Not enrolling now" in closed and "Checker's verdict" not in closed
        assert "Checker's verdict" in open_ and "Not enrolling now" not in open_
    finally:
        index.close()
