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
]


@pytest.mark.parametrize("text,name,value,span", CASES)
def test_measurements_keep_value_and_span(text, name, value, span):
    found = {m.name: m for m in measurements.extract(text)}
    assert found[name].normalized == pytest.approx(value, abs=0.01)
    assert found[name].span == span and span in text


@pytest.mark.parametrize("text", ["life expectancy 3", "weight 12 furlongs", "temperature 80 C", "ECOG 9"])
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
