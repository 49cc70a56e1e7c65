"""TrialIndex writes: idempotent upserts, replacement without orphans, interrupted ingests, both Chroma modes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.indexer import ingest_paths, is_stale
from ingest.chunking import chunk_trial
from ingest.models import Trial
from vectorstore.embeddings import Embedder
from vectorstore.index import TrialIndex

CRITERIA_V1 = (
    "Inclusion Criteria:\n\n* Adults aged 18 to 70\n* Systemic lupus erythematosus by ACR criteria\n\n"
    "Exclusion Criteria:\n\n* Platelet count below 50,000/mm3\n* Pregnancy\n* Active tuberculosis"
)
# v2 drops one exclusion and rewords another: those chunks must disappear, the rest keep their vectors.
CRITERIA_V2 = (
    "Inclusion Criteria:\n\n* Adults aged 18 to 70\n* Systemic lupus erythematosus by ACR criteria\n\n"
    "Exclusion Criteria:\n\n* Platelet count below 75,000/mm3\n* Pregnancy"
)


class FailingEmbedder(Embedder):
    """The real embedder, except that it raises on a text holding `marker` (a fault injected mid-ingest)."""

    def __init__(self, marker: str):
        super().__init__()
        self.marker = marker

    def embed(self, texts):
        if any(self.marker in text for text in texts):
            raise RuntimeError(f"injected failure: embedding a text with {self.marker!r}")
        return super().embed(texts)


def _sqlite_vector_ids(index: TrialIndex) -> set[str]:
    with sqlite3.connect(index.store.path) as db:
        return {r[0] for r in db.execute("SELECT vector_id FROM chunks WHERE vector_id IS NOT NULL")}


def _chroma_ids(index: TrialIndex) -> set[str]:
    return set(index._collection.get(include=[])["ids"])


def _corpus(folder: Path, write_study, criteria_a: str = CRITERIA_V1) -> Path:
    write_study(folder, "NCT90000001", "Stem cells in lupus", criteria=criteria_a, conditions=("Lupus",))
    write_study(
        folder,
        "NCT90000002",
        "Rituximab in myositis",
        conditions=("Myositis",),
        status="COMPLETED",
        summary="Rituximab infusions for refractory dermatomyositis.",
    )
    return folder


def test_reingest_is_idempotent(make_settings, write_study, tmp_path):
    corpus = _corpus(tmp_path / "docs", write_study)
    index = TrialIndex.open(make_settings())
    first = ingest_paths([corpus], index, progress=False)
    ids_before = {t: [c.id for c in index.chunks(t)] for t in ("NCT90000001", "NCT90000002")}
    vectors_before = _chroma_ids(index)
    assert [t.outcome for t in first.trials] == ["added", "added"]

    second = ingest_paths([corpus], index, progress=False)
    assert [t.outcome for t in second.trials] == ["unchanged", "unchanged"]
    assert (second.unchanged, second.ingested, second.replaced) == (2, 0, 0)
    assert second.timings.embedded_chunks == 0
    assert {t: [c.id for c in index.chunks(t)] for t in ids_before} == ids_before
    assert _chroma_ids(index) == vectors_before == _sqlite_vector_ids(index)
    assert index.stats().chunks == first.chunks == second.chunks
    assert not is_stale(index, corpus)
    index.close()

    reopened = TrialIndex.open(make_settings())  # state survives a new process-level open
    assert [t.trial_id for t in reopened.trials()] == ["NCT90000001", "NCT90000002"]
    assert reopened.search("rituximab dermatomyositis", k=1)[0].chunk.trial_id == "NCT90000002"
    reopened.close()


def test_changed_document_replaces_its_chunks_without_orphans(make_settings, write_study, tmp_path):
    corpus = _corpus(tmp_path / "docs", write_study)
    index = TrialIndex.open(make_settings())
    ingest_paths([corpus], index, progress=False)
    old_vectors = _chroma_ids(index)
    assert index.search("tuberculosis", k=1, trial_ids=["NCT90000001"])[0].chunk.text == "Active tuberculosis"

    _corpus(corpus, write_study, criteria_a=CRITERIA_V2)
    assert is_stale(index, corpus)
    report = ingest_paths([corpus], index, progress=False)
    assert {t.trial_id: t.outcome for t in report.trials} == {"NCT90000001": "replaced", "NCT90000002": "unchanged"}

    trial = index.trial("NCT90000001")
    stored = index.chunks("NCT90000001")
    assert [c.id for c in stored] == [c.id for c in chunk_trial(trial)]
    texts = [c.text for c in stored]
    assert "Active tuberculosis" not in texts and "Platelet count below 75,000/mm3" in texts
    assert "Platelet count below 50,000/mm3" not in texts
    assert len({c.id for c in stored}) == len(stored)
    # No orphans: Chroma holds exactly the vectors SQLite points to.
    assert _chroma_ids(index) == _sqlite_vector_ids(index)
    assert index.stray_vectors() == []
    # Unchanged chunks kept their vectors; only the reworded one was embedded again.
    assert len(_chroma_ids(index) - old_vectors) == report.timings.embedded_chunks == 1
    hits = index.search("tuberculosis", k=3, trial_ids=["NCT90000001"])
    assert all("tuberculosis" not in h.chunk.text.lower() for h in hits)
    index.close()


def test_interrupted_ingest_leaves_the_old_index_usable_and_a_rerun_completes(make_settings, write_study, tmp_path):
    corpus = _corpus(tmp_path / "docs", write_study)
    settings = make_settings()
    index = TrialIndex.open(settings)
    ingest_paths([corpus], index, progress=False)
    before = {t.trial_id: t.source_hash for t in index.trials()}

    # The next ingest changes trial 1, adds trial 3, and trial 4's embedding fails mid-run.
    _corpus(corpus, write_study, criteria_a=CRITERIA_V2)
    write_study(corpus, "NCT90000003", "Tocilizumab in scleroderma", conditions=("Systemic Sclerosis",))
    write_study(corpus, "NCT90000004", "KABOOM trial", summary="KABOOM")
    failing = TrialIndex.open(settings, embedder=FailingEmbedder("KABOOM"))
    with pytest.raises(RuntimeError, match="injected failure"):
        ingest_paths([corpus], failing, progress=False, batch_chunks=1)
    failing.close()

    index = TrialIndex.open(settings)
    trials = {t.trial_id: t for t in index.trials()}
    assert "NCT90000004" not in trials  # its batch never committed
    assert trials["NCT90000002"].source_hash == before["NCT90000002"]
    assert "Active tuberculosis" not in [c.text for c in index.chunks("NCT90000001")]  # committed before the failure
    assert index.search("tocilizumab scleroderma", k=1)[0].chunk.trial_id == "NCT90000003"
    assert _chroma_ids(index) == _sqlite_vector_ids(index)

    rerun = ingest_paths([corpus], index, progress=False)
    assert {t.trial_id: t.outcome for t in rerun.trials} == {
        "NCT90000001": "unchanged",
        "NCT90000002": "unchanged",
        "NCT90000003": "unchanged",
        "NCT90000004": "added",
    }
    assert index.search("KABOOM", k=1)[0].chunk.trial_id == "NCT90000004"
    index.close()


def test_vectors_written_but_not_committed_are_invisible_and_prunable(
    make_settings, write_study, tmp_path, monkeypatch
):
    corpus = _corpus(tmp_path / "docs", write_study)
    index = TrialIndex.open(make_settings())
    ingest_paths([corpus], index, progress=False)
    records_before = [t.model_dump() for t in index.trials()]

    # Crash between step 1 (vectors written) and step 2 (records committed).
    _corpus(corpus, write_study, criteria_a=CRITERIA_V2)

    def crash(items):
        raise OSError("injected failure: disk full while committing")

    monkeypatch.setattr(index.store, "commit", crash)
    with pytest.raises(OSError, match="injected failure"):
        ingest_paths([corpus], index, progress=False)
    monkeypatch.undo()

    assert [t.model_dump() for t in index.trials()] == records_before
    stray = index.stray_vectors()
    assert len(stray) == 1  # the reworded platelet criterion's new vector
    hits = index.search_dense("platelet count below 75,000", k=20)
    assert all(h.chunk.text != "Platelet count below 75,000/mm3" for h in hits)
    assert any(h.chunk.text == "Active tuberculosis" for h in index.search("tuberculosis", k=3))
    assert index.prune_vectors() == 1 and index.stray_vectors() == []

    report = ingest_paths([corpus], index, progress=False)  # resumes
    assert {t.trial_id: t.outcome for t in report.trials}["NCT90000001"] == "replaced"
    assert _chroma_ids(index) == _sqlite_vector_ids(index)
    index.close()


@pytest.mark.parametrize("mode", ["embedded", "server"])
def test_both_chroma_modes_store_and_search(mode, make_settings, write_study, tmp_path, request):
    overrides = {}
    if mode == "server":
        overrides = {
            "chroma_server": request.getfixturevalue("chroma_server"),
            "collection": request.getfixturevalue("unique_collection"),
        }
    settings = make_settings(**overrides)
    corpus = _corpus(tmp_path / "docs", write_study)
    index = TrialIndex.open(settings)
    report = ingest_paths([corpus], index, progress=False)
    assert report.ingested == 2 and not report.errors
    assert index.stats().chroma == mode
    assert (Path(settings.index_dir) / "chroma").exists() == (mode == "embedded")
    assert index.vector_count() == len(_sqlite_vector_ids(index)) > 0
    hit = index.search("platelet count", k=1)[0]
    assert hit.chunk.trial_id == "NCT90000001" and hit.dense_rank is not None
    dense = index.search_dense("refractory dermatomyositis treatment", k=1, trial_ids=["NCT90000002"])
    assert dense[0].chunk.trial_id == "NCT90000002"
    assert index.search_trials("myositis", k=2)[0][0] == "NCT90000002"
    assert [t for t, _ in index.search_trials("lupus", statuses=["COMPLETED"])] == ["NCT90000002"]
    assert ingest_paths([corpus], index, progress=False).unchanged == 2
    index.close()


def test_metadata_on_every_vector(make_settings, write_study, tmp_path):
    corpus = _corpus(tmp_path / "docs", write_study)
    index = TrialIndex.open(make_settings())
    ingest_paths([corpus], index, progress=False)
    metadatas = index._collection.get(include=["metadatas"])["metadatas"]
    assert metadatas
    for metadata in metadatas:
        assert {"trial_id", "section", "status", "phase", "conditions", "country"} <= set(metadata)
        assert all(isinstance(v, (str, int, float, bool)) for v in metadata.values())
    criteria = [m for m in metadatas if m["section"].startswith("eligibility.") and m["section"] != "eligibility.facts"]
    assert criteria and all(m["kind"] in ("inclusion", "exclusion") for m in criteria)
    index.close()


def test_opening_with_another_embedding_model_is_refused(make_settings, write_study, tmp_path):
    corpus = _corpus(tmp_path / "docs", write_study)
    index = TrialIndex.open(make_settings())
    ingest_paths([corpus], index, progress=False)
    index.close()
    with pytest.raises(ValueError, match="built with embedding model"):
        TrialIndex.open(make_settings(embedding_model=str(tmp_path)))


def test_bm25_index_is_persisted_and_rebuilt_when_chunks_change(make_settings, write_study, tmp_path):
    corpus = _corpus(tmp_path / "docs", write_study)
    settings = make_settings()
    index = TrialIndex.open(settings)
    ingest_paths([corpus], index, progress=False)
    assert index.search_lexical("tuberculosis", k=1)[0].chunk.text == "Active tuberculosis"
    version = (Path(settings.index_dir) / "lexical" / "version.json").read_text()
    _corpus(corpus, write_study, criteria_a=CRITERIA_V2)
    ingest_paths([corpus], index, progress=False)
    assert index.search_lexical("tuberculosis", k=1) == []
    assert (Path(settings.index_dir) / "lexical" / "version.json").read_text() != version
    index.close()


def test_upsert_compares_content_not_only_the_source_hash(make_settings):
    from ingest.models import Eligibility

    index = TrialIndex.open(make_settings())
    trial = Trial(
        trial_id="NCT95000001",
        registry="ClinicalTrials.gov",
        title="Direct upsert trial",
        summary="Abatacept in early arthritis.",
        source_hash="same-bytes",
        source_path="/a/x.json",
    )
    assert index.upsert(trial, chunk_trial(trial)) == "added"
    assert index.upsert(trial, chunk_trial(trial)) == "unchanged"
    moved = trial.model_copy(update={"source_path": "/elsewhere/x.json"})
    assert index.upsert(moved, chunk_trial(moved)) == "unchanged"
    # Same document bytes, but the parser now reads more out of it: the record must be updated.
    reparsed = trial.model_copy(update={"eligibility": Eligibility(minimum_age="18 Years", min_age_years=18.0)})
    assert index.upsert(reparsed, chunk_trial(reparsed)) == "replaced"
    assert index.trial("NCT95000001").eligibility.min_age_years == 18.0
    assert [c.section for c in index.chunks("NCT95000001")] == ["summary", "status", "eligibility.facts"]
    assert index.search("abatacept", k=1)[0].chunk.id == "NCT95000001:summary:1"
    index.close()


KILLED_INGEST = """
import os, signal, sys
from pathlib import Path
from trialfinder.settings import Settings
from vectorstore.index import TrialIndex
from app.indexer import ingest_paths

