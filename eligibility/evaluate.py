"""Trial x patient -> one `TrialVerdict` per cohort (CONTRACT verdict rules).

Rules are compiled once per trial (cached by trial id + source hash). A criterion is satisfied,
violated, unknown (with the facts it needs) or needs review; the cohort is `eligible` only when every
criterion is satisfied, `ineligible` when one is violated, else `possibly_eligible`.
"""

from __future__ import annotations

import gc
from collections import Counter
from dataclasses import dataclass

from eligibility.facts import PatientFacts
from eligibility.matching import FactIndex, Outcome, dependencies, empty_index, evaluate
from eligibility.models import FailedCriterion, ReviewCriterion, TrialVerdict, UnknownCriterion
from eligibility.parsing import parse_rule, studied_diseases
from eligibility.questions import question_for  # noqa: F401  (part of this module's API, DESIGN.md)
from eligibility.rules import AgeRule, NeedsReview, SexRule
from ingest.models import Citation, Criterion, Trial
from ingest.passages import criteria_text_citation, facts_citation


@dataclass(frozen=True)
class Compiled:
    """One criterion with its rule and citation, ready to evaluate."""

    criterion: Criterion
    rule: object
    citation: Citation
    key: str  # identical rules share outcomes within one check
    deps: frozenset  # patient facts the outcome depends on
    static: Outcome  # the outcome when the patient mentioned none of `deps`
    static_entry: tuple[str, object] | None = None  # its verdict entry, built once ("failed", FailedCriterion)…


@dataclass(frozen=True)
class CompiledCohort:
    name: str | None
    items: tuple[Compiled, ...]


_CACHE: dict[tuple[str, str], tuple[CompiledCohort, ...]] = {}
_BY_OBJECT: dict[int, tuple[Trial, tuple[CompiledCohort, ...]]] = {}  # trials without a source hash
_CACHE_LIMIT = 50_000
_ENTRIES: dict[tuple, object] = {}  # verdict entries are frozen: one object per (criterion, outcome)


def _compiled(c: Criterion, rule, citation: Citation) -> Compiled:
    static = evaluate(rule, empty_index(), c.kind)
    item = Compiled(c, rule, citation, c.kind + rule.model_dump_json(), dependencies(rule), static)
    kind = _entry_kind(c.kind, static)
    return Compiled(
        c, rule, citation, item.key, item.deps, static, (kind, _build_entry(kind, item, static)) if kind else None
    )


def _entry_kind(criterion_kind: str, out: Outcome) -> str | None:
    """Where an outcome goes in the verdict: "failed", "unknown", "review" or None (satisfied)."""
    if out.value is None:
        return "unknown" if out.needs else "review"
    violated = (out.value is False) if criterion_kind == "inclusion" else (out.value is True)
    return "failed" if violated else None


def _structured(trial: Trial) -> list[Compiled]:
    e = trial.eligibility
    out = []
    cite = None
    if e.min_age_years is not None or e.max_age_years is not None:
        cite = facts_citation(trial)
        rule = AgeRule(min=e.min_age_years, max=e.max_age_years)
        crit = Criterion(
            id=cite.id, trial_id=trial.trial_id, kind="inclusion", heading_kind="inclusion", text=cite.text
        )
        out.append(_compiled(crit, rule, cite))
    if e.sex in ("female", "male"):
        cite = cite or facts_citation(trial)
        rule = SexRule(sex=e.sex)
        crit = Criterion(
            id=cite.id, trial_id=trial.trial_id, kind="inclusion", heading_kind="inclusion", text=cite.text
        )
        out.append(_compiled(crit, rule, cite))
    return out


