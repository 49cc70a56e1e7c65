"""How much of each trial's criteria the checker can decide (a report, not a verdict)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eligibility.evaluate import compile_trial
from eligibility.rules import AssumedConsent, NeedsReview, is_decidable
from ingest.models import Trial
from ingest.passages import facts_citation


def coverage(trials: Iterable[Trial]) -> list[dict[str, Any]]:
    """Per trial: criteria, decidable rules, needs_review, assumed consent, and the share decidable.

    `objective` leaves out consent/willingness criteria and judgements by design (investigator's
    opinion, "inadequate response"): nothing objective to decide there; `share` is decidable / objective. Structured age/sex facts are not counted (they are always decidable).
    """
    rows = []
    for trial in trials:
        total = decidable = review = consent = subjective = 0
        facts_id = facts_citation(trial).id
        for cohort in compile_trial(trial):
            for item in cohort.items:
                if item.criterion.id == facts_id:
                    continue
                total += 1
                rule = item.rule
                if isinstance(rule, AssumedConsent):
                    consent += 1
                elif is_decidable(rule):
                    decidable += 1
                else:
                    review += 1
                    subjective += isinstance(rule, NeedsReview) and rule.subjective
        objective = total - consent - subjective
        rows.append(
            {
                "trial_id": trial.trial_id,
                "criteria": total,
                "decidable": decidable,
                "needs_review": review,
                "assumed_consent": consent,
                "subjective": subjective,
                "objective": objective,
                "share": round(decidable / objective, 3) if objective else 1.0,
            }
        )
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """The coverage rows as a fixed-width text table."""
    head = (
        f"{'trial':<14}{'criteria':>9}{'decidable':>10}{'review':>8}{'(judgement)':>12}{'consent':>9}"
        f"{'share of objective':>20}"
    )
    lines = [head] + [
        f"{r['trial_id']:<14}{r['criteria']:>9}{r['decidable']:>10}{r['needs_review']:>8}"
        f"{r['subjective']:>12}{r['assumed_consent']:>9}{r['share']:>20.0%}"
        for r in rows
    ]
    return "\n".join(lines)
