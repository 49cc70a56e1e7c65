"""BM25 (bm25s) over the committed chunks and over one document per trial, persisted beside the index.

Both indexes are derived data: they are built from the SQLite store and saved under `index_dir/lexical`
with the store version they were built at. An ingest builds them as its last step (`refresh`), so the
first search after it only loads them; a search that still finds the version moved (an ingest that was
interrupted, or one run by an older version) rebuilds them then.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np
from bm25s.stopwords import STOPWORDS_EN

from vectorstore.records import RecordStore, index_text

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_STOPWORDS = frozenset(STOPWORDS_EN)
# Sections whose text describes who and what a trial is for: the trial-level document.
TRIAL_DOC_SECTIONS = frozenset(
    {"summary", "conditions", "eligibility", "eligibility.inclusion", "eligibility.exclusion"}
)


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens without English stop words; a plural 's' is dropped ('exclusions' = 'exclusion').

    Tokens are interned: fitting BM25 holds every chunk's tokens at once, and one shared string per word
    instead of one per occurrence takes a fifth of the memory (archive: 370 -> 73 MB for 5.3M tokens).
    """
    tokens = []
    for token in _TOKEN.findall(text.lower()):
        if token in _STOPWORDS:
            continue
        if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
            token = token[:-1]
        tokens.append(sys.intern(token))
    return tokens


@dataclass
class _Bm25:
    model: bm25s.BM25 | None
    keys: np.ndarray  # chunk id or trial id per document
    trial_ids: np.ndarray
    sections: np.ndarray

    def __post_init__(self) -> None:
        # Filters compare small integer codes, not strings: a mask over 250k chunks then takes ~1 ms.
        self._trial_names, self._trial_codes = np.unique(self.trial_ids.astype(str), return_inverse=True)
        self._section_names, self._section_codes = np.unique(self.sections.astype(str), return_inverse=True)

    def mask(self, trial_ids: set[str] | None, sections: set[str] | None) -> np.ndarray | None:
        """Boolean mask of the documents within `trial_ids` and `sections` (None = no restriction)."""
        mask = None
        for names, codes, wanted in (
            (self._trial_names, self._trial_codes, trial_ids),
            (self._section_names, self._section_codes, sections),
        ):
            if wanted is None:
                continue
            allowed = np.flatnonzero(np.isin(names, list(wanted)))
            part = np.isin(codes, allowed)
            mask = part if mask is None else mask & part
        return mask

    def scores(self, query: str, mask: np.ndarray | None) -> np.ndarray:
        tokens = [t for t in tokenize(query) if self.model is not None and t in self.model.vocab_dict]
        if not tokens or self.model is None:
            return np.zeros(len(self.keys), dtype=np.float32)
        scores = np.asarray(self.model.get_scores(tokens), dtype=np.float32)
        return scores if mask is None else np.where(mask, scores, 0.0)

    def top(self, query: str, k: int, mask: np.ndarray | None = None) -> list[tuple[str, float]]:
        scores = self.scores(query, mask)
        hits = np.flatnonzero(scores > 0)
        if len(hits) > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
        order = hits[np.lexsort((self.keys[hits], -scores[hits]))]
        return [(str(self.keys[i]), float(scores[i])) for i in order]


