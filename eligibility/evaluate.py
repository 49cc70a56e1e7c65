"""Trial x patient -> one `TrialVerdict` per cohort (CONTRACT verdict rules).

Rules come compiled (`eligibility.compiled`): from this process's cache, from the payload ingest stored
beside the trial (through a `RuleLoader`), or parsed afresh. A criterion is satisfied, violated, unknown
(with the facts it needs) or needs review; the cohort is `eligible` only when every criterion is satisfied,
`ineligible` when one is violated, else `possibly_eligible`.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from operator import itemgetter

from eligibility import compiled
from eligibility.compiled import Compiled, CompiledCohort, E, Static
from eligibility.entries import ENTRY_KINDS, build_entries, entry_fields, entry_kind
from eligibility.facts import PatientFacts
from eligibility.matching import FactIndex, Outcome, evaluate
from eligibility.models import (
    Entry,
    EntryKind,
    FailedCriterion,
    ReviewCriterion,
    TrialVerdict,
    UnknownCriterion,
    VerdictEntries,
    VerdictName,
)
from eligibility.questions import question_for  # noqa: F401  (part of this module's API, DESIGN.md)
from ingest.models import Trial

_CACHE: dict[tuple[str, str], tuple[CompiledCohort, ...]] = {}
_BY_OBJECT: dict[int, tuple[Trial, tuple[CompiledCohort, ...]]] = {}  # trials without a source hash
_CACHE_LIMIT = 50_000
# A batch check that caches this many trials' rules leaves everything it holds out of garbage collections.
FREEZE_AFTER = 1_000
# Verdict entries are frozen: one object per (criterion, outcome).
_ENTRIES: dict[tuple[EntryKind, str, str, Outcome], Entry] = {}

# Stored compiled payloads of trials by id, as the record store gives them (`RecordStore.compiled_rules`).
RuleLoader = Callable[[list[str]], Mapping[str, str]]


def _cached(trial: Trial) -> tuple[CompiledCohort, ...] | None:
    if trial.source_hash:
        return _CACHE.get((trial.trial_id, trial.source_hash))
    # Keyed by identity; the entry keeps the trial alive so its id cannot be reused meanwhile.
    pair = _BY_OBJECT.get(id(trial))
    return pair[1] if pair is not None and pair[0] is trial else None


def _remember(trial: Trial, result: tuple[CompiledCohort, ...]) -> None:
    if len(_CACHE) + len(_BY_OBJECT) >= _CACHE_LIMIT:
        _CACHE.clear()
        _BY_OBJECT.clear()
    if trial.source_hash:
        _CACHE[(trial.trial_id, trial.source_hash)] = result
    else:
        _BY_OBJECT[id(trial)] = (trial, result)


def compile_trial(trial: Trial, payload: str | None = None) -> tuple[CompiledCohort, ...]:
    """The trial's compiled cohorts: from this process's cache, else from its stored `payload` when that is
    current (`compiled.loads`), else parsed afresh. Cached by trial id and source hash."""
    hit = _cached(trial)
    if hit is not None:
        return hit
    result = compiled.loads(trial, payload) if payload is not None else None
    if result is None:
        result = compiled.compile_trial(trial)
    _remember(trial, result)
    return result


def clear_cache() -> None:
    """Forget every compiled trial of this process: the next check loads or parses them again (a cold start)."""
    _CACHE.clear()
    _BY_OBJECT.clear()
    _ENTRIES.clear()


def load_compiled(trials: Sequence[Trial], rules: RuleLoader) -> None:
    """Load the stored compiled rules of the `trials` not yet in this process's cache, in one read."""
    missing = [t for t in trials if t.source_hash and _cached(t) is None]
    if not missing:
        return
    payloads = rules([t.trial_id for t in missing])
    for trial in missing:
        compile_trial(trial, payloads.get(trial.trial_id))


def _entry(kind: EntryKind, item: Compiled, out: Outcome) -> Entry:
    key = (kind, item.criterion.id, item.criterion.text, out)
    hit = _ENTRIES.get(key)
    if hit is None:
        hit = _build_entry(kind, item, out)
        if len(_ENTRIES) >= 4 * _CACHE_LIMIT:
            _ENTRIES.clear()
        _ENTRIES[key] = hit
    return hit


def _build_entry(kind: EntryKind, item: Compiled, out: Outcome) -> Entry:
    return build_entries(kind, [entry_fields(kind, item.criterion, item.citation, out)])[0]


def _merged(static: Static[E], touched: set[int], new: list[tuple[int, E]]) -> list[E]:
    """The empty-patient entries of one kind with those of the `touched` criteria replaced by their `new`
    ones (position, entry), in criterion order."""
    if not new and touched.isdisjoint(static.positions):
        return list(static.entries)
    kept = [(p, e) for p, e in zip(static.positions, static.entries, strict=True) if p not in touched]
    kept.extend(new)
    kept.sort(key=itemgetter(0))
    return [e for _, e in kept]


# A criterion the patient's facts touched: its position, where its outcome puts it, the criterion, the outcome.
Touched = tuple[int, EntryKind, Compiled, Outcome]


