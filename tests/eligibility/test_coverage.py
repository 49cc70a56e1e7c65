"""Coverage report: share of each seed trial's objective criteria parsed into decidable rules."""

from __future__ import annotations

from eligibility.coverage import coverage, format_table


def test_seed_coverage(seed_by_id, capsys):
    rows = coverage(list(seed_by_id.values()))
    with capsys.disabled():
        print("\n" + format_table(rows))
    assert {r["trial_id"] for r in rows} == set(seed_by_id)
    for r in rows:
        assert r["criteria"] == r["decidable"] + r["needs_review"] + r["assumed_consent"]
        assert r["share"] >= 0.8, r
    total_objective = sum(r["objective"] for r in rows)
    assert sum(r["decidable"] for r in rows) / total_objective >= 0.85
