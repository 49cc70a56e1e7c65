"""Typed eligibility rules (a pydantic discriminated union).

A rule is a *predicate about the patient* that mirrors the criterion's wording: for an inclusion it must
hold, for an exclusion it must not. The parser that turns criterion text into rules is
`eligibility.parsing.parse_rule`; evaluation is `eligibility.evaluate`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ingest.models import Criterion

Op = Literal["<", "<=", ">", ">="]
Timing = Literal["ever", "current", "window", "started", "unspecified"]


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True)


class AgeRule(_Rule):
    kind: Literal["age"] = "age"
    min: float | None = None
    max: float | None = None
    min_inclusive: bool = True
    max_inclusive: bool = True


class SexRule(_Rule):
    kind: Literal["sex"] = "sex"
    sex: Literal["all", "female", "male"]


class DiagnosisRule(_Rule):
    """The patient has one of `names` (a primary disease), minus `except_names`."""

    kind: Literal["diagnosis"] = "diagnosis"
    names: list[str]
    except_names: list[str] = Field(default_factory=list)
    qualifier: str | None = Field(default=None, description="Classification system, e.g. SLICC, ACR 2010")
    label: str
    closed_world: bool = Field(
        default=False,
        description="A patient who names another primary disease is taken not to have this one (cohort membership)",
    )


class ConditionRule(_Rule):
    """The patient has (or had, per `timing`) one of `names`: infections, cancers, procedures, pregnancy…"""

    kind: Literal["condition"] = "condition"
    names: list[str]
    except_names: list[str] = Field(default_factory=list, description="Exceptions, e.g. basal cell carcinoma")
    timing: Timing = "unspecified"
    window_days: float | None = None
    label: str


class LabRule(_Rule):
    """A lab or measurement compared with a threshold in the canonical unit (units.py)."""

    kind: Literal["lab"] = "lab"
    analyte: str
    op: Op
    value: float = Field(description="Threshold in the canonical unit, or a multiple of the ULN when uln")
    uln: bool = False
    text: str = Field(description="The threshold as written, e.g. '<30,000/mm3'")


class ScoreRule(_Rule):
    kind: Literal["score"] = "score"
    score: str
    min: float | None = None
    max: float | None = None
    min_inclusive: bool = True
    max_inclusive: bool = True
    text: str


class SerologyRule(_Rule):
    kind: Literal["serology"] = "serology"
    test: str
    positive: bool = True


class ExposureRule(_Rule):
    """The patient received one of `drugs` / a drug of `classes` in the time frame of `timing`."""

    kind: Literal["exposure"] = "exposure"
    drugs: list[str] = Field(default_factory=list)
    classes: list[str] = Field(default_factory=list)
    except_classes: list[str] = Field(default_factory=list)
    timing: Timing = "ever"
    window_days: float | None = None
    min_duration_days: float | None = None
    label: str


class DoseRule(_Rule):
    """Daily dose of a drug class (prednisone equivalents for corticosteroids), optionally per kg."""

    kind: Literal["dose"] = "dose"
    drug_class: str = "corticosteroid"
    op: Op
    value: float
    per_kg: bool = False
    window_days: float | None = None
    text: str


class DurationRule(_Rule):
    """How long the disease (or its symptoms) has lasted."""

    kind: Literal["duration"] = "duration"
    subject: Literal["disease", "symptoms"] = "disease"
    names: list[str] = Field(default_factory=list)
    min_days: float | None = None
    max_days: float | None = None
    min_inclusive: bool = True
    max_inclusive: bool = True
    text: str


class AllOf(_Rule):
    kind: Literal["all_of"] = "all_of"
    rules: list[Rule]


class AnyOf(_Rule):
    kind: Literal["any_of"] = "any_of"
    rules: list[Rule]


class Not(_Rule):
    kind: Literal["not"] = "not"
    rule: Rule


class Implies(_Rule):
    """Applies only when `condition` holds ("subjects with JDM must …")."""

    kind: Literal["implies"] = "implies"
    condition: Rule
    then: Rule


class Qualified(_Rule):
    """A decided rule whose wording adds a judgement ("severe", "unless related to the disease").

    Outcomes listed in `review_when` become needs_review instead of being trusted, except that a
    condition the patient states with the same `qualifier` ("uncontrolled HIV") decides it.
    """

    kind: Literal["qualified"] = "qualified"
    rule: Rule
    note: str
    review_when: list[bool] = Field(default_factory=lambda: [True])
    qualifier: str | None = Field(
        default=None,
        description="The qualifying word a patient can state, "
        "lower-case (severe, uncontrolled, significant…); None for other notes",
    )


class NeedsReview(_Rule):
    kind: Literal["needs_review"] = "needs_review"
    text: str
    reason: str
    subjective: bool = Field(
        default=False,
        description="A judgement by design (investigator's opinion, inadequate response), not a gap of the parser",
    )


class AssumedConsent(_Rule):
    """Consent, willingness, ability to comply, or a field stating no requirement ("Not specified"):
    assumed met, never a failure."""

    kind: Literal["assumed_consent"] = "assumed_consent"
    text: str


Rule = Annotated[
    AgeRule
    | SexRule
    | DiagnosisRule
    | ConditionRule
    | LabRule
    | ScoreRule
    | SerologyRule
    | ExposureRule
    | DoseRule
    | DurationRule
    | AllOf
    | AnyOf
    | Not
    | Implies
    | Qualified
    | NeedsReview
    | AssumedConsent,
    Field(discriminator="kind"),
]

for _model in (AllOf, AnyOf, Not, Implies, Qualified):
    _model.model_rebuild()

# The leaves that can decide a criterion for some patient (review and consent leaves cannot).
DecidableLeaf = (
    AgeRule
    | SexRule
    | DiagnosisRule
    | ConditionRule
    | LabRule
    | ScoreRule
    | SerologyRule
    | ExposureRule
    | DoseRule
    | DurationRule
)


def is_decidable(rule: Rule) -> bool:
    """True when the rule can decide the criterion for some patient (it is not review/consent only)."""
    match rule:
        case AllOf() | AnyOf():
            return any(is_decidable(r) for r in rule.rules)
        case Not() | Qualified():
            return is_decidable(rule.rule)
        case Implies():
            return is_decidable(rule.condition)
    return isinstance(rule, DecidableLeaf)


def parse_rule(criterion: Criterion) -> Rule:
    """The typed rule of one criterion (deterministic, never raises). See `eligibility.parsing`."""
    # Imported here: the parser builds these models, so importing it at module level would be circular.
    from eligibility.parsing import parse_rule as _parse

    return _parse(criterion)
