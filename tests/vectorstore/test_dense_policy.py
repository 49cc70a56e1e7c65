"""Dense policy: which chunks get vectors. Every chunk stays stored, citable and in BM25 whatever the policy."""

from __future__ import annotations

import sqlite3
import tarfile
from pathlib import Path

import pytest

from app.indexer import COMPACT_MIN_DOCUMENTS, choose_dense_policy, ingest_paths
from ingest.chunking import chunk_trial
from ingest.formats import parse_document
from vectorstore.index import TrialIndex
from vectorstore.records import PROFILE_CHARS, profile_text, stored_chunks

XML_DIR = Path(__file__).resolve().parent.parent / "ingest" / "fixtures" / "xml"
RECORDS = ("NCT00000180", "NCT00000388", "NCT00000835", "NCT00001178")


def _archive(tmp_path: Path) -> Path:
    archive = tmp_path / "bulk.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for nct in RECORDS:
            tar.add(XML_DIR / f"{nct}.xml", arcname=f"NCT0000xxxx/{nct}.xml")
    return archive


def _vector_ids(index: TrialIndex) -> set[str]:
    with sqlite3.connect(index.store.path) as db:
        return {r[0] for r in db.execute("SELECT vector_id FROM chunks WHERE vector_id IS NOT NULL")}


def _chroma_ids(index: TrialIndex) -> set[str]:
    return set(index._collection.get(include=[])["ids"])


def test_auto_is_compact_for_archives_and_many_documents_and_all_for_small_folders(tmp_path, seed_settings):
    assert choose_dense_policy([seed_settings.corpus_dir], "auto") == "all"
    assert choose_dense_policy([_archive(tmp_path)], "auto") == "compact"
    assert choose_dense_policy([seed_settings.corpus_dir, tmp_path / "x.zip"], "auto") == "compact"
    many = tmp_path / "many"
    many.mkdir()
    for n in range(COMPACT_MIN_DOCUMENTS - 1):
        (many / f"{n}.xml").write_bytes(b"")
    assert choose_dense_policy([many], "auto") == "all"
    (many / "last.xml").write_bytes(b"")
    assert choose_dense_policy([many], "auto") == "compact"
    assert choose_dense_policy([many], "all") == "all"
    assert choose_dense_policy([seed_settings.corpus_dir], "compact") == "compact"
    with pytest.raises(ValueError, match="auto, all or compact"):
        choose_dense_policy([many], "some")


def test_seed_corpus_keeps_every_chunk_embedded(seed_index, seed_report):
    assert seed_report.dense_policy == "all"
    lexical_only = {"locations", "investigators", "references"}
    for trial in seed_index.trials():
        chunks = seed_index.chunks(trial.trial_id)
        embedded = [s for s in stored_chunks(trial, chunks, "all") if s.vector_id]
        assert len(embedded) == sum(1 for c in chunks if c.section not in lexical_only) + len(
            {c.section for c in chunks if c.section in lexical_only}
        )
    assert seed_index.vector_count() == seed_report.timings.embedded_chunks


def test_profile_text_names_the_trial_and_fits_the_model(tmp_path):
    trial = parse_document(str(XML_DIR / "NCT00000388.xml"), (XML_DIR / "NCT00000388.xml").read_bytes())[0]
    text = profile_text(trial)
    assert text.startswith(trial.title) and trial.conditions[0] in text
    assert len(text) <= PROFILE_CHARS
    assert len(text) > PROFILE_CHARS // 2  # this record's summary is long enough to fill it
    assert text.split()[-1] in " ".join(trial.summary.split()).split()  # cut between words, not inside one


def test_compact_archive_ingest_embeds_one_profile_per_trial_and_keeps_every_chunk_searchable(make_settings, tmp_path):
    archive = _archive(tmp_path)
    index = TrialIndex.open(make_settings())
    report = ingest_paths([archive], index, progress=False)
    assert report.dense_policy == "compact" and report.errors == []
    assert sorted(t.trial_id for t in report.trials) == sorted(RECORDS)
    assert report.timings.embedded_chunks == index.vector_count() == len(RECORDS)
    assert _chroma_ids(index) == _vector_ids(index)
    total = 0
    for nct in RECORDS:
        chunks = index.chunks(nct)
        total += len(chunks)
        assert chunks == chunk_trial(index.trial(nct))  # every chunk stored, in reading order
        assert all(index.chunk(c.id) == c for c in chunks)  # and citable by id
    assert report.chunks == total > 10 * len(RECORDS)

    # A criterion without a vector is still found, by BM25 and by the hybrid search.
    criterion = max(index.trial("NCT00000388").eligibility.criteria(), key=lambda c: len(c.text))
    hits = index.search(criterion.text, k=3, trial_ids=["NCT00000388"])
    assert criterion.id in [h.chunk.id for h in hits]
    assert any(h.chunk.id == criterion.id and h.lexical_rank for h in hits)
    # The profile vector answers dense queries for the trial as a whole.
    trial = index.trial("NCT00000180")
    dense = index.search_dense(f"{trial.title} {' '.join(trial.conditions)}", k=1)
    assert dense[0].chunk.trial_id == "NCT00000180" and dense[0].chunk.section == "summary"
    assert index.search_trials(trial.title, k=1)[0][0] == "NCT00000180"

    again = ingest_paths([archive], index, progress=False)
    assert (again.unchanged, again.ingested, again.replaced) == (len(RECORDS), 0, 0)
    assert again.timings.embedded_chunks == 0 and index.vector_count() == len(RECORDS)
    index.close()


def test_switching_policy_replaces_vectors_without_orphans_and_keeps_chunks(make_settings, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    for nct in RECORDS[:2]:
        (folder / f"{nct}.xml").write_bytes((XML_DIR / f"{nct}.xml").read_bytes())
    full = TrialIndex.open(make_settings())
    first = ingest_paths([folder], full, progress=False)
    assert first.dense_policy == "all" and full.vector_count() > 10
    chunk_ids = {t: [c.id for c in full.chunks(t)] for t in RECORDS[:2]}
    full.close()

    compact = TrialIndex.open(make_settings(dense_policy="compact"))
    second = ingest_paths([folder], compact, progress=False)
    assert second.dense_policy == "compact" and second.replaced == 2
    assert compact.vector_count() == 2 and _chroma_ids(compact) == _vector_ids(compact)
    assert {t: [c.id for c in compact.chunks(t)] for t in RECORDS[:2]} == chunk_ids
    assert ingest_paths([folder], compact, progress=False).unchanged == 2
    compact.close()
