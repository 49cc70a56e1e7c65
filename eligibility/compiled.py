"""Criteria compiled into rules once, at ingest, and stored beside the trial record.

Parsing a trial's criteria takes milliseconds (the grammar, the registry, scope and context rules); checking
a patient against the parsed rules takes microseconds. So orchestration (app/indexer.py) compiles every
trial when it is ingested and the record store keeps the result as an opaque JSON payload; the checker
(`eligibility.evaluate`) loads it instead of parsing again.

A payload names the `COMPILER_VERSION` that wrote it: a fingerprint of every source and data file of this
package and of the ingest models and passages it reads. Any change to the parser, the registry, the
matcher or the verdict building makes older payloads stale, and `load` refuses them, so a stale payload is
recompiled on read, never used.

Each compiled criterion keeps what the checker needs without the rule itself: the facts its outcome depends
on and its outcome for a patient who said nothing. The rule is decoded from its JSON only when a patient
states one of those facts, which keeps a first (cold) check of many trials close to a warm one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

import orjson
from pydantic import TypeAdapter

from eligibility.entries import ENTRY_KINDS, FAILED_LIST, REVIEW_LIST, UNKNOWN_LIST, entry_fields, entry_kind
from eligibility.matching import Outcome, dependencies, empty_index, evaluate
from eligibility.models import EntryKind, FailedCriterion, ReviewCriterion, UnknownCriterion
from eligibility.parsing import parse_rule, studied_diseases
from eligibility.rules import AgeRule, NeedsReview, Rule, SexRule
from ingest.models import Citation, Criterion, Trial
from ingest.passages import criteria_text_citation, facts_citation

_PACKAGE = Path(__file__).resolve().parent
# What decides a compiled payload: this package (code and data) and the ingest models and passages it reads.
_SOURCES = (_PACKAGE, _PACKAGE.parent / "ingest" / "models.py", _PACKAGE.parent / "ingest" / "passages.py")
_DATA_SUFFIXES = frozenset({".py", ".json", ".yaml", ".yml", ".toml"})


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for source in _SOURCES:
        files = sorted(source.rglob("*")) if source.is_dir() else [source]
        for file in files:
            if file.suffix in _DATA_SUFFIXES and "__pycache__" not in file.parts and file.is_file():
                digest.update(str(file.relative_to(_PACKAGE.parent)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


COMPILER_VERSION = _fingerprint()
_RULE: TypeAdapter[Rule] = TypeAdapter(Rule)


class Compiled:
    """One criterion with its dependencies and empty-patient outcome; the rule and the citation are built on
    first use (most criteria of a check need neither: see the module docstring)."""

    __slots__ = ("criterion", "key", "deps", "static", "_citation", "_rule", "_rule_json")

    def __init__(
        self,
        criterion: Criterion,
        deps: frozenset[str],
        static: Outcome,
        *,
        citation: Citation | None = None,
        rule: Rule | None = None,
        rule_json: str | None = None,
    ) -> None:
        if rule_json is None:
            if rule is None:
                raise ValueError("a compiled criterion needs its rule or the rule's JSON")
            rule_json = rule.model_dump_json()
        self.criterion = criterion
        self.key = criterion.kind + rule_json  # identical rules share outcomes within one check
        self.deps = deps  # patient facts the outcome depends on (`matching.dependencies`)
        self.static = static  # the outcome for a patient who mentioned none of `deps`
        self._citation = citation  # None: the criterion's own passage (`_criterion_citation`)
        self._rule = rule
        self._rule_json = rule_json

    @property
    def rule(self) -> Rule:
        if self._rule is None:
            self._rule = _RULE.validate_json(self._rule_json)
        return self._rule

    @property
    def rule_json(self) -> str:
        return self._rule_json

    @property
    def citation(self) -> Citation:
        if self._citation is None:
            self._citation = _criterion_citation(self.criterion)
        return self._citation

    @property
    def cites_itself(self) -> bool:
        """The citation is the criterion's own passage (so the stored form need not repeat it)."""
        return self._citation is None or self._citation == _criterion_citation(self.criterion)


def _citation_fields(c: Criterion) -> dict[str, str]:
    return {"id": c.id, "trial_id": c.trial_id, "section": f"eligibility.{c.kind}", "text": c.text}


def _criterion_citation(c: Criterion) -> Citation:
    return Citation.model_validate(_citation_fields(c))


E = TypeVar("E", FailedCriterion, UnknownCriterion, ReviewCriterion)


@dataclass(frozen=True, slots=True)
class Static(Generic[E]):
    """A cohort's entries of one kind for a patient who said nothing, with their criteria's positions."""

    positions: tuple[int, ...]
    entries: tuple[E, ...]


