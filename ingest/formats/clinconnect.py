"""Parser for the ClinConnect page layout (seed 000).

Headings ("Keywords", "ClinConnect Summary", "Gender", "Eligibility criteria", "Locations", "Trial
Officials", "Timeline") are followed by their values; the top of the page holds the id ("Search / Trial
NCT…"), the title, "Launched by SPONSOR · date", "Current as of DATE" and the status line.
"""

from __future__ import annotations

import re

from ingest.criteria import parse_criteria_text
from ingest.models import DataWarning, Eligibility, Investigator, ParseError, Trial
from ingest.text import (
    ACTUAL_ENROLLMENT_STATUSES,
    is_empty_marker,
    iso_date,
    locations_from_lines,
    normalize_phase,
    numbered_lines,
    raw_block,
    upper_snake,
)
from trialfinder.ids import is_trial_id, registry_for

FORMAT = "clinconnect"

_ID_LINE = re.compile(r"^Search\s*/\s*Trial\s+(\S+)\s*$")
_LAUNCHED = re.compile(r"^Launched by\s+(?P<sponsor>.+?)\s*·\s*(?P<date>.+)$")
_CURRENT = re.compile(r"^Current as of\s+(?P<date>.+)$")
_ENROLLMENT = re.compile(r"^(\d[\d,]*)\s+(?:participants?|patients?)(?:\s+(enrolled|planned|target))?$", re.IGNORECASE)
_HEADINGS = (
    "Trial Information",
    "Keywords",
    "ClinConnect Summary",
    "Gender",
    "Eligibility criteria",
    "Locations",
    "Trial Officials",
    "Timeline",
    "Conditions",
    "Phase",
    "Enrollment",
)
_TIMELINE_LABELS = {
    "First submit": None,
    "Trial launched": "start_date",
    "Trial updated": "last_updated",
    "Estimated completion": "completion_date",
    "Completion": "completion_date",
    "Actual completion": "completion_date",
}
_ROLES = {"study chair", "principal investigator", "study director", "sub-investigator", "study contact"}
_SEX = {"ALL": "all", "FEMALE": "female", "MALE": "male", "BOTH": "all"}
_STATUS_WORDS = frozenset(
    {
        "RECRUITING",
        "NOT_YET_RECRUITING",
        "ENROLLING_BY_INVITATION",
        "ACTIVE_NOT_RECRUITING",
        "COMPLETED",
        "SUSPENDED",
        "TERMINATED",
        "WITHDRAWN",
        "UNKNOWN",
    }
)
# Words ending one keyword in ClinConnect's space-joined keyword line ("… Stem Cells Autoimmune Diseases …").
# "Lupus" is left out on purpose: it usually goes on ("Lupus Erythematosus", "Lupus Nephritis").
_KEYWORD_END = re.compile(
    r"^(?:cells?|diseases?|disorders?|arthritis|erythematosus|sclerosis|spondylitis|syndromes?|myositis|"
    r"dermatomyositis|polymyositis|cancers?|tumou?rs?|therapy|transplantation|vasculitis|fibrosis)$",
    re.IGNORECASE,
)


def detect(text: str) -> bool:
    """True for the ClinConnect layout: its logo line and a 'Search / Trial ID' line at the top."""
    head = text.lstrip("\ufeff \t\r\n")[:500].splitlines()
    return bool(head) and "ClinConnect" in head[0] and any(_ID_LINE.match(line.strip()) for line in head[:4])


def split_keywords(line: str) -> list[str]:
    """Split ClinConnect's space-joined keywords at words that end a medical term and after '(…)'.

    The page joins keywords with spaces only; a keyword ends after a head noun such as 'Cells' or
    'Arthritis' (unless an abbreviation in parentheses follows) or after a parenthesis. Text without any
    such word stays one keyword rather than being cut arbitrarily.
    """
    words = line.split()
    out: list[str] = []
    current: list[str] = []
    for i, word in enumerate(words):
        current.append(word)
        following = words[i + 1] if i + 1 < len(words) else ""
        last_part = word.split("/")[-1]
        ends = word.endswith(")") or (_KEYWORD_END.match(last_part) and not following.startswith("("))
        if ends:
            out.append(" ".join(current))
            current = []
    if current:
        out.append(" ".join(current))
    return out


