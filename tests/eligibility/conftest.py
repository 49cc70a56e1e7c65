"""Fixtures of the eligibility tests: the five seed trials parsed by the real ingest parsers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import tarfile

import pytest

from ingest.formats import parse_document
from ingest.models import Trial
from trialfinder.settings import PROJECT_ROOT

TODAY = date(2025, 6, 1)
ARCHIVE = PROJECT_ROOT.parent / "shared" / "corpus" / "ctgov-xml-2023-02.tar.xz"
ARCHIVE_SAMPLE = 200


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
    """The first 200 records of the ClinicalTrials.gov XML archive (streamed, never unpacked; ~1 s)."""
    assert ARCHIVE.is_file(), f"{ARCHIVE} is missing: the shared corpus must be mounted next to the repo"
    out: list[Trial] = []
    with tarfile.open(ARCHIVE) as archive:
        for member in archive:
            if member.isfile() and member.name.endswith(".xml"):
                out += parse_document(member.name, archive.extractfile(member).read())
                if len(out) >= ARCHIVE_SAMPLE:
                    break
    return out
