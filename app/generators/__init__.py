"""Answer drafting backends behind one small interface.

A generator turns the retrieved passages into a `Draft`: a list of statements, each carrying the chunk ids
it claims to come from. It never decides what is shown: the gate (`app/verify.py`) checks every
statement against its cited passages and every eligibility claim against the rule checker first.
"""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from app.intent import Intent
from ingest.models import Chunk, Trial
from trialfinder.settings import Settings

NOT_FOUND = "I don't have that in the trial documents."


class Passage(BaseModel):
    """A retrieved chunk as shown to a generator, numbered from 1 in the order given."""

    model_config = ConfigDict(frozen=True)

    n: int
    chunk: Chunk
    score: float = 0.0


class Statement(BaseModel):
    """One sentence of a draft and the chunk ids it cites.

    kind: `fact` (must be supported by its citations), `notice` (a fixed honesty sentence such as
    NOT_FOUND, carries no fact), `heading` (a trial label made from the record, shown in bold).
    """

    model_config = ConfigDict(frozen=True)

    text: str
    citations: list[str] = Field(default_factory=list)
    kind: Literal["fact", "notice", "heading"] = "fact"
    style: Literal["paragraph", "bullet", "heading"] = "paragraph"
    trial_id: str | None = None


class Draft(BaseModel):
    """What a generator proposes; the gate decides what of it is shown."""

    model_config = ConfigDict(frozen=True)

    statements: list[Statement] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    backend: str
    raw: str | None = Field(default=None, description="The model's text before parsing (LLM backends)")


class Generator(Protocol):
    """Drafts an answer from numbered passages and the referenced trial records."""

    name: str

    def draft(self, question: str, intent: Intent, passages: list[Passage], trials: dict[str, Trial]) -> Draft:
        """Return the proposed statements for `question`; every fact must cite passages it came from."""
        ...


def make_generator(settings: Settings) -> Generator:
    """The generator chosen by `settings.backend` (extractive, openai or ollama)."""
    if settings.backend == "extractive":
        from app.generators.extractive import ExtractiveGenerator

        return ExtractiveGenerator()
    from app.generators.llm import LLMGenerator, chat_model

    return LLMGenerator(chat_model(settings), name=settings.backend)
