"""The chat's patient profile form: fields filled from the facts read back to the same facts; an edit
replaces the profile, keeps whom it is about, and re-runs the last check."""

from __future__ import annotations

from datetime import date

import pytest

from app.chain import Assistant
from app.chat_profile import NOT_SAID, apply_profile_edit, facts_from_statements, profile_fields, statements_from_fields
from app.conversation import Conversation
from eligibility.facts import PatientFacts

TODAY = date(2026, 1, 15)


def _essence(f: PatientFacts | None) -> dict:
    """What the checker decides on, without the words and offsets the facts came from."""
    assert f is not None
    return {
        "age": f.age,
        "sex": f.sex,
        "weight": f.weight_kg,
        "pregnant": f.pregnant,
        "breastfeeding": f.breastfeeding,
        # When a relative's illness happened, or when an absent one began, decides nothing.
        "diagnoses": sorted(
            (d.name, d.negated, d.family)
            + ((False, None) if d.family or d.negated else (d.historical, d.onset and (d.onset.year, d.onset.month)))
            for d in f.diagnoses
            if not d.hypothetical
        ),
        "medications": sorted(
            (
                m.name,
                m.negated,
                m.current,
                m.dose,
                m.unit,
                m.started,
                m.last_taken and (m.last_taken.year, m.last_taken.month),
            )
            for m in f.medications
        ),
        "measurements": sorted((m.name, m.value, m.normalized, m.positive) for m in (*f.labs, *f.scores)),
    }


def _conversation(statements: list[str]) -> Conversation:
    conv = Conversation()
    for text in statements:
        facts = facts_from_statements([text], TODAY)
        assert facts is not None, text
        conv.add_facts(facts, text)
    return conv


def _form(conv: Conversation) -> dict[str, object]:
    return {f.id: f.initial for f in profile_fields(conv)}


@pytest.mark.parametrize(
    "statements",
    [
        ["I'm 34, female, SLE with lupus nephritis diagnosed in March 2021", "eGFR 95, SLEDAI 6, anti-dsDNA positive"],
        ["58 year old man with COPD and high blood pressure", "no hepatitis B, past tuberculosis in 2010"],
        ["she is 47 and not pregnant, weighs 70 kg", "prednisone 10 mg daily, started in January 2023"],
        ["stopped cyclophosphamide in May 2024", "never had rituximab", "platelets 90000 /mm3, hemoglobin 11.2 g/dL"],
        ["I have rheumatoid arthritis", "methotrexate 15 mg weekly", "my mother had breast cancer"],
    ],
)
def test_the_form_reads_back_to_the_facts_it_shows(statements):
    conv = _conversation(statements)
    before = _essence(conv.facts)

    apply_profile_edit(conv, _form(conv), today=TODAY.isoformat())

    assert _essence(conv.facts) == before
    assert all("; " not in s for s in conv.patient_texts)  # one statement per item: quotes stay short


def test_an_edited_field_changes_only_that_fact():
    conv = _conversation(["I'm 34 with SLE", "eGFR 95", "taking hydroxychloroquine"])
    form = _form(conv)
    assert form["age"] == "34" and form["tests"].startswith("eGFR 95")

    summary = apply_profile_edit(conv, {**form, "age": "71", "tests": ""}, today=TODAY.isoformat())

    assert conv.facts is not None and conv.facts.age == 71
    assert conv.facts.labs == []  # the emptied field no longer counts
    assert [m.name for m in conv.facts.medications] == ["hydroxychloroquine"]
    assert "age 71" in summary


def test_sex_is_a_choice_and_not_said_states_nothing():
    conv = _conversation(["I'm a 40 year old woman"])
    sex = next(f for f in profile_fields(conv) if f.id == "sex")
    assert sex.widget == "select" and sex.initial == "female" and NOT_SAID in sex.options

    apply_profile_edit(conv, {**_form(conv), "sex": NOT_SAID})

    assert conv.facts is not None and conv.facts.sex is None
    assert statements_from_fields({"sex": NOT_SAID, "age": " "}) == []


def test_an_emptied_form_empties_the_profile():
    conv = _conversation(["I'm 34 with SLE"])
    apply_profile_edit(conv, {key: "" for key in _form(conv)})
    assert conv.facts is None
    assert "nothing yet" in profile_fields(conv)[0].description


def test_the_form_says_whether_the_profile_is_saved():
    conv = _conversation(["I'm 34 with SLE"])
    assert "never stored" in profile_fields(conv)[0].description
    assert "Saved with this chat" in profile_fields(conv, saved=True)[0].description


def test_an_edit_keeps_whom_the_profile_is_about():
    conv = _conversation(["My mother has lupus, could she join a trial?", "she is 67"])
    assert conv.subject == "your mother"

    apply_profile_edit(conv, {**_form(conv), "age": "71"})

    assert conv.subject == "your mother" and conv.facts is not None and conv.facts.age == 71
    assert Conversation.from_state(conv.state()).subject == "your mother"


@pytest.fixture(scope="module")
def bot(seed_index, seed_settings):
    return Assistant(seed_index, seed_settings)


def test_an_edit_reruns_the_last_check_with_the_new_facts(bot):
    conv = Conversation()
    first = bot.ask("I'm 34, female, with SLE. Could I join NCT03171194?", conversation=conv)
    assert first.eligibility and all(v.verdict != "ineligible" for v in first.eligibility)

    apply_profile_edit(conv, {**_form(conv), "age": "12"})
    again = bot.recheck(conv, "Checked again with the edited profile.")

    assert again is not None and again.answer.startswith("Checked again with the edited profile.")
    assert {v.trial_id for v in again.eligibility} == {v.trial_id for v in first.eligibility}
    assert all(v.verdict == "ineligible" for v in again.eligibility)  # a 12-year-old is under every minimum age


def test_nothing_is_rerun_before_any_check(bot):
    conv = _conversation(["I'm 34 with SLE"])
    assert bot.recheck(conv, "Checked again.") is None
