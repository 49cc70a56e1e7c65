"""Property tests: the parser and the extractor never raise; a violating fact always makes `ineligible`."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eligibility.evaluate import check_trial
from eligibility.facts import PatientFacts, extract_facts
from eligibility.rules import parse_rule
from ingest.formats import parse_document
from ingest.models import Criterion
from trialfinder.settings import PROJECT_ROOT

WORDS = [
    "lupus",
    "SLE",
    "no",
    "not",
    "within",
    "6 months",
    "rituximab",
    "platelets",
    "<",
    ">",
    "≥",
    "30,000/mm3",
    "x 109 cell/L",
    "(",
    ")",
    "i)",
    "ii)",
    "a)",
    "or",
    "and/or",
    "except",
    "history of",
    "mg/kg/day",
    "prednisone",
    "years",
    "of age",
    "must",
    "if",
    "HIV",
    "cancer",
    "\n",
    "o",
    ";",
    ",",
    "willing",
    "opinion",
    "18",
    "1:80",
]
TEXT = st.one_of(st.text(max_size=400), st.lists(st.sampled_from(WORDS), max_size=40).map(" ".join))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT, kind=st.sampled_from(["inclusion", "exclusion"]), cohort=st.sampled_from([None, "RA", "DM/PM"]))
def test_parse_rule_never_raises(text, kind, cohort):
    rule = parse_rule(
        Criterion(id="T:eligibility.x:1", trial_id="T", cohort=cohort, kind=kind, heading_kind=kind, text=text)
    )
    assert rule.kind


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT)
def test_extract_facts_never_raises(text):
    facts = extract_facts(text, today=date(2025, 6, 1))
    assert isinstance(facts, PatientFacts)
    facts.to_json()


BASE = [
    "34-year-old woman with SLE",
    "ANA 1:320",
    "SLEDAI 6",
    "eGFR 95",
    "denies HIV",
    "no history of cancer",
    "on hydroxychloroquine 200 mg daily",
    "hemoglobin 11 g/dL",
    "platelets 180 x10^9/L",
    "weighs 60 kg",
    "mother had breast cancer",
    "never had belimumab",
    "worried about risk of infection",
    "not pregnant",
]
# Each violates one criterion the parser decided for NCT03171194 (and names it).
VIOLATORS = {
    "platelets 20 x10^9/L": "platelet",
    "HIV positive": "HIV",
    "she is pregnant": "Pregnant",
    "received rituximab 1 month ago": "rituximab",
    "eGFR 20": "eGFR",
    "SLEDAI 14": "SLEDAI",
    "kidney transplant in 2015": "renal transplant",
    "breast cancer 1 year ago": "malignant",
    "weighs 60 kg and takes prednisone 50 mg daily": "prednisone",
    "hemoglobin 6.5 g/dL": "hemoglobin",
    "WBC 1.2": "WBC",
}


@lru_cache(maxsize=1)
def _trial():
    path = PROJECT_ROOT / "data" / "trials" / "NCT03171194.txt"
    return parse_document(str(path), path.read_bytes())[0]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.lists(st.sampled_from(BASE), unique=True, max_size=len(BASE)),
    violator=st.sampled_from(sorted(VIOLATORS)),
    extra=st.lists(st.sampled_from(sorted(VIOLATORS)), max_size=2),
)
def test_adding_a_violating_fact_is_monotone(base, violator, extra):
    trial = _trial()
    today = date(2025, 6, 1)
    before = check_trial(trial, extract_facts(". ".join(base + extra), today=today))[0]
    after = check_trial(trial, extract_facts(". ".join(base + extra + [violator]), today=today))[0]
    assert after.verdict == "ineligible"
    assert any(VIOLATORS[violator].lower() in (f.criterion + f.reason).lower() for f in after.failed)
    if before.verdict == "ineligible":
        assert after.verdict == "ineligible"
