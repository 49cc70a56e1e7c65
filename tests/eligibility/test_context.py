"""ConText on patient text: rules as data, negated lists, pseudo-negation, requests, family, history."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eligibility.context import context, cues
from eligibility.context.rules import PROJECT_RULES, ContextRule, load_rules
from eligibility.facts import extract_facts


def ctx(text: str, mention: str):
    i = text.index(mention)
    return context(text, i, i + len(mention))


def diag(text: str, name: str, today):
    return next((d for d in extract_facts(text, today=today).diagnoses if d.name == name), None)


def test_rules_are_medspacy_data_plus_project_data():
    rules = load_rules()
    literals = {r.literal for r in rules}
    assert {"absence of", "no evidence", "denies", "not improving on"} <= literals
    disabled = {d["literal"] for d in json.loads(PROJECT_RULES.read_text())["disabled"]}
    assert disabled and not disabled & {
        r.literal
        for r in rules
        if r.direction.value != "BACKWARD" and r.category.value == "NEGATED_EXISTENCE" and r.literal == "resolved"
    }


def test_a_bad_rule_is_refused_with_its_field():
    with pytest.raises(ValueError, match="direction"):
        ContextRule.model_validate({"category": "FAMILY", "literal": "x", "direction": "SIDEWAYS"})
    with pytest.raises(ValueError, match="OP"):
        ContextRule.model_validate(
            {"category": "FAMILY", "literal": "x", "direction": "FORWARD", "pattern": [{"LOWER": "x", "OP": "+"}]}
        )


@pytest.mark.parametrize(
    "text, mentions",
    [
        ("HIV, HBV and HCV all negative.", ["HIV", "HBV", "HCV"]),
        ("Hepatitis B, hepatitis C and HIV serologies were negative", ["Hepatitis B", "hepatitis C", "HIV"]),
        ("HIV and HCV both neg", ["HIV", "HCV"]),
        ("No SLE, Sjögren's or myositis.", ["SLE", "Sjögren", "myositis"]),
        ("Denies diabetes, hypertension or asthma", ["diabetes", "hypertension", "asthma"]),
        ("never had tuberculosis nor hepatitis", ["tuberculosis", "hepatitis"]),
        ("Without any evidence of lymphoma", ["lymphoma"]),
        ("Pregnancy test negative", ["Pregnancy"]),
        ("Hep B/Hep C/HIV: all negative", ["Hep B", "Hep C", "HIV"]),
        ("HTLV: neg. Lupus since 2015", ["HTLV"]),
    ],
)
def test_negated_lists(text, mentions):
    for mention in mentions:
        assert ctx(text, mention).negated, (text, mention)


@pytest.mark.parametrize(
    "text, mention",
    [
        ("no lupus nephritis, HIV positive", "HIV"),
        ("SLE, HIV negative", "SLE"),
        ("No fever but has lupus nephritis", "lupus nephritis"),
        ("HBV positive, HCV negative", "HBV"),
    ],
)
def test_negation_stops_where_the_list_or_clause_ends(text, mention):
    assert not ctx(text, mention).negated


@pytest.mark.parametrize(
    "text",
    [
        "Not improving on methotrexate.",
        "not responding to methotrexate, still taking it",
        "No response to methotrexate so far",
        "RA not controlled on methotrexate",
        "despite improvement on methotrexate",
    ],
)
def test_pseudo_negation_keeps_the_drug(text):
    assert not ctx(text, "methotrexate").negated


@pytest.mark.parametrize(
    "text, mention",
    [
        ("Is there a stem-cell study I might be able to enter?", "stem-cell"),
        ("Are there any rituximab trials near Leeds?", "rituximab"),
        ("I'm looking for lupus nephritis research", "lupus nephritis"),
        ("Could I join a stem cell trial for lupus", "stem cell"),
        ("I want rituximab if possible", "rituximab"),
    ],
)
def test_questions_and_requests_are_not_patient_facts(text, mention):
    assert ctx(text, mention).hypothetical


@pytest.mark.parametrize(
    "text, name",
    [
        ("I read about the belimumab BLISS-LN study, could I join?", "belimumab"),
        ("Any news on the abatacept ASTRA-2 trial?", "abatacept"),
        ("My rheumatologist mentioned a tocilizumab study", "tocilizumab"),
    ],
)
def test_a_drug_in_a_trial_name_is_not_a_treatment_taken(text, name, today):
    assert all(m.name != name for m in extract_facts(text, today=today).medications)


def test_a_drug_taken_in_a_trial_is_still_taken(today):
    names = [
        m.name for m in extract_facts("I received rituximab in the RITUX-3 trial in 2020", today=today).medications
    ]
    assert names == ["rituximab"]


def test_a_question_after_a_statement_keeps_the_statement(today):
    assert not ctx("I have lupus, can I join?", "lupus").hypothetical
    d = diag("I have had a stem cell transplant. Is there a study for me?", "stem_cell_therapy", today)
    assert d is None or not d.hypothetical


def test_stem_cell_question_gives_no_history(today):
    d = diag("Is there a stem-cell study I might be able to enter?", "stem_cell_therapy", today)
    assert d is None or d.hypothetical


@pytest.mark.parametrize(
    "text, mention",
    [
        ("my mother had breast cancer", "breast cancer"),
        ("Family history: father with colon cancer", "colon cancer"),
        ("FHx of lupus in maternal aunt", "lupus"),
        ("My brother has type 1 diabetes. I have RA.", "type 1 diabetes"),
    ],
)
def test_family_history(text, mention):
    assert ctx(text, mention).family


@pytest.mark.parametrize(
    "text, mention",
    [
        ("My husband has lupus; I have rheumatoid arthritis.", "lupus"),
        ("I have SLE and my partner has type 2 diabetes", "type 2 diabetes"),
        ("a friend of mine had a stem cell transplant", "stem cell transplant"),
    ],
)
def test_someone_elses_condition_is_not_the_patients(text, mention):
    assert ctx(text, mention).family


@pytest.mark.parametrize(
    "text, mention",
    [
        ("my son has lupus, can he take part?", "lupus"),
        ("My 70-year-old mother has lupus nephritis. Is she eligible?", "lupus nephritis"),
        ("Would my daughter qualify? My daughter has SLE", "SLE"),
        ("my husband has ankylosing spondylitis, could he join", "ankylosing spondylitis"),
    ],
)
def test_asking_for_someone_makes_them_the_patient(text, mention):
    assert not ctx(text, mention).family


@pytest.mark.parametrize(
    "text, mention",
    [
        ("My grandmother has lupus with kidney involvement. Is there anything she could join?", "lupus"),
        ("my brother has scleroderma - anything he might qualify for?", "scleroderma"),
        ("Our daughter was diagnosed with JIA. Is there a study she can take part in?", "JIA"),
    ],
)
def test_asking_with_a_modal_after_the_pronoun_still_makes_them_the_patient(text, mention):
    assert not ctx(text, mention).family


@pytest.mark.parametrize(
    "text, age, sex",
    [
        ("My dad, 66, has RA. Could he join?", 66, "male"),
        ("my sister (29) has lupus; would she qualify?", 29, "female"),
        ("Is my wife eligible? She has SLE.", None, "female"),
        # a relative who is only family history gives neither age nor sex
        ("My father, 81, had a heart attack. I have lupus.", None, None),
        ("my son 3 weeks ago had a fever", None, None),
    ],
)
def test_the_relative_asked_for_gives_age_and_sex(text, age, sex):
    from eligibility.facts import extract_facts

    facts = extract_facts(text)
    assert (facts.age, facts.sex) == (age, sex)


@pytest.mark.parametrize(
    "text, relative",
    [
        ("My daughter is 19 and has lupus nephritis", "daughter"),
        ("our son (8) has juvenile arthritis", "son"),
        ("My wife was recently diagnosed with scleroderma", "wife"),
        # the past, or a writer who speaks of themselves, keeps the relative as family history
        ("My mother had breast cancer.", None),
        ("My sister has lupus and I have RA", None),
    ],
)
def test_a_message_describing_a_relative_and_not_the_writer_is_about_the_relative(text, relative):
    from eligibility.context import proxy_relative

    assert proxy_relative(text) == relative


def test_proxy_keeps_other_relatives_as_family():
    text = "My son has lupus and my mother had breast cancer; can he take part?"
    assert not ctx(text, "lupus").family
    assert ctx(text, "breast cancer").family


@pytest.mark.parametrize(
    "text, mention",
    [
        ("history of tuberculosis", "tuberculosis"),
        ("s/p renal transplant", "renal transplant"),
        ("lymphoma in remission", "lymphoma"),
        ("had shingles two years ago", "shingles"),
    ],
)
def test_historical(text, mention):
    assert ctx(text, mention).historical


def test_every_fact_keeps_its_span(today):
    text = "58F, SLE. Rituximab in 11/2025. eGFR 72. Denies HIV."
    f = extract_facts(text, today=today)
    items = [*f.diagnoses, *f.medications, *f.labs]
    assert items
    for item in items:
        assert item.start is not None and item.end is not None
        assert text[item.start : item.end] == item.span


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400))
def test_context_never_crashes(text):
    for cue in cues(text):
        assert 0 <= cue.start < cue.end <= len(text)
    if text:
        context(text, 0, min(len(text), 3))
    extract_facts(text)


def test_binary_and_huge_input_give_facts_not_errors():
    extract_facts("\x00\x01\xff" * 1000)
    f = extract_facts("no " * 100_000 + "lupus")
    assert f is not None


def test_the_age_of_the_person_asked_for(today):
    assert extract_facts("my son is 16 and has lupus, can he take part?", today=today).age == 16
    assert extract_facts("My mother is 70 and has SLE, would she qualify?", today=today).age == 70
    assert extract_facts("I have SLE and my dad is 80", today=today).age is None
    assert extract_facts("My mother is 70. I am 40 with SLE", today=today).age == 40


@pytest.mark.parametrize("text", ["My SLEDAI is 6 and my eGFR is 95", "my platelet count is 120", "our dog is 9"])
def test_a_measurement_or_non_person_after_my_is_never_an_age(text):
    assert extract_facts(text).age is None


@pytest.mark.parametrize("text", ["Negative for hepatitis B and C.", "Hep B/C: negative", "never had hepatitis B or C"])
def test_a_coordination_naming_hepatitis_once_negates_both(text, today):
    for name in ("hbv", "hcv"):
        d = diag(text, name, today)
        assert d is not None and d.negated, (text, name)
