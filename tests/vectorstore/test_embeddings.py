"""Embedding backends: the setting is validated, the ONNX export (built offline from the bundled weights)
retrieves like torch, an index refuses vectors of another backend, and the torch batch path keeps order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from app.indexer import ingest_paths
from trialfinder.settings import Settings
from vectorstore.embeddings import Embedder
from vectorstore.index import TrialIndex

# Own wording: each question aims at one of the five bundled trials without naming its id.
QUESTIONS = [
    "umbilical cord mesenchymal stem cells for lupus nephritis",
    "skin thickening score in scleroderma patients given stem cells",
    "rheumatoid arthritis patients with lung fibrosis",
]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-export")


def test_unknown_backend_is_refused_naming_the_setting(monkeypatch):
    with pytest.raises(ValidationError, match="TRIALFINDER_EMBED_BACKEND must be one of torch, onnx, onnx-int8"):
        Settings(embed_backend="tensorflow")
    monkeypatch.setenv("TRIALFINDER_EMBED_BACKEND", "ONNX ")
    with pytest.raises(ValidationError, match="TRIALFINDER_EMBED_BACKEND"):
        Settings()
    monkeypatch.setenv("TRIALFINDER_EMBED_BACKEND", "onnx-int8")
    assert Settings().embed_backend == "onnx-int8"
    with pytest.raises(ValueError, match="TRIALFINDER_EMBED_BACKEND"):
        Embedder(backend="int4")  # type: ignore[arg-type]


def test_batches_come_back_in_input_order_and_match_one_by_one():
    # More texts than one probing slice (4 batches of 8), of shuffled lengths, so sorting and slicing show.
    texts = [f"{'lupus ' * (i % 7)}trial number {i} about {'kidney ' * (i % 3)}disease" for i in range(70)]
    embedder = Embedder(batch_size=8)
    together = embedder.embed(texts)
    alone = np.vstack([embedder.embed([t]) for t in texts[::9]])
    assert together.shape == (70, embedder.dim) and together.dtype == np.float32
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert float((together[::9] * alone).sum(axis=1).min()) >= 0.9999


def test_a_repeated_text_is_embedded_once_and_returned_at_every_position(monkeypatch):
    texts = ["Primary purpose: Treatment", "Sex: all", "Primary purpose: Treatment", "Phase 2", "Sex: all"] * 3
    embedder = Embedder(batch_size=4)
    model = embedder._model
    seen: list[list[str]] = []

    def encode(batch, **kwargs):
        seen.append(list(batch))
        return type(model).encode(model, batch, **kwargs)

    monkeypatch.setattr(model, "encode", encode)
    vectors = embedder.embed(texts)
    assert seen == [["Primary purpose: Treatment", "Sex: all", "Phase 2"]]
    assert vectors.shape == (15, embedder.dim)
    for i, text in enumerate(texts):
        first = texts.index(text)
        assert np.array_equal(vectors[i], vectors[first])
    assert float(vectors[0] @ vectors[1]) < 0.99


def test_onnx_vectors_match_torch_and_int8_stays_close(onnx_cache: Path):
    texts = ["Exclusion: platelet count below 50,000/mm3", "Adults aged 18 to 70 with systemic sclerosis"]
    torch_vectors = Embedder().embed(texts)
    onnx = Embedder(backend="onnx", cache_dir=onnx_cache)
    assert (onnx_cache / next(onnx_cache.iterdir()).name / "model.onnx").is_file()
    assert float((onnx.embed(texts) * torch_vectors).sum(axis=1).min()) >= 0.9999
    int8 = Embedder(backend="onnx-int8", cache_dir=onnx_cache)
    assert float((int8.embed(texts) * torch_vectors).sum(axis=1).min()) >= 0.95


def test_onnx_index_answers_the_same_top_trial_as_torch(tmp_path: Path, seed_index, onnx_cache: Path):
    settings = Settings(
        index_dir=tmp_path / "onnx-index",
        corpus_dir=seed_index.settings.corpus_dir,
        chroma_server=None,
        embed_backend="onnx",
        embed_cache_dir=onnx_cache,
    )
    index = TrialIndex.open(settings)
    try:
        report = ingest_paths([settings.corpus_dir], index, progress=False)
        assert report.trials and not report.errors
        for question in QUESTIONS:
            onnx_top = index.search_dense(question, k=1)[0].chunk.trial_id
            torch_top = seed_index.search_dense(question, k=1)[0].chunk.trial_id
            assert onnx_top == torch_top, question
    finally:
        index.close()


def test_an_index_refuses_a_second_backend(tmp_path: Path, seed_index, onnx_cache: Path):
    settings = Settings(index_dir=tmp_path / "index", corpus_dir=seed_index.settings.corpus_dir, chroma_server=None)
    index = TrialIndex.open(settings)
    ingest_paths([settings.corpus_dir], index, progress=False)
    index.close()
    other = settings.model_copy(update={"embed_backend": "onnx-int8", "embed_cache_dir": onnx_cache})
    with pytest.raises(ValueError, match=r"built with embedding backend 'torch'.*TRIALFINDER_EMBED_BACKEND=torch"):
        TrialIndex.open(other)
    with pytest.raises(ValueError, match="TRIALFINDER_EMBED_BACKEND"):
        TrialIndex.open(settings, embedder=Embedder(backend="onnx", cache_dir=onnx_cache))
    TrialIndex.open(settings).close()  # the backend that built it still opens it
