"""What the answer chain returns (CONTRACT: Answer)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from eligibility.models import TrialVerdict
from ingest.models import Citation


class Answer(BaseModel):
    model_config = ConfigDict(frozen=True)

    answer: str = Field(description="Markdown shown to the user")
    citations: list[Citation] = Field(default_factory=list)
    eligibility: list[TrialVerdict] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    intent: str | None = Field(default=None, description="What the chain understood the turn to ask")
    backend: str | None = Field(default=None, description="Which generator drafted the answer")
    next_question: str | None = Field(default=None, description="The single most useful question to ask next")
