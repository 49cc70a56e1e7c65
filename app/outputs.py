"""The JSON objects the `trialfinder` CLI prints with `--json`, as pydantic models.

`trialfinder schema NAME` prints their JSON Schema, generated from these models (docs/interface.md), and the
tests validate real CLI output against it. Objects may carry more keys than listed here (the interface adds
fields and never renames or drops one), so every model allows extra keys.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.models import Answer
from eligibility.models import TrialVerdict
from ingest.models import Citation, IngestError

VerdictName = Literal["eligible", "possibly_eligible", "ineligible"]


class _Output(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class IngestedTrial(_Output):
    trial_id: str
    title: str
    sections: int = Field(description="Number of sections of the trial (names in section_names)")
    section_names: list[str] = Field(default_factory=list, description="Section keys, in reading order")
    criteria: int = Field(description="Number of atomic eligibility criteria")
    warnings: list[str] = Field(default_factory=list, description="Data-quality notes of the document")
    outcome: Literal["added", "replaced", "unchanged"] | None = None


class IngestResult(_Output):
    """`trialfinder ingest --json` (exit 1 when `errors` is not empty)."""

    trials: list[IngestedTrial]
    chunks: int = Field(description="Total chunks of the trials above")
    errors: list[IngestError]


class TrialRow(_Output):
    trial_id: str
    title: str
    status: str | None
    phase: str | None
    conditions: list[str]


class TrialList(_Output):
    """`trialfinder trials --json`."""

    trials: list[TrialRow]


class CheckResult(_Output):
    """`trialfinder check --json`: the facts read from the patient text and one verdict per trial and cohort."""

    facts: dict[str, Any] = Field(description="The patient facts extracted from the text")
    results: list[TrialVerdict]


class NextQuestion(_Output):
    fact: str = Field(description="The unknown patient fact")
    question: str = Field(description="The question asking for it, in plain words")
    splits: int = Field(description="How many of the listed trials it would decide")


class SearchHit(_Output):
    trial_id: str
    title: str
    status: str | None
    score: float
    verdict: VerdictName
    reasons: list[str]
    citations: list[Citation]


class SearchResult(_Output):
    """`trialfinder search --json`: best first; trials found ineligible after all others."""

    trials: list[SearchHit]
    next_question: NextQuestion | None


class EvalCaseResult(_Output):
    id: str
    passed: bool
    output: dict[str, Any] = Field(description="What ask, check or search --json printed for the case")
    seconds: float


class EvalResults(_Output):
    """`trialfinder eval --out FILE`: the metrics and every case with its output."""

    metrics: dict[str, Any]
    cases: list[EvalCaseResult]


OUTPUTS: dict[str, type[BaseModel]] = {
    "Answer": Answer,
    "TrialVerdict": TrialVerdict,
    "CheckResult": CheckResult,
    "SearchResult": SearchResult,
    "TrialList": TrialList,
    "IngestResult": IngestResult,
    "EvalResults": EvalResults,
}


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one output, by model name."""
    return OUTPUTS[name].model_json_schema(mode="serialization")
