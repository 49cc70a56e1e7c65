"""Parser for the ClinicalTrials.gov-mirror page layout (seeds 001 and 002).

The page is a sequence of fixed headings ("Basic Information", "Study Groups", ...), each followed by one
filler sentence of the site and then bare value lines (e.g. "COMPLETED", "PHASE1", "6 participants").
Which value is which is decided by its shape and vocabulary, never by its position alone.
"""

from __future__ import annotations

import re
from typing import Any

from ingest.criteria import parse_criteria_text
from ingest.models import (
    Arm,
    Cohort,
    DataWarning,
    Eligibility,
    Identifier,
    Intervention,
    Investigator,
    ParseError,
    Reference,
    RelatedTrial,
    Trial,
)
from ingest.text import (
    ACTUAL_ENROLLMENT_STATUSES,
    age_in_years,
    design_field,
    iso_date,
    locations_from_lines,
    normalize_phase,
    numbered_lines,
    raw_block,
    upper_snake,
)
from trialfinder.ids import is_trial_id, registry_for

FORMAT = "ctgov_page"

HEADINGS = (
    "Study Results",
    "Basic Information",
    "Brief Summary",
    "Related Clinical Trials",
    "Detailed Description",
    "Conditions",
    "Keywords",
    "Study Design",
    "Study Groups",
    "Interventions",
    "Other Intervention Names",
    "Eligibility Criteria",
    "Sponsors",
    "Collaborators",
    "Responsible Party",
    "Principal Investigators",
    "Locations",
    "Countries",
    "Central Contacts",
    "Facility Contacts",
    "References",
    "Related Links",
    "Other Identifiers",
    "More Related Trials",
)
_HEADING_SET = frozenset(HEADINGS)
_ID_LINE = re.compile(r"^NCT ID:\s*(NCT\d{8})\s*$")
_STATUSES = frozenset(
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
        "AVAILABLE",
        "NO_LONGER_AVAILABLE",
        "TEMPORARILY_NOT_AVAILABLE",
        "APPROVED_FOR_MARKETING",
        "WITHHELD",
    }
)
_STUDY_TYPES = frozenset({"INTERVENTIONAL", "OBSERVATIONAL", "EXPANDED_ACCESS"})
_PARTICIPANTS = re.compile(r"^(\d[\d,]*)\s+participants?$", re.IGNORECASE)
_AGE_LINE = re.compile(r"^\d+(?:\.\d+)?\s+(?:Years?|Months?|Weeks?|Days?|Hours?|Minutes?)$")
_SEX = {"ALL": "all", "FEMALE": "female", "MALE": "male"}
_AGENCY_CLASSES = frozenset({"OTHER", "INDUSTRY", "NIH", "FED", "OTHER_GOV", "INDIV", "NETWORK", "AMBIG", "UNKNOWN"})
_INTERVENTION_TYPE = re.compile(
    r"^(Drug|Biological|Device|Procedure|Radiation|Behavioral|Genetic|Dietary Supplement|Combination Product|"
    r"Diagnostic Test|Other):\s*(.+)$"
)
_PMID = re.compile(r"\bPMID:?\s*(\d+)")


def detect(text: str) -> bool:
    """True for the CT.gov-mirror layout: an 'NCT ID:' line near the top and a 'Basic Information' heading."""
    head = [line.strip().lstrip("\ufeff") for line in text[:4000].splitlines()]
    return any(_ID_LINE.match(line) for line in head[:6]) and "Basic Information" in head


def _sections(lines: list[tuple[int, str]]) -> dict[str, tuple[int, list[tuple[int, str]]]]:
    """Heading -> (heading line, body lines). The first heading wins if one repeats."""
    out: dict[str, tuple[int, list[tuple[int, str]]]] = {}
    current: list[tuple[int, str]] | None = None
    for number, line in lines:
        if line in _HEADING_SET and line not in out:
            current = []
            out[line] = (number, current)
        elif current is not None:
            current.append((number, line))
    return out


def _pairs_of_trials(body: list[tuple[int, str]]) -> list[RelatedTrial]:
    """'title' line followed by 'NCT…' line -> RelatedTrial."""
    related, title = [], None
    for _, line in body:
        if is_trial_id(line):
            related.append(RelatedTrial(trial_id=line, title=title))
            title = None
        else:
            title = line if title is None else f"{title} {line}"
    return related


def _norm_name(name: str) -> str:
    return re.sub(r"\s+", "", name).lower()


