"""Patient text -> registry measurements (eligibility/measurements.py), with their exact spans."""

from __future__ import annotations

from datetime import date

import pytest

from eligibility import measurements
from eligibility.facts import extract_facts

CASES = [
    ("I weigh 132 pounds these days.", "weight", 59.87, "weigh 132 pounds"),
    ("wt: 70 kg", "weight", 70.0, "wt: 70 kg"),
    ("Temp 38.4 C this morning", "temperature", 38.4, "Temp 38.4 C"),
    ("temperature was 99.5 F", "temperature", 37.5, "temperature was 99.5 F"),
    ("ASA II per the anaesthetist", "asa", 2.0, "ASA II"),
    ("his life expectancy is roughly 4 months", "life_expectancy", 4.0, "life expectancy is roughly 4 months"),
    ("A1c 6.9% last spring", "hba1c", 6.9, "A1c 6.9%"),
    ("bilirubin 51 umol/L", "bilirubin", 2.98, "bilirubin 51 umol/L"),
    ("ECOG 2", "ecog", 2.0, "ECOG 2"),
    ("QTc 455 ms on the ECG", "qtc", 455.0, "QTc 455 ms"),
    # common labs in the units notes use, each converted with its own factor
    ("plt 85,000/mm3 on Monday", "platelets", 85.0, "plt 85,000/mm3"),
    ("platelet count is 212 x 10^9/L", "platelets", 212.0, "platelet count is 212 x 10^9/L"),
    ("platelets 140k", "platelets", 140.0, "platelets 140k"),
    ("WBC 3.1, Hb 10.2", "wbc", 3.1, "WBC 3.1"),
    ("WBC 3.1, Hb 10.2", "hemoglobin", 10.2, "Hb 10.2"),
    ("haemoglobin 96 g/L", "hemoglobin", 9.6, "haemoglobin 96 g/L"),
    ("absolute neutrophil count 900 cells/µL", "anc", 0.9, "absolute neutrophil count 900 cells/µL"),
    ("Cr 1.4 mg/dL", "creatinine", 1.4, "Cr 1.4 mg/dL"),
    ("creatinine of 221 µmol/L", "creatinine", 2.5, "creatinine of 221 µmol/L"),
    ("CrCl 38 mL/min", "creatinine_clearance", 38.0, "CrCl 38 mL/min"),
    ("eGFR 52 mL/min/1.73m2", "egfr", 52.0, "eGFR 52 mL/min/1.73m2"),
    ("ALT 88 U/L", "alt", 88.0, "ALT 88 U/L"),
    ("CD4 count 410 cells/mm3", "cd4", 410.0, "CD4 count 410 cells/mm3"),
    ("UPCR 1.8 g/g", "upcr", 1.8, "UPCR 1.8 g/g"),
    ("24-hour urine protein 2.1 g/day", "proteinuria", 2.1, "24-hour urine protein 2.1 g/day"),
    ("ANA titre 1:640, speckled", "ana", 640.0, "ANA titre 1:640"),
    ("C4 8 mg/dL", "complement_c4", 8.0, "C4 8 mg/dL"),
    # the value first, with its unit, where notes write it that way
    ("delivered at 34 weeks' gestation", "gestational_age", 34.0, "34 weeks' gestation"),
    # disease activity scores
    ("SLEDAI-2K of 8", "sledai", 8.0, "SLEDAI-2K of 8"),
    ("mRSS 24", "mrss", 24.0, "mRSS 24"),
    ("DAS28-CRP 4.6", "das28", 4.6, "DAS28-CRP 4.6"),
    # a colon that ends the clause is punctuation, not a ratio or a time
    ("eGFR 61: is that enough for the study?", "egfr", 61.0, "eGFR 61"),
    ("Hb 9.8: low again", "hemoglobin", 9.8, "Hb 9.8"),
]


@pytest.mark.parametrize("text,name,value,span", CASES)
def test_measurements_keep_value_and_span(text, name, value, span):
    found = {m.name: m for m in measurements.extract(text)}
    assert found[name].normalized == pytest.approx(value, abs=0.01)
    assert found[name].span == span and span in text


