"""Text helpers shared by the page parsers and the criteria splitter.

Registry mirrors export markdown-escaped text (``\\>``, ``\\[``), odd whitespace and their own filler
sentences; these helpers clean that up without touching the wording of the trial itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from dateutil import parser as dateparser

from ingest.models import Location

_MD_ESCAPE = re.compile(r"\\([<>\[\]^*_#()~`|{}!+.\-\\])")
# Inside one line, any other line or page separator (form feed, U+2028, NEL...) is just a space.
_SPACES = re.compile(r"[ \t\r\x0b\x0c\x1c-\x1f\x85\u00a0\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]+")

# Sentences the mirror sites put under every heading; they describe the site, never the trial.
FILLER_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^Dive into the extended narrative\b.*$",
        r"^Review the sponsor-provided synopsis\b.*$",
        r"^Get a concise snapshot of the trial\b.*$",
        r"^Explore similar clinical trials\b.*$",
        r"^The study team has not published outcome measurements\b.*$",
        r"^Check back later for updates\.?$",
        r"^See the medical conditions and disease areas\b.*$",
        r"^Understand how the trial is structured\b.*$",
        r"^Review each arm or cohort in the study\b.*$",
        r"^Learn about the drugs, procedures, or behavioral strategies\b.*$",
        r"^Discover alternative or legacy names\b.*$",
        r"^Check the participation requirements\b.*$",
        r"^Meet the organizations funding or collaborating\b.*$",
        r"^Identify the individual or organization who holds primary responsibility\b.*$",
        r"^Learn about the lead researchers overseeing the trial\b.*$",
        r"^Explore where the study is taking place\b.*$",
        r"^Review the countries where the study\b.*$",
        r"^Reach out to these primary contacts\b.*$",
        r"^Find local site contact details\b.*$",
        r"^Explore related publications, articles\b.*$",
        r"^Access external resources that provide additional context\b.*$",
        r"^Review additional registry numbers or institutional identifiers\b.*$",
        r"^Additional clinical trials that may be relevant\b.*$",
        r"^©\s*Copyright\b.*$",
        r"^ClinConnect(\s+ClinConnect)?\s+Logo$",
        r"^MedPath$",
        r"^Patients applied$",
        r"^\d+\s+patients? applied$",
    )
)

# Section bodies meaning "nothing here".
EMPTY_MARKERS = frozenset({"not available", "not reported", "not specified", "n/a", "none", "-"})


def unescape_markdown(text: str) -> str:
    """Remove markdown backslash escapes (``\\>`` -> ``>``, ``\\[`` -> ``[``, ``\\^`` -> ``^``)."""
    return _MD_ESCAPE.sub(r"\1", text)


def normalize_space(text: str) -> str:
    """Collapse runs of spaces/tabs/odd unicode spaces into one space and strip the ends."""
    return _SPACES.sub(" ", text).strip()


def clean(text: str) -> str:
    """Unescape markdown and normalise whitespace of one line or paragraph."""
    return normalize_space(unescape_markdown(text))


def is_filler(line: str) -> bool:
    """True when the line is one of the mirror sites' boilerplate sentences."""
    stripped = normalize_space(line)
    return any(p.match(stripped) for p in FILLER_PATTERNS)


def is_empty_marker(text: str | None) -> bool:
    """True for a missing or placeholder section body ("Not available", "Not reported", ...)."""
    return text is None or normalize_space(text).lower().rstrip(".") in EMPTY_MARKERS or not text.strip()


# ---- normalisers shared by every parser (pages, registry XML and JSON) ------------------------------------

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(year|month|week|day|hour|minute)s?\b", re.IGNORECASE)
_AGE_UNIT_YEARS = {
    "year": 1.0,
    "month": 1 / 12,
    "week": 7 / 365.25,
    "day": 1 / 365.25,
    "hour": 1 / 8766,
    "minute": 1 / 525960,
}
_ISO_DATE = re.compile(r"\d{4}-\d{2}(?:-\d{2})?")
# Two defaults that differ in every field: a field that comes out differently was not written in the text.
_DEFAULTS = (datetime(2001, 1, 1), datetime(2002, 2, 2))
# Legacy statuses whose wording differs from the API v2 enum.
_STATUS_ALIASES = {"UNKNOWN_STATUS": "UNKNOWN"}


def upper_snake(text: str) -> str:
    """'Enrolling by invitation' -> 'ENROLLING_BY_INVITATION'; 'Active, not recruiting' -> 'ACTIVE_NOT_RECRUITING'."""
    return "_".join(re.findall(r"[A-Za-z0-9]+", text)).upper()


def normalize_status(value: str | None) -> str | None:
    """Overall or site status in the API v2 vocabulary ('Unknown status' -> 'UNKNOWN'); None when empty."""
    status = upper_snake(value or "")
    return _STATUS_ALIASES.get(status, status) or None


def normalize_phase(values: str | Iterable[str]) -> str | None:
    """Phases joined by '/': 'Phase 1', ['Phase 1/Phase 2'], 'Phase 1/2' or ['PHASE1', 'PHASE2'] ->
    'PHASE1/PHASE2'; 'Early Phase 1' -> 'EARLY_PHASE1'; 'N/A' or 'Not Applicable' -> 'NA'; None when no value
    names a phase."""
    phases: list[str] = []
    for value in [values] if isinstance(values, str) else values:
        t = normalize_space(value).upper().replace("_", " ")
        if t in {"NA", "N/A", "NOT APPLICABLE", "NONE"}:
            phases.append("NA")
        elif "PHASE" in t:
            early = "EARLY_" if t.startswith("EARLY") else ""
            phases += [f"{early if i == 0 else ''}PHASE{n}" for i, n in enumerate(re.findall(r"\d", t))]
    return "/".join(phases) or None


def age_in_years(text: str | None) -> float | None:
    """'18 Years' -> 18.0, '6 Months' -> 0.5, '30 Days' -> 0.082136; None when the text is not an age."""
    if not text or not (m := _AGE.match(text)):
        return None
    return round(float(m.group(1)) * _AGE_UNIT_YEARS[m.group(2).lower()], 6)


def iso_date(text: str | None) -> str | None:
    """'2017-04-27' stays; 'Mar 15, 2025' / 'June 26, 2025' -> '2025-03-15'; 'March 2020' -> '2020-03'.

    python-dateutil reads the date; a text that is not only a date, or lacks its year or month, gives None.
    """
    t = normalize_space(text or "")
    if _ISO_DATE.fullmatch(t):
        return t
    try:
        first, second = (dateparser.parse(t, default=d) for d in _DEFAULTS)
    except (ValueError, OverflowError):
        return None
    if first.year != second.year or first.month != second.month:
        return None
    return first.strftime("%Y-%m-%d" if first.day == second.day else "%Y-%m")


def split_lines(text: str) -> list[str]:
    """Split at line feeds only (with any '\r' before them), so line numbers match what editors show.

    `str.splitlines` also breaks at form feeds, U+2028 and other separators, which would shift every
    later line number away from the source file's.
    """
    return [line.removesuffix("\r") for line in text.split("\n")]


def numbered_lines(text: str) -> list[tuple[int, str]]:
    """The document's non-empty lines as (1-based line number, cleaned text), filler removed."""
    out = []
    for number, raw in enumerate(split_lines(text), start=1):
        line = clean(raw)
        if line and not is_filler(line):
            out.append((number, line))
    return out


def raw_block(text: str, first: int, last: int) -> str:
    """Lines `first`..`last` (1-based, inclusive) of the document, as written."""
    return "\n".join(split_lines(text)[first - 1 : last])


# Values of CT.gov design fields, to tell which field a bare value line is.
DESIGN_VOCAB: dict[str, frozenset[str]] = {
    "allocation": frozenset({"RANDOMIZED", "NON_RANDOMIZED", "NA"}),
    "model": frozenset({"SINGLE_GROUP", "PARALLEL", "CROSSOVER", "FACTORIAL", "SEQUENTIAL"}),
    "purpose": frozenset(
        {
            "TREATMENT",
            "PREVENTION",
            "DIAGNOSTIC",
            "SUPPORTIVE_CARE",
            "SCREENING",
            "HEALTH_SERVICES_RESEARCH",
            "BASIC_SCIENCE",
            "DEVICE_FEASIBILITY",
            "ECT",
            "OTHER",
        }
    ),
    "masking": frozenset({"NONE", "SINGLE", "DOUBLE", "TRIPLE", "QUADRUPLE"}),
}


def design_field(value: str) -> str | None:
    """Which design field ('allocation', 'model', 'purpose', 'masking') a value such as 'PARALLEL' is."""
    for name, vocab in DESIGN_VOCAB.items():
        if value in vocab:
            return name
    return None


# Statuses where the enrollment figure is a count of enrolled people, not a target.
ACTUAL_ENROLLMENT_STATUSES = frozenset({"COMPLETED", "TERMINATED", "ACTIVE_NOT_RECRUITING", "WITHDRAWN"})


def split_address(line: str) -> tuple[str | None, str | None, str | None]:
    """'Atlanta, Georgia, United States' -> city, state, country; empty parts ('Rawalpindi, , Pakistan') -> None."""
    parts = [p.strip() or None for p in line.split(",")]
    if len(parts) == 1:
        return None, None, parts[0]
    if len(parts) == 2:
        return parts[0], None, parts[1]
    return ", ".join(p for p in parts[:-2] if p) or None, parts[-2], parts[-1]


def locations_from_lines(lines: Iterable[str]) -> list[Location]:
    """Pages list a site as an optional facility line followed by its 'City, State, Country' line."""
    out: list[Location] = []
    facility = None
    for line in lines:
        if "," in line:
            city, state, country = split_address(line)
            out.append(Location(facility=facility, city=city, state=state, country=country))
            facility = None
        else:
            facility = line
    return out
