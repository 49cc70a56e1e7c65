"""Fixtures of the eligibility tests: the five seed trials parsed by the real ingest parsers."""

from __future__ import annotations

import tarfile
from datetime import date
from pathlib import Path

import pytest

from ingest.formats import parse_document
from ingest.models import Trial
from trialfinder.settings import PROJECT_ROOT

TODAY = date(2025, 6, 1)
# 200 real ClinicalTrials.gov records bundled with the tests (see fixtures/README.md), so a fresh clone
# needs nothing beside it.
ARCHIVE = Path(__file__).parent / "fixtures" / "ctgov-sample.tar.xz"


@pytest.fixture(scope="session")
def seed_by_id() -> dict[str, Trial]:
    """trial_id -> Trial for data/trials/*.txt (parsed, no index, no embeddings: fast)."""
    out = {}
    for path in sorted((PROJECT_ROOT / "data" / "trials").glob("*.txt")):
        for trial in parse_document(str(path), Path(path).read_bytes()):
            out[trial.trial_id] = trial
    assert set(out) == {"NCT06888973", "NCT03171194", "NCT04356287", "KCT0004337", "NCT03929120"}
    return out


@pytest.fixture
def today() -> date:
    return TODAY


@pytest.fixture(scope="session")
def archive_sample() -> list[Trial]:
    """The 200 bundled ClinicalTrials.gov XML records, parsed by the real ingest parser (streamed; ~1 s)."""
    out: list[Trial] = []
    with tarfile.open(ARCHIVE) as archive:
        for member in archive:
            handle = archive.extractfile(member) if member.isfile() else None
            if handle is not None and member.name.endswith(".xml"):
                out += parse_document(member.name, handle.read())
    assert len(out) == 200, f"{ARCHIVE} should hold 200 parsable records, found {len(out)}"
    return out
