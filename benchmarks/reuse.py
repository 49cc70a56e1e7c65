"""Bench-only vector reuse: embed a text once, even across indexes, when its vector is already known.

The scale bench (benchmarks/scale.py) ingests 100,000 trials re-keyed from the archive. Embedding them
from scratch runs at ~50 texts/s on the 2-core machine, far beyond the bench budget, while under the
compact dense policy a re-keyed trial's profile text is exactly the profile text of a real archive record
(benchmarks/synth.py keeps title, conditions and summary together). So the ingest is given a
`ReusingEmbedder`: a text whose vector the archive index already holds gets that stored vector; any other
text is embedded by the real model (and remembered, so a repeated text is embedded once). The index stores
exactly what a real ingest would store: same texts, same vectors (same model), same ids.

Which archive vector belongs to which text is verified, not assumed: the archive's vector id is
`{chunk_id}@{hash of the embedded text and metadata}`, so a profile text recomputed from the stored record
is used only when it reproduces the stored vector id (`archive_vectors`).
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

import numpy as np


class TextEmbedder(Protocol):
    """What `TrialIndex` needs of an embedder."""

    @property
    def dim(self) -> int: ...

    @property
    def backend(self) -> str: ...

    def embed(self, texts: list[str]) -> np.ndarray: ...


def text_key(text: str) -> str:
    """The cache key of a text: sha256 of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ReusingEmbedder:
    """An embedder that returns a known vector for a known text and embeds only the others.

    `known`: text key (`text_key`) -> vector. `reused` and `embedded` count texts served each way, so the
    bench can say how many vectors were reused and how many were really computed.
    """

    def __init__(self, known: Mapping[str, np.ndarray], embedder: TextEmbedder):
        self._known: dict[str, np.ndarray] = dict(known)
        self._embedder = embedder
        self.reused = 0
        self.embedded = 0

    @property
    def dim(self) -> int:
        return self._embedder.dim

    @property
    def backend(self) -> str:
        """The wrapped embedder's backend, which an index records (the reused vectors must come from it too)."""
        return self._embedder.backend

    def embed(self, texts: list[str]) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in self._known:
                missing.setdefault(key, text)
        if missing:
            vectors = self._embedder.embed(list(missing.values()))
            self._known.update(zip(missing, vectors, strict=True))
            self.embedded += len(missing)
        self.reused += len(texts) - len(missing)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([np.asarray(self._known[k], dtype=np.float32) for k in keys])


def archive_vectors(index_dir: Path, policy: str = "compact") -> dict[str, np.ndarray]:
    """text key -> stored vector for every archive chunk whose embedded text can be recomputed and verified.

    Reads `index_dir` without writing to it: records.sqlite through a read-only connection, and Chroma from
    a temporary copy of its folder (opening a Chroma client may write to its files).
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from ingest.models import Chunk, Trial
    from trialfinder.settings import Settings
    from vectorstore.records import _CHUNK_COLUMNS, _chunk, stored_chunks

    texts: dict[str, str] = {}  # vector id -> embedded text
    db = sqlite3.connect(f"file:{index_dir / 'records.sqlite'}?mode=ro", uri=True)
    try:
        chunks_of: dict[str, list[Chunk]] = {}
        stored_ids: dict[str, str] = {}
        for *columns, vector_id in db.execute(f"SELECT {_CHUNK_COLUMNS}, vector_id FROM chunks ORDER BY trial_id, ord"):
            chunk = _chunk(tuple(columns))
            chunks_of.setdefault(chunk.trial_id, []).append(chunk)
            if vector_id is not None:
                stored_ids[chunk.id] = vector_id
        for (record,) in db.execute("SELECT record FROM trials"):
            trial = Trial.model_validate_json(record)
            for stored in stored_chunks(trial, chunks_of.get(trial.trial_id, []), policy):  # type: ignore[arg-type]
                if stored.vector_id is not None and stored_ids.get(stored.chunk.id) == stored.vector_id:
                    texts[stored.vector_id] = stored.embed_text
    finally:
        db.close()
    with tempfile.TemporaryDirectory(prefix="trialfinder-archive-chroma-") as tmp:
        copy = Path(tmp) / "chroma"
        shutil.copytree(index_dir / "chroma", copy)
        client = chromadb.PersistentClient(path=str(copy), settings=ChromaSettings(anonymized_telemetry=False))
        collection = client.get_collection(Settings().collection)
        return dict(_vectors(collection, list(texts), texts))


def _vectors(collection, ids: list[str], texts: Mapping[str, str]) -> Iterable[tuple[str, np.ndarray]]:
    for start in range(0, len(ids), 2000):
        got = collection.get(ids=ids[start : start + 2000], include=["embeddings"])
        for vector_id, vector in zip(got["ids"], got["embeddings"], strict=True):
            yield text_key(texts[vector_id]), np.asarray(vector, dtype=np.float32)
