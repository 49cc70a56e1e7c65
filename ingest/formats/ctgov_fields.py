"""Value normalisation shared by the ClinicalTrials.gov XML and JSON parsers.

The legacy XML writes values for people ("Active, not recruiting", "Phase 1/Phase 2", "March 1996"),
the API v2 JSON writes enums ("ACTIVE_NOT_RECRUITING", ["PHASE1", "PHASE2"], "1996-03"). Both end up
in the same `Trial` shape so search filters and the checker see one vocabulary.
"""

from __future__ import annotations

import re

from ingest.criteria import parse_criteria_text
from ingest.models import Cohort, DataWarning
from ingest.text import iso_date, upper_snake

_ENUM = re.compile(r"^[A-Z0-9_]+$")


def normalize_study_type(value: str | None) -> str | None:
    """'Interventional' -> 'INTERVENTIONAL'; 'Observational [Patient Registry]' -> 'OBSERVATIONAL'."""
    if not value or not value.strip():
        return None
    return upper_snake(value.split("[", 1)[0])


def date_as_written(value: str | None) -> str | None:
    """A registry date in ISO form ('March 1996' -> '1996-03'); a date the parser cannot read stays as written."""
    if not value or not value.strip():
        return None
    return iso_date(value) or value.strip()


def humanize_enum(value: str | None) -> str | None:
    """API v2 enums in the wording of the legacy records: 'ACTIVE_COMPARATOR' -> 'Active Comparator'."""
    if not value or not value.strip():
        return None
    if value in _ENUM_WORDING:
        return _ENUM_WORDING[value]
    if not _ENUM.match(value):
        return value.strip()
    return " ".join(word.capitalize() for word in value.split("_") if word)


# Where the legacy wording is not just the enum in title case.
_ENUM_WORDING = {
    "NA": "N/A",
    "NON_RANDOMIZED": "Non-Randomized",
    "SINGLE_GROUP": "Single Group Assignment",
    "PARALLEL": "Parallel Assignment",
    "CROSSOVER": "Crossover Assignment",
    "FACTORIAL": "Factorial Assignment",
    "SEQUENTIAL": "Sequential Assignment",
    "NONE": "None (Open Label)",
    "NON_PROBABILITY_SAMPLE": "Non-Probability Sample",
}


def criteria_cohorts(
    trial_id: str, text: str | None, first_line: int | None, field: str
) -> tuple[list[Cohort], list[DataWarning]]:
    """Split a record's criteria text into cohorts of atomic criteria.

    `first_line` is the source line of the text's first line; `field` names where the text lives in the
    record, so a record without criteria gets a `missing_field` warning saying what is missing.
    """
    if text is None or not text.strip():
        message = (
            f"No eligibility criteria in the record ({field} is missing or empty): eligibility can "
            "only be judged from the age, sex and healthy-volunteer fields."
        )
        return [], [DataWarning(code="missing_field", message=message, line=first_line)]
    return parse_criteria_text(trial_id, text, first_line or 1)
