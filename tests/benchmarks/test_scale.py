"""The scale bench's own parts: vector reuse, the registry projection, and several readers on one index."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.indexer import ingest_paths
from benchmarks.reuse import ReusingEmbedder, archive_vectors, text_key
from benchmarks.scale import linear, project
from trialfinder.settings import PROJECT_ROOT
from vectorstore.embeddings import Embedder
from vectorstore.index import TrialIndex
from vectorstore.records import profile_text


def test_reusing_embedder_returns_the_stored_vector_and_embeds_only_unknown_texts():
    embedder = Embedder()
    stored = np.full(embedder.dim, 0.5, dtype=np.float32)  # not what the model would give "known text"
    reuse = ReusingEmbedder({text_key("known text"): stored}, embedder)
    vectors = reuse.embed(["known text", "rituximab in lupus nephritis", "known text"])
    assert vectors.shape == (3, embedder.dim)
    assert np.array_equal(vectors[0], stored) and np.array_equal(vectors[2], stored)
    assert np.allclose(vectors[1], embedder.embed(["rituximab in lupus nephritis"])[0], atol=1e-5)
    assert (reuse.reused, reuse.embedded) == (2, 1)
    reuse.embed(["rituximab in lupus nephritis"])  # remembered: not embedded a second time
    assert (reuse.reused, reuse.embedded) == (3, 1)
    assert reuse.embed([]).shape == (0, embedder.dim)


def test_archive_vectors_pairs_each_profile_text_with_its_stored_vector_without_writing(
    make_settings, write_study, tmp_path
):
    docs = tmp_path / "docs"
    docs.mkdir()
    write_study(docs, "NCT90000011", "Belimumab for lupus nephritis", summary="Adults with biopsy-proven nephritis.")
    write_study(docs, "NCT90000012", "Exercise after knee replacement", conditions=("Osteoarthritis",))
    settings = make_settings(dense_policy="compact")
    index = TrialIndex.open(settings)
    ingest_paths([docs], index, progress=False)
    trials = index.trials()
    index.close()
    files = [p for p in Path(settings.index_dir).rglob("*") if p.is_file() and not p.name.endswith(("-shm", "-wal"))]
    before = {p: p.stat().st_mtime_ns for p in files}

    known = archive_vectors(Path(settings.index_dir))

    assert set(known) == {text_key(profile_text(t)) for t in trials}
    for trial in trials:
        expected = Embedder().embed([profile_text(trial)])[0]
        assert np.allclose(known[text_key(profile_text(trial))], expected, atol=1e-5)

    # The bench ingests through a reusing embedder: a second index takes every profile vector from the first.
    reuse = ReusingEmbedder(known, Embedder())
    again = TrialIndex.open(make_settings(tmp_path / "again", dense_policy="compact"), embedder=reuse)
    ingest_paths([docs], again, progress=False)
    assert again.stats().trials == 2 and (reuse.reused, reuse.embedded) == (2, 0)
    again.close()
    after = {p: p.stat().st_mtime_ns for p in Path(settings.index_dir).rglob("*") if p.is_file()}
    # SQLite's read-only connection may create its (empty) WAL and shared-memory files; nothing else moves.
    assert {p: t for p, t in after.items() if not p.name.endswith(("-shm", "-wal"))} == before
    assert all(p.stat().st_size == 0 for p in after if p.name.endswith("-wal"))


def test_projection_is_linear_through_the_two_measured_sizes():
    small = {
        "trials": 10_000,
        "ingest_s": 200.0,
        "disk": {"records": 1e9, "lexical": 0.5e9},
        "chat_rss_mb": 1024.0,
        "server_rss_mb": 300.0,
    }
    large = {
        "trials": 100_000,
        "ingest_s": 2000.0,
        "disk": {"records": 10e9, "lexical": 4.1e9},
        "chat_rss_mb": 5632.0,
        "server_rss_mb": 1200.0,
    }
    p = project(small, large, target=560_000, embed_per_s=50.0)
    # 50 trials/s measured at 100,000 -> 560,000 / 50 s; embedding 560,000 / 50 s on top
    assert p["ingest_hours_without_embedding"] == round(560_000 / 50 / 3600, 2)
    assert p["embedding_hours"] == round(560_000 / 50 / 3600, 2)
    assert p["ingest_hours"] == round(2 * 560_000 / 50 / 3600, 2)
    assert p["disk_gb"] == {"records": 56.0, "lexical": 22.5}  # 0.1 MB and 0.04 MB per trial
    assert p["chat_rss_gb"] == round((5632 + 4608 / 90_000 * 460_000) / 1024, 2)
    assert p["server_rss_gb"] == round((1200 + 900 / 90_000 * 460_000) / 1024, 2)
    assert linear(0, 1.0, 10, 3.0, 20) == 5.0


READER = """
import sys
from pathlib import Path
from trialfinder.settings import Settings
from vectorstore.index import TrialIndex

index = TrialIndex.open(Settings(index_dir=Path(sys.argv[1]), chroma_server=sys.argv[2], collection=sys.argv[3]))
found = 0
for _ in range(15):
    found += index.search("lupus nephritis", k=3)[0].chunk.trial_id == "NCT90000021"
    found += index.search_trials("knee osteoarthritis", k=1)[0][0] == "NCT90000022"
index.close()
print(found)
"""


def test_two_reader_processes_query_one_server_backed_index_at_once(
    make_settings, write_study, tmp_path, chroma_server, unique_collection
):
    docs = tmp_path / "docs"
    docs.mkdir()
    write_study(docs, "NCT90000021", "Belimumab for lupus nephritis", summary="Adults with lupus nephritis.")
    write_study(docs, "NCT90000022", "Exercise for knee osteoarthritis", conditions=("Knee Osteoarthritis",))
    settings = make_settings(chroma_server=chroma_server, collection=unique_collection)
    index = TrialIndex.open(settings)
    ingest_paths([docs], index, progress=False)
    index.close()
    command = [sys.executable, "-c", READER, str(settings.index_dir), chroma_server, unique_collection]
    readers = [
        subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [reader.communicate(timeout=120) for reader in readers]
    for reader, (out, err) in zip(readers, outputs, strict=True):
        assert reader.returncode == 0, err[-2000:]
        assert out.strip() == "30"


@pytest.mark.parametrize("count", [3, 7])
def test_shards_are_a_prefix_of_one_corpus(count, tmp_path, monkeypatch):
    from benchmarks import synth

    records = [synth.sections_of(_record(n)) for n in range(4)]
    monkeypatch.setattr(synth, "read_archive", lambda: records)
    paths = synth.write_shards(count, tmp_path / f"by-2-{count}", per_file=2)
    lines = [line for p in paths for line in p.read_text().splitlines()]
    assert len(paths) == (count + 1) // 2 and len(lines) == count
    assert lines == [__import__("json").dumps(s, ensure_ascii=False) for s in synth.synthesize(records, count)]


def _record(n: int):
    from defusedxml import ElementTree

    return ElementTree.fromstring(
        f"<clinical_study><brief_title>Trial {n}</brief_title><condition>Condition {n}</condition>"
        f"<brief_summary><textblock>Summary {n}.</textblock></brief_summary>"
        f"<eligibility><criteria><textblock>Inclusion Criteria:\n- Adults {n}</textblock></criteria>"
        "</eligibility></clinical_study>"
    )