def _entries(cohort: CompiledCohort, touched: set[int], decided: list[Touched]) -> VerdictEntries:
    """The verdict's entry lists: the cohort's empty-patient entries with the `touched` criteria's replaced."""
    failed: list[tuple[int, FailedCriterion]] = []
    unknown: list[tuple[int, UnknownCriterion]] = []
    review: list[tuple[int, ReviewCriterion]] = []
    for position, kind, item, out in decided:
        match _entry(kind, item, out):
            case FailedCriterion() as entry:
                failed.append((position, entry))
            case UnknownCriterion() as entry:
                unknown.append((position, entry))
            case ReviewCriterion() as entry:
                review.append((position, entry))
    empty = cohort.empty
    return (
        _merged(empty.failed, touched, failed),
        _merged(empty.unknown, touched, unknown),
        _merged(empty.review, touched, review),
    )


def _verdict(trial: Trial, cohort: CompiledCohort, idx: FactIndex, memo: dict[str, Outcome]) -> TrialVerdict:
    """The cohort's verdict: its empty-patient outcomes, with the criteria that depend on a fact the patient
    stated evaluated for this patient. The verdict is decided here; its entry lists are built when first read
    (`TrialVerdict.deferred`)."""
    summary = cohort.summary
    touched = summary.touched(idx.keys)
    decided: list[Touched] = []
    present: dict[EntryKind, bool] = dict.fromkeys(ENTRY_KINDS, False)
    for position in touched:
        item = cohort.item(position)
        out = memo.get(item.key)
        if out is None:
            out = evaluate(item.rule, idx, item.criterion.kind)
            memo[item.key] = out
        kind = entry_kind(item.criterion.kind, out)
        if kind is not None:
            decided.append((position, kind, item, out))
            present[kind] = True
    for static_kind, positions in zip(ENTRY_KINDS, summary.positions, strict=True):
        if not present[static_kind] and any(p not in touched for p in positions):
            present[static_kind] = True
    verdict: VerdictName = (
        "ineligible"
        if present["failed"]
        else "possibly_eligible"
        if (present["unknown"] or present["review"])
        else "eligible"
    )
    return TrialVerdict.deferred(
        trial_id=trial.trial_id,
        cohort=cohort.name,
        verdict=verdict,
        warnings=[w.message for w in trial.warnings],
        entries=partial(_entries, cohort, touched, decided),
    )


def check_trial(trial: Trial, facts: PatientFacts, rules: RuleLoader | None = None) -> list[TrialVerdict]:
    """One verdict per cohort of the trial (cohort None for a trial without cohorts).

    `rules`: where ingest stored compiled rules (`RecordStore.compiled_rules`); without it they are parsed.
    """
    if rules is not None:
        load_compiled([trial], rules)
    idx = FactIndex.build(facts)
    return [_verdict(trial, cohort, idx, {}) for cohort in compile_trial(trial)]


def check_trials(
    trials: Iterable[Trial], facts: PatientFacts, rules: RuleLoader | None = None, *, reasons: bool = False
) -> list[TrialVerdict]:
    """Verdicts for every trial and cohort, in the order of `trials` (`rules` as in `check_trial`).

    `reasons`: build every verdict's entry lists now, for a caller that reads them all (`check --json`);
    otherwise each verdict builds them when first read. Built here, they are built with garbage collection
    paused, as the rules are: read afterwards one by one, the allocations trigger full collections (on the
    archive 1.4-2.1 s of reading instead of 0.5 s).
    """
    trials = list(trials)
    idx = FactIndex.build(facts)
    memo: dict[str, Outcome] = {}
    out: list[TrialVerdict] = []
    # Loading and checking allocate many small acyclic objects; a cyclic-GC pass over millions of compiled
    # rules in the middle would cost more than the whole check, so collection waits until the end.
    was_enabled = gc.isenabled()
    gc.disable()
    cached = len(_CACHE) + len(_BY_OBJECT)
    try:
        if rules is not None:
            load_compiled(trials, rules)
        for trial in trials:
            for cohort in compile_trial(trial):
                out.append(_verdict(trial, cohort, idx, memo))
        if reasons:
            for verdict in out:
                verdict.build_reasons()
    finally:
        if len(_CACHE) + len(_BY_OBJECT) - cached >= FREEZE_AFTER:
            # The rules just cached live as long as the cache. Reading the reasons of this many verdicts next
            # allocates ~10 objects per criterion, and each full collection it triggers would walk them all:
            # on 1,500 archive trials that made reading every reason 2x slower than building it. Frozen, they
            # are left out of collections (and still freed by reference counting when the cache drops them).
            # Only big batches (`check` of an index, evals): a chat or a search caches a few trials at a time
            # and never freezes the garbage of a running server with them.
            gc.freeze()
        if was_enabled:
            gc.enable()
    return out


# Facts every person knows and that settle a criterion outright: asked before any other fact a trial needs.
FIRST_ASKED = ("age", "sex")


def rank_missing_facts(verdicts: list[TrialVerdict]) -> list[tuple[str, int]]:
    """Unknown facts with the number of (not already ineligible) verdicts that need them, best first:
    age and sex first when any verdict needs them, then the fact most verdicts need."""
    counts: Counter[str] = Counter()
    for v in verdicts:
        if v.verdict == "ineligible":
            continue
        needs = {n for u in v.unknown for n in u.needs}
        counts.update(needs)
    first = {name: i for i, name in enumerate(FIRST_ASKED)}
    return sorted(counts.items(), key=lambda kv: (first.get(kv[0], len(first)), -kv[1], kv[0]))