index = TrialIndex.open(Settings(index_dir=Path(sys.argv[1]), chroma_server=None))
commit, calls = index.store.commit, []

def commit_then_die(items):
    calls.append(items)
    if len(calls) == 2:  # the second trial's vectors are in Chroma; its records never reach SQLite
        os.kill(os.getpid(), signal.SIGKILL)
    commit(items)

index.store.commit = commit_then_die
ingest_paths([Path(sys.argv[2])], index, progress=False, batch_chunks=1)
"""


def test_an_ingest_killed_between_vectors_and_records_leaves_a_usable_index(make_settings, write_study, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from trialfinder.settings import PROJECT_ROOT

    corpus = _corpus(tmp_path / "docs", write_study)
    write_study(corpus, "NCT90000003", "Tocilizumab in scleroderma", conditions=("Systemic Sclerosis",))
    settings = make_settings()
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_INGEST, str(settings.index_dir), str(corpus)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]

    index = TrialIndex.open(settings)
    assert [t.trial_id for t in index.trials()] == ["NCT90000001"]
    assert index.stray_vectors()  # trial 2's uncommitted vectors, invisible to readers
    assert {h.chunk.trial_id for h in index.search("rituximab dermatomyositis", k=8)} == {"NCT90000001"}
    assert index.search("platelet count", k=1)[0].chunk.trial_id == "NCT90000001"

    rerun = ingest_paths([corpus], index, progress=False)
    assert {t.trial_id: t.outcome for t in rerun.trials} == {
        "NCT90000001": "unchanged",
        "NCT90000002": "added",
        "NCT90000003": "added",
    }
    assert index.stray_vectors() == []  # content-addressed ids: the re-run reused the stray vectors
    assert index.search("rituximab dermatomyositis", k=1)[0].chunk.trial_id == "NCT90000002"
    index.close()


def test_trials_read_a_page_at_a_time_are_all_the_trials_in_order(seed_index):
    whole = seed_index.trials()
    assert len(whole) >= 5
    for page in (1, 2, len(whole), 500):
        assert [t.model_dump() for t in seed_index.store.iter_trials(page=page)] == [t.model_dump() for t in whole]
    assert [t.trial_id for t in seed_index.iter_trials()] == [t.trial_id for t in whole]