@dataclass(frozen=True, slots=True)
class EmptyVerdict:
    """A cohort's verdict entries for a patient who said nothing: a check starts from them and replaces
    those of the criteria the patient's facts touched."""

    failed: Static[FailedCriterion]
    unknown: Static[UnknownCriterion]
    review: Static[ReviewCriterion]


@dataclass(frozen=True, slots=True)
class Summary:
    """What a check needs of a cohort before it reads any criterion: which criteria each patient fact
    touches, and where each criterion's empty-patient outcome puts it (failed, unknown, review positions).
    A cohort none of whose criteria a patient's facts touch has its verdict from this alone."""

    by_fact: dict[str, tuple[int, ...]]
    positions: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]

    def touched(self, facts: AbstractSet[str]) -> set[int]:
        """Positions of the criteria whose outcome depends on one of the patient's `facts`."""
        return {p for fact in self.by_fact.keys() & facts for p in self.by_fact[fact]}

    @classmethod
    def of(cls, items: Sequence[Compiled]) -> Summary:
        by_fact: dict[str, list[int]] = {}
        kinds: dict[EntryKind, list[int]] = {k: [] for k in ENTRY_KINDS}
        for position, item in enumerate(items):
            # Sorted: a set's order changes with each process's string hashing, and a payload must not.
            for fact in sorted(item.deps):
                by_fact.setdefault(fact, []).append(position)
            kind = entry_kind(item.criterion.kind, item.static)
            if kind is not None:
                kinds[kind].append(position)
        return cls(
            by_fact={fact: tuple(p) for fact, p in by_fact.items()},
            positions=(tuple(kinds["failed"]), tuple(kinds["unknown"]), tuple(kinds["review"])),
        )


class CompiledCohort:
    """A cohort's criteria compiled, in order, with their `summary`.

    From a stored payload (`loads`) each criterion is built on first use (`item`), and the `empty` verdict
    entries on the first verdict whose entries are read: a first check of many trials builds only the
    criteria the patient's facts touch.
    """

    __slots__ = ("name", "summary", "_items", "_stored", "_empty")

    def __init__(self, name: str | None, items: Sequence[Compiled], summary: Summary | None = None) -> None:
        self.name = name
        self._items: list[Compiled | None] = list(items)
        self._stored: _Stored | None = None
        self.summary = summary if summary is not None else Summary.of(items)
        self._empty: EmptyVerdict | None = None

    @classmethod
    def stored(cls, name: str | None, summary: Summary, stored: _Stored) -> CompiledCohort:
        """A cohort loaded from its payload: no criterion built yet."""
        cohort = cls(name, (), summary)
        cohort._items = [None] * len(stored.items)
        cohort._stored = stored
        return cohort

    def __len__(self) -> int:
        return len(self._items)

    def item(self, position: int) -> Compiled:
        """The criterion at `position`, built from the stored payload on first use."""
        item = self._items[position]
        if item is None:
            item = self._items[position] = cast("_Stored", self._stored).build(position)
        return item

    def described(self, position: int) -> tuple[Criterion, Citation | None, Outcome]:
        """The criterion at `position`, its citation (None: its own passage) and its empty-patient outcome,
        without building it (what its empty-patient entry needs)."""
        item = self._items[position]
        if item is None:
            return cast("_Stored", self._stored).describe(position)
        return item.criterion, item._citation, item.static

    @property
    def items(self) -> tuple[Compiled, ...]:
        """Every criterion, in order (builds those not built yet)."""
        return tuple(self.item(p) for p in range(len(self._items)))

    @property
    def empty(self) -> EmptyVerdict:
        if self._empty is None:
            self._empty = _empty_verdict(self)
        return self._empty


def _empty_verdict(cohort: CompiledCohort) -> EmptyVerdict:
    # Built for every cohort whose reasons are read, so the loop builds plain fields inline (an empty patient
    # has no words to quote) and validates them in one call per kind (`entries`): half the cost of building
    # each entry alone.
    listed: list[list[dict[str, object]]] = []
    for kind, positions in zip(ENTRY_KINDS, cohort.summary.positions, strict=True):
        fields: list[dict[str, object]] = []
        for position in positions:
            c, citation, out = cohort.described(position)
            cite = citation or _citation_fields(c)
            if kind == "unknown":
                fields.append({"criterion": c.text, "kind": c.kind, "needs": list(out.needs), "citation": cite})
            else:
                fields.append(entry_fields(kind, c, cite, out))
        listed.append(fields)
    failed, unknown, review = cohort.summary.positions
    return EmptyVerdict(
        failed=Static(failed, tuple(FAILED_LIST.validate_python(listed[0])) if failed else ()),
        unknown=Static(unknown, tuple(UNKNOWN_LIST.validate_python(listed[1])) if unknown else ()),
        review=Static(review, tuple(REVIEW_LIST.validate_python(listed[2])) if review else ()),
    )


