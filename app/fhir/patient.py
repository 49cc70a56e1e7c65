"""A FHIR R4 patient Bundle -> the checker's `PatientFacts`.

Every resource is validated with fhir.resources before it is read, so a malformed bundle fails with
the entry, resource and field named. Each fact's `span` is its source resource ("Observation/egfr-1"),
the way a text fact keeps the words it came from.

Names go through the same vocabularies as text: a Condition's code text and codings through the
condition lexicon, a medication through the drug lexicon, and an Observation's name, value and UCUM
unit through the text fact reader (so one registry of lab names and units serves both inputs).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from eligibility import concepts, lexicon
from eligibility.facts import Diagnosis, Measurement, Medication, PatientFacts, extract_facts

READ = ("Patient", "Condition", "Observation", "MedicationStatement", "MedicationRequest")

# UCUM unit -> how the text reader spells it (units it already reads, like "%" or "g/dL", pass as is).
_UCUM: dict[str, str] = {
    "10*9/L": "x10^9/L",
    "10*3/uL": "k/uL",
    "10*3/mm3": "k/uL",
    "10*6/L": "x10^6/L",
    "mL/min/{1.73_m2}": "mL/min/1.73 m2",
    "mL/min/1.73m2": "mL/min/1.73 m2",
    "mm[Hg]": "mmHg",
    "[IU]/L": "IU/L",
    "kg/m2": "kg/m2",
    "{score}": "",
    "1": "",
}
_WEIGHT_LOINC = {"29463-7", "3141-9"}
_BP_LOINC = {"systolic": {"8480-6"}, "diastolic": {"8462-4"}}
_POSITIVE = {"positive", "pos", "detected", "reactive", "10828004"}
_NEGATIVE = {"negative", "neg", "not detected", "non-reactive", "nonreactive", "260385009"}
_PER_DAY = {"h": 24.0, "d": 1.0, "wk": 1 / 7, "mo": 1 / 30.4, "a": 1 / 365.25}


class FhirError(ValueError):
    """A bundle that cannot be read: says which entry, resource and field, and what was wrong."""


def load_bundle(path: str | Path) -> dict:
    """The JSON of a Bundle file; FhirError when it is not readable JSON of a Bundle."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise FhirError(f"{path}: cannot read the file ({exc.strerror})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FhirError(f"{path}: not JSON ({exc}); expected a FHIR R4 Bundle") from exc
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        found = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
        raise FhirError(f"{path}: resourceType is {found!r}, expected 'Bundle'")
    return data


def _resources(bundle: dict) -> list[tuple[str, Any]]:
    """(reference, validated model) of each resource this reader uses, in bundle order."""
    out = []
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise FhirError("Bundle.entry: expected a list of entries")
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or "resourceType" not in resource:
            raise FhirError(f"Bundle.entry[{i}]: no resource with a resourceType")
        kind = resource["resourceType"]
        if kind not in READ:
            continue  # other resources (Encounter, Practitioner...) say nothing the checker uses
        ref = f"{kind}/{resource.get('id') or f'entry{i}'}"
        try:
            model = get_fhir_model_class(kind).model_validate(resource)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "(resource)"
            raise FhirError(
                f"Bundle.entry[{i}] {ref}: field {field}: {err['msg']} (got {str(err.get('input'))[:60]!r})"
            ) from exc
        out.append((ref, model))
    return out


