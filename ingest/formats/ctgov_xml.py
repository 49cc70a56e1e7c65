"""ClinicalTrials.gov legacy XML records (`<clinical_study>`, the AllPublicXML and TREC corpus format).

Untrusted XML is parsed with defusedxml: entity declarations (billion laughs) and external references
are refused before anything is expanded. Text blocks keep the registry's hard line breaks; the criteria
text block keeps its source line numbers so each criterion points into the XML file.
"""

from __future__ import annotations

import textwrap
import xml.etree.ElementTree as ET

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from ingest.formats.ctgov_fields import (
    criteria_cohorts,
    date_as_written,
    normalize_study_type,
)
from ingest.models import (
    Arm,
    DataWarning,
    Eligibility,
    Identifier,
    Intervention,
    Investigator,
    Location,
    Outcome,
    ParseError,
    Reference,
    Trial,
)
from ingest.text import age_in_years, normalize_phase, normalize_status

FORMAT = "ctgov_xml"
CRITERIA_FIELD = "eligibility/criteria/textblock"
_SEX = {"all": "all", "female": "female", "male": "male"}
_DESIGN_FIELDS = (
    "allocation",
    "intervention_model",
    "intervention_model_description",
    "primary_purpose",
    "observational_model",
    "time_perspective",
    "masking",
    "masking_description",
)


def parse(data: bytes, path: str) -> list[Trial]:
    """Parse one `<clinical_study>` record into a one-element list of `Trial`.

    Raises `ParseError` (with the line) for XML syntax errors, refused entity declarations, a root
    element other than `clinical_study`, and a record without `id_info/nct_id`.
    """
    root = _parse_xml(data)
    if root.tag != "clinical_study":
        raise ParseError(
            f"XML root element is <{root.tag}>, not <clinical_study>: only ClinicalTrials.gov study records "
            "(the AllPublicXML download format) are supported as XML.",
            _line_of(data, f"<{root.tag}".encode()),
        )
    return [_trial(root, data)]


def _parse_xml(data: bytes) -> ET.Element:
    try:
        return fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        line = _line_of(data, b"<!ENTITY") or _line_of(data, b"<!DOCTYPE")
        name = getattr(exc, "name", None)
        what = f"entity declaration {name!r}" if name else type(exc).__name__
        raise ParseError(
            f"XML refused: the document declares entities or external references ({what}). Trial records "
            "never need them and this is how entity-expansion (billion laughs) and file-disclosure attacks "
            "work; nothing was expanded or fetched. Remove the <!DOCTYPE>/<!ENTITY> declarations if the file "
            "is genuine.",
            line,
        ) from None
    except ET.ParseError as exc:
        line, column = exc.position
        raise ParseError(
            f"XML syntax error: {str(exc).rsplit(': line', 1)[0]} (line {line}, column {column}); "
            "the file is not well-formed XML, it may be truncated or not XML at all.",
            line,
        ) from None


def _line_of(data: bytes, needle: bytes, start: int = 0) -> int | None:
    """1-based line of the first occurrence of `needle` at or after byte `start`."""
    pos = data.find(needle, start)
    return None if pos < 0 else data.count(b"\n", 0, pos) + 1


def _text(node: ET.Element, path: str) -> str | None:
    found = node.find(path)
    if found is None or found.text is None:
        return None
    return " ".join(found.text.split()) or None


def _texts(node: ET.Element, path: str) -> list[str]:
    return [value for el in node.findall(path) if (value := " ".join((el.text or "").split()))]


def _block_lines(raw: str) -> str:
    # &#xD; in the records leaves a CR before each newline; dedent removes the fixed XML indentation.
    return textwrap.dedent(raw.replace("\r\n", "\n").replace("\r", "\n"))


def _block(node: ET.Element, path: str) -> str | None:
    found = node.find(path)
    if found is None or found.text is None:
        return None
    return _block_lines(found.text).strip() or None


