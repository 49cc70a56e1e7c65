"""Wording of archive criteria that once turned eligible patients away: a pregnancy *test* result is
not a requirement to be pregnant, and "HIV infection" is one mention, not HIV plus any infection."""

from __future__ import annotations

import pytest

from eligibility.facts import extract_facts
from eligibility.matching import FactIndex, evaluate
from eligibility.parsing import parse_text


def _outcome(criterion: str, patient: str, today):
    return evaluate(
        parse_text(criterion, "inclusion"), FactIndex.build(extract_facts(patient, today=today)), "inclusion"
    )


@pytest.mark.parametrize(
    "criterion",
    [
        "For women of child-bearing potential, negative result on a serum or urine pregnancy test within 1 week prior to the procedure.",
        "Pregnancy test must be negative at screening",
        "Negative pregnancy test",
    ],
)
def test_a_negative_pregnancy_test_never_requires_pregnancy(criterion, today):
    assert _outcome(criterion, "62 yo male with cough and fever", today).value is not False
    assert _outcome(criterion, "30-year-old woman, 12 weeks pregnant", today).value is False


def test_a_positive_pregnancy_test_is_still_pregnancy(today):
    assert _outcome("Positive pregnancy test", "30-year-old woman, 12 weeks pregnant", today).value is True


def test_absence_of_hiv_infection_is_not_failed_by_another_infection(today):
    criterion = "Absence of HIV infection as confirmed by negative ELISA"
    assert _outcome(criterion, "62 yo male with CMV pneumonia on prednisone", today).value is not False
    assert _outcome(criterion, "62 yo male with HIV infection", today).value is False