def compile_criterion(criterion: Criterion, rule: Rule, citation: Citation | None = None) -> Compiled:
    """A parsed criterion with its dependencies and its outcome for a patient who said nothing; `citation`
    None cites the criterion's own passage."""
    static = evaluate(rule, empty_index(), criterion.kind)
    return Compiled(criterion, dependencies(rule), static, citation=citation, rule=rule)


def _structured(trial: Trial) -> list[Compiled]:
    """The record's structured minimum/maximum age and sex, as inclusion criteria citing the facts passage."""
    e = trial.eligibility
    cite = facts_citation(trial)
    lines = cite.text.splitlines()
    # Each rule's criterion text is the lines of the facts passage it reads (adjacent, so still a verbatim
    # span of the cited passage): a failed maximum age shows "Maximum age: 65 Years", not the whole block.
    rules: list[tuple[Rule, tuple[str, ...]]] = []
    if e.min_age_years is not None or e.max_age_years is not None:
        rules.append((AgeRule(min=e.min_age_years, max=e.max_age_years), ("Minimum age:", "Maximum age:")))
    if e.sex in ("female", "male"):
        rules.append((SexRule(sex=e.sex), ("Sex:",)))
    out = []
    for rule, labels in rules:
        text = "\n".join(line for line in lines if line.startswith(labels)) or cite.text
        crit = Criterion(id=cite.id, trial_id=trial.trial_id, kind="inclusion", heading_kind="inclusion", text=text)
        out.append(compile_criterion(crit, rule, cite))
    return out


def compile_trial(trial: Trial) -> tuple[CompiledCohort, ...]:
    """The trial's cohorts with every criterion parsed into a rule (no cache: see `evaluate.compile_trial`)."""
    structured = _structured(trial)
    studied = studied_diseases(list(trial.conditions), trial.title)
    cohorts = []
    for cohort in trial.eligibility.cohorts or []:
        items = list(structured)
        for c in (*cohort.inclusion, *cohort.exclusion):
            items.append(compile_criterion(c, parse_rule(c, studied)))
        cohorts.append(CompiledCohort(cohort.name, tuple(items)))
    if not cohorts:
        # No criteria list: never call anyone eligible on age and sex alone.
        text = (trial.eligibility.text or "").strip()
        cite = (criteria_text_citation(trial) if text else None) or facts_citation(trial)
        crit = Criterion(
            id=cite.id,
            trial_id=trial.trial_id,
            kind="inclusion",
            heading_kind="inclusion",
            text=text or "No eligibility criteria are given in this record.",
        )
        reason = "the criteria could not be split into items" if text else "the record gives no eligibility criteria"
        rule = NeedsReview(text=crit.text, reason=reason)
        cohorts.append(CompiledCohort(None, (*structured, compile_criterion(crit, rule, cite))))
    return tuple(cohorts)


# ---------------------------------------------------------------- the stored form
#
# A payload names the trial's own criteria by position instead of repeating them: the criteria and their
# passages are already in the record it is stored with. Only the criteria the compiler makes up (the
# structured age/sex fields, a missing criteria list) are written out. Per criterion: where it is, the rule's
# JSON, its dependencies and its empty-patient outcome. Per cohort also its `Summary` and how many of the
# record's own criteria it holds, so that loading builds no criterion until a check needs it.


