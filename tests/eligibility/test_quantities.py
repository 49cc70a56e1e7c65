"""The comparison grammar (eligibility/quantities.py): golden phrasings and properties."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eligibility import quantities
from eligibility.facts import extract_facts
from eligibility.matching import FactIndex, evaluate
from eligibility.parsing import parse_text
from eligibility.rules import AgeRule, AllOf, LabRule, ScoreRule

# (text, low, high, low_inclusive, high_inclusive, unit) written for these tests.
GOLDEN = [
    ("people above 21", 21, None, False, True, None),
    ("anyone aged at least 16 years", 16, None, True, True, "years"),
    ("no older than 80 years", None, 80, True, True, "years"),
    ("30 years or younger", None, 30, True, True, "years"),
    ("60 and over", 60, None, True, True, None),
    ("ranging from 2 to 11 years of age", 2, 11, True, True, "years of age"),
    ("between 40 and 70", 40, 70, True, True, None),
    ("25~60", 25, 60, True, True, None),
    ("≥ 12 and ≤ 17", 12, 17, True, True, None),
    (">/= 3 x ULN", 3, None, True, True, "x ULN"),
    ("not to exceed 2.5 times the upper limit of normal", None, 2.5, True, True, "times the upper limit of normal"),
    ("=< 1,500/mm3", None, 1500, True, True, "/mm3"),
    ("in excess of 200 lbs", 200, None, False, True, "lbs"),
    ("up to 48 hours", None, 48, True, True, "hours"),
    ("greater than or equal to 65% predicted", 65, None, True, True, "% predicted"),
    ("under the age of 12", None, 12, True, False, None),
    ("6 to <12 months", 6, 12, True, False, "months"),
    ("fewer than 2", None, 2, True, False, None),
]


@pytest.mark.parametrize("text,low,high,low_inc,high_inc,unit", GOLDEN)
def test_golden_quantities(text, low, high, low_inc, high_inc, unit):
    q = quantities.first(text)
    assert q is not None, text
    assert (q.low, q.high, q.low_inclusive, q.high_inclusive, q.unit) == (low, high, low_inc, high_inc, unit)


@pytest.mark.parametrize(
    "text",
    [
        "moreover 5 people",
        "overall survival 3 years",
        "over the past 6 months",
        "in 2019",
        "COVID-19 vaccine",
        "no numbers at all",
    ],
)
def test_words_that_are_not_bounds(text):
    assert quantities.find(text) == []


AGES = [
    ("Over 21 years", "inclusion", AgeRule(min=21, min_inclusive=False)),
    ("aged over 21", "inclusion", AgeRule(min=21, min_inclusive=False)),
    ("Age < 16 years", "exclusion", AgeRule(max=16, max_inclusive=False)),
    ("Age: 30~50", "inclusion", AgeRule(min=30, max=50)),
    ("Subjects younger than 40 years old", "exclusion", AgeRule(max=40, max_inclusive=False)),
    ("from 12 to 17 years of age", "inclusion", AgeRule(min=12, max=17)),
    ("Age ≥25 and ≤45", "inclusion", AgeRule(min=25, max=45)),
    ("Women between the ages of 40-60", "inclusion", AgeRule(min=40, max=60)),
    ("30-60 age", "inclusion", AgeRule(min=30, max=60)),
    ("Adults over age 21", "inclusion", AgeRule(min=21, min_inclusive=False)),
]


@pytest.mark.parametrize("text,kind,rule", AGES)
def test_age_phrasings(text, kind, rule):
    assert parse_text(text, kind) == rule


@pytest.mark.parametrize(
    "text",
    [
        "Disease duration of at least 2 years",
        "Treated with the device at least 1 year before screening",
        "Life expectancy under 2 years",
    ],
)
def test_years_that_are_not_an_age(text):
    assert not isinstance(parse_text(text, "inclusion"), AgeRule)


MEASURES = [
    ("Body weight below 100 pounds", "weight", "<", 45.3592),
    ("Life expectancy shorter than 8 weeks", "life_expectancy", "<", 1.8398),
    ("Fever: temperature ≥ 100.4°F", "temperature", ">=", 38.0),
    ("At least 36 weeks of gestation", "gestational_age", ">=", 36.0),
    ("Creatinine-independent: total bilirubin no more than 1.5 x ULN", "bilirubin", "<=", 1.5),
    # common labs, each in its canonical unit with its own factors
    ("Platelets at least 100 x 10^3/µL", "platelets", ">=", 100.0),
    ("Platelet count > 75,000/mm3", "platelets", ">", 75.0),
    ("Platelets ≥ 50 x 109/L", "platelets", ">=", 50.0),
    ("White cell count of at least 3000 per mm3", "wbc", ">=", 3.0),
    ("WBC < 2.0/mm3", "wbc", "<", 2.0),
    ("Neutrophils less than 1.0 x 10e9/L", "anc", "<", 1.0),
    ("ANC ≥ 1500", "anc", ">=", 1.5),
    ("Absolute lymphocyte count below 500/µL", "lymphocytes", "<", 0.5),
    ("Haemoglobin under 90 g/L", "hemoglobin", "<", 9.0),
    ("Hgb ≥ 6.2 mmol/L", "hemoglobin", ">=", 9.99),
    ("Serum creatinine above 133 µmol/L", "creatinine", ">", 1.504),
    ("Creatinine no more than 1.5 times the upper limit of normal", "creatinine", "<=", 1.5),
    ("Creatinine clearance under 30 mL/min", "creatinine_clearance", "<", 30.0),
    ("Estimated GFR of 45 mL/min/1.73 m² or more", "egfr", ">=", 45.0),
    ("AST over 3x ULN", "ast", ">", 3.0),
    ("Alanine aminotransferase (ALT) > 2.5 times ULN", "alt", ">", 2.5),
    ("CD4+ T-cell count under 200 cells/µL", "cd4", "<", 200.0),
    ("Proteinuria of more than 500 mg/24 hours", "proteinuria", ">", 0.5),
    ("UPCR at least 50 mg/mmol", "upcr", ">=", 0.442),
    ("ANA titre ≥ 1:80", "ana", ">=", 80.0),
    ("Complement C3 below 0.9 g/L", "complement_c3", "<", 90.0),
]


@pytest.mark.parametrize("text,analyte,op,value", MEASURES)
def test_measurement_phrasings(text, analyte, op, value):
    rule = parse_text(text, "inclusion")
    rule = rule.rule if hasattr(rule, "note") else rule
    assert isinstance(rule, LabRule), rule
    assert (rule.analyte, rule.op) == (analyte, op)
    assert rule.value == pytest.approx(value, abs=0.01)


SCORES = [
    ("ASA class ≤ II", "asa", None, 2.0),
    ("Karnofsky score of at least 60%", "kps", 60.0, None),
    ("SLEDAI-2K ≥ 6 at screening", "sledai", 6.0, None),
    ("A SLEDAI score between 4 and 12", "sledai", 4.0, 12.0),
    ("≥ 15 and ≤ 40 mRSS units", "mrss", 15.0, 40.0),
    ("Modified Rodnan skin score of 10 to 35", "mrss", 10.0, 35.0),
    ("BASDAI of 4 or higher", "basdai", 4.0, None),
    ("DAS28-ESR above 5.1", "das28", 5.1, None),
    ("Pain VAS no more than 40 mm", "vas", None, 40.0),
]


@pytest.mark.parametrize("text,score,low,high", SCORES)
def test_score_phrasings(text, score, low, high):
    rule = parse_text(text, "inclusion")
    rule = rule.rule if hasattr(rule, "note") else rule
    assert isinstance(rule, ScoreRule), rule
    assert (rule.score, rule.min, rule.max) == (score, low, high)


@pytest.mark.parametrize(
    "text",
    [
        "C3-C4 disc herniation below 2 cm",  # a vertebra, not a complement level (no unit of its own)
        "Platelets below 5 %",  # a unit platelets are never counted in
        "Hemoglobin A1c below 7%",  # HbA1c, not haemoglobin
    ],
)
def test_names_without_their_own_units_are_not_compared(text):
    leaves = _leaves(parse_text(text, "inclusion"))
    assert not any(
        getattr(r, "analyte", None) in ("complement_c3", "complement_c4", "platelets", "hemoglobin") for r in leaves
    )


def _leaves(rule):
    inner = getattr(rule, "rules", None) or ([rule.rule] if getattr(rule, "rule", None) is not None else [])
    return [rule, *[x for r in inner for x in _leaves(r)]]


def test_a_unit_the_concept_does_not_use_is_not_compared():
    # "% of body weight" is weight loss, not a weight in kg.
    assert not isinstance(parse_text("Weight below 10 %", "inclusion"), (LabRule, AllOf))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_the_grammar_never_raises(text):
    for q in quantities.find(text):
        assert 0 <= q.start < q.end <= len(text)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 500),
    st.integers(0, 500),
    st.sampled_from(["-", " to ", "~", " – "]),
    st.sampled_from(["", " years", " kg", " mg/dL"]),
    st.integers(-10, 520),
)
def test_a_range_contains_exactly_its_values(a, b, sep, unit, value):
    lo, hi = min(a, b), max(a, b)
    q = quantities.first(f"between {lo}{sep}{hi}{unit}")
    assert q is not None
    inside = (q.low is None or value >= q.low) and (q.high is None or value <= q.high)
    assert inside == (lo <= value <= hi)


def test_an_age_bound_after_no_names_who_may_not_take_part():
    rule = parse_text("No patients less than or equal to 5 years old.", "inclusion")
    assert rule.kind == "not" and rule.rule == AgeRule(max=5)


def test_names_listed_before_a_bound_share_it():
    rule = parse_text("DLCO or FVC under 45% predicted", "exclusion")
    assert rule.kind == "any_of" and {r.analyte for r in rule.rules} == {"dlco", "fvc"}
    rule = parse_text("FVC and DLCO of at least 45% predicted", "inclusion")
    assert rule.kind == "all_of" and all(r.value == 45 for r in rule.rules)


def test_a_pair_of_limits_is_never_read_as_one():
    rule = parse_text("Systolic or diastolic blood pressure above 150/95 mmHg", "exclusion")
    assert not any(getattr(r, "analyte", None) == "dbp" and r.value == 150 for r in getattr(rule, "rules", [rule]))


@pytest.mark.parametrize(
    "text,subject,low,high",
    [
        ("Disease duration of no more than 3 years", "disease", None, 3 * 365.25),
        ("joint symptoms for at least 8 weeks", "symptoms", 56, None),
        ("arthritis symptoms for more than 10 days but less than 1 year", "symptoms", 10, 365.25),
    ],
)
def test_durations_use_the_same_grammar(text, subject, low, high):
    rule = parse_text(text, "inclusion")
    assert (rule.kind, rule.subject, rule.min_days, rule.max_days) == ("duration", subject, low, high)


# --- the registry's labs and scores through the same grammar, on both sides --------------------------

COUNT_SPELLINGS = [
    lambda n: f"{n} x 10^9/L",
    lambda n: f"{n} x109/L",
    lambda n: f"{n} x 10^3/µL",
    lambda n: f"{n}k/uL",
    lambda n: f"{n * 1000:,}/mm3",
    lambda n: f"{n * 1000} cells/µL",
]


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 900),
    st.sampled_from(COUNT_SPELLINGS),
    st.sampled_from(COUNT_SPELLINGS),
    st.sampled_from(["Platelet count", "Platelets"]),
)
def test_a_count_means_the_same_in_every_unit_on_both_sides(n, criterion_unit, patient_unit, name):
    """A platelet count written per litre, per µL or per mm3 is one canonical value: the criterion's
    threshold and the patient's value meet exactly at it, whichever spellings the two sides use."""
    rule = parse_text(f"{name} at least {criterion_unit(n)}", "inclusion")
    assert isinstance(rule, LabRule) and rule.analyte == "platelets" and rule.value == pytest.approx(n)
    for value, met in ((n, True), (n + 1, True), (n - 1, False)):
        if value < 1:
            continue
        facts = extract_facts(f"platelets {patient_unit(value)}", date(2026, 1, 1))
        assert evaluate(rule, FactIndex.build(facts), "inclusion").value is met, (value, facts.labs)