class LexicalIndex:
    """Chunk-level and trial-level BM25, kept in step with the record store's version."""

    def __init__(self, store: RecordStore, folder: Path):
        self.store = store
        self.folder = folder
        self._lock = threading.Lock()
        self._version = -1
        self._chunks: _Bm25 | None = None
        self._trials: _Bm25 | None = None

    def search_chunks(
        self, query: str, k: int, trial_ids: set[str] | None = None, sections: set[str] | None = None
    ) -> list[tuple[str, float]]:
        """Best `k` chunk ids for `query` (BM25 score > 0), optionally within trials and sections."""
        index = self._current()[0]
        return index.top(query, k, index.mask(trial_ids, sections))

    def search_trials(self, query: str, k: int, trial_ids: set[str] | None = None) -> list[tuple[str, float]]:
        """Best `k` trial ids for `query` over one document per trial (title, conditions, summary, criteria)."""
        index = self._current()[1]
        return index.top(query, k, index.mask(trial_ids, None))

    def refresh(self) -> None:
        """Bring both indexes to the store's version now (built and saved, or loaded if already saved)."""
        self._current()

    def _current(self) -> tuple[_Bm25, _Bm25]:
        with self._lock:
            version = self.store.version
            if self._version != version or self._chunks is None or self._trials is None:
                loaded = self._load(version)
                self._chunks, self._trials = loaded if loaded else self._build(version)
                self._version = version
            return self._chunks, self._trials

    def _build(self, version: int) -> tuple[_Bm25, _Bm25]:
        # Everything held until fitting is tokens and interned ids, never the texts: an ingest of 100,000
        # trials (2.9 million chunks) builds this in one process.
        chunk_keys, chunk_trials, chunk_sections, chunk_tokens = [], [], [], []
        trial_docs: dict[str, list[str]] = {}  # trial id -> its document's tokens (id, title, TRIAL_DOC_SECTIONS)
        for chunk_id, trial_id, section, trial_title, chunk_title, text in self.store.index_rows():
            trial_id, section = sys.intern(trial_id), sys.intern(section)
            chunk_keys.append(chunk_id)
            chunk_trials.append(trial_id)
            chunk_sections.append(section)
            chunk_tokens.append(tokenize(index_text(trial_id, trial_title, chunk_title, text)))
            doc = trial_docs.get(trial_id)
            if doc is None:
                doc = trial_docs[trial_id] = tokenize(f"{trial_id}\n{trial_title}")
            if section in TRIAL_DOC_SECTIONS:
                doc.extend(tokenize(text))
        trial_keys = list(trial_docs)
        trial_tokens = [trial_docs[t] for t in trial_keys]
        chunks = _Bm25(_fit(chunk_tokens), _array(chunk_keys), _array(chunk_trials), _array(chunk_sections))
        trials = _Bm25(_fit(trial_tokens), _array(trial_keys), _array(trial_keys), _array(["trial"] * len(trial_keys)))
        try:
            self._save(version, {"chunks": chunks, "trials": trials})
        except OSError as exc:
            # Persisting only saves the next process a rebuild; searching goes on with the index in memory.
            log.warning("could not save the BM25 index to %s (%s); it will be rebuilt next time", self.folder, exc)
        return chunks, trials

    def _save(self, version: int, indexes: dict[str, _Bm25]) -> None:
        # Written to a fresh folder and swapped in, so a reader never loads half an index; the unique
        # staging name keeps two processes saving at once (an ingest and a chat) out of each other's way.
        staging = self.folder.with_name(f"{self.folder.name}.tmp-{uuid.uuid4().hex[:8]}")
        staging.mkdir(parents=True)
        for name, index in indexes.items():
            if index.model is not None:
                index.model.save(str(staging / name), show_progress=False)
            (staging / f"{name}.json").write_text(
                json.dumps(
                    {
                        "keys": index.keys.tolist(),
                        "trial_ids": index.trial_ids.tolist(),
                        "sections": index.sections.tolist(),
                        "empty": index.model is None,
                    }
                )
            )
        (staging / "version.json").write_text(json.dumps({"version": version}))
        old = self.folder.with_name(f"{self.folder.name}.old-{uuid.uuid4().hex[:8]}")
        try:
            if self.folder.exists():
                self.folder.rename(old)
            staging.rename(self.folder)
        finally:
            shutil.rmtree(old, ignore_errors=True)
            shutil.rmtree(staging, ignore_errors=True)

    def _load(self, version: int) -> tuple[_Bm25, _Bm25] | None:
        try:
            saved = json.loads((self.folder / "version.json").read_text())["version"]
        except (OSError, ValueError, KeyError):
            return None
        if saved != version:
            return None
        indexes = []
        try:
            for name in ("chunks", "trials"):
                meta = json.loads((self.folder / f"{name}.json").read_text())
                model = None if meta["empty"] else bm25s.BM25.load(str(self.folder / name), show_progress=False)
                indexes.append(_Bm25(model, _array(meta["keys"]), _array(meta["trial_ids"]), _array(meta["sections"])))
        except (OSError, ValueError, KeyError) as exc:
            # Another process swapped the folder while we read it, or the files are damaged: rebuild.
            log.info("BM25 index in %s unreadable (%s); rebuilding", self.folder, exc)
            return None
        return indexes[0], indexes[1]


def _fit(corpus_tokens: list[list[str]]) -> bm25s.BM25 | None:
    if not any(corpus_tokens):
        return None
    model = bm25s.BM25()
    model.index(corpus_tokens, show_progress=False)
    return model


def _array(values: list[str]) -> np.ndarray:
    return np.asarray(values, dtype=object)
