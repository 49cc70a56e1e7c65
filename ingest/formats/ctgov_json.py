"""ClinicalTrials.gov API v2 study JSON: one study, a list of studies, a `{"studies": [...]}` page, or JSONL.

Records come from users' downloads, so every field is read defensively: a value of the wrong JSON type
is ignored rather than trusted. A study's criteria text is one JSON string, so all its criteria point to
the source line of its `eligibilityCriteria` key (JSONL: the study's line).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any

from ingest.formats.ctgov_fields import (
    criteria_cohorts,
    date_as_written,
    humanize_enum,
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

FORMAT = "ctgov_json"
NCT_ID_FIELD = "protocolSection.identificationModule.nctId"
CRITERIA_FIELD = "protocolSection.eligibilityModule.eligibilityCriteria"
_CRITERIA_KEY = re.compile(r'"eligibilityCriteria"\s*:')
_ENUM_DESIGN_FIELDS = frozenset(
    {
        "allocation",
        "intervention_model",
        "primary_purpose",
        "observational_model",
        "time_perspective",
        "sampling_method",
    }
)
_SHAPES = (
    'a study object with "protocolSection", a list of studies, {"studies": [...]} or JSON Lines with one study per line'
)


def parse(text: str, path: str) -> list[Trial]:
    """Parse every study of an API v2 JSON or JSONL document; the first unreadable study raises `ParseError`.

    Multi-study documents get `source_hash` = sha256 of each study's canonical JSON, so a changed study
    replaces only itself; a single-study document leaves the hash to the caller (hash of the file bytes).
    """
    trials = []
    for result in parse_each(text, path):
        if isinstance(result, ParseError):
            raise result
        trials.append(result)
    return trials


def parse_each(text: str, path: str) -> Iterator[Trial | ParseError]:
    """Each study of the document as a `Trial`, or a `ParseError` for a study that cannot be read.

    A document that is not JSON at all, or not one of the supported shapes, yields one `ParseError`.
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" and _is_json_object(text.lstrip().split("\n", 1)[0]):
            yield from _parse_lines(text)
            return
        yield ParseError(
            f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}); the file is truncated or "
            f"not JSON. Supported: {_SHAPES}.",
            exc.lineno,
        )
        return
    studies, multi = _studies(document)
    if studies is None:
        yield ParseError(f"JSON document is not a ClinicalTrials.gov API v2 study record; expected {_SHAPES}.", 1)
        return
    if not studies:
        yield ParseError("the JSON document holds no studies (an empty list); nothing to ingest.", 1)
        return
    key_lines = _criteria_key_lines(text)
    for number, study in enumerate(studies, start=1):
        where = f"study {number} of {len(studies)}: " if multi else ""
        criteria_line = key_lines.pop(0) if _has_criteria(study) and key_lines else None
        # Where a study of a list starts is not known without a second parser; its number says which it is.
        yield _study(study, where, None if multi else 1, criteria_line, _canonical_hash(study) if multi else None)


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except json.JSONDecodeError:
        return False


def _parse_lines(text: str) -> Iterator[Trial | ParseError]:
    # Only "\n" ends a JSON Lines record; splitlines() would also split at U+2028 inside strings.
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            study = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield ParseError(
                f"JSON Lines: line {number} is not valid JSON ({exc.msg}, column {exc.colno}); "
                "each line must hold one complete study object.",
                number,
            )
            continue
        yield _study(study, f"line {number}: ", number, number, _canonical_hash(study))


def _studies(document: Any) -> tuple[list[Any] | None, bool]:
    if isinstance(document, dict) and "protocolSection" in document:
        return [document], False
    if isinstance(document, dict) and isinstance(document.get("studies"), list):
        return document["studies"], True
    if isinstance(document, list):
        return document, True
    return None, False


