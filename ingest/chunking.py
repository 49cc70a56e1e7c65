"""Cut a parsed `Trial` into citable `Chunk`s: every section of the trial, each criterion on its own.

Chunk texts are document text: field values as the parser read them, with at most a short label
("Time frame:") where a bare value would not say what it is. Long prose (summary, description) is cut on
sentence boundaries into verbatim slices of about 500-800 characters. Ids are `{trial_id}:{section}:{n}`
(n 1-based within the section), except criteria, whose chunk id is the criterion id; both are stable across
re-ingests of the same document. `trial.related` (other trials a page links to) is never chunked.
"""

from __future__ import annotations

import re

from ingest.models import Chunk, Criterion, Trial
from ingest.passages import ELIGIBILITY_SECTION, FACTS_SECTION, MAX_CHARS, facts_text, split_sentences
from ingest.passages import join_lines as _lines
from ingest.passages import labelled as _labelled

SECTION_TITLES = {
    "summary": "Brief summary",
    "description": "Detailed description",
    "conditions": "Conditions and keywords",
    "status": "Status and enrollment",
    "design": "Study design",
    "arms": "Study groups",
    "interventions": "Interventions",
    "outcomes": "Outcomes",
    "eligibility": "Eligibility criteria",
    "eligibility.facts": "Eligibility · age, sex, healthy volunteers",
    "locations": "Locations",
    "sponsor": "Sponsor and collaborators",
    "investigators": "Investigators",
    "references": "References",
    "identifiers": "Other identifiers",
}


def chunk_trial(trial: Trial) -> list[Chunk]:
    """All citable chunks of `trial`, in reading order; criteria chunks carry `id == criterion.id`."""
    chunks: list[Chunk] = []
    counters: dict[str, int] = {}

    def add(section: str, text: str | None, title: str | None = None, **extra) -> None:
        if not text or not text.strip():
            return
        counters[section] = counters.get(section, 0) + 1
        chunks.append(
            Chunk(
                id=f"{trial.trial_id}:{section}:{counters[section]}",
                trial_id=trial.trial_id,
                section=section,
                title=title or SECTION_TITLES[section],
                text=text.strip(),
                **extra,
            )
        )

    for piece in split_sentences(trial.summary):
        add("summary", piece)
    for piece in split_sentences(trial.description):
        add("description", piece)
    add("conditions", _conditions_text(trial))
    add("status", _status_text(trial))
    for piece in _long_field(_design_text(trial)):
        add("design", piece)
    for arm in trial.arms:
        for piece in _long_field(_arm_text(arm)):
            add("arms", piece)
    for intervention in trial.interventions:
        for piece in _long_field(_intervention_text(intervention)):
            add("interventions", piece)
    for outcome in trial.outcomes:
        add("outcomes", _outcome_text(outcome), title=f"{outcome.kind.capitalize()} outcome")
    chunks.extend(_criteria_chunks(trial))
    if not trial.eligibility.criteria():
        # The criteria could not be split into items: keep the raw text citable rather than lose it.
        for piece in split_sentences(trial.eligibility.text):
            add(ELIGIBILITY_SECTION, piece)
    add(FACTS_SECTION, facts_text(trial))
    for piece in _grouped(_location_line(loc) for loc in trial.locations):
        add("locations", piece)
    add("sponsor", _sponsor_text(trial))
    for piece in _grouped(_investigator_line(person) for person in trial.investigators):
        add("investigators", piece)
    for reference in trial.references:
        add("references", reference.citation + (f" PMID: {reference.pmid}" if reference.pmid else ""))
    for piece in _grouped(_identifier_line(identifier) for identifier in trial.identifiers):
        add("identifiers", piece)
    return chunks


def criterion_title(criterion: Criterion) -> str:
    """Human title of a criterion chunk, e.g. 'Eligibility · exclusion (SLE)'."""
    cohort = f" ({criterion.cohort})" if criterion.cohort else ""
    return f"Eligibility · {criterion.kind}{cohort}"


