"""What the answer chain returns (CONTRACT: Answer)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from eligibility.models import TrialVerdict
from ingest.models import Citation


class NextQuestion(BaseModel):
    """The one question asked next (CONTRACT `next_question`): the fact it would settle, in plain words."""

    model_config = ConfigDict(frozen=True)

    fact: str
    question: str


class Answer(BaseModel):
    model_config = ConfigDict(frozen=True)

    answer: str = Field(description="Markdown shown to the user")
    citations: list[Citation] = Field(default_factory=list)
    eligibility: list[TrialVerdict] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    intent: str | None = Field(default=None, description="What the chain understood the turn to ask")
    backend: str | None = Field(default=None, description="Which generator drafted the answer")
    facts: dict = Field(default_factory=dict, description="The patient profile understood so far (check's facts)")
    next_question: NextQuestion | None = Field(default=None, description="The single most useful question to ask next")