def _canonical_hash(study: Any) -> str:
    canonical = json.dumps(study, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _criteria_key_lines(text: str) -> list[int]:
    """Source lines of the `"eligibilityCriteria":` keys, in document order (one per study that has one)."""
    lines, last_pos, last_line = [], 0, 1
    for match in _CRITERIA_KEY.finditer(text):
        last_line += text.count("\n", last_pos, match.start())
        last_pos = match.start()
        lines.append(last_line)
    return lines


def _has_criteria(study: Any) -> bool:
    module = _dict(_dict(_dict(study).get("protocolSection")).get("eligibilityModule"))
    return "eligibilityCriteria" in module


# Defensive accessors: a field of the wrong JSON type reads as absent.
def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _strs(value: Any) -> list[str]:
    return [s for item in _list(value) if (s := _str(item))]


def _study(
    study: Any, where: str, line: int | None, criteria_line: int | None, digest: str | None
) -> Trial | ParseError:
    protocol = _dict(_dict(study).get("protocolSection"))
    ident = _dict(protocol.get("identificationModule"))
    nct_id = raw.strip() if isinstance(raw := ident.get("nctId"), str) else None
    if not nct_id:
        what = "no protocolSection" if not protocol else f"no {NCT_ID_FIELD}"
        return ParseError(
            f"{where}the study has {what}; every study needs its NCT id "
            f'({NCT_ID_FIELD}, e.g. "NCT01234567") to be indexed.',
            line,
        )
    status = _dict(protocol.get("statusModule"))
    sponsors = _dict(protocol.get("sponsorCollaboratorsModule"))
    description = _dict(protocol.get("descriptionModule"))
    conditions = _dict(protocol.get("conditionsModule"))
    design = _dict(protocol.get("designModule"))
    enrollment = _dict(design.get("enrollmentInfo"))
    count = enrollment.get("count")
    sponsor = _str(_dict(sponsors.get("leadSponsor")).get("name"))
    warnings: list[DataWarning] = []
    title = _str(ident.get("briefTitle")) or _str(ident.get("officialTitle"))
    if title is None:
        title = nct_id
        warnings.append(
            DataWarning(
                code="missing_field",
                message="The study has no briefTitle or officialTitle "
                "(protocolSection.identificationModule); the NCT id stands in as its title.",
            )
        )
    eligibility, criteria_warnings = _eligibility(nct_id, _dict(protocol.get("eligibilityModule")), criteria_line)
    # resultsSection (participant flow, baseline, outcome measures, adverse events) is large and not part
    # of the protocol; it is deliberately left out of the Trial (whether to index results is the index's call).
    return Trial(
        trial_id=nct_id,
        registry="ClinicalTrials.gov",
        title=title,
        official_title=_str(ident.get("officialTitle")),
        acronym=_str(ident.get("acronym")),
        status=normalize_status(_str(status.get("overallStatus"))),
        phase=normalize_phase(_strs(design.get("phases"))),
        study_type=normalize_study_type(_str(design.get("studyType"))),
        enrollment=count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else None,
        enrollment_type={"ACTUAL": "actual", "ESTIMATED": "planned", "ANTICIPATED": "planned"}.get(
            (_str(enrollment.get("type")) or "").upper()
        ),
        start_date=date_as_written(_str(_dict(status.get("startDateStruct")).get("date"))),
        completion_date=date_as_written(
            _str(_dict(status.get("completionDateStruct")).get("date"))
            or _str(_dict(status.get("primaryCompletionDateStruct")).get("date"))
        ),
        last_updated=date_as_written(
            _str(_dict(status.get("lastUpdatePostDateStruct")).get("date")) or _str(status.get("lastUpdateSubmitDate"))
        ),
        sponsor=sponsor,
        collaborators=[n for c in _list(sponsors.get("collaborators")) if (n := _str(_dict(c).get("name")))],
        responsible_party=_responsible_party(_dict(sponsors.get("responsibleParty"))),
        conditions=_strs(conditions.get("conditions")),
        keywords=_strs(conditions.get("keywords")),
        summary=_str(description.get("briefSummary")),
        description=_str(description.get("detailedDescription")),
        design=_design(design, status, _dict(protocol.get("eligibilityModule"))),
        arms=_arms(_dict(protocol.get("armsInterventionsModule"))),
        interventions=_interventions(_dict(protocol.get("armsInterventionsModule"))),
        outcomes=_outcomes(_dict(protocol.get("outcomesModule"))),
        eligibility=eligibility,
        locations=_locations(_dict(protocol.get("contactsLocationsModule"))),
        investigators=_investigators(_dict(protocol.get("contactsLocationsModule"))),
        references=_references(_dict(protocol.get("referencesModule"))),
        identifiers=_identifiers(ident, sponsor),
        warnings=[*warnings, *criteria_warnings],
        source_format=FORMAT,
        source_hash=digest,
    )


def _eligibility(nct_id: str, module: dict[str, Any], line: int | None) -> tuple[Eligibility, list[DataWarning]]:
    text = _str(module.get("eligibilityCriteria"))
    cohorts, warnings = criteria_cohorts(nct_id, text, line, CRITERIA_FIELD)
    if line is not None:
        # The criteria text is one JSON string on one source line: that line is where each criterion is.
        cohorts = [
            cohort.model_copy(
                update={
                    "inclusion": [c.model_copy(update={"line": line}) for c in cohort.inclusion],
                    "exclusion": [c.model_copy(update={"line": line}) for c in cohort.exclusion],
                }
            )
            for cohort in cohorts
        ]
        warnings = [w.model_copy(update={"line": line}) for w in warnings]
    minimum, maximum = _str(module.get("minimumAge")), _str(module.get("maximumAge"))
    healthy = module.get("healthyVolunteers")
    sex = (_str(module.get("sex")) or "").lower()
    eligibility = Eligibility(
        minimum_age=minimum,
        maximum_age=maximum,
        min_age_years=age_in_years(minimum),
        max_age_years=age_in_years(maximum),
        sex=sex if sex in ("all", "female", "male") else None,
        healthy_volunteers=healthy if isinstance(healthy, bool) else None,
        cohorts=cohorts,
        text=text,
    )
    return eligibility, warnings


def _design(design: dict[str, Any], status: dict[str, Any], eligibility: dict[str, Any]) -> dict[str, str]:
    info = _dict(design.get("designInfo"))
    masking = _dict(info.get("maskingInfo"))
    out: dict[str, str] = {}
    for key, value in (
        ("allocation", info.get("allocation")),
        ("intervention_model", info.get("interventionModel")),
        ("intervention_model_description", info.get("interventionModelDescription")),
        ("primary_purpose", info.get("primaryPurpose")),
        ("observational_model", info.get("observationalModel")),
        ("time_perspective", info.get("timePerspective")),
        ("masking_description", masking.get("maskingDescription")),
        ("sampling_method", eligibility.get("samplingMethod")),
        ("study_population", eligibility.get("studyPopulation")),
        ("why_stopped", status.get("whyStopped")),
    ):
        if text := _str(value):
            out[key] = (humanize_enum(text) or text) if key in _ENUM_DESIGN_FIELDS else text
    if level := _str(masking.get("masking")):
        who = [humanize_enum(w) or w for w in _strs(masking.get("whoMasked"))]
        worded = humanize_enum(level) or level
        out["masking"] = f"{worded} ({', '.join(who)})" if who else worded
    if _dict(design.get("patientRegistry")) or design.get("patientRegistry") is True:
        out["study_type_detail"] = "Patient Registry"
    return out


def _arms(module: dict[str, Any]) -> list[Arm]:
    arms = []
    for group in map(_dict, _list(module.get("armGroups"))):
        if label := _str(group.get("label")):
            arms.append(
                Arm(
                    label=label,
                    type=humanize_enum(_str(group.get("type"))),
                    description=_str(group.get("description")),
                    interventions=_strs(group.get("interventionNames")),
                )
            )
    return arms


def _interventions(module: dict[str, Any]) -> list[Intervention]:
    interventions = []
    for item in map(_dict, _list(module.get("interventions"))):
        if name := _str(item.get("name")):
            interventions.append(
                Intervention(
                    name=name,
                    type=humanize_enum(_str(item.get("type"))),
                    description=_str(item.get("description")),
                    other_names=_strs(item.get("otherNames")),
                    arms=_strs(item.get("armGroupLabels")),
                )
            )
    return interventions


def _outcomes(module: dict[str, Any]) -> list[Outcome]:
    outcomes = []
    for kind in ("primary", "secondary", "other"):
        for item in map(_dict, _list(module.get(f"{kind}Outcomes"))):
            if measure := _str(item.get("measure")):
                outcomes.append(
                    Outcome(
                        kind=kind,
                        measure=measure,
                        time_frame=_str(item.get("timeFrame")),
                        description=_str(item.get("description")),
                    )
                )
    return outcomes


def _locations(module: dict[str, Any]) -> list[Location]:
    locations = []
    for item in map(_dict, _list(module.get("locations"))):
        location = Location(
            facility=_str(item.get("facility")),
            city=_str(item.get("city")),
            state=_str(item.get("state")),
            country=_str(item.get("country")),
            status=normalize_status(_str(item.get("status"))),
        )
        if location != Location():
            locations.append(location)
    return locations


def _investigators(module: dict[str, Any]) -> list[Investigator]:
    people = []
    for item in map(_dict, _list(module.get("overallOfficials"))):
        if name := _str(item.get("name")):
            people.append(
                Investigator(
                    name=name, role=humanize_enum(_str(item.get("role"))), affiliation=_str(item.get("affiliation"))
                )
            )
    for item in map(_dict, _list(module.get("centralContacts"))):
        if name := _str(item.get("name")):
            people.append(Investigator(name=name, role="Central Contact"))
    for site in map(_dict, _list(module.get("locations"))):
        for item in map(_dict, _list(site.get("contacts"))):
            if name := _str(item.get("name")):
                people.append(
                    Investigator(
                        name=name,
                        role=humanize_enum(_str(item.get("role"))) or "Site Contact",
                        affiliation=_str(site.get("facility")),
                    )
                )
    return list(dict.fromkeys(people))


def _responsible_party(party: dict[str, Any]) -> str | None:
    kind = humanize_enum(_str(party.get("type")))
    person = [
        v for f in ("investigatorFullName", "investigatorTitle", "investigatorAffiliation") if (v := _str(party.get(f)))
    ]
    if kind and person:
        return f"{kind}: {', '.join(person)}"
    return kind or (", ".join(person) if person else None)


def _references(module: dict[str, Any]) -> list[Reference]:
    return [
        Reference(citation=citation, pmid=_str(item.get("pmid")), type=_str(item.get("type")))
        for item in map(_dict, _list(module.get("references")))
        if (citation := _str(item.get("citation")))
    ]


def _identifiers(ident: dict[str, Any], sponsor: str | None) -> list[Identifier]:
    identifiers = []
    if org_id := _str(_dict(ident.get("orgStudyIdInfo")).get("id")):
        identifiers.append(Identifier(id=org_id, type="org_study_id", source=sponsor))
    for item in map(_dict, _list(ident.get("secondaryIdInfos"))):
        if value := _str(item.get("id")):
            identifiers.append(
                Identifier(id=value, type=_str(item.get("type")) or "secondary_id", source=_str(item.get("domain")))
            )
    identifiers += [
        Identifier(id=v, type="nct_alias", source="ClinicalTrials.gov") for v in _strs(ident.get("nctIdAliases"))
    ]
    return identifiers