def compile_trial(trial: Trial) -> tuple[CompiledCohort, ...]:
    """The trial's cohorts with parsed rules (cached by trial id and source hash)."""
    if trial.source_hash:
        hit = _CACHE.get((trial.trial_id, trial.source_hash))
    else:
        # Keyed by identity; the entry keeps the trial alive so its id cannot be reused meanwhile.
        pair = _BY_OBJECT.get(id(trial))
        hit = pair[1] if pair is not None and pair[0] is trial else None
    if hit is not None:
        return hit
    structured = _structured(trial)
    studied = studied_diseases(list(trial.conditions), trial.title)
    cohorts = []
    for cohort in trial.eligibility.cohorts or []:
        items = list(structured)
        for c in (*cohort.inclusion, *cohort.exclusion):
            rule = parse_rule(c, studied)
            section = f"eligibility.{c.kind}"
            items.append(_compiled(c, rule, Citation(id=c.id, trial_id=trial.trial_id, section=section, text=c.text)))
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
        cohorts.append(CompiledCohort(None, tuple(structured) + (_compiled(crit, rule, cite),)))
    result = tuple(cohorts)
    if len(_CACHE) + len(_BY_OBJECT) >= _CACHE_LIMIT:
        _CACHE.clear()
        _BY_OBJECT.clear()
    if trial.source_hash:
        _CACHE[(trial.trial_id, trial.source_hash)] = result
    else:
        _BY_OBJECT[id(trial)] = (trial, result)
    return result


def _entry(kind: str, item: Compiled, out: Outcome):
    key = (kind, item.criterion.id, item.criterion.text, out)
    hit = _ENTRIES.get(key)
    if hit is None:
        hit = _build_entry(kind, item, out)
        if len(_ENTRIES) >= 4 * _CACHE_LIMIT:
            _ENTRIES.clear()
        _ENTRIES[key] = hit
    return hit


def _build_entry(kind: str, item: Compiled, out: Outcome):
    c = item.criterion
    if kind == "unknown":
        hit = UnknownCriterion.model_construct(
            criterion=c.text, kind=c.kind, needs=list(out.needs), citation=item.citation
        )
    elif kind == "review":
        hit = ReviewCriterion.model_construct(
            criterion=c.text,
            kind=c.kind,
            citation=item.citation,
            reason=out.reason or "the checker cannot decide this criterion",
        )
    else:
        reason = out.reason or ("inclusion criterion not met" if c.kind == "inclusion" else "exclusion applies")
        hit = FailedCriterion.model_construct(criterion=c.text, kind=c.kind, reason=reason, citation=item.citation)
    return hit


def _verdict(trial: Trial, cohort: CompiledCohort, idx: FactIndex, memo: dict) -> TrialVerdict:
    failed, unknown, review = [], [], []
    keys = idx.keys
    lists = {"failed": failed, "unknown": unknown, "review": review}
    for item in cohort.items:
        if item.deps.isdisjoint(keys):
            if item.static_entry is not None:
                lists[item.static_entry[0]].append(item.static_entry[1])
            continue
        out = memo.get(item.key)
        if out is None:
            out = evaluate(item.rule, idx, item.criterion.kind)
            memo[item.key] = out
        kind = _entry_kind(item.criterion.kind, out)
        if kind:
            lists[kind].append(_entry(kind, item, out))
    verdict = "ineligible" if failed else "possibly_eligible" if (unknown or review) else "eligible"
    return TrialVerdict.model_construct(
        trial_id=trial.trial_id,
        cohort=cohort.name,
        verdict=verdict,
        failed=failed,
        unknown=unknown,
        needs_review=review,
        warnings=[w.message for w in trial.warnings],
    )


def check_trial(trial: Trial, facts: PatientFacts) -> list[TrialVerdict]:
    """One verdict per cohort of the trial (cohort None for a trial without cohorts)."""
    idx = FactIndex.build(facts)
    return [_verdict(trial, cohort, idx, {}) for cohort in compile_trial(trial)]


def check_trials(trials, facts: PatientFacts) -> list[TrialVerdict]:
    """Verdicts for every trial and cohort, in the order of `trials`."""
    idx = FactIndex.build(facts)
    memo: dict = {}
    out = []
    # The loop allocates many small acyclic objects; a cyclic-GC pass over millions of compiled rules
    # in the middle of it would cost more than the whole check, so collection waits until the end.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for trial in trials:
            for cohort in compile_trial(trial):
                out.append(_verdict(trial, cohort, idx, memo))
    finally:
        if was_enabled:
            gc.enable()
    return out


def rank_missing_facts(verdicts: list[TrialVerdict]) -> list[tuple[str, int]]:
    """Unknown facts with the number of (not already ineligible) verdicts that need them, best first."""
    counts: Counter[str] = Counter()
    for v in verdicts:
        if v.verdict == "ineligible":
            continue
        needs = {n for u in v.unknown for n in u.needs}
        counts.update(needs)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
