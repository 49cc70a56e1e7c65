"""Eval case formats (CONTRACT.md: question-answer, ranking, eligibility) and their loader.

A case's type is told by its keys: `judged` makes a ranking case, `trial` + `expect` an eligibility case,
`question` a question-answer case. Unknown keys are refused, so a typo ("answer_al") fails loudly
instead of silently weakening a case. Lines starting with `#` and blank lines are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class _Case(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    category: str | None = Field(
        default=None,
        description="Free label used to group metrics "
        "(fact, find, compare, definition, eligibility, injection, not_in_corpus).",
    )
    source: str | None = Field(default=None, description="Which dataset file the case came from (set by the loader).")


class QACase(_Case):
    """Question-answer case: runs `ask`; passes on citations, answer strings and `forbid_eligible`."""

    question: str = Field(min_length=1)
    patient: str | None = None
    trials: list[str] = Field(default_factory=list, description="Trial ids that must be cited.")
    answer_any: list[str] | None = None
    answer_all: list[str] | None = None
    forbid_eligible: str | None = None
    sections: list[str] | None = Field(
        default=None,
        description="Section keys (prefixes) where the answer lies; used by retrieval section recall only.",
    )

    @field_validator("answer_any", "answer_all")
    @classmethod
    def _non_empty_strings(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (not value or any(not s.strip() for s in value)):
            raise ValueError("must be a non-empty list of non-empty strings")
        return value


class RankingCase(_Case):
    """Ranking case: runs `search --limit 10` with the patient and/or query."""

    patient: str | None = None
    query: str | None = None
    judged: dict[str, Literal[0, 1, 2]]

    @model_validator(mode="after")
    def _needs_input(self) -> RankingCase:
        if not (self.patient or self.query):
            raise ValueError("a ranking case needs a 'patient' or a 'query'")
        return self


class EligibilityCase(_Case):
    """Eligibility case: runs `check` for one trial; passes on the best verdict across its cohorts."""

    trial: str = Field(min_length=1)
    patient: str
    expect: Literal["eligible", "possibly_eligible", "ineligible", "not_ineligible"]
    reason_any: list[str] | None = None


class TurnExpect(BaseModel):
    """What one dialogue turn's Answer must show (CONTRACT: dialogue case)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    trials: list[str] = Field(default_factory=list, description="Trial ids that must be cited.")
    answer_any: list[str] | None = None
    answer_all: list[str] | None = None
    answer_none: list[str] | None = None
    verdicts: dict[str, Literal["eligible", "possibly_eligible", "ineligible", "not_ineligible"]] = Field(
        default_factory=dict
    )
    facts: dict = Field(default_factory=dict, description="Profile facts that must hold after the turn.")
    question_none: list[str] | None = None


class DialogueTurn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    user: str = Field(min_length=1)
    patient: str | None = None
    expect: TurnExpect | None = None


class DialogueCase(_Case):
    """Dialogue case: the turns run in order through one conversation, as the chat and `ask --conversation` do."""

    turns: list[DialogueTurn] = Field(min_length=1)


Case = QACase | RankingCase | EligibilityCase | DialogueCase

_TYPES: dict[str, type[QACase] | type[RankingCase] | type[EligibilityCase] | type[DialogueCase]] = {
    "question-answer": QACase,
    "ranking": RankingCase,
    "eligibility": EligibilityCase,
    "dialogue": DialogueCase,
}


class CaseError(ValueError):
    """A dataset line that is not a valid case; the message names file, line and field."""

    def __init__(self, path: str, line: int, message: str):
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line


def case_type(data: dict) -> str | None:
    """The case type told by its keys, or None when no type fits."""
    if "turns" in data:
        return "dialogue"
    if "judged" in data:
        return "ranking"
    if "trial" in data and "expect" in data:
        return "eligibility"
    if "question" in data:
        return "question-answer"
    return None


def allowed_keys(model: type[_Case]) -> list[str]:
    """The keys a case of this model may have (for error messages)."""
    return sorted(name for name in model.model_fields if name != "source")


def parse_case(data: object, path: str, line: int) -> Case:
    """Validate one decoded JSON line as a case; raises `CaseError` naming file, line and field."""
    if not isinstance(data, dict):
        raise CaseError(path, line, f"expected a JSON object, got {type(data).__name__}")
    kind = case_type(data)
    if kind is None:
        raise CaseError(
            path,
            line,
            "cannot tell the case type: a question-answer case needs 'question', "
            "a ranking case 'judged', an eligibility case 'trial' and 'expect', a dialogue case 'turns'",
        )
    model = _TYPES[kind]
    unknown = sorted(set(data) - set(allowed_keys(model)))
    if unknown:
        raise CaseError(path, line, f"unknown key(s) {unknown} in a {kind} case; allowed keys: {allowed_keys(model)}")
    try:
        return model.model_validate({**data, "source": Path(path).name})
    except ValidationError as exc:
        problems = "; ".join(
            f"field '{'.'.join(str(p) for p in err['loc']) or '(case)'}': {err['msg']}" for err in exc.errors()
        )
        case_id = data.get("id", "?")
        raise CaseError(path, line, f"invalid {kind} case {case_id!r}: {problems}") from None


def _read_lines(path: Path) -> list[tuple[int, Case]]:
    """Every case of a JSONL dataset with its line number; raises `CaseError` at the first bad line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseError(str(path), 0, f"cannot read the dataset: {exc}") from None
    numbered: list[tuple[int, Case]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise CaseError(str(path), number, f"not valid JSON ({exc.msg} at column {exc.colno})") from None
        numbered.append((number, parse_case(data, str(path), number)))
    return numbered


def load_datasets(paths: Sequence[str | Path]) -> list[Case]:
    """Load one or more JSONL datasets; ids must be unique within and across them."""
    cases: list[Case] = []
    origin: dict[str, str] = {}
    for path in map(Path, paths):
        for number, case in _read_lines(path):
            if case.id in origin:
                raise CaseError(str(path), number, f"field 'id': duplicate id {case.id!r} (also at {origin[case.id]})")
            origin[case.id] = f"{path}:{number}"
            cases.append(case)
    return cases


def load_cases(path: str | Path) -> list[Case]:
    """Read one JSONL dataset (see `load_datasets`)."""
    return load_datasets([path])
