"""Parser for the MedPath page layout (seeds 003 and 004).

Top of page: "MedPath", title, phase line, status line. Then label/value blocks ("Conditions",
"Registration Number", "Lead Sponsor", "Status", "Sex", "Target Recruitment", "Study Type", ...), the
criteria lists, and tables whose cells the page glues together without separators: the arm table
("GroupInterventionDescription") and the outcome tables ("NameTimeMethod": "Adverse Events6 months").
"""

from __future__ import annotations

import re

from ingest.criteria import parse_criteria_text
from ingest.models import (
    Arm,
    DataWarning,
    Eligibility,
    Intervention,
    Location,
    Outcome,
    ParseError,
    Trial,
)
from ingest.text import (
    clean,
    design_field,
    is_empty_marker,
    locations_from_lines,
    normalize_phase,
    numbered_lines,
    raw_block,
    split_lines,
    upper_snake,
)
from trialfinder.ids import is_trial_id, registry_for

FORMAT = "medpath"

_LABELS = (
    "Conditions",
    "Interventions",
    "Registration Number",
    "Lead Sponsor",
    "Brief Summary",
    "Detailed Description",
    "Recruitment & Eligibility",
    "Status",
    "Sex",
    "Target Recruitment",
    "Inclusion Criteria",
    "Exclusion Criteria",
    "Study & Design",
    "Study Type",
    "Study Design",
    "Arm && Interventions",
    "Primary Outcome Measures",
    "Secondary Outcome Measures",
    "Other Outcome Measures",
    "Trial Locations",
)
_LABEL_SET = frozenset(_LABELS)
_TABLE_HEADERS = frozenset({"NameTimeMethod", "GroupInterventionDescription"})
_SEX = {"ALL": "all", "FEMALE": "female", "MALE": "male", "BOTH": "all"}
_INTERVENTION = re.compile(
    r"^(Drug|Biological|Device|Procedure|Radiation|Behavioral|Genetic|Dietary Supplement|Combination Product|"
    r"Diagnostic Test|Other):\s*(.+)$"
)
_OUTCOME_TABLES = (
    ("Primary Outcome Measures", "primary"),
    ("Secondary Outcome Measures", "secondary"),
    ("Other Outcome Measures", "other"),
)
_LOCATIONS_COUNT = re.compile(r"^Locations\s*\(\d+\)$")
_FLAG = re.compile(r"^[\U0001F1E6-\U0001F1FF]{2}$")
# A time frame glued to the end of an outcome name: "Adverse Events6 months", "mRSSBaseline and week 12".
_TIME_FRAME = re.compile(
    r"(?:(?:up to|through|over|at|after|within|from|until)\s+)?(?:\d{1,3}(?:\.\d+)?\s*(?:-|–|to)?\s*\d{0,3}\s*"
    r"(?:hours?|days?|weeks?|months?|years?|minutes?)\b|(?:Baseline|Day|Week|Month|Year|Screening)\b).*",
    re.IGNORECASE,
)


def detect(text: str) -> bool:
    """True for the MedPath layout: 'MedPath' as the first line and a 'Registration Number' label."""
    head = [line.strip() for line in text.lstrip("\ufeff \t\r\n")[:20000].splitlines()]
    return bool(head) and head[0] == "MedPath" and "Registration Number" in head


def split_time_frame(cell: str) -> tuple[str, str | None]:
    """Split a glued 'NameTime' table cell: 'Adverse Events6 months' -> ('Adverse Events', '6 months').

    The split is only made where the page glued two cells (a letter or ')' directly followed by the time
    frame, no space) and the rest reads as a time frame, so a name that merely mentions a time stays whole.
    """
    for m in re.finditer(r"(?<=[A-Za-z)%])(?=[0-9A-Z])", cell):
        tail = cell[m.start() :]
        if _TIME_FRAME.fullmatch(tail) and not re.match(r"[A-Z]{2,}\d", tail):
            return cell[: m.start()].strip(), tail.strip()
    return cell.strip(), None


