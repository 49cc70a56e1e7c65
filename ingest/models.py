"""The typed trial record every package works with.

A `Trial` is what a parser makes of one registry document; `Section`s and `Chunk`s are what the index
stores and what answers cite. Everything here is frozen: a parsed trial is a fact about a document.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["inclusion", "exclusion"]
Sex = Literal["all", "female", "male"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Citation(Frozen):
    """A pointer to the exact passage a statement comes from (CONTRACT: Citation)."""

    id: str = Field(description="Chunk id, e.g. NCT03171194:eligibility.exclusion:2")
    trial_id: str
    section: str = Field(description="Section key, e.g. eligibility.exclusion or arms")
    text: str = Field(description="The cited passage, verbatim")


class DataWarning(Frozen):
    """A data-quality problem noticed in the source document, kept so answers can say so."""

    code: Literal[
        "swapped_headings",
        "lost_characters",
        "numbering_gap",
        "empty_section",
        "missing_field",
        "unparsed_text",
    ]
    message: str
    line: int | None = None


class Criterion(Frozen):
    """One atomic eligibility criterion, verbatim, with where it sits."""

    id: str = Field(description="Stable chunk id: {trial}:eligibility[.{cohort}].{kind}:{n}")
    trial_id: str
    cohort: str | None = Field(default=None, description="Cohort name (e.g. 'RA', 'SLE'); None = whole trial")
    kind: Kind = Field(description="Inclusion or exclusion after data-quality correction")
    heading_kind: Kind = Field(description="The kind the source's heading claimed")
    text: str = Field(description="Verbatim criterion text (markdown escapes removed)")
    line: int | None = Field(default=None, description="1-based line in the source document")
    number: str | None = Field(default=None, description="The list label as written, e.g. '4' or '(2)'")


class Cohort(Frozen):
    """A group of participants with its own inclusion and exclusion lists."""

    name: str | None = None
    inclusion: list[Criterion] = Field(default_factory=list)
    exclusion: list[Criterion] = Field(default_factory=list)


class Eligibility(Frozen):
    minimum_age: str | None = Field(default=None, description="As written, e.g. '18 Years'")
    maximum_age: str | None = None
    min_age_years: float | None = None
    max_age_years: float | None = None
    sex: Sex | None = None
    healthy_volunteers: bool | None = None
    cohorts: list[Cohort] = Field(default_factory=list)
    text: str | None = Field(default=None, description="The raw criteria text as found in the document")

    def criteria(self) -> list[Criterion]:
        """All criteria of all cohorts, inclusion before exclusion within a cohort."""
        return [c for cohort in self.cohorts for c in (*cohort.inclusion, *cohort.exclusion)]


class Arm(Frozen):
    label: str
    type: str | None = None
    description: str | None = None
    interventions: list[str] = Field(default_factory=list)


class Intervention(Frozen):
    name: str
    type: str | None = None
    description: str | None = Field(default=None, description="Dose, route and schedule as written")
    other_names: list[str] = Field(default_factory=list)
    arms: list[str] = Field(default_factory=list)


class Outcome(Frozen):
    kind: Literal["primary", "secondary", "other"]
    measure: str
    time_frame: str | None = None
    description: str | None = None


class Location(Frozen):
    facility: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    status: str | None = None


class Investigator(Frozen):
    name: str
    role: str | None = None
    affiliation: str | None = None


class Reference(Frozen):
    citation: str
    pmid: str | None = None
    type: str | None = None


class Identifier(Frozen):
    id: str
    type: str | None = None
    source: str | None = None


class RelatedTrial(Frozen):
    """Another trial a page links to; never content of this trial and never indexed as one."""

    trial_id: str
    title: str | None = None


class Trial(Frozen):
    trial_id: str = Field(description="Registry id, e.g. NCT03171194 or KCT0004337")
    registry: str = Field(description="'ClinicalTrials.gov' or 'CRIS' (KCT) etc.")
    title: str
    official_title: str | None = None
    acronym: str | None = None
    status: str | None = Field(default=None, description="Normalized upper snake case, e.g. RECRUITING")
    phase: str | None = Field(default=None, description="e.g. PHASE1, PHASE1/PHASE2, NA")
    study_type: str | None = None
    enrollment: int | None = None
    enrollment_type: Literal["planned", "actual"] | None = None
    start_date: str | None = None
    completion_date: str | None = None
    last_updated: str | None = None
    sponsor: str | None = None
    collaborators: list[str] = Field(default_factory=list)
    responsible_party: str | None = None
    conditions: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    summary: str | None = None
    description: str | None = None
    design: dict[str, str] = Field(default_factory=dict, description="allocation, model, purpose, masking...")
    arms: list[Arm] = Field(default_factory=list)
    interventions: list[Intervention] = Field(default_factory=list)
    outcomes: list[Outcome] = Field(default_factory=list)
    eligibility: Eligibility = Field(default_factory=Eligibility)
    locations: list[Location] = Field(default_factory=list)
    investigators: list[Investigator] = Field(default_factory=list)
    references: list[Reference] = Field(default_factory=list)
    identifiers: list[Identifier] = Field(default_factory=list)
    related: list[RelatedTrial] = Field(default_factory=list)
    warnings: list[DataWarning] = Field(default_factory=list)
    source_path: str | None = None
    source_format: str | None = None
    source_hash: str | None = Field(default=None, description="sha256 of the source document bytes")

    @property
    def registry_url(self) -> str | None:
        """The public registry page of this trial, shown to users as a link."""
        if self.trial_id.startswith("NCT"):
            return f"https://clinicaltrials.gov/study/{self.trial_id}"
        if self.trial_id.startswith("KCT"):
            return f"https://cris.nih.go.kr/cris/search/detailSearch.do?search_lang=E&search_page=M&seq_group={self.trial_id}"
        return None


class Chunk(Frozen):
    """One citable passage in the index."""

    id: str
    trial_id: str
    section: str = Field(
        description="Section key: summary, description, arms, interventions, outcomes, "
        "eligibility.inclusion, eligibility.exclusion, eligibility.facts, locations, "
        "sponsor, status, design, references, conditions, investigators"
    )
    title: str = Field(description="Human section title, e.g. 'Study groups'")
    text: str
    cohort: str | None = None
    kind: Kind | None = None
    line: int | None = None

    def citation(self) -> Citation:
        return Citation(id=self.id, trial_id=self.trial_id, section=self.section, text=self.text)


class IngestError(Frozen):
    """A document that could not be ingested (CONTRACT: ingest errors)."""

    path: str
    line: int | None = None
    message: str


class ParseError(Exception):
    """Raised by a parser for a document it cannot read; carries the line where it stopped."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
