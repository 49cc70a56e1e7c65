"""Hybrid retrieval on real questions over the seed index (read-only)."""

from __future__ import annotations

import numpy as np

from app.indexer import is_stale
from vectorstore.embeddings import Embedder
from vectorstore.fusion import reciprocal_rank_fusion


def test_platelet_question_finds_the_lupus_pilot_laboratory_exclusion_first(seed_index):
    hits = seed_index.search("platelet count exclusion in the lupus pilot", k=5)
    top = hits[0].chunk
    assert top.trial_id == "NCT03171194"
    assert top.section == "eligibility.exclusion"
    assert "platelet count" in top.text and top.text.startswith("Laboratory exclusions")
    assert seed_index.chunk(top.id) == top


def test_abbreviation_mrss_finds_both_scleroderma_trials_criteria(seed_index):
    hits = seed_index.search("mRSS", k=5)
    found = {(h.chunk.trial_id, h.chunk.section.split(".")[0]) for h in hits[:2]}
    assert found == {("NCT04356287", "eligibility"), ("NCT06888973", "eligibility")}
    for hit in hits[:2]:
        assert "mrss" in hit.chunk.text.lower()
        assert hit.lexical_rank is not None


def test_query_naming_a_trial_id_returns_that_trials_chunks(seed_index):
    only_id = seed_index.search("NCT04356287", k=6)
    assert len(only_id) == 6 and {h.chunk.trial_id for h in only_id} == {"NCT04356287"}
    assert [h.chunk.id for h in only_id] == [c.id for c in seed_index.chunks("NCT04356287")[:6]]
    with_words = seed_index.search("what are the exclusion criteria of nct04356287?", k=6)
    assert {h.chunk.trial_id for h in with_words} == {"NCT04356287"}
    assert with_words[0].chunk.section == "eligibility.exclusion"


def test_trial_and_section_filters(seed_index):
    hits = seed_index.search("stem cell infusion dose", k=8, trial_ids=["KCT0004337", "NCT03929120"])
    assert hits and {h.chunk.trial_id for h in hits} <= {"KCT0004337", "NCT03929120"}
    eligibility = seed_index.search("pregnancy", k=8, sections=["eligibility"])
    assert eligibility and all(h.chunk.section.startswith("eligibility") for h in eligibility)
    exclusions = seed_index.search("pregnancy", k=8, sections=["eligibility.exclusion"])
    assert exclusions and all(h.chunk.section == "eligibility.exclusion" for h in exclusions)
    both = seed_index.search("pregnancy", k=8, trial_ids=["NCT03171194"], sections=["eligibility.exclusion"])
    assert both[0].chunk.text.startswith("Pregnant or breast feeding")
    assert all(h.chunk.trial_id == "NCT03171194" for h in both)
    assert seed_index.search("pregnancy", trial_ids=[]) == []


def test_dense_and_lexical_baselines_rank_and_score(seed_index):
    dense = seed_index.search_dense("umbilical cord stem cells for scleroderma", k=5)
    assert [h.dense_rank for h in dense] == [1, 2, 3, 4, 5]
    assert all(h.lexical_rank is None for h in dense)
    assert all(-1.0 <= h.score <= 1.0 for h in dense)
    assert [h.score for h in dense] == sorted((h.score for h in dense), reverse=True)
    lexical = seed_index.search_lexical("SLEDAI", k=5)
    assert lexical and all("sledai" in h.chunk.text.lower() for h in lexical)
    assert seed_index.search_lexical("zzzunknownword", k=5) == []


def test_hybrid_hits_carry_both_ranks_and_fused_scores(seed_index):
    hits = seed_index.search("hemoglobin below 8 g/dL", k=8)
    assert len(hits) == 8
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert any(h.dense_rank and h.lexical_rank for h in hits)
    assert all(h.dense_rank or h.lexical_rank for h in hits)


def test_search_trials_ranks_trials_and_filters_by_status(seed_index, seed_trials):
    ranked = seed_index.search_trials("systemic sclerosis skin thickening mRSS", k=5)
    assert {trial_id for trial_id, _ in ranked[:2]} == {"NCT04356287", "NCT06888973"}
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)
    recruiting = seed_index.search_trials("lupus", k=10, statuses=["recruiting"])
    assert recruiting
    assert all(seed_trials[t].status == "RECRUITING" for t, _ in recruiting)
    assert seed_index.search_trials("lupus", statuses=["WITHDRAWN"]) == []


def test_seed_chunks_hold_no_page_filler_and_no_related_trials(seed_index, seed_trials):
    filler = (
        "Dive into the extended narrative",
        "Explore similar clinical trials",
        "Learn about the drugs",
        "Check the participation requirements",
        "Related Clinical Trials",
    )
    for trial in seed_trials.values():
        related = {r.trial_id for r in trial.related}
        for chunk in seed_index.chunks(trial.trial_id):
            assert not any(f.lower() in chunk.text.lower() for f in filler), chunk.id
            assert not any(r in chunk.text for r in related), chunk.id
    assert seed_trials["NCT03171194"].related, "seed 001 lists related trials; they must be kept apart"


def test_every_seed_criterion_is_a_chunk(seed_index, seed_trials, seed_report):
    assert {t.trial_id for t in seed_report.trials} == set(seed_trials) and len(seed_trials) == 5
    total = 0
    for trial in seed_trials.values():
        chunks = {c.id: c for c in seed_index.chunks(trial.trial_id)}
        total += len(chunks)
        for criterion in trial.eligibility.criteria():
            assert chunks[criterion.id].text == criterion.text.strip()
            assert chunks[criterion.id].kind == criterion.kind
    assert total == seed_report.chunks == seed_index.stats().chunks


def test_embedder_is_normalised_float32_and_shared():
    first, second = Embedder(), Embedder()
    assert first._model is second._model  # one model per process
    vectors = first.embed(["platelet count below 30,000", "low platelets", "hip replacement surgery"])
    assert vectors.dtype == np.float32 and vectors.shape == (3, first.dim) == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert first.embed([]).shape == (0, 384)


def test_reciprocal_rank_fusion_rewards_agreement():
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "d"]])
    assert [key for key, _ in fused] == ["b", "a", "d", "c"]
    assert fused[0][1] == 1 / 61 + 1 / 62


def test_seed_index_is_fresh_and_a_new_document_makes_it_stale(seed_index, seed_settings, tmp_path, write_study):
    assert not is_stale(seed_index, seed_settings.corpus_dir)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for document in seed_settings.corpus_dir.iterdir():
        (corpus / document.name).write_bytes(document.read_bytes())
    assert not is_stale(seed_index, corpus)  # same bytes elsewhere: nothing new
    write_study(corpus, "NCT96000001", "A new study")
    assert is_stale(seed_index, corpus)
