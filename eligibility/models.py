"""Verdicts of the rule checker, in the shapes of CONTRACT.md (TrialVerdict and its parts)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ingest.models import Citation, Kind

VerdictName = Literal["eligible", "possibly_eligible", "ineligible"]


def you_said(quotes: list[str]) -> str:
    """How a reason quotes the patient: "you said: 'on prednisone 20 mg'" (empty when nothing was quoted)."""
    return "you said: " + "; ".join(f"'{q}'" for q in quotes) if quotes else ""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class FailedCriterion(_Frozen):
    criterion: str = Field(description="Verbatim criterion text")
    kind: Kind
    reason: str = Field(description="Why, in plain words, quoting the patient's words it rests on (\"you said: '…'\")")
    citation: Citation
    patient_said: list[str] = Field(
        default_factory=list, description="The patient's own words the reason rests on, verbatim (the facts' spans)"
    )


class UnknownCriterion(_Frozen):
    criterion: str
    kind: Kind
    needs: list[str] = Field(description="Fact names still needed to decide it")
    citation: Citation | None = None
    patient_said: list[str] = Field(
        default_factory=list,
        description="What the patient did say about it, verbatim (e.g. the drug, when its date is what is missing)",
    )


class ReviewCriterion(_Frozen):
    criterion: str
    kind: Kind
    reason: str = Field(description="Why the checker cannot decide it")
    citation: Citation | None = None


# A criterion's entry in a verdict, and which list it goes to.
Entry = FailedCriterion | UnknownCriterion | ReviewCriterion
EntryKind = Literal["failed", "unknown", "review"]


class TrialVerdict(_Frozen):
    """One verdict per trial and cohort (cohort None for a trial without cohorts)."""

    trial_id: str
    cohort: str | None = None
    verdict: VerdictName
    failed: list[FailedCriterion] = Field(default_factory=list)
    unknown: list[UnknownCriterion] = Field(default_factory=list)
    needs_review: list[ReviewCriterion] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list, description="Data-quality notes of the trial")
