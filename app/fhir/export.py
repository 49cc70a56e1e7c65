"""Trials and checker verdicts -> a FHIR R4 Bundle (ResearchStudy + ResearchSubject per trial).

ResearchSubject.status is `ineligible` only when the deterministic checker found every cohort of the
trial ineligible, otherwise `candidate`: the bundle never says "eligible", the checker's own verdict
per cohort and every criterion behind it travel in extensions, with the citation of the cited passage.
The bundle is validated with fhir.resources before it is returned.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from fhir.resources.R4B.bundle import Bundle

from eligibility.models import TrialVerdict
from ingest.models import Trial

EXT = "https://trialfinder.local/fhir/StructureDefinition/"
CTGOV = "https://clinicaltrials.gov"

# Registry recruitment status -> FHIR R4 research-study-status. UNKNOWN (not verified for years) maps to
# the closest code that promises no enrolment; the registry's own word is kept in an extension.
STUDY_STATUS = {
    "RECRUITING": "active",
    "ENROLLING_BY_INVITATION": "active",
    "NOT_YET_RECRUITING": "approved",
    "ACTIVE_NOT_RECRUITING": "closed-to-accrual",
    "COMPLETED": "completed",
    "TERMINATED": "administratively-completed",
    "SUSPENDED": "temporarily-closed-to-accrual",
    "WITHDRAWN": "withdrawn",
    "WITHHELD": "withdrawn",
    "NO_LONGER_AVAILABLE": "closed-to-accrual",
    "APPROVED_FOR_MARKETING": "completed",
    "AVAILABLE": "active",
    "TEMPORARILY_NOT_AVAILABLE": "temporarily-closed-to-accrual",
}


def _study_id(trial_id: str) -> str:
    return "study-" + "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in trial_id)[:58]


def _study(trial: Trial) -> dict:
    registry = (trial.status or "UNKNOWN").upper()
    sites = [", ".join(p for p in (loc.facility, loc.city, loc.state, loc.country) if p) for loc in trial.locations]
    study: dict = {
        "resourceType": "ResearchStudy",
        "id": _study_id(trial.trial_id),
        "identifier": [
            {
                "system": CTGOV
                if trial.trial_id.upper().startswith("NCT")
                else f"urn:registry:{trial.registry or 'unknown'}",
                "value": trial.trial_id,
            }
        ],
        "title": trial.title,
        "status": STUDY_STATUS.get(registry, "closed-to-accrual"),
        "extension": [{"url": EXT + "registry-status", "valueCode": registry}],
    }
    if trial.conditions:
        study["condition"] = [{"text": c} for c in trial.conditions]
    if sites:
        study["site"] = [{"display": s} for s in sites if s]
    return study


def _criterion(outcome: str, text: str, detail: str, citation) -> dict:
    parts = [{"url": "outcome", "valueCode": outcome}, {"url": "text", "valueString": text}]
    if detail:
        parts.append({"url": "reason", "valueString": detail})
    if citation is not None:
        parts.append({"url": "citation", "valueString": citation.id})
        parts.append({"url": "cited-text", "valueString": citation.text})
    return {"url": "criterion", "extension": parts}


def _verdict_extension(v: TrialVerdict) -> dict:
    parts: list[dict] = [{"url": "verdict", "valueCode": v.verdict}]
    if v.cohort:
        parts.append({"url": "cohort", "valueString": v.cohort})
    parts += [_criterion("failed", f.criterion, f.reason, f.citation) for f in v.failed]
    parts += [_criterion("unknown", u.criterion, "needs: " + ", ".join(u.needs), u.citation) for u in v.unknown]
    parts += [_criterion("review", r.criterion, r.reason, r.citation) for r in v.needs_review]
    return {"url": EXT + "eligibility-verdict", "extension": parts}


def results_bundle(trials: Iterable[Trial], verdicts: Sequence[TrialVerdict], patient: dict | None = None) -> dict:
    """A collection Bundle: the patient, then per trial its ResearchStudy and a ResearchSubject.

    `patient` is the Patient resource the facts came from (kept as given) or None for a patient
    described in words (a bare Patient stands in so the subjects have someone to refer to).
    """
    patient = dict(patient or {"resourceType": "Patient", "id": "patient"})
    patient.setdefault("id", "patient")
    subject_ref = f"Patient/{patient['id']}"
    by_trial: dict[str, list[TrialVerdict]] = {}
    for v in verdicts:
        by_trial.setdefault(v.trial_id, []).append(v)
    entries = [{"resource": patient}]
    for trial in trials:
        study = _study(trial)
        cohorts = by_trial.get(trial.trial_id, [])
        ineligible = bool(cohorts) and all(v.verdict == "ineligible" for v in cohorts)
        subject = {
            "resourceType": "ResearchSubject",
            "id": "subject-" + study["id"].removeprefix("study-"),
            "status": "ineligible" if ineligible else "candidate",
            "study": {"reference": f"ResearchStudy/{study['id']}", "display": trial.trial_id},
            "individual": {"reference": subject_ref},
            "extension": [_verdict_extension(v) for v in cohorts],
        }
        if not subject["extension"]:
            del subject["extension"]
        entries += [{"resource": study}, {"resource": subject}]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    return json.loads(Bundle.model_validate(bundle).model_dump_json(exclude_none=True))


def results_bundle_json(trials: Iterable[Trial], verdicts: Sequence[TrialVerdict], patient: dict | None = None) -> str:
    """The same bundle as indented JSON text: what the chat offers as a download ("summary for my doctor")."""
    return json.dumps(results_bundle(trials, verdicts, patient), ensure_ascii=False, indent=2)