def parse(text: str, path: str) -> Trial:
    """Parse one CT.gov-mirror page into a `Trial`; raises `ParseError` without an NCT id or title."""
    lines = numbered_lines(text)
    if not lines:
        raise ParseError(f"{path}: empty page, no trial id or title", 1)
    trial_id = next((m.group(1) for _, line in lines[:6] if (m := _ID_LINE.match(line))), None)
    if trial_id is None:
        raise ParseError(
            f"{path}: no 'NCT ID: NCT########' line near the top of the page; is this a CT.gov mirror page?", 1
        )
    title_line, title = lines[0]
    if _ID_LINE.match(title) or title in _HEADING_SET:
        raise ParseError(f"{path}: the page has no title line before 'NCT ID:'", title_line)
    last_updated = next(
        (iso_date(line.split(":", 1)[1]) for _, line in lines[:6] if line.startswith("Last Updated:")), None
    )
    sections = _sections(lines)
    warnings: list[DataWarning] = []

    def body(name: str) -> list[tuple[int, str]]:
        return sections.get(name, (0, []))[1]

    def paragraph(name: str) -> str | None:
        content = "\n".join(line for _, line in body(name))
        if name in sections and not content:
            warnings.append(
                DataWarning(
                    code="empty_section", message=f"{trial_id}: section '{name}' is empty", line=sections[name][0]
                )
            )
        return content or None

    # Basic Information: bare values recognised by shape.
    status = phase = study_type = None
    enrollment = None
    dates: list[str] = []
    for number, line in body("Basic Information"):
        value = upper_snake(line)
        if value in _STATUSES and status is None:
            status = value
        elif phase is None and (value.startswith(("PHASE", "EARLY_PHASE")) or value == "NA"):
            phase = normalize_phase(line)
        elif m := _PARTICIPANTS.match(line):
            enrollment = int(m.group(1).replace(",", ""))
        elif value in _STUDY_TYPES:
            study_type = value
        elif (date := iso_date(line)) is not None:
            dates.append(date)
        else:
            warnings.append(
                DataWarning(
                    code="unparsed_text",
                    message=f"{trial_id}: basic-information value {line!r} not recognised",
                    line=number,
                )
            )
    enrollment_type = None
    if enrollment is not None and status is not None:
        enrollment_type = "actual" if status in ACTUAL_ENROLLMENT_STATUSES else "planned"

    summary = paragraph("Brief Summary")
    description = paragraph("Detailed Description")
    conditions = [line for _, line in body("Conditions")]
    if "Conditions" in sections and not conditions:
        warnings.append(
            DataWarning(
                code="empty_section",
                message=f"{trial_id}: section 'Conditions' is empty",
                line=sections["Conditions"][0],
            )
        )
    keywords = [line for _, line in body("Keywords")]

    design: dict[str, str] = {}
    for number, line in body("Study Design"):
        name = design_field(line)
        if name is None or name in design:
            warnings.append(
                DataWarning(
                    code="unparsed_text", message=f"{trial_id}: design value {line!r} not recognised", line=number
                )
            )
        else:
            design[name] = line

    interventions = _interventions(body("Interventions"))
    arms, interventions = _arms(body("Study Groups"), interventions)
    other_names = [line for _, line in body("Other Intervention Names")]
    if other_names and len(interventions) == 1:
        interventions = [interventions[0].model_copy(update={"other_names": other_names})]

    eligibility = _eligibility(trial_id, text, sections, warnings)

    # Each sponsor name is followed by its agency class line ("OTHER"); the first sponsor is the lead.
    sponsors = [line for _, line in body("Sponsors") if upper_snake(line) not in _AGENCY_CLASSES]
    collaborators = sponsors[1:] + [
        line for _, line in body("Collaborators") if upper_snake(line) not in _AGENCY_CLASSES
    ]
    responsible = [line for _, line in body("Responsible Party")]
    responsible_party = None
    if responsible:
        responsible_party = responsible[0] + (f" ({'; '.join(responsible[1:])})" if responsible[1:] else "")

    investigators = _investigators(body("Principal Investigators"))
    locations = locations_from_lines(line for _, line in body("Locations"))
    references = [
        Reference(citation=line, pmid=(m.group(1) if (m := _PMID.search(line)) else None))
        for _, line in body("References")
    ]
    references += [Reference(citation=line, type="link") for _, line in body("Related Links")]
    identifiers = _identifiers(body("Other Identifiers"))
    related = _pairs_of_trials(body("Related Clinical Trials")) + _pairs_of_trials(body("More Related Trials"))

    return Trial(
        trial_id=trial_id,
        registry=registry_for(trial_id),
        title=title,
        status=status,
        phase=phase,
        study_type=study_type,
        enrollment=enrollment,
        enrollment_type=enrollment_type,
        start_date=dates[0] if dates else None,
        completion_date=dates[1] if len(dates) > 1 else None,
        last_updated=last_updated,
        sponsor=sponsors[0] if sponsors else None,
        collaborators=collaborators,
        responsible_party=responsible_party,
        conditions=conditions,
        keywords=keywords,
        summary=summary,
        description=description,
        design=design,
        arms=arms,
        interventions=interventions,
        outcomes=[],
        eligibility=eligibility,
        locations=locations,
        investigators=investigators,
        references=references,
        identifiers=identifiers,
        related=related,
        warnings=warnings,
        source_path=path,
        source_format=FORMAT,
    )


