"""Decide only what is understood (issue 11, section 4).

A criterion is decided (met or violated) only when its parse accounts for its clinical content; words the
parse did not read can never flip a decision: inserting them into a decided criterion either keeps the
verdict or sends the criterion to review, naming them."""

from __future__ import annotations

from datetime import date
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eligibility.facts import extract_facts
from eligibility.matching import FactIndex, evaluate
from eligibility.parsing import parse_text
from eligibility.rules import Qualified

TODAY = date(2025, 6, 1)

# Criteria in the style of archive records (our own wording), each decided for some of the patients below.
CRITERIA = [
    ("inclusion", "No history of hypertension"),
    ("inclusion", "Diagnosis of rheumatoid arthritis"),
    ("inclusion", "Age 18 to 65 years"),
    ("inclusion", "No prior treatment with rituximab"),
    ("inclusion", "Platelets at least 100,000/mm3"),
    ("inclusion", "No active hepatitis B infection"),
    ("exclusion", "Diabetes mellitus"),
    ("exclusion", "Pregnant or breastfeeding"),
    ("exclusion", "HIV infection"),
    ("exclusion", "Prior malignancy within 5 years"),
    ("exclusion", "Current treatment with methotrexate"),
    ("exclusion", "Creatinine greater than 2.0 mg/dL"),
]
PATIENTS = [
    "45-year-old woman with rheumatoid arthritis and hypertension, on methotrexate, platelets 250,000/mm3",
    "70-year-old man with type 2 diabetes and HIV, creatinine 2.6 mg/dL, breast cancer 2 years ago",
    "30-year-old pregnant woman, no medical history, platelets 80,000/mm3, received rituximab last year",
    "52-year-old man with chronic hepatitis B, creatinine 1.1 mg/dL",
]
# Words the checker has no reading for: adjectives and nouns that could narrow what a criterion means.
UNREAD = [
    "brittle",
    "labile",
    "atypical",
    "refractory-like",
    "quiescent",
    "peripheral",
    "nodular",
    "familial",
    "incidental",
    "borderline",
    "transient",
    "idiopathic",
]


@cache
def _index(patient: str) -> FactIndex:
    return FactIndex.build(extract_facts(patient, today=TODAY))


def _verdict(kind: str, text: str, patient: str) -> str:
    """ "met", "violated" or "open" (unknown or review)."""
    value = evaluate(parse_text(text, kind), _index(patient), kind).value
    if value is None:
        return "open"
    return "violated" if (value is False) == (kind == "inclusion") else "met"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    criterion=st.sampled_from(CRITERIA),
    patient=st.sampled_from(PATIENTS),
    word=st.sampled_from(UNREAD),
    where=st.integers(min_value=0, max_value=20),
)
def test_unread_words_never_flip_a_decision(criterion, patient, word, where):
    kind, text = criterion
    before = _verdict(kind, text, patient)
    words = text.split()
    words.insert(where % (len(words) + 1), word)
    after = _verdict(kind, " ".join(words), patient)
    assert {before, after} != {"met", "violated"}, (text, " ".join(words), before, after)


def test_the_criteria_are_decided_before_words_are_inserted():
    # The property above means something only if the plain criteria are decided for the patients.
    decided = sum(_verdict(kind, text, p) != "open" for kind, text in CRITERIA for p in PATIENTS)
    assert decided >= 0.35 * len(CRITERIA) * len(PATIENTS)


def test_an_unread_qualifier_sends_a_met_inclusion_to_review_naming_it():
    rule = parse_text("Established quiescent nodular rheumatoid arthritis", "inclusion")
    assert isinstance(rule, Qualified) and "quiescent" in rule.note
    out = evaluate(rule, _index(PATIENTS[0]), "inclusion")
    assert out.value is None and "quiescent" in out.reason