@settings(max_examples=150, deadline=None)
@given(st.integers(20, 2000))
def test_creatinine_converts_with_its_own_molar_factor(umol):
    """mg/dL x 88.42 = µmol/L for creatinine (not bilirubin's 17.1): both sides agree."""
    rule = parse_text(f"Serum creatinine below {umol} µmol/L", "inclusion")
    assert isinstance(rule, LabRule) and rule.value == pytest.approx(umol / 88.42, rel=1e-3)
    bili = parse_text(f"Total bilirubin below {umol} µmol/L", "inclusion")
    assert not isinstance(bili, LabRule) or bili.value == pytest.approx(umol / 17.1, rel=1e-3)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(0, 60),
    st.integers(0, 60),
    st.integers(0, 70),
    st.sampled_from(["SLEDAI-2K {} to {}", "SLEDAI score between {} and {}", "SLEDAI ≥{} and ≤{}"]),
)
def test_a_score_range_admits_exactly_its_values(a, b, value, form):
    lo, hi = min(a, b), max(a, b)
    rule = parse_text(form.format(lo, hi), "inclusion")
    assert isinstance(rule, ScoreRule) and (rule.min, rule.max) == (lo, hi), rule
    facts = extract_facts(f"SLEDAI {value}", date(2026, 1, 1))
    assert evaluate(rule, FactIndex.build(facts), "inclusion").value is (lo <= value <= hi)


@pytest.mark.parametrize(
    "text,low,high",
    [
        ("= or > 500", 500, None),  # legacy records write the equals sign first
        ("= or < 400 cells/mm3", None, 400),
    ],
)
def test_equals_first_operators(text, low, high):
    q = quantities.first(text)
    assert q is not None and (q.low, q.high) == (low, high) and q.low_inclusive and q.high_inclusive


def test_a_measurement_negated_as_a_whole_is_not_required():
    rule = parse_text("No New York Heart Association class III-IV cardiac disease", "inclusion")
    assert rule.kind == "not" and isinstance(rule.rule, ScoreRule) and (rule.rule.min, rule.rule.max) == (3, 4)
    # a negation about something else, or a choice, leaves the bound as it is
    assert isinstance(parse_text("No prior therapy and platelets > 100,000/mm3", "inclusion"), LabRule)
    kept = parse_text("FVC with or without DLCO at least 50% predicted", "inclusion")
    assert "not" not in repr(kept).replace("note", "")


def test_weight_loss_is_not_a_body_weight():
    rule = parse_text("Weight loss of more than 10 kg in the last 6 months", "exclusion")
    assert "weight" not in {getattr(r, "analyte", None) for r in _leaves(rule)}
