"""Fixtures shared by every test package.

- `make_settings`: a `Settings` whose index lives in a temporary folder and whose corpus is `data/trials`.
- `seed_index` / `seed_trials` / `seed_report` / `seed_settings`: one real index of the bundled seed
  corpus, built once per session through `ingest_paths` (read-only: tests that write build their own).
- `chroma_server`: a real `chroma run` on loopback for server-mode tests ("host:port").
- `write_study`: writes a ClinicalTrials.gov API v2 study JSON file, for tests that need their own documents.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from ingest.models import Trial  # noqa: E402
from trialfinder.settings import PROJECT_ROOT, Settings  # noqa: E402
from vectorstore.server import chroma_server as run_chroma_server  # noqa: E402

SEED_DIR = PROJECT_ROOT / "data" / "trials"


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Factory: `make_settings(folder=None, **overrides)` -> Settings with index_dir under `folder`
    (default: this test's tmp_path), corpus_dir = the bundled data/trials, embedded Chroma."""

    def make(folder: Path | None = None, **overrides) -> Settings:
        values = {
            "index_dir": (folder or tmp_path) / "index",
            "corpus_dir": SEED_DIR,
            "chroma_server": None,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of the session's seed index (embedded Chroma in a session temp folder)."""
    return Settings(index_dir=tmp_path_factory.mktemp("seed") / "index", corpus_dir=SEED_DIR, chroma_server=None)


@pytest.fixture(scope="session")
def _seed(seed_settings: Settings):
    from app.indexer import ingest_paths
    from vectorstore.index import TrialIndex

    index = TrialIndex.open(seed_settings)
    report = ingest_paths([seed_settings.corpus_dir], index, progress=False)
    yield index, report
    index.close()


@pytest.fixture(scope="session")
def seed_index(_seed):
    """A real `TrialIndex` of the five bundled seed trials (do not write to it)."""
    return _seed[0]


@pytest.fixture(scope="session")
def seed_report(_seed):
    """The `IngestReport` of building `seed_index`."""
    return _seed[1]


@pytest.fixture(scope="session")
def seed_trials(seed_index) -> dict[str, Trial]:
    """trial_id -> Trial of the seed index."""
    return {trial.trial_id: trial for trial in seed_index.trials()}


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server on 127.0.0.1 for the session; yields "host:port".

    Tests sharing it must use their own collection name (`make_settings(collection=...)`,
    see `unique_collection`), since vector ids are the same for the same content.
    """
    with run_chroma_server(tmp_path_factory.mktemp("chroma-server")) as address:
        yield address


@pytest.fixture
def unique_collection() -> str:
    """A collection name no other test uses (for tests sharing `chroma_server`)."""
    return f"test-{uuid.uuid4().hex[:12]}"


def ctgov_study(
    nct_id: str,
    title: str,
    *,
    summary: str = "A study.",
    conditions: tuple[str, ...] = ("Lupus",),
    criteria: str = "Inclusion Criteria:\n\n* Adults\n\nExclusion Criteria:\n\n* Pregnancy",
    status: str = "RECRUITING",
    phase: str = "PHASE2",
    country: str = "United States",
) -> dict:
    """A minimal but complete ClinicalTrials.gov API v2 study record."""
    return {
        "protocolSection": {
            "identificationModule": {"nctId": nct_id, "briefTitle": title},
            "statusModule": {"overallStatus": status, "startDateStruct": {"date": "2024-01"}},
            "sponsorCollaboratorsModule": {"leadSponsor": {"name": "Test University"}},
            "descriptionModule": {"briefSummary": summary},
            "conditionsModule": {"conditions": list(conditions)},
            "designModule": {
                "studyType": "INTERVENTIONAL",
                "phases": [phase],
                "enrollmentInfo": {"count": 40, "type": "ESTIMATED"},
            },
            "eligibilityModule": {
                "eligibilityCriteria": criteria,
                "sex": "ALL",
                "minimumAge": "18 Years",
                "healthyVolunteers": False,
            },
            "contactsLocationsModule": {
                "locations": [{"facility": "City Hospital", "city": "Boston", "country": country}]
            },
        }
    }


@pytest.fixture
def write_study() -> Callable[..., Path]:
    """`write_study(folder, nct_id, title, **fields)` writes `folder/{nct_id}.json` (see `ctgov_study`)."""

    def write(folder: Path, nct_id: str, title: str, **fields) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{nct_id}.json"
        path.write_text(json.dumps(ctgov_study(nct_id, title, **fields), indent=2))
        return path

    return write
