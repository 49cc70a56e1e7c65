"""Verdicts of the rule checker, in the shapes of CONTRACT.md (TrialVerdict and its parts)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_serializer

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


# A verdict's failed, unknown and for-review entries.
VerdictEntries = tuple[list[FailedCriterion], list[UnknownCriterion], list[ReviewCriterion]]
_DEFERRED = frozenset({"failed", "unknown", "needs_review"})


class TrialVerdict(_Frozen):
    """One verdict per trial and cohort (cohort None for a trial without cohorts).

    The checker decides a verdict from a few criteria and leaves its entry lists to be built when first read
    (`deferred`): a search checks hundreds of trials and shows the reasons of ten. Reading, comparing,
    copying or serializing a verdict sees the same fields either way.
    """

    trial_id: str
    cohort: str | None = None
    verdict: VerdictName
    failed: list[FailedCriterion] = Field(default_factory=list)
    unknown: list[UnknownCriterion] = Field(default_factory=list)
    needs_review: list[ReviewCriterion] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list, description="Data-quality notes of the trial")

    _entries: Callable[[], VerdictEntries] | None = PrivateAttr(default=None)

    @classmethod
    def deferred(
        cls,
        *,
        trial_id: str,
        cohort: str | None,
        verdict: VerdictName,
        warnings: list[str],
        entries: Callable[[], VerdictEntries],
    ) -> TrialVerdict:
        """A verdict whose entry lists `entries()` builds on first read. Not validated: the checker builds
        its parts from validated models."""
        v = cls.__new__(cls)
        # What `model_construct` does, without filling the deferred fields with their defaults.
        object.__setattr__(
            v, "__dict__", {"trial_id": trial_id, "cohort": cohort, "verdict": verdict, "warnings": warnings}
        )
        object.__setattr__(v, "__pydantic_fields_set__", set(cls.model_fields))
        object.__setattr__(v, "__pydantic_extra__", None)
        object.__setattr__(v, "__pydantic_private__", {"_entries": entries})
        return v

    def build_reasons(self) -> TrialVerdict:
        """Build the entry lists now (a deferred verdict builds them on first read); returns the verdict."""
        self._fill()
        return self

    def _fill(self) -> None:
        private = self.__pydantic_private__
        build = private.get("_entries") if private else None
        if build is not None:
            failed, unknown, review = build()
            values = {**self.__dict__, "failed": failed, "unknown": unknown, "needs_review": review}
            # In field order, as validation would have put them (repr follows it).
            object.__setattr__(self, "__dict__", {name: values[name] for name in type(self).model_fields})
            private["_entries"] = None  # type: ignore[index]

    if not TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any:
            if name in _DEFERRED:
                self._fill()
                return self.__dict__[name]
            return super().__getattr__(name)

    # Unannotated on purpose: pydantic takes a serializer's return annotation as the output's JSON Schema,
    # and the schema must stay the fields' (`trialfinder schema TrialVerdict`).
    @model_serializer(mode="wrap")
    def _serialize(self, handler):  # type: ignore[no-untyped-def]
        self._fill()
        return handler(self)

    def __eq__(self, other: object) -> bool:
        for v in (self, other):
            if isinstance(v, TrialVerdict):
                v._fill()
        return super().__eq__(other)

    def __repr_args__(self) -> Any:
        self._fill()
        return super().__repr_args__()

    def __copy__(self) -> TrialVerdict:
        self._fill()
        return super().__copy__()

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> TrialVerdict:
        self._fill()
        return super().__deepcopy__(memo)

    def __getstate__(self) -> dict[Any, Any]:
        self._fill()
        return super().__getstate__()

    def __iter__(self) -> Any:
        self._fill()
        return super().__iter__()
