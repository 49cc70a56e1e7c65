"""The bench's checker section: every figure is measured, verdicts alone and with every reason read."""

from __future__ import annotations

from benchmarks.run import bench_checker


def test_checker_section_measures_verdicts_and_reasons(seed_trials):
    trials = list(seed_trials.values())
    out = bench_checker(trials, rules=None, seconds=0.2)
    assert out["trials"] == len(trials) and out["cohorts"] >= len(trials)
    assert out["rules_from"] == "memory" and out["compile_s"] > 0
    for name in ("cold_cohorts_per_s", "cold_read_cohorts_per_s", "cohorts_per_s", "read_cohorts_per_s"):
        assert out[name] > 0, name
    # Reading every reason can only add work to a pass.
    assert out["cold_read_cohorts_per_s"] <= out["cold_cohorts_per_s"]
