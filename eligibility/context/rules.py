"""ConText cue rules as data: medspaCy's English rule set plus the project's additions, validated at load.

medspaCy itself is not a dependency: it pins spaCy 3.7 and numpy 1.26, which would downgrade the stack
(measured in docs/DESIGN.md). Its rule file is read as data, in its own schema, by `matcher.py`.
"""

from __future__ import annotations

import json
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

DATA = Path(__file__).parent / "data"
MEDSPACY_RULES = DATA / "medspacy_context_rules.json"
PROJECT_RULES = DATA / "project_context_rules.json"


class Category(StrEnum):
    NEGATED_EXISTENCE = "NEGATED_EXISTENCE"
    POSSIBLE_EXISTENCE = "POSSIBLE_EXISTENCE"
    HYPOTHETICAL = "HYPOTHETICAL"
    HISTORICAL = "HISTORICAL"
    FAMILY = "FAMILY"
    AFFIRMED_EXISTENCE = "AFFIRMED_EXISTENCE"  # "HIV positive": cancels a negation in the same clause


class Direction(StrEnum):
    FORWARD = "FORWARD"
    BACKWARD = "BACKWARD"
    BIDIRECTIONAL = "BIDIRECTIONAL"
    TERMINATE = "TERMINATE"
    PSEUDO = "PSEUDO"


class TokenSpec(BaseModel):
    """One token of a spaCy-style pattern: the subset medspaCy's rules use (LOWER, LOWER IN, OP '?')."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)
    words: frozenset[str] = Field(alias="LOWER")
    optional: bool = Field(default=False, alias="OP")

    @field_validator("words", mode="before")
    @classmethod
    def _words(cls, v: object) -> frozenset[str]:
        if isinstance(v, str):
            return frozenset({v.lower()})
        if isinstance(v, dict) and set(v) == {"IN"}:
            return frozenset(w.lower() for w in v["IN"])
        raise ValueError(f"LOWER must be a word or {{'IN': [words]}}, got {v!r}")

    @field_validator("optional", mode="before")
    @classmethod
    def _op(cls, v: object) -> bool:
        if v in ("?", False, None):
            return v == "?"
        raise ValueError(f"only OP '?' is supported, got {v!r}")


class ContextRule(BaseModel):
    model_config = ConfigDict(frozen=True)
    category: Category
    literal: str = Field(min_length=1)
    direction: Direction
    pattern: tuple[TokenSpec, ...] | None = None
    # Tokens between the cue and the mention it may modify; None: the whole clause (medspaCy's max_scope).
    max_scope: int | None = Field(default=None, ge=0)


class Disabled(BaseModel):
    model_config = ConfigDict(frozen=True)
    literal: str
    reason: str = Field(min_length=1)


class _RuleFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    context_rules: tuple[ContextRule, ...]
    disabled: tuple[Disabled, ...] = ()


def _read(path: Path) -> _RuleFile:
    try:
        return _RuleFile.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"{path}: invalid context rules: {exc}. Fix the file (schema: medspaCy context_rules.json)."
        ) from exc


@lru_cache(maxsize=1)
def load_rules() -> tuple[ContextRule, ...]:
    """medspaCy's rules minus the project's disabled literals, plus the project's rules."""
    base = _read(MEDSPACY_RULES)
    extra = _read(PROJECT_RULES)
    known = {r.literal for r in base.context_rules}
    unknown = [d.literal for d in extra.disabled if d.literal not in known]
    if unknown:
        raise ValueError(f"{PROJECT_RULES}: 'disabled' names literals medspaCy does not have: {unknown}")
    off = {d.literal for d in extra.disabled}
    return tuple(r for r in base.context_rules if r.literal not in off) + extra.context_rules