def _criteria_chunks(trial: Trial) -> list[Chunk]:
    return [
        Chunk(
            id=criterion.id,
            trial_id=trial.trial_id,
            section=f"eligibility.{criterion.kind}",
            title=criterion_title(criterion),
            text=criterion.text.strip(),
            cohort=criterion.cohort,
            kind=criterion.kind,
            line=criterion.line,
        )
        for criterion in trial.eligibility.criteria()
        if criterion.text.strip()
    ]


def _humanize(key: str) -> str:
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", key).replace("_", " ").strip()
    return words[:1].upper() + words[1:].lower()


def _conditions_text(trial: Trial) -> str:
    return _lines(
        _labelled("Conditions", "; ".join(trial.conditions)),
        _labelled("Keywords", "; ".join(trial.keywords)),
    )


def _status_text(trial: Trial) -> str:
    enrollment = None
    if trial.enrollment is not None:
        enrollment = f"{trial.enrollment}" + (f" ({trial.enrollment_type})" if trial.enrollment_type else "")
    return _lines(
        _labelled("Title", trial.title),
        _labelled("Official title", trial.official_title if trial.official_title != trial.title else None),
        _labelled("Acronym", trial.acronym),
        _labelled("Status", trial.status),
        _labelled("Phase", trial.phase),
        _labelled("Study type", trial.study_type),
        _labelled("Enrollment", enrollment),
        _labelled("Start date", trial.start_date),
        _labelled("Completion date", trial.completion_date),
        _labelled("Last updated", trial.last_updated),
    )


def _design_text(trial: Trial) -> str:
    return _lines(*(_labelled(_humanize(key), value) for key, value in trial.design.items()))


def _arm_text(arm) -> str:
    head = arm.label + (f" ({arm.type})" if arm.type else "")
    return _lines(
        head,
        arm.description,
        _labelled("Interventions", "; ".join(arm.interventions)),
    )


def _intervention_text(intervention) -> str:
    head = (f"{intervention.type}: " if intervention.type else "") + intervention.name
    return _lines(
        head,
        intervention.description,
        _labelled("Other names", "; ".join(intervention.other_names)),
        _labelled("Arms", "; ".join(intervention.arms)),
    )


def _outcome_text(outcome) -> str:
    return _lines(
        outcome.measure,
        outcome.description,
        _labelled("Time frame", outcome.time_frame),
    )


def _sponsor_text(trial: Trial) -> str:
    return _lines(
        _labelled("Sponsor", trial.sponsor),
        _labelled("Collaborators", "; ".join(trial.collaborators)),
        _labelled("Responsible party", trial.responsible_party),
    )


def _location_line(location) -> str:
    place = ", ".join(part for part in (location.facility, location.city, location.state, location.country) if part)
    return place + (f" ({location.status})" if location.status and place else "")


def _investigator_line(person) -> str:
    return ", ".join(part for part in (person.name, person.role, person.affiliation) if part)


_IDENTIFIER_KINDS = {
    "org_study_id": "Organization study ID",
    "secondary_id": "Secondary ID",
    "nct_alias": "NCT alias",
}


def _identifier_line(identifier) -> str:
    """'Organization study ID: 00061632': the kind as a label (parsers put it in `type` or `source`),
    whatever else the record says about the id in parentheses."""
    known = next((v for v in (identifier.type, identifier.source) if v in _IDENTIFIER_KINDS), None)
    label = _IDENTIFIER_KINDS[known] if known else _humanize(identifier.type) if identifier.type else "Other identifier"
    extra = [v for v in (identifier.type, identifier.source) if v and v != known and _humanize(v) != label]
    return f"{label}: {identifier.id}" + (f" ({'; '.join(extra)})" if extra else "")


def _grouped(lines, limit: int = MAX_CHARS) -> list[str]:
    """Join one-line items into chunks of at most `limit` characters (an item is never split)."""
    groups: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        if not line:
            continue
        if current and size + len(line) + 1 > limit:
            groups.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        groups.append("\n".join(current))
    return groups


def _long_field(text: str) -> list[str]:
    return split_sentences(text) if text else []
