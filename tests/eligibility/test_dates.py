"""Patient-side dates against the reference date (dateutil parser and relativedelta)."""

from __future__ import annotations

from datetime import date

import pytest

from eligibility.dates import back, date_in, duration_days
from eligibility.facts import extract_facts

TODAY = date(2026, 12, 5)


@pytest.mark.parametrize(
    "words, expected",
    [
        ("rituximab in 11/2025", date(2025, 11, 15)),
        ("last dose Aug 2026", date(2026, 8, 15)),
        ("started 09/14/2026", date(2026, 9, 14)),
        ("started 14/09/2026", date(2026, 9, 14)),
        ("six weeks ago", date(2026, 10, 24)),
        ("3 months ago", date(2026, 9, 5)),
        ("last March", date(2026, 3, 15)),
        ("last December", date(2025, 12, 15)),
        ("on 14 Aug 2026", date(2026, 8, 14)),
        ("on August 14, 2026", date(2026, 8, 14)),
        ("2026-03-01", date(2026, 3, 1)),
        ("yesterday", date(2026, 12, 4)),
        ("last week", date(2026, 11, 28)),
    ],
)
def test_date_forms(words, expected):
    assert date_in(words, TODAY) == expected


def test_no_date_and_impossible_dates():
    assert date_in("she feels fine", TODAY) is None
    assert date_in("31/31/2026", TODAY) is None


def test_calendar_months_move_on_the_calendar():
    assert back(date(2026, 3, 31), 1, "month") == date(2026, 2, 28)
    assert back(date(2024, 2, 29), 1, "year") == date(2023, 2, 28)
    assert duration_days("on it for 2 weeks", TODAY) == 14


def test_medication_dates_reach_the_facts():
    f = extract_facts("Rituximab in 11/2025. Started methotrexate 09/14/2026.", today=TODAY)
    by = {m.name: m for m in f.medications}
    assert by["rituximab"].last_taken == date(2025, 11, 15)
    assert by["methotrexate"].started == date(2026, 9, 14)


@pytest.mark.parametrize(
    "text, span",
    [
        ("Had rituximab in 11/2025.", "rituximab in 11/2025"),
        ("abatacept, last infusion Aug 2026", "abatacept, last infusion Aug 2026"),
        ("tocilizumab six weeks ago", "tocilizumab six weeks ago"),
    ],
)
def test_a_drug_is_quoted_with_the_date_said_about_it(text, span):
    [med] = extract_facts(text, today=TODAY).medications
    assert med.span == span and med.last_taken is not None


@pytest.mark.parametrize(
    "text, drug, started",
    [
        ("on prednisone 10 mg daily since January 2023", "prednisone", date(2023, 1, 15)),
        ("I have taken hydroxychloroquine since 2019", "hydroxychloroquine", date(2019, 7, 1)),
        ("methotrexate since 3 months", "methotrexate", date(2026, 9, 5)),
    ],
)
def test_since_a_date_is_when_a_current_drug_started(text, drug, started):
    med = next(m for m in extract_facts(text, TODAY).medications if m.name == drug)
    assert (med.started, med.current) == (started, True)


def test_a_drug_not_taken_since_a_date_did_not_start_then():
    (med,) = extract_facts("not on rituximab since 2020", TODAY).medications
    assert med.negated and med.started is None


@pytest.mark.parametrize(
    "text, onset",
    [
        ("lupus nephritis since March 2021", date(2021, 3, 15)),
        ("I have had type 2 diabetes since 2010, well controlled", date(2010, 7, 1)),
    ],
)
def test_since_a_date_is_when_a_condition_began(text, onset):
    diagnoses = [d for d in extract_facts(text, TODAY).diagnoses if not d.negated]
    assert diagnoses and all(d.onset == onset for d in diagnoses)


def test_since_an_event_without_a_date_gives_no_date():
    (med,) = extract_facts("on prednisone since I was a child", TODAY).medications
    assert med.started is None
