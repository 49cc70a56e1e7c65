"""FHIR in (Bundle -> facts) and out (verdicts -> ResearchStudy/ResearchSubject Bundle), on the bundled trials."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from app.fhir import FhirError, facts_from_bundle, load_bundle, results_bundle
from eligibility.evaluate import check_trials
from eligibility.facts import extract_facts
from ingest.formats import parse_document
from trialfinder.settings import PROJECT_ROOT

EXAMPLE = PROJECT_ROOT / "docs" / "examples" / "patient-sle.fhir.json"
TODAY = date(2026, 1, 15)
# The example bundle's patient, said in words (the refuted TB condition as "no tuberculosis").
SAID = (
    "34-year-old woman with SLE since March 2019, no tuberculosis, ANA 1:320, SLEDAI 6, eGFR 95, "
    "received rituximab 2 months ago"
)


@pytest.fixture(scope="module")
def trials():
    out = []
    for path in sorted((PROJECT_ROOT / "data" / "trials").iterdir()):
        out += parse_document(str(path), path.read_bytes())
    return out


def _bundle(*resources: dict) -> dict:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def _outcome(verdicts):
    return [
        (v.trial_id, v.cohort, v.verdict, sorted(f.criterion for f in v.failed), sorted(u.criterion for u in v.unknown))
        for v in verdicts
    ]


def test_bundle_and_words_give_the_same_verdicts(trials):
    from_fhir = facts_from_bundle(load_bundle(EXAMPLE), TODAY)
    from_text = extract_facts(SAID, TODAY)
    assert _outcome(check_trials(trials, from_fhir)) == _outcome(check_trials(trials, from_text))
    assert any(v.verdict == "ineligible" for v in check_trials(trials, from_fhir))  # rituximab 2 months back


def test_facts_carry_their_resource_as_source():
    facts = facts_from_bundle(load_bundle(EXAMPLE), TODAY)
    assert (facts.age, facts.sex) == (34.0, "female") and facts.spans["age"] == "Patient/pat-sle-1"
    sle = next(d for d in facts.diagnoses if d.name == "sle")
    assert sle.span == "Condition/cond-sle" and sle.onset == date(2019, 3, 1) and not sle.negated
    # Two eGFR results: the later one (95, 2025-12-20) stands, not the 2024 value of 40.
    egfr = next(m for m in facts.labs if m.name == "egfr")
    assert (egfr.value, egfr.span) == (95.0, "Observation/obs-egfr")
    rtx = next(m for m in facts.medications if m.name == "rituximab")
    assert rtx.current is False and rtx.last_taken == date(2025, 11, 15) and rtx.span == "MedicationStatement/med-rtx"


def test_condition_status_decides_what_is_current():
    def condition(cid: str, text: str, clinical: str, verification: str) -> dict:
        return {
            "resourceType": "Condition",
            "id": cid,
            "code": {"text": text},
            "subject": {"reference": "Patient/p"},
            "clinicalStatus": {"coding": [{"code": clinical}]},
            "verificationStatus": {"coding": [{"code": verification}]},
        }

    facts = facts_from_bundle(
        _bundle(
            condition("a", "HIV infection", "active", "refuted"),
            condition("b", "Hepatitis B", "resolved", "confirmed"),
            condition("c", "Tuberculosis", "active", "entered-in-error"),
            condition("d", "Rheumatoid arthritis", "active", "confirmed"),
        ),
        TODAY,
    )
    by_name = {d.name: d for d in facts.diagnoses}
    assert by_name["hiv"].negated and by_name["hiv"].span == "Condition/a"
    assert by_name["hbv"].historical and not by_name["hbv"].negated
    assert "tb" not in by_name
    assert not (by_name["ra"].negated or by_name["ra"].historical)


def test_observations_units_and_medication_requests():
    facts = facts_from_bundle(
        _bundle(
            {"resourceType": "Patient", "id": "p", "gender": "male", "birthDate": "1960-12-31"},
            {
                "resourceType": "Observation",
                "id": "w",
                "status": "final",
                "subject": {"reference": "Patient/p"},
                "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}]},
                "valueQuantity": {"value": 176, "unit": "lb", "system": "http://unitsofmeasure.org", "code": "[lb_av]"},
            },
            {
                "resourceType": "Observation",
                "id": "plt",
                "status": "final",
                "subject": {"reference": "Patient/p"},
                "code": {
                    "coding": [
                        {
                            "system": "http://loinc.org",
                            "code": "777-3",
                            "display": "Platelets [#/volume] in Blood by Automated count",
                        }
                    ]
                },
                "valueQuantity": {"value": 85, "system": "http://unitsofmeasure.org", "code": "10*9/L"},
            },
            {
                "resourceType": "Observation",
                "id": "bp",
                "status": "final",
                "subject": {"reference": "Patient/p"},
                "code": {"text": "Blood pressure panel"},
                "component": [
                    {
                        "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                        "valueQuantity": {"value": 150, "code": "mm[Hg]"},
                    },
                    {
                        "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                        "valueQuantity": {"value": 95, "code": "mm[Hg]"},
                    },
                ],
            },
            {
                "resourceType": "Observation",
                "id": "rf",
                "status": "final",
                "subject": {"reference": "Patient/p"},
                "code": {"text": "Rheumatoid factor"},
                "valueCodeableConcept": {"text": "Positive"},
            },
            {
                "resourceType": "MedicationRequest",
                "id": "mtx",
                "status": "active",
                "intent": "order",
                "subject": {"reference": "Patient/p"},
                "authoredOn": "2025-07-01",
                "medicationCodeableConcept": {"text": "Methotrexate 2.5 mg tablet"},
                "dosageInstruction": [
                    {
                        "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "wk"}},
                        "doseAndRate": [{"doseQuantity": {"value": 15, "unit": "mg", "code": "mg"}}],
                    }
                ],
            },
        ),
        TODAY,
    )
    assert facts.age == 65.0 and facts.sex == "male" and facts.pregnant is False
    assert facts.weight_kg == pytest.approx(79.8, abs=0.1) and facts.spans["weight_kg"] == "Observation/w"
    labs = {m.name: m for m in facts.labs}
    assert labs["platelets"].value == 85 and labs["platelets"].span == "Observation/plt"
    assert (labs["sbp"].value, labs["dbp"].value) == (150, 95)
    assert labs["rf"].positive is True
    mtx = next(m for m in facts.medications if m.name == "methotrexate")
    assert mtx.current and mtx.dose == 15 and mtx.unit == "mg"
    assert mtx.frequency_per_day == pytest.approx(1 / 7) and mtx.started == date(2025, 7, 1)


def test_a_malformed_bundle_names_the_resource_and_field(tmp_path: Path):
    bad = copy.deepcopy(load_bundle(EXAMPLE))
    bad["entry"][5]["resource"]["valueQuantity"]["value"] = "ninety-five"
    with pytest.raises(FhirError, match=r"entry\[5\] Observation/obs-egfr-old: field valueQuantity.value"):
        facts_from_bundle(bad, TODAY)
    bad = copy.deepcopy(load_bundle(EXAMPLE))
    bad["entry"][0]["resource"]["birthDate"] = "1991-13-45"
    with pytest.raises(FhirError, match=r"Patient/pat-sle-1: field birthDate"):
        facts_from_bundle(bad, TODAY)
    (tmp_path / "p.json").write_text('{"resourceType": "Patient", "id": "x"}')
    with pytest.raises(FhirError, match="expected 'Bundle'"):
        load_bundle(tmp_path / "p.json")
    (tmp_path / "q.json").write_text("{not json")
    with pytest.raises(FhirError, match="not JSON"):
        load_bundle(tmp_path / "q.json")


def test_export_bundle_studies_subjects_and_reasons(trials):
    bundle = load_bundle(EXAMPLE)
    verdicts = check_trials(trials, facts_from_bundle(bundle, TODAY))
    out = results_bundle(trials, verdicts, bundle["entry"][0]["resource"])
    kinds = [e["resource"]["resourceType"] for e in out["entry"]]
    assert kinds == ["Patient"] + ["ResearchStudy", "ResearchSubject"] * len(trials)
    studies = {
        e["resource"]["id"]: e["resource"] for e in out["entry"] if e["resource"]["resourceType"] == "ResearchStudy"
    }
    subjects = [e["resource"] for e in out["entry"] if e["resource"]["resourceType"] == "ResearchSubject"]
    for trial in trials:
        study = studies["study-" + trial.trial_id]
        assert study["identifier"][0]["value"] == trial.trial_id and study["title"] == trial.title
    by_trial = {s["study"]["display"]: s for s in subjects}
    for trial in trials:
        mine = [v for v in verdicts if v.trial_id == trial.trial_id]
        expected = "ineligible" if all(v.verdict == "ineligible" for v in mine) else "candidate"
        assert by_trial[trial.trial_id]["status"] == expected
        assert by_trial[trial.trial_id]["individual"]["reference"] == "Patient/pat-sle-1"
    assert studies["study-NCT03171194"]["status"] == "completed"
    # The failed rituximab criterion travels with its reason and the id of the cited passage.
    sle = by_trial["NCT03171194"]
    assert sle["status"] == "ineligible"
    criteria = [c for ext in sle["extension"] for c in ext["extension"] if c["url"] == "criterion"]
    failed = [{p["url"]: p.get("valueString") or p.get("valueCode") for p in c["extension"]} for c in criteria]
    rtx = next(c for c in failed if c["outcome"] == "failed" and "rituximab" in c["text"])
    assert rtx["citation"].startswith("NCT03171194:eligibility.") and "rituximab" in rtx["cited-text"]


def test_cli_check_reads_and_writes_fhir(tmp_path: Path, seed_index, seed_settings):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRIALFINDER_TODAY": TODAY.isoformat()}
    out = tmp_path / "results.fhir.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "check",
            "--json",
            "--index",
            str(seed_settings.index_dir),
            "--patient-fhir",
            str(EXAMPLE),
            "--fhir-out",
            str(out),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-800:]
    payload = json.loads(done.stdout)
    assert payload["facts"]["spans"]["age"] == "Patient/pat-sle-1"
    written = json.loads(out.read_text())
    assert written["resourceType"] == "Bundle" and len(written["entry"]) == 1 + 2 * 5
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "search",
            "--json",
            "--index",
            str(seed_settings.index_dir),
            "--patient-fhir",
            str(EXAMPLE),
            "--limit",
            "3",
            "--fhir-out",
            str(out),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-800:]
    found = [t["trial_id"] for t in json.loads(done.stdout)["trials"]]
    written = json.loads(out.read_text())
    assert [
        e["resource"]["study"]["display"]
        for e in written["entry"]
        if e["resource"]["resourceType"] == "ResearchSubject"
    ] == found
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            _bundle(
                {
                    "resourceType": "Observation",
                    "id": "o1",
                    "status": "final",
                    "code": {"text": "eGFR"},
                    "valueQuantity": {"value": "x"},
                }
            )
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "check", "--index", str(seed_settings.index_dir), "--patient-fhir", str(bad)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2 and "Observation/o1: field valueQuantity.value" in done.stderr