def parse(text: str, path: str) -> Trial:
    """Parse one ClinConnect page into a `Trial`; raises `ParseError` without a trial id or title."""
    lines = numbered_lines(text)
    trial_id = next((m.group(1) for _, line in lines[:4] if (m := _ID_LINE.match(line))), None)
    if trial_id is None or not is_trial_id(trial_id):
        raise ParseError(f"{path}: no 'Search / Trial NCT########' line at the top of the ClinConnect page", 1)
    id_index = next(i for i, (_, line) in enumerate(lines) if _ID_LINE.match(line))
    if id_index + 1 >= len(lines) or lines[id_index + 1][1] in _HEADINGS:
        raise ParseError(f"{path}: the ClinConnect page has no title after the trial id line", lines[id_index][0])
    title = lines[id_index + 1][1]
    warnings: list[DataWarning] = []
    fields: dict = {}

    sections: dict[str, tuple[int, list[tuple[int, str]]]] = {}
    current: list[tuple[int, str]] | None = None
    for number, line in lines[id_index + 2 :]:
        heading = line if line in _HEADINGS else ("About" if _is_about_heading(line, fields.get("sponsor")) else None)
        if heading is not None and heading not in sections:
            current = []
            sections[heading] = (number, current)
        elif current is not None:
            current.append((number, line))
        elif m := _LAUNCHED.match(line):
            fields["sponsor"] = m["sponsor"]
            fields["start_date"] = iso_date(m["date"]) or m["date"]

    def body(name: str) -> list[tuple[int, str]]:
        return sections.get(name, (0, []))[1]

    status = enrollment = phase = None
    for number, line in body("Trial Information"):
        if m := _CURRENT.match(line):
            fields["last_updated"] = iso_date(m["date"]) or m["date"]
        elif upper_snake(line) in _STATUS_WORDS:
            status = upper_snake(line)
        elif m := _ENROLLMENT.match(line):
            enrollment = int(m.group(1).replace(",", ""))
        elif line.upper().startswith("PHASE"):
            phase = normalize_phase(line)
        else:
            warnings.append(
                DataWarning(
                    code="unparsed_text",
                    message=f"{trial_id}: trial-information value {line!r} not recognised",
                    line=number,
                )
            )
    keywords = [k for _, line in body("Keywords") for k in split_keywords(line)]
    conditions = [line for _, line in body("Conditions")]
    summary = "\n".join(line for _, line in body("ClinConnect Summary")) or None
    if "ClinConnect Summary" in sections and is_empty_marker(summary):
        summary = None
        warnings.append(
            DataWarning(
                code="empty_section",
                message=f"{trial_id}: the summary is empty",
                line=sections["ClinConnect Summary"][0],
            )
        )
    sex = next((_SEX[line.upper()] for _, line in body("Gender") if line.upper() in _SEX), None)

    eligibility = Eligibility(sex=sex)
    if criteria_lines := body("Eligibility criteria"):
        first, last = criteria_lines[0][0], criteria_lines[-1][0]
        criteria_text = raw_block(text, first, last)
        cohorts, found = parse_criteria_text(trial_id, criteria_text, first)
        warnings.extend(found)
        eligibility = Eligibility(sex=sex, cohorts=cohorts, text=criteria_text)
    elif "Eligibility criteria" in sections:
        warnings.append(
            DataWarning(
                code="empty_section",
                message=f"{trial_id}: no eligibility criteria text",
                line=sections["Eligibility criteria"][0],
            )
        )

    locations = locations_from_lines(line for _, line in body("Locations"))
    investigators = _officials(body("Trial Officials"))
    _timeline(trial_id, body("Timeline"), fields, warnings)

    enrollment_type = None
    if enrollment is not None and status is not None:
        enrollment_type = "actual" if status in ACTUAL_ENROLLMENT_STATUSES else "planned"
    return Trial(
        trial_id=trial_id,
        registry=registry_for(trial_id),
        title=title,
        status=status,
        phase=phase,
        enrollment=enrollment,
        enrollment_type=enrollment_type,
        conditions=conditions,
        keywords=keywords,
        summary=summary,
        eligibility=eligibility,
        locations=locations,
        investigators=investigators,
        warnings=warnings,
        source_path=path,
        source_format=FORMAT,
        **fields,
    )


def _is_about_heading(line: str, sponsor: str | None) -> bool:
    """'About <sponsor>' opens the sponsor's self-description, which is not content of the trial."""
    if not line.startswith("About "):
        return False
    if sponsor is not None:
        return line[len("About ") :].strip().lower() == sponsor.lower()
    return len(line) < 150 and not line.endswith(".")


def _officials(body: list[tuple[int, str]]) -> list[Investigator]:
    """Name, role ('Study Chair'), affiliation; role and affiliation optional."""
    out: list[dict] = []
    for _, line in body:
        if out and line.lower() in _ROLES and out[-1]["role"] is None:
            out[-1]["role"] = line
        elif out and out[-1]["role"] is not None and out[-1]["affiliation"] is None:
            out[-1]["affiliation"] = line
        else:
            out.append({"name": line, "role": None, "affiliation": None})
    return [Investigator(**o) for o in out]


def _timeline(trial_id: str, body: list[tuple[int, str]], fields: dict, warnings: list[DataWarning]) -> None:
    """Labels ('Trial launched', 'Estimated completion') each optionally followed by a value line."""
    label = None
    for number, line in body:
        if line in _TIMELINE_LABELS:
            label = line
            continue
        if label is None:
            continue
        target = _TIMELINE_LABELS[label]
        if is_empty_marker(line):
            warnings.append(
                DataWarning(
                    code="empty_section", message=f"{trial_id}: timeline '{label}' is {line.lower()}", line=number
                )
            )
        elif target is not None:
            fields[target] = iso_date(line) or line
        label = None