def facts_from_bundle(bundle: dict, today: date | None = None) -> PatientFacts:
    """The patient's facts from a FHIR Bundle (Patient, Condition, Observation, Medication*)."""
    today = today or date.today()
    resources = _resources(bundle)
    patients = [(ref, r) for ref, r in resources if r.get_resource_type() == "Patient"]
    if len(patients) > 1:
        raise FhirError(
            f"Bundle holds {len(patients)} Patient resources ({', '.join(r for r, _ in patients)});"
            " send one patient per bundle"
        )
    spans: dict[str, str] = {}
    age = sex = weight = None
    if patients:
        ref, patient = patients[0]
        if patient.birthDate is not None:
            born = patient.birthDate
            age = float(today.year - born.year - ((today.month, today.day) < (born.month, born.day)))
            spans["age"] = ref
        if patient.gender in ("female", "male"):
            sex, spans["sex"] = patient.gender, ref
    diagnoses: list[Diagnosis] = []
    measurements: dict[str, tuple[date | None, Measurement]] = {}
    medications: dict[str, Medication] = {}
    for ref, r in resources:
        kind = r.get_resource_type()
        if kind == "Condition":
            diagnoses += _condition(ref, r)
        elif kind == "Observation":
            when = _day(r.effectiveDateTime) or _day(r.effectivePeriod.end if r.effectivePeriod else None)
            if _codes(r.code) & _WEIGHT_LOINC and r.valueQuantity is not None:
                weight, spans["weight_kg"] = _kg(r.valueQuantity), ref
                continue
            for m in _observation(ref, r, today):
                prev = measurements.get(m.name)
                # The latest result stands for the patient's current value.
                if prev is None or (when or date.min) >= (prev[0] or date.min):
                    measurements[m.name] = (when, m)
        elif kind in ("MedicationStatement", "MedicationRequest"):
            for med in _medication(ref, r, today):
                medications[med.name] = med
    values = [m for _, m in measurements.values()]
    return PatientFacts(
        today=today,
        age=age,
        sex=sex,
        weight_kg=weight,
        pregnant=False if sex == "male" else None,
        breastfeeding=False if sex == "male" else None,
        diagnoses=diagnoses,
        labs=[m for m in values if not concepts.is_score(m.name)],
        scores=[m for m in values if concepts.is_score(m.name)],
        medications=list(medications.values()),
        spans=spans,
    )


def _text(concept: Any) -> str:
    if concept is None:
        return ""
    parts = [concept.text or ""] + [c.display or "" for c in concept.coding or []]
    return " ; ".join(p for p in parts if p)


def _codes(concept: Any) -> set[str]:
    return {c.code for c in (concept.coding or []) if c.code} if concept is not None else set()


def _day(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value)  # a partial date ("2024" or "2024-05") counts from its first day
    parts = (text[:10] + "-01-01")[:10] if len(text) == 4 else (text[:7] + "-01" if len(text) == 7 else text[:10])
    try:
        return date.fromisoformat(parts)
    except ValueError:
        return None


def _condition(ref: str, c: Any) -> list[Diagnosis]:
    status = _codes(c.clinicalStatus)
    verification = _codes(c.verificationStatus)
    if "entered-in-error" in verification:
        return []
    onset = _day(c.onsetDateTime) or _day(c.onsetPeriod.start if c.onsetPeriod else None)
    ended = _day(c.abatementDateTime) or _day(c.abatementPeriod.end if c.abatementPeriod else None)
    out: dict[str, Diagnosis] = {}
    for _, _, term in lexicon.find_terms(_text(c.code)):
        out[term.name] = Diagnosis(
            name=term.name,
            category=term.category,
            label=term.label,
            # Refuted: the patient does not have it. Resolved/inactive/remission: not current.
            negated="refuted" in verification,
            historical=bool(status & {"resolved", "inactive", "remission"}),
            hypothetical=bool(verification & {"provisional", "differential"}),
            onset=onset,
            when=ended or onset,
            span=ref,
        )
    return list(out.values())


def _unit(quantity: Any) -> str:
    code = quantity.code or quantity.unit or ""
    return _UCUM.get(code, quantity.unit or code)


def _name(concept: Any) -> str:
    """An observation's name without LOINC's bracketed property and specimen ("... [Mass/volume] in Blood")."""
    name = (concept.text if concept is not None and concept.text else "") or next(
        (c.display for c in (concept.coding or []) if c.display), ""
    )
    name = re.sub(r"\[[^\]]*\]", " ", name)
    return re.sub(
        r"\s+(?:in|by|of)\s+(?:serum|plasma|blood|urine|arterial|capillary|venous).*$", "", name, flags=re.I
    ).strip()


