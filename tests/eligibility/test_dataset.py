"""The hand-written eligibility cases (evals/datasets/eligibility.jsonl) against the real seed trials.

Each case was written from one seed criterion; it passes with the CONTRACT semantics (best verdict
across cohorts; for `ineligible`, a failed criterion or reason names the deciding criterion). For the
multi-cohort trial the deciding criterion must also be in the cohort of the patient's own disease.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from eligibility.evaluate import check_trial
from eligibility.facts import extract_facts
from trialfinder.settings import PROJECT_ROOT

DATASET = PROJECT_ROOT / "evals" / "datasets" / "eligibility.jsonl"
RANK = {"ineligible": 0, "possibly_eligible": 1, "eligible": 2}
COHORT_OF = {
    "rheumatoid arthritis": "RA",
    " RA": "RA",
    "SLE": "SLE",
    "systemic sclerosis": "SSc",
    "scleroderma": "SSc",
    "ankylosing": "AS",
    "dermatomyositis": "DM/PM",
}


def _cases() -> list[dict]:
    lines = DATASET.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip() and not line.startswith("#")]


CASES = _cases()


def test_dataset_size_and_coverage():
    assert len(CASES) >= 60
    assert DATASET.read_text(encoding="utf-8").startswith("# ")
    trials = Counter(c["trial"] for c in CASES)
    assert set(trials) == {"NCT06888973", "NCT03171194", "NCT04356287", "KCT0004337", "NCT03929120"}
    kinds = {c["category"] for c in CASES}
    for needed in (
        "age",
        "lab",
        "score",
        "units",
        "exposure-window",
        "drug-class",
        "dose",
        "duration",
        "condition",
        "condition-window",
        "exception",
        "negation",
        "family",
        "multi-cohort",
        "swapped-headings",
        "serology",
        "logic",
        "adversarial",
        "clinical-note",
    ):
        assert needed in kinds, needed
    assert Counter(c["expect"] for c in CASES)["ineligible"] >= 40


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case, seed_by_id, today):
    facts = extract_facts(case["patient"], today=today)
    verdicts = check_trial(seed_by_id[case["trial"]], facts)
    best = max(verdicts, key=lambda v: RANK[v.verdict])
    if case["expect"] == "not_ineligible":
        assert best.verdict in ("eligible", "possibly_eligible"), [(v.cohort, v.failed) for v in verdicts]
        return
    assert best.verdict == case["expect"]
    if case["expect"] != "ineligible":
        return
    needles = [r.lower() for r in case["reason_any"]]

    def names_it(v) -> bool:
        return any(n in (f.criterion + " " + f.reason).lower() for n in needles for f in v.failed)

    assert any(names_it(v) for v in verdicts), [(v.cohort, [f.reason for f in v.failed]) for v in verdicts]
    if case["trial"] == "NCT06888973":
        own = {c for k, c in COHORT_OF.items() if k in case["patient"]}
        for v in verdicts:
            if v.cohort in own:
                assert names_it(v), (v.cohort, [f.reason for f in v.failed])


def test_every_failure_is_cited(seed_by_id, today):
    for case in CASES:
        trial = seed_by_id[case["trial"]]
        for v in check_trial(trial, extract_facts(case["patient"], today=today)):
            for f in v.failed:
                assert f.citation.trial_id == trial.trial_id
                assert f.criterion in f.citation.text  # a verbatim span of the cited passage
                assert f.citation.section in ("eligibility.inclusion", "eligibility.exclusion", "eligibility.facts")
                assert f.reason and "\n" not in f.reason


def test_dataset_loads_with_the_eval_schema():
    from evals.schema import EligibilityCase, load_cases

    cases = load_cases(DATASET)
    assert len(cases) == len(CASES) and all(isinstance(c, EligibilityCase) for c in cases)
