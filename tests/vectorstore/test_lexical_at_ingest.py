"""BM25 is built by the ingest itself: a later process's first search only loads it."""

from __future__ import annotations

import json

import pytest

from app.indexer import ingest_paths
from vectorstore.index import TrialIndex
from vectorstore.lexical import LexicalIndex, tokenize


def test_ingest_builds_and_saves_bm25_so_a_fresh_process_only_loads_it(make_settings, monkeypatch):
    settings = make_settings()
    index = TrialIndex.open(settings)
    ingest_paths([settings.corpus_dir], index, progress=False)
    saved = json.loads((settings.index_dir / "lexical" / "version.json").read_text())["version"]
    assert saved == index.store.version

    def no_build(self, version):
        pytest.fail("the first search rebuilt BM25 although the ingest had saved it")

    monkeypatch.setattr(LexicalIndex, "_build", no_build)
    reopened = TrialIndex.open(settings)
    assert reopened.search_lexical("lupus", k=3)


def test_tokens_are_one_shared_string_per_word():
    # Fitting BM25 holds every chunk's tokens at once: one string object per word keeps that a fifth the size.
    first, second = tokenize("Lupus nephritis in adults"), tokenize("Adult lupus trials")
    assert (first, second) == (["lupus", "nephritis", "adult"], ["adult", "lupus", "trial"])
    assert first[0] is second[1] and first[2] is second[0]
