"""HL7 FHIR R4 in and out (fhir.resources' R4B models, wire-compatible with R4 for these resources).

- `patient.facts_from_bundle`: a patient Bundle -> the checker's `PatientFacts`, each fact sourced by
  its resource id ("Condition/c1") the way text facts keep their span.
- `export.results_bundle`: trials and verdicts -> a Bundle of ResearchStudy + ResearchSubject.
"""

from app.fhir.export import results_bundle, results_bundle_json
from app.fhir.patient import FhirError, facts_from_bundle, load_bundle

__all__ = ["FhirError", "facts_from_bundle", "load_bundle", "results_bundle", "results_bundle_json"]