@pytest.mark.parametrize(
    "text",
    [
        "life expectancy 3",
        "weight 12 furlongs",
        "temperature 80 C",
        "ECOG 9",
        "C3 0.8",  # a complement level needs its unit (C3 is also a vertebra)
        "proteinuria 2",  # grams or milligrams a day: not known
        "platelets 45 %",
        "creatinine 10:45 draw",  # a clock time
    ],
)
def test_implausible_or_unitless_values_are_not_facts(text):
    assert measurements.extract(text) == []


def test_bmi_is_derived_from_weight_and_height():
    facts = extract_facts("weight 90 kg, height 180 cm", date(2026, 1, 1))
    bmi = {m.name: m for m in facts.labs}["bmi"]
    assert bmi.normalized == pytest.approx(27.8, abs=0.05)


def test_a_stated_bmi_wins_over_the_derived_one():
    facts = extract_facts("BMI 31, weight 90 kg, height 180 cm", date(2026, 1, 1))
    assert {m.name: m for m in facts.labs}["bmi"].normalized == 31


def _lab(text: str, name: str):
    return {m.name: m for m in extract_facts(text, date(2026, 1, 1)).labs}.get(name)


def test_a_value_is_judged_against_the_stated_reference_range():
    cr = _lab("creatinine 180 umol/L (ref 60-110) on Monday", "creatinine")
    assert cr.uln_multiple == pytest.approx(180 / 110, abs=0.01)
    assert "(ref 60-110" in cr.span


@pytest.mark.parametrize(
    "text,names",
    [
        ("LFTs wnl", {"ast", "alt", "bilirubin"}),
        ("labs were within normal limits", {"ast", "alt", "creatinine"}),
        ("renal function normal", {"creatinine"}),
    ],
)
def test_labs_stated_normal_are_at_most_the_upper_limit(text, names):
    for name in names:
        assert _lab(text, name).uln_multiple == 1.0


def test_normal_liver_tests_meet_a_uln_limit_but_not_an_absolute_one():
    from eligibility.matching import FactIndex, evaluate
    from eligibility.parsing import parse_text

    idx = FactIndex.build(extract_facts("LFTs wnl", date(2026, 1, 1)))
    assert evaluate(parse_text("ALT > 3 x ULN", "exclusion"), idx, "exclusion").value is False
    assert evaluate(parse_text("ALT > 100 U/L", "exclusion"), idx, "exclusion").value is None


def test_a_bare_weight_is_not_read_kg_and_pounds_are_both_plausible():
    assert measurements.extract("weight 180") == []
    assert measurements.extract("weight 180 lbs")[0].normalized == pytest.approx(81.65, abs=0.01)


def test_a_lab_given_as_a_multiple_of_normal_is_read_as_one():
    found = {m.name: m for m in measurements.extract("AST 4 x ULN and ALT 2.5 times the upper limit of normal")}
    assert found["ast"].uln_multiple == 4.0 and found["alt"].uln_multiple == 2.5
    assert found["ast"].normalized is None  # no absolute value was stated
    assert measurements.extract("bicarbonate 3 x ULN") == []


def test_scores_are_kept_apart_from_labs():
    facts = extract_facts("SLEDAI 10, platelets 90 x10^9/L, ECOG 1", date(2026, 1, 1))
    assert {m.name for m in facts.scores} == {"sledai", "ecog"}
    assert {m.name for m in facts.labs} == {"platelets"}
    assert all(m.start is not None and facts_text_span(m) for m in facts.scores + facts.labs)


def facts_text_span(m) -> bool:
    return m.span == "SLEDAI 10, platelets 90 x10^9/L, ECOG 1"[m.start : m.end]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("labs: positive ANA and anti-dsDNA", {"ana": True, "dsdna": True}),
        ("RF and anti-CCP both negative", {"rf": False, "anti_ccp": False}),
        ("positive for RF but negative for anti-CCP", {"rf": True, "anti_ccp": False}),
        ("RF, anti-CCP were negative; ANA positive", {"rf": False, "anti_ccp": False, "ana": True}),
    ],
)
def test_tests_stated_together_share_their_result(text, expected):
    labs = {m.name: m for m in extract_facts(text, date(2026, 1, 1)).labs}
    assert {n: labs[n].positive for n in expected} == expected
    assert all(labs[n].span in text for n in expected)