def _trial(root: ET.Element, data: bytes) -> Trial:
    nct_id = _text(root, "id_info/nct_id")
    if not nct_id:
        raise ParseError(
            "The <clinical_study> record has no NCT id (id_info/nct_id is missing or empty); every record "
            "needs one to be indexed.",
            _line_of(data, b"<id_info"),
        )
    warnings: list[DataWarning] = []
    title = _text(root, "brief_title") or _text(root, "official_title")
    if title is None:
        title = nct_id
        warnings.append(
            DataWarning(
                code="missing_field",
                message="The record has no brief_title or official_title; the NCT id stands in as its title.",
            )
        )
    sponsor = _text(root, "sponsors/lead_sponsor/agency")
    eligibility, criteria_warnings = _eligibility(root, nct_id, data)
    interventions = _interventions(root)
    enrollment = _text(root, "enrollment")
    enrollment_node = root.find("enrollment")
    enrollment_kind = (enrollment_node.get("type") or "").lower() if enrollment and enrollment_node is not None else ""
    # <clinical_results> (participant flow, baseline, outcome measures, adverse events) is large and is
    # not part of the trial's protocol; it is deliberately left out of the Trial. Whether and how to index
    # results is the index's decision, made with measurements (results are on the public record page).
    return Trial(
        trial_id=nct_id,
        registry="ClinicalTrials.gov",
        title=title,
        official_title=_text(root, "official_title"),
        acronym=_text(root, "acronym"),
        status=normalize_status(_text(root, "overall_status")),
        phase=normalize_phase(_texts(root, "phase")),
        study_type=normalize_study_type(_text(root, "study_type")),
        enrollment=int(enrollment) if enrollment and enrollment.isdigit() else None,
        enrollment_type={"actual": "actual", "anticipated": "planned", "estimate": "planned"}.get(enrollment_kind),
        start_date=date_as_written(_text(root, "start_date")),
        # Older records only have the primary completion date; it is the best end date they give.
        completion_date=date_as_written(_text(root, "completion_date") or _text(root, "primary_completion_date")),
        last_updated=date_as_written(_text(root, "last_update_posted") or _text(root, "last_update_submitted")),
        sponsor=sponsor,
        collaborators=_texts(root, "sponsors/collaborator/agency"),
        responsible_party=_responsible_party(root),
        conditions=_texts(root, "condition"),
        keywords=_texts(root, "keyword"),
        summary=_block(root, "brief_summary/textblock"),
        description=_block(root, "detailed_description/textblock"),
        design=_design(root),
        arms=_arms(root, interventions),
        interventions=interventions,
        outcomes=_outcomes(root),
        eligibility=eligibility,
        locations=_locations(root),
        investigators=_investigators(root),
        references=_references(root),
        identifiers=_identifiers(root, sponsor),
        warnings=[*warnings, *criteria_warnings],
        source_format=FORMAT,
    )


def _eligibility(root: ET.Element, nct_id: str, data: bytes) -> tuple[Eligibility, list[DataWarning]]:
    node = root.find("eligibility")
    if node is None:
        node = ET.Element("eligibility")
    raw = node.find("criteria/textblock")
    text, first_line = None, _line_of(data, b"<eligibility")
    if raw is not None and raw.text and raw.text.strip():
        lines = _block_lines(raw.text)
        stripped = lines.lstrip("\n")
        # The text block starts right after <textblock>: its first line is the tag's own line, so each
        # newline skipped before the first criterion moves the first line down by one.
        tag_line = _line_of(data, b"<textblock", data.find(b"<criteria", data.find(b"<eligibility")))
        first_line = (tag_line or 1) + len(lines) - len(stripped)
        text = stripped.rstrip()
    cohorts, warnings = criteria_cohorts(nct_id, text, first_line, CRITERIA_FIELD)
    healthy = (_text(node, "healthy_volunteers") or "").lower()
    minimum, maximum = _text(node, "minimum_age"), _text(node, "maximum_age")
    eligibility = Eligibility(
        minimum_age=minimum,
        maximum_age=maximum,
        min_age_years=age_in_years(minimum),
        max_age_years=age_in_years(maximum),
        sex=_SEX.get((_text(node, "gender") or "").lower()),
        healthy_volunteers=(healthy.startswith("accepts") or healthy == "yes") if healthy else None,
        cohorts=cohorts,
        text=text,
    )
    return eligibility, warnings


def _design(root: ET.Element) -> dict[str, str]:
    design = {field: value for field in _DESIGN_FIELDS if (value := _text(root, f"study_design_info/{field}"))}
    study_type = _text(root, "study_type") or ""
    if "[" in study_type:
        design["study_type_detail"] = study_type[study_type.index("[") + 1 :].rstrip("]").strip()
    for field, path in (
        ("number_of_arms", "number_of_arms"),
        ("number_of_groups", "number_of_groups"),
        ("sampling_method", "eligibility/sampling_method"),
        ("gender_description", "eligibility/gender_description"),
        ("why_stopped", "why_stopped"),
    ):
        if value := _text(root, path):
            design[field] = value
    if population := _block(root, "eligibility/study_pop/textblock"):
        design["study_population"] = population
    return design


