"""Value normalisation shared by the ClinicalTrials.gov XML and JSON parsers.

The legacy XML writes values for people ("Active, not recruiting", "Phase 1/Phase 2", "March 1996"),
the API v2 JSON writes enums ("ACTIVE_NOT_RECRUITING", ["PHASE1", "PHASE2"], "1996-03"). Both end up
in the same `Trial` shape so search filters and the checker see one vocabulary.
"""

from __future__ import annotations

import re
from datetime import datetime

from ingest.criteria import parse_criteria_text
from ingest.models import Cohort, DataWarning

_NON_WORD = re.compile(r"[^A-Za-z0-9]+")
_ENUM = re.compile(r"^[A-Z0-9_]+$")
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(year|month|week|day|hour|minute)s?\s*$", re.IGNORECASE)
_YEARS_PER_UNIT = {
    "year": 1.0,
    "month": 1 / 12,
    "week": 7 / 365.25,
    "day": 1 / 365.25,
    "hour": 1 / 8766,
    "minute": 1 / 525960,
}
# Legacy statuses whose wording differs from the API v2 enum.
_STATUS_ALIASES = {"UNKNOWN_STATUS": "UNKNOWN"}
_PHASE = re.compile(r"^(EARLY_)?PHASE_?(\d)$")


def upper_snake(value: str) -> str:
    """'Active, not recruiting' -> 'ACTIVE_NOT_RECRUITING' (already upper-snake values pass through)."""
    return _NON_WORD.sub("_", value.strip()).strip("_").upper()


def normalize_status(value: str | None) -> str | None:
    """Overall or site status in the API v2 vocabulary ('Unknown status' -> 'UNKNOWN')."""
    if not value or not value.strip():
        return None
    status = upper_snake(value)
    return _STATUS_ALIASES.get(status, status)


def normalize_phase(values: list[str]) -> str | None:
    """Phases joined by '/': ['Phase 1/Phase 2'] or ['PHASE1', 'PHASE2'] -> 'PHASE1/PHASE2', 'N/A' -> 'NA'."""
    phases: list[str] = []
    for value in values:
        for part in value.split("/") if value.strip().upper() != "N/A" else ["NA"]:
            snake = upper_snake(part)
            if not snake:
                continue
            match = _PHASE.match(snake)
            phases.append(f"{match.group(1) or ''}PHASE{match.group(2)}" if match else snake)
    return "/".join(phases) or None


def normalize_study_type(value: str | None) -> str | None:
    """'Interventional' -> 'INTERVENTIONAL'; 'Observational [Patient Registry]' -> 'OBSERVATIONAL'."""
    if not value or not value.strip():
        return None
    return upper_snake(value.split("[", 1)[0])


def age_in_years(value: str | None) -> float | None:
    """'18 Years' -> 18.0, '6 Months' -> 0.5, '30 Days' -> 0.0821; 'N/A' or unreadable -> None."""
    match = _AGE.match(value or "")
    if not match:
        return None
    return round(float(match.group(1)) * _YEARS_PER_UNIT[match.group(2).lower()], 6)


def iso_date(value: str | None) -> str | None:
    """'March 1996' -> '1996-03', 'March 15, 2010' -> '2010-03-15'; ISO dates and anything else as written."""
    if not value or not value.strip():
        return None
    text = value.strip()
    for pattern, out in (("%B %Y", "%Y-%m"), ("%B %d, %Y", "%Y-%m-%d")):
        try:
            return datetime.strptime(text, pattern).strftime(out)
        except ValueError:
            continue
    return text


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
        message = (f"No eligibility criteria in the record ({field} is missing or empty): eligibility can "
                   "only be judged from the age, sex and healthy-volunteer fields.")
        return [], [DataWarning(code="missing_field", message=message, line=first_line)]
    return parse_criteria_text(trial_id, text, first_line or 1)
