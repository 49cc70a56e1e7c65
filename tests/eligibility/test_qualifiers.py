"""Qualified criteria ("uncontrolled infection", "severe cardiopulmonary disease") and qualifiers the
patient states: the same qualifier on a matching condition decides an exclusion, anything less stays
with a clinician."""

from __future__ import annotations

import pytest

from eligibility.evaluate import check_trial
from eligibility.facts import extract_facts, stated_qualifiers
from eligibility.matching import FactIndex, evaluate
from eligibility.parsing import parse_text

INFECTION = "Uncontrolled acute or chronic infection"


def _hiv_criterion(verdict):
    failed = [f for f in verdict.failed if f.criterion.startswith(INFECTION)]
    review = [r for r in verdict.needs_review if r.criterion.startswith(INFECTION)]
    return failed, review


def test_uncontrolled_hiv_violates_the_uncontrolled_infection_exclusion(seed_by_id, today):
    facts = extract_facts("44-year-old woman with systemic sclerosis and uncontrolled HIV infection", today=today)
    [v] = check_trial(seed_by_id["NCT04356287"], facts)
    failed, review = _hiv_criterion(v)
    assert v.verdict == "ineligible" and not review
    [f] = failed
    assert f.kind == "exclusion" and f.citation.id == "NCT04356287:eligibility.exclusion:6"
    assert "HIV" in f.reason and "uncontrolled" in f.reason


@pytest.mark.parametrize(
    "patient",
    [
        "44-year-old woman with systemic sclerosis, HIV positive",
        "44-year-old woman with systemic sclerosis and HIV, well controlled",
        "44-year-old woman with systemic sclerosis and HIV, not uncontrolled",
        "44-year-old woman with systemic sclerosis, severe pain and HIV",
    ],
)
def test_hiv_without_the_qualifier_stays_for_review(seed_by_id, today, patient):
    [v] = check_trial(seed_by_id["NCT04356287"], extract_facts(patient, today=today))
    failed, review = _hiv_criterion(v)
    assert not failed and len(review) == 1
    assert "clinician must confirm" in review[0].reason and "Uncontrolled" in review[0].reason


def test_severe_ild_violates_severe_cardiopulmonary_disease(seed_by_id, today):
    def ssc(patient):
        verdicts = check_trial(seed_by_id["NCT06888973"], extract_facts(patient, today=today))
        v = next(v for v in verdicts if v.cohort == "SSc")
        return (
            [f for f in v.failed if f.criterion == "Severe cardiopulmonary disease"],
            [r for r in v.needs_review if r.criterion == "Severe cardiopulmonary disease"],
        )

    failed, review = ssc("50-year-old woman with systemic sclerosis and severe interstitial lung disease")
    assert len(failed) == 1 and not review and "stated as severe" in failed[0].reason
    failed, review = ssc("50-year-old woman with systemic sclerosis and interstitial lung disease")
    assert not failed and len(review) == 1
    failed, review = ssc("50-year-old woman with systemic sclerosis and mild interstitial lung disease")
    assert not failed and len(review) == 1


def _outcome(criterion: str, kind: str, patient: str, today):
    return evaluate(parse_text(criterion, kind), FactIndex.build(extract_facts(patient, today=today)), kind)


@pytest.mark.parametrize(
    "criterion, stated, unstated",
    [
        (
            "Clinically significant cardiac arrhythmia",
            "clinically significant atrial fibrillation",
            "atrial fibrillation",
        ),
        ("Uncontrolled hypertension", "poorly controlled hypertension", "hypertension"),
        ("Severe interstitial lung disease", "interstitial lung disease, severe", "interstitial lung disease"),
        ("Recurrent infections", "recurrent pneumonia", "pneumonia"),
    ],
)
def test_exclusions_decided_only_by_the_stated_qualifier(today, criterion, stated, unstated):
    decided = _outcome(criterion, "exclusion", stated, today)
    assert decided.value is True and not decided.review
    pending = _outcome(criterion, "exclusion", unstated, today)
    assert pending.value is None and pending.review


def test_another_qualifier_does_not_count(today):
    assert _outcome("Severe interstitial lung disease", "exclusion", "moderate interstitial lung disease", today).review


def test_qualified_inclusions_stay_with_the_clinician(today):
    # A misread inclusion must never make anyone eligible: meeting "severe X" is confirmed by a person.
    out = _outcome("Severe interstitial lung disease", "inclusion", "severe interstitial lung disease", today)
    assert out.value is None and out.review


@pytest.mark.parametrize(
    "text, mention, expected",
    [
        ("uncontrolled HIV infection", "HIV", ["uncontrolled"]),
        ("HIV which is poorly controlled", "HIV", ["uncontrolled"]),
        ("HIV, well controlled on ART", "HIV", ["controlled"]),
        ("HIV, not uncontrolled", "HIV", []),
        ("not severe interstitial lung disease", "interstitial lung disease", []),
        ("severe pain and HIV", "HIV", []),
        ("active tuberculosis, severe interstitial lung disease", "tuberculosis", ["active"]),
        ("active pulmonary TB", "TB", ["active"]),
    ],
)
def test_stated_qualifiers_are_next_to_the_mention(text, mention, expected):
    start = text.index(mention)
    assert stated_qualifiers(text, start, start + len(mention)) == expected