def dumps(trial: Trial, cohorts: Sequence[CompiledCohort]) -> str:
    """The payload the record store keeps for `trial` (JSON; rules stay JSON strings until needed)."""
    out = []
    for cohort, own in zip(cohorts, _own_criteria(trial, len(cohorts)), strict=True):
        position = {id(c): n for n, c in enumerate(own)}
        made_up: list[list[dict[str, Any]]] = []
        items: list[list[Any]] = []
        refs = 0
        for item in cohort.items:
            ref = position.get(id(item.criterion))
            if ref is None or not item.cites_itself:
                made_up.append([item.criterion.model_dump(mode="json"), item.citation.model_dump(mode="json")])
                ref = -len(made_up)
            else:
                refs += 1
            s = item.static
            items.append([ref, item.rule_json, sorted(item.deps), [s.value, s.reason, list(s.needs), s.review]])
        summary = cohort.summary
        out.append(
            {
                "name": cohort.name,
                "own": refs,
                "by_fact": summary.by_fact,
                "positions": summary.positions,
                "made_up": made_up,
                "items": items,
            }
        )
    return json.dumps(
        {"compiler": COMPILER_VERSION, "trial_id": trial.trial_id, "source_hash": trial.source_hash, "cohorts": out},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _own_criteria(trial: Trial, count: int) -> list[tuple[Criterion, ...]]:
    """Per compiled cohort, the trial's own criteria in compiling order (none for the made-up cohort)."""
    own = [(*c.inclusion, *c.exclusion) for c in trial.eligibility.cohorts or []]
    return own if len(own) == count else [() for _ in range(count)]


def compile_payload(trial: Trial) -> str:
    """Compile `trial` and return its stored form: what ingest keeps beside the record."""
    return dumps(trial, compile_trial(trial))


def compile_records(records: list[str]) -> dict[str, str]:
    """The stored forms of trial records given as JSON, by trial id: what an ingest's compiling process
    runs (it imports only this package and the ingest models)."""
    out = {}
    for record in records:
        trial = Trial.model_validate_json(record)
        out[trial.trial_id] = compile_payload(trial)
    return out


def is_current(payload: str) -> bool:
    """True when `payload` was written by this compiler (cheap: reads only the version field)."""
    return payload.startswith(f'{{"compiler":"{COMPILER_VERSION}",')


# The same few dependency sets and empty-patient outcomes recur across trials: one object each.
_DEPS: dict[tuple[str, ...], frozenset[str]] = {}
_OUTCOMES: dict[tuple[bool | None, str, tuple[str, ...], bool], Outcome] = {}
_OUTCOMES_LIMIT = 200_000


def loads(trial: Trial, payload: str) -> tuple[CompiledCohort, ...] | None:
    """The compiled cohorts of `trial` from its stored payload, or None when the payload is stale (another
    compiler version) or does not fit this trial (another trial, document or criteria list): the caller then
    compiles afresh.

    Criteria are built on first use (`CompiledCohort.item`), rules validated when decoded.
    """
    if not is_current(payload):
        return None
    data = orjson.loads(payload)
    if data["trial_id"] != trial.trial_id or data["source_hash"] != trial.source_hash or not trial.source_hash:
        return None
    stored = data["cohorts"]
    if len(stored) != max(len(trial.eligibility.cohorts or []), 1):
        return None
    cohorts = []
    for cohort, own in zip(stored, _own_criteria(trial, len(stored)), strict=True):
        # The record's own criteria come in order, each once (`dumps`): a payload holding another number of
        # them was compiled from another criteria list.
        if cohort["own"] != len(own):
            return None
        failed, unknown, review = cohort["positions"]
        by_fact = {fact: tuple(positions) for fact, positions in cohort["by_fact"].items()}
        summary = Summary(by_fact, (tuple(failed), tuple(unknown), tuple(review)))
        cohorts.append(CompiledCohort.stored(cohort["name"], summary, _Stored(cohort["items"], cohort["made_up"], own)))
    return tuple(cohorts)


class _Stored:
    """One cohort's criteria as its payload holds them (`dumps`), built one at a time."""

    __slots__ = ("items", "made_up", "own")

    def __init__(self, items: list[list[Any]], made_up: list[list[Any]], own: tuple[Criterion, ...]) -> None:
        self.items = items
        self.made_up = made_up
        self.own = own

    def describe(self, position: int) -> tuple[Criterion, Citation | None, Outcome]:
        """The criterion at `position`, its citation (None: its own passage) and its empty-patient outcome."""
        ref, _, _, (value, reason, needs, review) = self.items[position]
        if ref < 0:
            crit, cite = self.made_up[-ref - 1]
            criterion, citation = Criterion.model_validate(crit), Citation.model_validate(cite)
        else:
            criterion, citation = self.own[ref], None
        fields = (value, reason, tuple(needs), review)
        static = _OUTCOMES.get(fields)
        if static is None:
            if len(_OUTCOMES) >= _OUTCOMES_LIMIT:
                _OUTCOMES.clear()
            static = _OUTCOMES[fields] = Outcome(*fields)
        return criterion, citation, static

    def build(self, position: int) -> Compiled:
        """The criterion at `position`, compiled."""
        criterion, citation, static = self.describe(position)
        _, rule_json, deps, _ = self.items[position]
        key = tuple(deps)
        frozen = _DEPS.get(key)
        if frozen is None:
            frozen = _DEPS[key] = frozenset(key)
        return Compiled(criterion, frozen, static, citation=citation, rule_json=rule_json)