def _interventions(root: ET.Element) -> list[Intervention]:
    interventions = []
    for node in root.findall("intervention"):
        name = _text(node, "intervention_name")
        if not name:
            continue
        interventions.append(
            Intervention(
                name=name,
                type=_text(node, "intervention_type"),
                description=_block(node, "description"),
                other_names=_texts(node, "other_name"),
                arms=_texts(node, "arm_group_label"),
            )
        )
    return interventions


def _arms(root: ET.Element, interventions: list[Intervention]) -> list[Arm]:
    arms = []
    for node in root.findall("arm_group"):
        label = _text(node, "arm_group_label")
        if not label:
            continue
        # The legacy format links interventions to arms from the intervention side only.
        names = [f"{i.type}: {i.name}" if i.type else i.name for i in interventions if label in i.arms]
        arms.append(
            Arm(
                label=label,
                type=_text(node, "arm_group_type"),
                description=_block(node, "description"),
                interventions=names,
            )
        )
    return arms


def _outcomes(root: ET.Element) -> list[Outcome]:
    outcomes = []
    for kind in ("primary", "secondary", "other"):
        for node in root.findall(f"{kind}_outcome"):
            if measure := _text(node, "measure"):
                outcomes.append(
                    Outcome(
                        kind=kind,
                        measure=measure,
                        time_frame=_text(node, "time_frame"),
                        description=_block(node, "description"),
                    )
                )
    return outcomes


def _locations(root: ET.Element) -> list[Location]:
    locations = []
    for node in root.findall("location"):
        location = Location(
            facility=_text(node, "facility/name"),
            city=_text(node, "facility/address/city"),
            state=_text(node, "facility/address/state"),
            country=_text(node, "facility/address/country"),
            status=normalize_status(_text(node, "status")),
        )
        if location != Location():
            locations.append(location)
    return locations


def _investigators(root: ET.Element) -> list[Investigator]:
    people: list[Investigator] = []
    for node in root.findall("overall_official"):
        if name := _text(node, "last_name"):
            people.append(Investigator(name=name, role=_text(node, "role"), affiliation=_text(node, "affiliation")))
    for tag, role in (("overall_contact", "Central Contact"), ("overall_contact_backup", "Central Contact Backup")):
        for node in root.findall(tag):
            if name := _text(node, "last_name"):
                people.append(Investigator(name=name, role=role))
    for site in root.findall("location"):
        facility = _text(site, "facility/name")
        for node in site.findall("investigator"):
            if name := _text(node, "last_name"):
                people.append(Investigator(name=name, role=_text(node, "role"), affiliation=facility))
        for tag, role in (("contact", "Site Contact"), ("contact_backup", "Site Contact Backup")):
            for node in site.findall(tag):
                if name := _text(node, "last_name"):
                    people.append(Investigator(name=name, role=role, affiliation=facility))
    return list(dict.fromkeys(people))


def _responsible_party(root: ET.Element) -> str | None:
    node = root.find("responsible_party")
    if node is None:
        return None
    person = [
        v
        for f in (
            "investigator_full_name",
            "investigator_title",
            "investigator_affiliation",
            "name_title",
            "organization",
        )
        if (v := _text(node, f))
    ]
    kind = _text(node, "responsible_party_type")
    if kind and person:
        return f"{kind}: {', '.join(person)}"
    return kind or (", ".join(person) if person else None)


def _references(root: ET.Element) -> list[Reference]:
    references = []
    for tag, kind in (("reference", None), ("results_reference", "RESULT")):
        for node in root.findall(tag):
            if citation := _text(node, "citation"):
                references.append(Reference(citation=citation, pmid=_text(node, "PMID"), type=kind))
    return references


def _identifiers(root: ET.Element, sponsor: str | None) -> list[Identifier]:
    identifiers = []
    if org_id := _text(root, "id_info/org_study_id"):
        identifiers.append(Identifier(id=org_id, type="org_study_id", source=sponsor))
    identifiers += [Identifier(id=v, type="secondary_id") for v in _texts(root, "id_info/secondary_id")]
    identifiers += [
        Identifier(id=v, type="nct_alias", source="ClinicalTrials.gov") for v in _texts(root, "id_info/nct_alias")
    ]
    return identifiers
