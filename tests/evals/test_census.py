"""The criteria census (evals/census.py) on the 200 bundled archive records: its counts add up and the report
says what the checker does with them."""

from __future__ import annotations

import tarfile
from pathlib import Path

from evals.census import main, render, run
from ingest.formats import parse_document
from ingest.models import Trial

SAMPLE = Path(__file__).parents[1] / "eligibility" / "fixtures" / "ctgov-sample.tar.xz"


def _sample(limit: int) -> list[Trial]:
    out: list[Trial] = []
    with tarfile.open(SAMPLE) as archive:
        for member in archive:
            handle = archive.extractfile(member) if member.isfile() else None
            if handle is not None and member.name.endswith(".xml"):
                out += parse_document(member.name, handle.read())
            if len(out) >= limit:
                break
    return out


def test_census_counts_every_criterion_once():
    trials = _sample(40)
    census = run(trials)
    own = sum(len(c.inclusion) + len(c.exclusion) for t in trials for c in t.eligibility.cohorts or [])
    assert census.trials == len(trials)
    # Every criterion of the records, plus one review item for a record without a criteria list.
    assert own <= census.criteria <= own + len(trials)
    assert sum(census.outcome.values()) == census.criteria
    assert census.outcome["decided"] > 0 and census.outcome["sent to review"] > 0
    assert census.states_quantity_rule <= census.states_quantity
    assert census.states_age_rule <= census.states_age
    assert all(census.kinds_decided[k] <= n for k, n in census.kinds.items())


def test_census_report_names_the_figures(tmp_path):
    census = run(_sample(20))
    text = render(census, "sample")
    assert text.startswith("# Criteria census")
    assert f"{census.criteria:,} atomic criteria" in text
    assert "| decided |" in text and "## Ages and quantities" in text


def test_census_command_reads_documents_and_writes_markdown(tmp_path):
    out = tmp_path / "census.md"
    assert main(["--corpus", str(SAMPLE), "--out", str(out)]) == 0
    assert "200 trials" in out.read_text(encoding="utf-8")