def parse(text: str, path: str) -> Trial:
    """Parse one MedPath page into a `Trial`; raises `ParseError` without a registration number or title."""
    lines = numbered_lines(text)
    first = next((clean(line) for line in split_lines(text) if clean(line)), "")
    if first != "MedPath":
        raise ParseError(f"{path}: a MedPath page starts with the line 'MedPath' (found {first[:60]!r})", 1)
    if not lines or lines[0][1] in _LABEL_SET:
        raise ParseError(f"{path}: the MedPath page has no title line", lines[0][0] if lines else 1)
    title_line, title = lines[0]
    blocks: dict[str, tuple[int, list[tuple[int, str]]]] = {}
    head: list[tuple[int, str]] = []
    current = head
    for number, line in lines:
        if number <= title_line:
            continue
        if line in _LABEL_SET and line not in blocks:
            current = []
            blocks[line] = (number, current)
        else:
            current.append((number, line))

    def body(name: str) -> list[tuple[int, str]]:
        return [(n, ln) for n, ln in blocks.get(name, (0, []))[1] if ln not in _TABLE_HEADERS]

    def value(name: str) -> str | None:
        found = body(name)
        return found[0][1] if found else None

    trial_id = value("Registration Number")
    if trial_id is None or not is_trial_id(trial_id):
        raise ParseError(
            f"{path}: no trial id under 'Registration Number' (found {trial_id!r})",
            blocks.get("Registration Number", (1, []))[0],
        )
    warnings: list[DataWarning] = []

    phase = status = None
    for _, line in head:
        if phase is None and (normalize_phase(line) is not None):
            phase = normalize_phase(line)
        elif status is None:
            status = upper_snake(line)
    status = upper_snake(stated) if (stated := value("Status")) else status

    def paragraph(name: str) -> str | None:
        content = "\n".join(ln for _, ln in body(name))
        if name in blocks and is_empty_marker(content):
            warnings.append(
                DataWarning(
                    code="empty_section",
                    message=f"{trial_id}: section '{name}' is {content.strip().lower() or 'empty'}",
                    line=blocks[name][0],
                )
            )
            return None
        return content or None

    interventions = []
    for _, line in body("Interventions"):
        m = _INTERVENTION.match(line)
        interventions.append(Intervention(name=m.group(2), type=m.group(1)) if m else Intervention(name=line))
    arms, interventions = _arms(body("Arm && Interventions"), interventions)

    design: dict[str, str] = {}
    for number, line in body("Study Design"):
        if is_empty_marker(line):
            warnings.append(
                DataWarning(code="empty_section", message=f"{trial_id}: study design is {line.lower()}", line=number)
            )
        elif (name := design_field(upper_snake(line))) is not None:
            design[name] = upper_snake(line)
        else:
            design.setdefault("description", line)

    enrollment_text = value("Target Recruitment")
    digits = (enrollment_text or "").replace(",", "")
    enrollment = int(digits) if digits.isdecimal() else None
    study_type = value("Study Type")
    sex_text = value("Sex")
    eligibility = _eligibility(trial_id, text, blocks, warnings, _SEX.get((sex_text or "").upper()))

    outcomes = _outcomes(body)
    for label, kind in _OUTCOME_TABLES:
        if label in blocks and not any(o.kind == kind for o in outcomes):
            warnings.append(
                DataWarning(
                    code="empty_section", message=f"{trial_id}: table '{label}' is empty", line=blocks[label][0]
                )
            )
    return Trial(
        trial_id=trial_id,
        registry=registry_for(trial_id),
        title=title,
        status=status,
        phase=phase,
        study_type=upper_snake(re.sub(r"\s+Study$", "", study_type)) if study_type else None,
        enrollment=enrollment,
        enrollment_type="planned" if enrollment is not None else None,
        sponsor=value("Lead Sponsor"),
        conditions=[ln for _, ln in body("Conditions")],
        summary=paragraph("Brief Summary"),
        description=paragraph("Detailed Description"),
        design=design,
        arms=arms,
        interventions=interventions,
        outcomes=outcomes,
        eligibility=eligibility,
        locations=_locations(body("Trial Locations")),
        warnings=warnings,
        source_path=path,
        source_format=FORMAT,
    )


def _eligibility(trial_id: str, text: str, blocks: dict, warnings: list[DataWarning], sex: str | None) -> Eligibility:
    """Both criteria lists, headings included, go to the criteria splitter as one block."""
    if "Inclusion Criteria" not in blocks and "Exclusion Criteria" not in blocks:
        return Eligibility(sex=sex)
    starts = [blocks[h][0] for h in ("Inclusion Criteria", "Exclusion Criteria") if h in blocks]
    first = min(starts)
    ends = [n for h in ("Inclusion Criteria", "Exclusion Criteria") if h in blocks for n, _ in blocks[h][1]]
    last = max(ends, default=max(starts))
    criteria_text = raw_block(text, first, last)
    cohorts, found = parse_criteria_text(trial_id, criteria_text, first)
    warnings.extend(found)
    return Eligibility(sex=sex, cohorts=cohorts, text=criteria_text)


def _arms(body: list[tuple[int, str]], interventions: list[Intervention]) -> tuple[list[Arm], list[Intervention]]:
    """Rows 'GroupInterventionDescription' glued together; split them at the known intervention names."""
    arms: list[Arm] = []
    for _, row in body:
        hit = next(((i, row.find(i.name)) for i in interventions if i.name and row.find(i.name) > 0), None)
        if hit is None:
            arms.append(Arm(label=row))
            continue
        intervention, at = hit
        description = row[at + len(intervention.name) :].strip() or None
        arms.append(Arm(label=row[:at].strip(), description=description, interventions=[intervention.name]))
    updated = [
        i.model_copy(update={"arms": [a.label for a in arms if i.name in a.interventions]}) for i in interventions
    ]
    return arms, updated


def _outcomes(body) -> list[Outcome]:
    """Each outcome table row: 'NameTime' glued, optionally followed by its method/description line.

    The page separates rows from their description by a blank line, so a row is told apart from a
    description by position: the line after a row is its description when another row follows or the
    table ends.
    """
    out: list[Outcome] = []
    for label, kind in _OUTCOME_TABLES:
        rows = [ln for _, ln in body(label)]
        i = 0
        while i < len(rows):
            measure, time_frame = split_time_frame(rows[i])
            description = None
            if time_frame is not None and i + 1 < len(rows) and split_time_frame(rows[i + 1])[1] is None:
                description = rows[i + 1]
                i += 1
            out.append(Outcome(kind=kind, measure=measure, time_frame=time_frame, description=description))
            i += 1
    return out


def _locations(body: list[tuple[int, str]]) -> list[Location]:
    """'Locations (n)', then per site: facility, a flag emoji, 'City, State, Country'."""
    return locations_from_lines(line for _, line in body if not (_LOCATIONS_COUNT.match(line) or _FLAG.match(line)))
