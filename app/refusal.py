"""Honest refusals: when no passage of a trial states what was asked, say so.

A question about a trial asks for some property; for a few properties the records often say nothing
(payment, results, follow-up length, placebo, visits...). `app/data/asked_properties.json` lists, per
property, how a question asks for it and how a passage would state it. When a question asks for one of
them and none of the trial's passages states it, the answer says the documents don't say it and only
then offers the nearest related passage, labelled as such. Literature references never count: a paper
cited by the record is not a statement about this trial.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ingest.models import Chunk

DATA = Path(__file__).parent / "data" / "asked_properties.json"
NOT_ABOUT_THIS_TRIAL = frozenset({"references"})


class AskedProperty(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    says: str
    asked: list[str]
    stated: list[str]
    not_when: list[str] = []
    sections_not: list[str] = ["references"]
    nearest: list[str] = Field(
        default=[], description="Sections whose passage comes closest when none states it (follow-up: outcomes)"
    )

    @field_validator("asked", "stated", "not_when")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for p in patterns:
            re.compile(p)
        return patterns

    def is_asked(self, question: str) -> bool:
        return any(re.search(p, question, re.IGNORECASE) for p in self.asked) and not any(
            re.search(p, question, re.IGNORECASE) for p in self.not_when
        )

    def stated_in(self, text: str) -> bool:
        return any(re.search(p, text, re.IGNORECASE) for p in self.stated)


class _Registry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    properties: list[AskedProperty]


@cache
def properties() -> tuple[AskedProperty, ...]:
    return tuple(_Registry.model_validate(json.loads(DATA.read_text(encoding="utf-8"))).properties)


def asked_property(question: str) -> AskedProperty | None:
    """The often-unstated property the question asks for, if any."""
    return next((p for p in properties() if p.is_asked(question)), None)


def stating_chunks(prop: AskedProperty, chunks: list[Chunk]) -> list[Chunk]:
    """The trial's passages that state `prop` (literature references excluded)."""
    return [c for c in chunks if not c.section.startswith(tuple(prop.sections_not)) and prop.stated_in(c.text)]


def not_stated(trial_label: str, prop: AskedProperty) -> str:
    return f"{trial_label}'s documents don't say {prop.says}."


NEAREST_LABEL = "Nearest related passage (it does not answer the question):"