def _observation(ref: str, o: Any, today: date) -> list[Measurement]:
    if o.status in ("entered-in-error", "cancelled"):
        return []
    phrases = []
    for comp in o.component or []:  # blood pressure panel: systolic and diastolic components
        codes = _codes(comp.code)
        if comp.valueQuantity is not None and codes & (_BP_LOINC["systolic"] | _BP_LOINC["diastolic"]):
            phrases.append(("sys" if codes & _BP_LOINC["systolic"] else "dia", comp.valueQuantity.value))
    if phrases:
        bp = dict(phrases)
        if "sys" in bp and "dia" in bp:
            return _read(f"BP {bp['sys']}/{bp['dia']}", ref, today)
        return []
    name = _name(o.code)
    if o.valueQuantity is not None and o.valueQuantity.value is not None:
        return _read(f"{name} {o.valueQuantity.value} {_unit(o.valueQuantity)}", ref, today)
    if o.valueRatio is not None and o.valueRatio.numerator and o.valueRatio.denominator:
        return _read(f"{name} {o.valueRatio.numerator.value}:{o.valueRatio.denominator.value}", ref, today)
    answer = (o.valueString or _text(o.valueCodeableConcept) or "").lower()
    answer_codes = {c.lower() for c in _codes(o.valueCodeableConcept)} if o.valueCodeableConcept else set()
    words = {w.strip() for w in re.split(r"[;,]", answer)} | answer_codes
    if words & _POSITIVE:
        return _read(f"{name} positive", ref, today)
    if words & _NEGATIVE:
        return _read(f"{name} negative", ref, today)
    if re.fullmatch(r"1:\d+", answer.strip()):
        return _read(f"{name} {answer.strip()}", ref, today)
    return []


def _read(phrase: str, ref: str, today: date) -> list[Measurement]:
    facts = extract_facts(phrase, today)
    return [m.model_copy(update={"span": ref}) for m in facts.labs + facts.scores]


def _kg(q: Any) -> float:
    value = float(q.value)
    return value * 0.45359237 if (q.code or q.unit or "").lower() in ("[lb_av]", "lb", "lbs") else value


def _medication(ref: str, m: Any, today: date) -> list[Medication]:
    kind = m.get_resource_type()
    if m.status in ("entered-in-error", "cancelled", "draft"):
        return []
    drugs = lexicon.find_drugs(
        _text(m.medicationCodeableConcept) or (m.medicationReference.display or "" if m.medicationReference else "")
    )
    if not drugs:
        return []
    if kind == "MedicationStatement":
        period = m.effectivePeriod
        started = _day(m.effectiveDateTime) or _day(period.start if period else None)
        ended = _day(period.end if period else None)
        dosages = m.dosage or []
        negated = m.status == "not-taken"
        current = (
            False
            if negated or m.status in ("completed", "stopped") or (ended and ended < today)
            else True
            if m.status in ("active", "intended", "on-hold")
            else None
        )
    else:
        period = m.dispenseRequest.validityPeriod if m.dispenseRequest else None
        started = _day(period.start if period else None) or _day(m.authoredOn)
        ended = _day(period.end if period else None)
        dosages = m.dosageInstruction or []
        negated = False
        current = m.status in ("active", "on-hold") and not (ended and ended < today)
    dose = unit = freq = None
    per_kg = False
    if dosages:
        dosage = dosages[0]
        quantity = next((r.doseQuantity for r in dosage.doseAndRate or [] if r.doseQuantity), None)
        if quantity is not None and quantity.value is not None:
            dose = float(quantity.value)
            raw = (quantity.code or quantity.unit or "").lower()
            per_kg = raw.endswith("/kg")
            unit = raw.removesuffix("/kg") or None
        repeat = dosage.timing.repeat if dosage.timing else None
        if repeat is not None and repeat.periodUnit in _PER_DAY:
            freq = float(repeat.frequency or 1) / float(repeat.period or 1) * _PER_DAY[repeat.periodUnit]
    last = today if current else ended
    duration = float((today - started).days) if current and started else None
    out = {}
    for _, _, name, _ in drugs:
        out[name] = Medication(
            name=name,
            classes=sorted(lexicon.drug_classes(name)),
            negated=negated,
            current=current,
            dose=dose,
            unit=unit,
            per_kg=per_kg,
            frequency_per_day=freq,
            last_taken=last,
            started=started,
            duration_days=duration,
            span=ref,
        )
    return list(out.values())
