"""The record store keeps parsed trials and chunks between reads, and drops them when the store version moves."""

from __future__ import annotations

from app.indexer import ingest_paths
from vectorstore.index import TrialIndex


def test_cached_trial_and_chunks_follow_an_ingest_by_another_process(make_settings, write_study, tmp_path):
    settings = make_settings()
    corpus = tmp_path / "docs"
    write_study(corpus, "NCT90000011", "Belimumab in lupus", criteria="Inclusion Criteria:\n\n* Adults aged 18 to 70")
    reader = TrialIndex.open(settings)
    ingest_paths([corpus], reader, progress=False)
    assert reader.trial("NCT90000011").title == "Belimumab in lupus"
    first = reader.chunks("NCT90000011")
    assert reader.chunks("NCT90000011") == first  # served again, equal

    # A second process (its own connection) rewrites the trial; the first one must see it at once.
    write_study(
        corpus, "NCT90000011", "Belimumab in lupus nephritis", criteria="Inclusion Criteria:\n\n* Adults aged 18 to 60"
    )
    writer = TrialIndex.open(settings, embedder=reader.embedder)
    ingest_paths([corpus], writer, progress=False)
    writer.close()

    assert reader.trial("NCT90000011").title == "Belimumab in lupus nephritis"
    texts = [c.text for c in reader.chunks("NCT90000011")]
    assert any("18 to 60" in t for t in texts) and not any("18 to 70" in t for t in texts)
    reader.close()


def test_a_caller_changing_its_chunk_list_does_not_change_the_next_read(make_settings, write_study, tmp_path):
    settings = make_settings()
    write_study(tmp_path / "docs", "NCT90000012", "Rituximab in myositis")
    index = TrialIndex.open(settings)
    ingest_paths([tmp_path / "docs"], index, progress=False)
    chunks = index.chunks("NCT90000012")
    count = len(chunks)
    chunks.clear()
    assert len(index.chunks("NCT90000012")) == count
    index.close()