def _interventions(body: list[tuple[int, str]]) -> list[Intervention]:
    """The Interventions section: name line, then description line(s) until the next name."""
    out: list[Intervention] = []
    it = iter(body)
    for _, name in it:
        description = next(it, (0, None))[1]
        out.append(Intervention(name=name, description=description))
    return out


def _arms(body: list[tuple[int, str]], interventions: list[Intervention]) -> tuple[list[Arm], list[Intervention]]:
    """Study Groups: arm label, arm description, then (intervention name, intervention description) pairs.

    An intervention pair is recognised because it repeats a name from the Interventions section; a label
    such as "Drug: Low Dose MSCs" also tells that intervention's type.
    """
    by_name = {_norm_name(i.name): i for i in interventions}
    types: dict[str, str] = {}
    arms: list[dict] = []
    lines = [line for _, line in body]
    i = 0
    while i < len(lines):
        line = lines[i]
        key = _norm_name(line)
        if arms and key in by_name:
            arms[-1]["interventions"].append(by_name[key].name)
            i += 2 if i + 1 < len(lines) and lines[i + 1] == by_name[key].description else 1
            continue
        arm: dict[str, Any] = {"label": line, "description": None, "interventions": []}
        if i + 1 < len(lines) and _norm_name(lines[i + 1]) not in by_name:
            arm["description"] = lines[i + 1]
            i += 1
        if m := _INTERVENTION_TYPE.match(line):
            target = by_name.get(_norm_name(m.group(2)))
            if target is not None:
                types[target.name] = m.group(1)
        arms.append(arm)
        i += 1
    arm_models = [Arm(**a) for a in arms]
    updated = [
        i.model_copy(
            update={
                "type": types.get(i.name, i.type),
                "arms": [a.label for a in arm_models if i.name in a.interventions],
            }
        )
        for i in interventions
    ]
    return arm_models, updated


def _eligibility(trial_id: str, text: str, sections: dict, warnings: list[DataWarning]) -> Eligibility:
    """Criteria text, then the trailing fact lines: min age, max age (either may be absent), sex, healthy."""
    if "Eligibility Criteria" not in sections:
        return Eligibility()
    _, body = sections["Eligibility Criteria"]
    facts_start = len(body)
    for index in range(len(body) - 1, -1, -1):
        line = body[index][1]
        if _AGE_LINE.match(line) or line.upper() in _SEX or line in {"Yes", "No"}:
            facts_start = index
        else:
            break
    criteria_lines, fact_lines = body[:facts_start], [line for _, line in body[facts_start:]]
    ages = [line for line in fact_lines if _AGE_LINE.match(line)]
    sex = next((_SEX[line.upper()] for line in fact_lines if line.upper() in _SEX), None)
    healthy = next(({"Yes": True, "No": False}[line] for line in fact_lines if line in {"Yes", "No"}), None)
    minimum = ages[0] if ages else None
    maximum = ages[1] if len(ages) > 1 else None
    cohorts: list[Cohort] = []
    criteria_text: str | None = None
    if criteria_lines:
        first, last = criteria_lines[0][0], criteria_lines[-1][0]
        criteria_text = raw_block(text, first, last)
        cohorts, found = parse_criteria_text(trial_id, criteria_text, first)
        warnings.extend(found)
    else:
        warnings.append(
            DataWarning(
                code="empty_section",
                message=f"{trial_id}: no eligibility criteria text",
                line=sections["Eligibility Criteria"][0],
            )
        )
    return Eligibility(
        minimum_age=minimum,
        maximum_age=maximum,
        min_age_years=age_in_years(minimum),
        max_age_years=age_in_years(maximum),
        sex=sex,
        healthy_volunteers=healthy,
        cohorts=cohorts,
        text=criteria_text,
    )


def _investigators(body: list[tuple[int, str]]) -> list[Investigator]:
    """Name, 'Role: X', affiliation triples (role and affiliation optional)."""
    out: list[dict] = []
    for _, line in body:
        if line.startswith("Role:") and out:
            out[-1]["role"] = line.split(":", 1)[1].strip() or None
        elif out and out[-1]["role"] is not None and out[-1]["affiliation"] is None:
            out[-1]["affiliation"] = line
        else:
            out.append({"name": line, "role": None, "affiliation": None})
    return [Investigator(**o) for o in out]


def _identifiers(body: list[tuple[int, str]]) -> list[Identifier]:
    """Id line, 'Identifier Type: X', 'Identifier Source: Y' ('-' means not given)."""
    out: list[dict] = []
    for _, line in body:
        if line.startswith("Identifier Type:") and out:
            out[-1]["type"] = line.split(":", 1)[1].strip().strip("-").strip() or None
        elif line.startswith("Identifier Source:") and out:
            out[-1]["source"] = line.split(":", 1)[1].strip().strip("-").strip() or None
        else:
            out.append({"id": line, "type": None, "source": None})
    return [Identifier(**o) for o in out]
