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

from eligibility import compiled
from eligibility.compiled import Compiled, CompiledCohort
from eligibility.entries import build_entries, entry_fields, entry_kind
from eligibility.facts import PatientFacts
from eligibility.matching import FactIndex, Outcome, evaluate
from eligibility.models import (
    Entry,
    EntryKind,
    FailedCriterion,
    ReviewCriterion,
    TrialVerdict,
    UnknownCriterion,
    VerdictName,
)
from eligibility.questions import question_for  # noqa: F401  (part of this module's API, DESIGN.md)
from ingest.models import Trial

_CACHE: dict[tuple[str, str], tuple[CompiledCohort, ...]] = {}
_BY_OBJECT: dict[int, tuple[Trial, tuple[CompiledCohort, ...]]] = {}  # trials without a source hash
_CACHE_LIMIT = 50_000
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


def _build_static_entries(items: Sequence[Compiled]) -> None:
    """Each criterion's entry for a patient who mentioned none of its facts (`Compiled.static_entry`, False
    when that satisfies it), built for a whole cohort on its first check: one validation per entry kind."""
    pending: dict[EntryKind, tuple[list[Compiled], list[dict[str, object]]]] = {}
    for item in items:
        if item.static_entry is not None:  # shared with a cohort checked before (the record's age and sex)
            continue
        kind = entry_kind(item.criterion.kind, item.static)
        if kind is None:
            item.static_entry = False
            continue
        waiting, fields = pending.setdefault(kind, ([], []))
        waiting.append(item)
        fields.append(entry_fields(kind, item.criterion, item.citation_or_fields, item.static))
    for kind, (waiting, fields) in pending.items():
        for item, entry in zip(waiting, build_entries(kind, fields), strict=True):
            item.static_entry = entry
            if entry.citation is not None:
                item.keep_citation(entry.citation)


def _verdict(trial: Trial, cohort: CompiledCohort, idx: FactIndex, memo: dict[str, Outcome]) -> TrialVerdict:
    failed: list[FailedCriterion] = []
    unknown: list[UnknownCriterion] = []
    review: list[ReviewCriterion] = []
    keys = idx.keys
    for item in cohort.items:
        entry: Entry | None
        if item.deps.isdisjoint(keys):
            if item.static_entry is None:  # the cohort's first check in this process: all its entries at once
                _build_static_entries(cohort.items)
            entry = item.static_entry or None
        else:
            out = memo.get(item.key)
            if out is None:
                out = evaluate(item.rule, idx, item.criterion.kind)
                memo[item.key] = out
            kind = entry_kind(item.criterion.kind, out)
            entry = _entry(kind, item, out) if kind else None
        match entry:
            case FailedCriterion():
                failed.append(entry)
            case UnknownCriterion():
                unknown.append(entry)
            case ReviewCriterion():
                review.append(entry)
    verdict: VerdictName = "ineligible" if failed else "possibly_eligible" if (unknown or review) else "eligible"
    return TrialVerdict(
        trial_id=trial.trial_id,
        cohort=cohort.name,
        verdict=verdict,
        failed=failed,
        unknown=unknown,
        needs_review=review,
        warnings=[w.message for w in trial.warnings],
    )


def check_trial(trial: Trial, facts: PatientFacts, rules: RuleLoader | None = None) -> list[TrialVerdict]:
    """One verdict per cohort of the trial (cohort None for a trial without cohorts).

    `rules`: where ingest stored compiled rules (`RecordStore.compiled_rules`); without it they are parsed.
    """
    if rules is not None:
        load_compiled([trial], rules)
    idx = FactIndex.build(facts)
    return [_verdict(trial, cohort, idx, {}) for cohort in compile_trial(trial)]


def check_trials(trials: Iterable[Trial], facts: PatientFacts, rules: RuleLoader | None = None) -> list[TrialVerdict]:
    """Verdicts for every trial and cohort, in the order of `trials` (`rules` as in `check_trial`)."""
    trials = list(trials)
    idx = FactIndex.build(facts)
    memo: dict[str, Outcome] = {}
    out: list[TrialVerdict] = []
    # Loading and checking allocate many small acyclic objects; a cyclic-GC pass over millions of compiled
    # rules in the middle would cost more than the whole check, so collection waits until the end.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        if rules is not None:
            load_compiled(trials, rules)
        for trial in trials:
            for cohort in compile_trial(trial):
                out.append(_verdict(trial, cohort, idx, memo))
    finally:
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
