"""Verdict entries: where one criterion's outcome goes in a `TrialVerdict`, and the entry itself.

An entry quotes the criterion, cites its passage and says why (a failed criterion), what is still needed
(an unknown one) or why the checker cannot decide (one for review).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import TypeAdapter

from eligibility.matching import Outcome
from eligibility.models import Entry, EntryKind, FailedCriterion, ReviewCriterion, UnknownCriterion, you_said
from ingest.models import Citation, Criterion

# Quotes of the patient in a reason: a few, each short, so a reason stays one readable line.
MAX_QUOTES = 2
QUOTE_CHARS = 80

# One list validation per entry kind: pydantic builds a list of entries from plain fields in one call at
# about half the cost of a model call each (measured), and a first check builds one for most criteria.
FAILED_LIST: TypeAdapter[list[FailedCriterion]] = TypeAdapter(list[FailedCriterion])
UNKNOWN_LIST: TypeAdapter[list[UnknownCriterion]] = TypeAdapter(list[UnknownCriterion])
REVIEW_LIST: TypeAdapter[list[ReviewCriterion]] = TypeAdapter(list[ReviewCriterion])
_LISTS: dict[
    EntryKind,
    TypeAdapter[list[FailedCriterion]] | TypeAdapter[list[UnknownCriterion]] | TypeAdapter[list[ReviewCriterion]],
] = {"failed": FAILED_LIST, "unknown": UNKNOWN_LIST, "review": REVIEW_LIST}
# The entry kinds in the order of a verdict's lists (failed, unknown, needs_review).
ENTRY_KINDS: tuple[EntryKind, ...] = ("failed", "unknown", "review")


def entry_kind(criterion_kind: str, out: Outcome) -> EntryKind | None:
    """Where an outcome goes in the verdict: "failed", "unknown", "review" or None (satisfied)."""
    if out.value is None:
        return "unknown" if out.needs else "review"
    violated = (out.value is False) if criterion_kind == "inclusion" else (out.value is True)
    return "failed" if violated else None


def _quoted(said: tuple[str, ...]) -> list[str]:
    return [q if len(q) <= QUOTE_CHARS else q[: QUOTE_CHARS - 1].rstrip() + "…" for q in said[:MAX_QUOTES]]


def entry_fields(kind: EntryKind, c: Criterion, citation: Citation | dict[str, str], out: Outcome) -> dict[str, object]:
    """The fields of criterion `c`'s entry of `kind` for outcome `out` (`citation` as a model or its fields)."""
    quotes = _quoted(out.said)
    if kind == "unknown":
        return {
            "criterion": c.text,
            "kind": c.kind,
            "needs": list(out.needs),
            "citation": citation,
            "patient_said": quotes,
        }
    if kind == "review":
        reason = out.reason or "the checker cannot decide this criterion"
        return {"criterion": c.text, "kind": c.kind, "citation": citation, "reason": reason}
    reason = out.reason or ("inclusion criterion not met" if c.kind == "inclusion" else "exclusion applies")
    if quotes:
        reason = f"{reason} ({you_said(quotes)})"
    return {"criterion": c.text, "kind": c.kind, "reason": reason, "citation": citation, "patient_said": quotes}


def build_entries(kind: EntryKind, fields: Sequence[dict[str, object]]) -> Sequence[Entry]:
    """The entries of `kind` from their fields (`entry_fields`), validated in one call."""
    return _LISTS[kind].validate_python(fields)
