"""`TrialIndex`: the trial records, their chunks, dense vectors in Chroma and BM25, behind one object.

Storage, and why it survives an interrupted ingest:
- `index_dir/records.sqlite` is the source of truth (trial JSON, source hash, chunk texts). Readers look
  every Chroma hit up there and drop vector ids it does not know.
- Chroma (`index_dir/chroma`, or a server at `settings.chroma_server`) holds one vector per chunk under a
  content-addressed id (`{chunk_id}@{hash}`), with scalar metadata for filtering.
- An upsert writes the new vectors first, then commits the records of the whole batch in one SQLite
  transaction, then deletes the vectors no committed chunk uses any more. Killed at any point, the
  previous records still point at vectors that exist; re-running skips what was committed (same hash).
- BM25 (`index_dir/lexical`) is derived from SQLite and rebuilt lazily when the store version moves.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ingest.models import Chunk, Trial
from ingest.text import normalize_status
from trialfinder.ids import find_ids, strip_ids
from trialfinder.settings import Settings
from vectorstore.embeddings import Embedder
from vectorstore.fusion import reciprocal_rank_fusion
from vectorstore.lexical import LexicalIndex, tokenize
from vectorstore.records import DensePolicy, RecordStore, StoredChunk, content_digest, stored_chunks

UpsertOutcome = Literal["added", "replaced", "unchanged"]

SECTIONS = (
    "summary",
    "description",
    "conditions",
    "status",
    "design",
    "arms",
    "interventions",
    "outcomes",
    "eligibility",
    "eligibility.inclusion",
    "eligibility.exclusion",
    "eligibility.facts",
    "locations",
    "sponsor",
    "investigators",
    "references",
)
# Candidates each retriever contributes to the fusion, per requested hit.
_CANDIDATES_PER_HIT = 4
_MIN_CANDIDATES = 40


class Hit(BaseModel):
    """One retrieved chunk; ranks are 1-based per retriever, None where that retriever missed it."""

    model_config = ConfigDict(frozen=True)

    chunk: Chunk
    score: float
    dense_rank: int | None = None
    lexical_rank: int | None = None


class IndexStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    trials: int
    chunks: int
    bytes: int
    chroma: Literal["embedded", "server"]


@dataclass
class UpsertStats:
    """Where an upsert spent its time; the pipeline adds these up for its report."""

    embed_seconds: float = 0.0
    write_seconds: float = 0.0
    embedded_chunks: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


class TrialIndex:
    """Open with `TrialIndex.open(settings)`; see the module docstring for the storage layout."""

    def __init__(self, settings: Settings, store: RecordStore, collection, client, embedder: Embedder | None):
        self.settings = settings
        self.store = store
        self._collection = collection
        self._client = client
        self._embedder = embedder
        self.lexical = LexicalIndex(store, Path(settings.index_dir) / "lexical")

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None) -> TrialIndex:
        """Open (or create) the index of `settings`; the embedding model loads on first use."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        index_dir = Path(settings.index_dir)
        index_dir.mkdir(parents=True, exist_ok=True)
        store = RecordStore(index_dir / "records.sqlite")
        model = store.get_meta("embedding_model")
        if model is not None and model != settings.embedding_model and store.counts()[1]:
            store.close()
            raise ValueError(
                f"index {index_dir} was built with embedding model {model!r}, not {settings.embedding_model!r}; "
                "use the same TRIALFINDER_EMBEDDING_MODEL or ingest into a new TRIALFINDER_INDEX_DIR"
            )
        built_by = store.get_meta("embedding_backend") or "torch"  # indexes older than the setting: torch
        backend = embedder.backend if embedder is not None else settings.embed_backend
        if built_by != backend and store.counts()[1]:
            store.close()
            raise ValueError(
                f"index {index_dir} was built with embedding backend {built_by!r}, not {backend!r}; vectors of "
                f"different backends must not be mixed: set TRIALFINDER_EMBED_BACKEND={built_by} or ingest into "
                "a new TRIALFINDER_INDEX_DIR"
            )
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if settings.chroma_server:
            host, _, port = settings.chroma_server.rpartition(":")
            if not host or not port.isdigit():
                store.close()
                raise ValueError(f"TRIALFINDER_CHROMA_SERVER must be host:port, got {settings.chroma_server!r}")
            client = chromadb.HttpClient(host=host, port=int(port), settings=chroma_settings)
        else:
            client = chromadb.PersistentClient(path=str(index_dir / "chroma"), settings=chroma_settings)
        collection = client.get_or_create_collection(
            settings.collection, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
        return cls(settings, store, collection, client, embedder)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = Embedder(
                self.settings.embedding_model,
                batch_size=self.settings.embed_batch_size,
                backend=self.settings.embed_backend,
                cache_dir=self.settings.embed_cache_dir,
            )
        return self._embedder

    def close(self) -> None:
        """Release the SQLite connection (Chroma needs no explicit close)."""
        self.store.close()

    # -- writing ------------------------------------------------------------------------------------
    def upsert(self, trial: Trial, chunks: list[Chunk], *, dense: DensePolicy | None = None) -> UpsertOutcome:
        """Add or replace one trial and its chunks; a trial whose record and chunks are unchanged is left untouched.

        `dense`: which chunks get vectors (see `dense_policy`); None applies `settings.dense_policy`.
        """
        return self.upsert_many([(trial, chunks)], dense=dense)[0]

    def dense_policy(self, dense: DensePolicy | None = None) -> DensePolicy:
        """The policy an upsert applies: `dense` if given, else the setting, whose "auto" means "all" here.

        "auto" only becomes "compact" for a bulk ingest, which `app.indexer` recognises from its inputs.
        """
        chosen = dense or self.settings.dense_policy
        return "all" if chosen == "auto" else chosen

    def upsert_many(
        self,
        items: list[tuple[Trial, list[Chunk]]],
        *,
        stats: UpsertStats | None = None,
        dense: DensePolicy | None = None,
    ) -> list[UpsertOutcome]:
        """`upsert` for many trials with one embedding batch and one transaction; outcomes in input order.

        A trial id appearing twice is applied in order (the later version wins). A trial stored under
        another dense policy counts as changed and is replaced (its vectors are swapped, chunks unchanged).
        """
        stats = stats if stats is not None else UpsertStats()
        policy = self.dense_policy(dense)
        outcomes: list[UpsertOutcome] = []
        run: list[tuple[Trial, list[Chunk]]] = []
        for trial, chunks in items:
            validate_chunks(trial, chunks)
            if any(t.trial_id == trial.trial_id for t, _ in run):
                outcomes.extend(self._upsert_run(run, stats, policy))
                run = []
            run.append((trial, chunks))
        outcomes.extend(self._upsert_run(run, stats, policy))
        for outcome in outcomes:
            stats.outcomes[outcome] = stats.outcomes.get(outcome, 0) + 1
        return outcomes

    def _upsert_run(
        self, items: list[tuple[Trial, list[Chunk]]], stats: UpsertStats, policy: DensePolicy
    ) -> list[UpsertOutcome]:
        if not items:
            return []
        trial_ids = [trial.trial_id for trial, _ in items]
        old_digests = self.store.digests(trial_ids)
        old_vectors = self.store.vector_ids(trial_ids)
        outcomes: list[UpsertOutcome] = []
        changed: list[tuple[Trial, list[StoredChunk]]] = []
        for trial, chunks in items:
            trial = trial if trial.source_hash else trial.model_copy(update={"source_hash": _record_hash(trial)})
            stored = stored_chunks(trial, chunks, policy)
            if trial.trial_id not in old_digests:
                outcomes.append("added")
            elif old_digests[trial.trial_id] == content_digest(trial, stored):
                outcomes.append("unchanged")
                continue
            else:
                outcomes.append("replaced")
            changed.append((trial, stored))
        if not changed:
            return outcomes

        # 1. vectors for chunks no committed record already points to (unchanged chunks keep theirs)
        committed = set().union(*old_vectors.values())
        pending: dict[str, StoredChunk] = {}
        for _, stored in changed:
            for s in stored:
                if s.vector_id is not None and s.vector_id not in committed:
                    pending[s.vector_id] = s
        started = time.perf_counter()
        vectors = self.embedder.embed([s.embed_text for s in pending.values()])
        stats.embed_seconds += time.perf_counter() - started
        stats.embedded_chunks += len(pending)

        started = time.perf_counter()
        self._add_vectors(list(pending.values()), vectors)
        # 2. the records, all or nothing
        if self.store.get_meta("embedding_model") is None:
            self.store.set_meta("embedding_model", self.settings.embedding_model)
        if self.store.get_meta("embedding_backend") is None:
            self.store.set_meta("embedding_backend", self.embedder.backend)
        self.store.commit(changed)
        # 3. vectors nobody points to any more
        orphans = set()
        for trial, stored in changed:
            orphans |= old_vectors.get(trial.trial_id, set()) - _vector_ids(stored)
        self._delete_vectors(sorted(orphans))
        stats.write_seconds += time.perf_counter() - started
        return outcomes

    def _add_vectors(self, stored: list[StoredChunk], vectors) -> None:
        batch = self._client.get_max_batch_size()
        for start in range(0, len(stored), batch):
            part = stored[start : start + batch]
            self._collection.upsert(
                ids=[s.vector_id for s in part],
                embeddings=vectors[start : start + batch],
                metadatas=[s.metadata for s in part],
            )

    def _delete_vectors(self, vector_ids: list[str]) -> None:
        batch = self._client.get_max_batch_size()
        for start in range(0, len(vector_ids), batch):
            self._collection.delete(ids=vector_ids[start : start + batch])

    def mark_documents(
        self, documents: list[tuple[str, str]], read: dict[str, tuple[str, list[dict]]] | None = None
    ) -> None:
        """Record (sha256 of the bytes, path) of fully ingested documents so `app.indexer.is_stale` knows them.

        `read`: per document hash, (reader signature, one dict per trial with its "trial_id"), so a later
        ingest of the same bytes by the same reader can skip parsing (see `read_document`). Each dict is
        stored with the trial's committed content digest added under "digest".
        """
        if read:
            ids = [t["trial_id"] for _, trials in read.values() for t in trials]
            digests = self.store.digests(ids)
            read = {
                sha: (reader, [{**t, "digest": digests.get(t["trial_id"])} for t in trials])
                for sha, (reader, trials) in read.items()
            }
        self.store.mark_documents(documents, read)

    def read_document(self, sha256: str, reader: str) -> list[dict] | None:
        """The trial dicts `mark_documents` stored for these bytes and reader, if all its trials are still
        committed as they were then (nothing to do for that document); None: it has to be read again."""
        return self.store.read_document(sha256, reader)

    def stray_vectors(self) -> list[str]:
        """Chroma vector ids no committed chunk uses (left by an interrupted ingest); readers ignore them."""
        stray: list[str] = []
        offset, page = 0, 5000
        while True:
            ids = self._collection.get(include=[], limit=page, offset=offset)["ids"]
            if not ids:
                break
            known = self.store.known_vector_ids(ids)
            stray.extend(i for i in ids if i not in known)
            offset += len(ids)
        return stray

    def prune_vectors(self) -> int:
        """Delete the `stray_vectors`; returns how many were deleted."""
        stray = self.stray_vectors()
        self._delete_vectors(stray)
        return len(stray)

    # -- reading ------------------------------------------------------------------------------------
    def trials(self) -> list[Trial]:
        """Every indexed trial, ordered by id."""
        return self.store.trials()

    def iter_trials(self) -> Iterator[Trial]:
        """Every indexed trial, ordered by id, read a page at a time (`RecordStore.iter_trials`)."""
        return self.store.iter_trials()

    def trial(self, trial_id: str) -> Trial | None:
        return self.store.trial(trial_id)

    def chunk(self, chunk_id: str) -> Chunk | None:
        return self.store.chunk(chunk_id)

    def chunks(self, trial_id: str) -> list[Chunk]:
        """The chunks of one trial in reading order."""
        return self.store.chunks(trial_id)

    def vector_count(self) -> int:
        """Vectors in Chroma (committed or stray); for checks and benchmarks."""
        return self._collection.count()

    def stats(self) -> IndexStats:
        """Trials, chunks and bytes on disk under the index folder (a Chroma server's own files not included)."""
        trials, chunks = self.store.counts()
        size = sum(p.stat().st_size for p in Path(self.settings.index_dir).rglob("*") if p.is_file())
        return IndexStats(
            trials=trials, chunks=chunks, bytes=size, chroma="server" if self.settings.chroma_server else "embedded"
        )

    def source_hashes(self) -> set[str]:
        """sha256 of every source document the stored trials were read from (for staleness checks)."""
        return self.store.all_hashes()

    # -- search -------------------------------------------------------------------------------------
    def search(
        self, query: str, k: int = 8, trial_ids: list[str] | None = None, sections: list[str] | None = None
    ) -> list[Hit]:
        """Hybrid retrieval: dense (Chroma) and BM25 rankings fused by reciprocal rank.

        A query naming indexed trial ids (NCT…/KCT…) searches within those trials (when `trial_ids` is not
        given); naming only an id returns that trial's chunks in reading order. `sections` entries match a
        section or its sub-sections ("eligibility" covers eligibility.inclusion/exclusion/facts).
        """
        if k <= 0 or not query.strip():
            return []
        mentioned = find_ids(query)
        known = self.store.digests(mentioned)
        named = [t for t in mentioned if t in known]
        if named:
            query = strip_ids(query)
            trial_ids = trial_ids if trial_ids is not None else named
            if not tokenize(query):
                return self._trial_chunks(named, k, sections)
        n = max(k * _CANDIDATES_PER_HIT, _MIN_CANDIDATES)
        dense = self.search_dense(query, n, trial_ids, sections)
        lexical = self.search_lexical(query, n, trial_ids, sections)
        by_id = {hit.chunk.id: hit.chunk for hit in (*dense, *lexical)}
        dense_rank = {hit.chunk.id: hit.dense_rank for hit in dense}
        lexical_rank = {hit.chunk.id: hit.lexical_rank for hit in lexical}
        fused = reciprocal_rank_fusion([[h.chunk.id for h in lexical], [h.chunk.id for h in dense]])
        return [
            Hit(
                chunk=by_id[chunk_id],
                score=score,
                dense_rank=dense_rank.get(chunk_id),
                lexical_rank=lexical_rank.get(chunk_id),
            )
            for chunk_id, score in fused[:k]
        ]

    def search_dense(
        self, query: str, k: int = 8, trial_ids: list[str] | None = None, sections: list[str] | None = None
    ) -> list[Hit]:
        """Nearest chunks by embedding (score = cosine similarity), committed chunks only."""
        if k <= 0 or not query.strip():
            return []
        where = _where(trial_id=trial_ids, section=expand_sections(sections))
        if where == "empty":
            return []
        vector = self.embedder.embed([query])
        # Over-fetch a little: vectors of an interrupted ingest may answer and are dropped below.
        result = self._collection.query(query_embeddings=vector, n_results=k + 16, where=where, include=["distances"])
        ids, distances = result["ids"][0], result["distances"][0]
        chunks = self.store.chunks_by_vector(ids)
        hits: list[Hit] = []
        for vector_id, distance in zip(ids, distances, strict=False):
            if vector_id in chunks and len(hits) < k:
                hits.append(Hit(chunk=chunks[vector_id], score=1.0 - float(distance), dense_rank=len(hits) + 1))
        return hits

    def search_lexical(
        self, query: str, k: int = 8, trial_ids: list[str] | None = None, sections: list[str] | None = None
    ) -> list[Hit]:
        """Best chunks by BM25 over the chunk texts with their trial/section header."""
        if k <= 0:
            return []
        expanded = expand_sections(sections)
        ranked = self.lexical.search_chunks(
            query,
            k,
            set(trial_ids) if trial_ids is not None else None,
            set(expanded) if expanded is not None else None,
        )
        hits: list[Hit] = []
        for chunk_id, score in ranked:
            chunk = self.store.chunk(chunk_id)
            if chunk is not None:
                hits.append(Hit(chunk=chunk, score=score, lexical_rank=len(hits) + 1))
        return hits

    def search_trials(
        self, query: str, k: int = 50, statuses: list[str] | None = None, *, more_queries: Sequence[str] = ()
    ) -> list[tuple[str, float]]:
        """Trial-level hybrid retrieval for patient-to-trial search: (trial id, fused score), best first.

        BM25 over one document per trial (title, conditions, keywords, summary, criteria) fused by
        reciprocal rank with the dense ranking of trials by their best-matching chunk. `statuses`
        (e.g. ["RECRUITING"]) keeps trials with one of those statuses. `more_queries` (e.g. a whole
        patient note next to its extracted conditions) add their own BM25 and dense rankings to the
        same fusion, so a trial found by several phrasings of the need rises; a query given twice counts
        twice (its rankings are computed once), which is how a caller weighs one query above another.
        """
        if k <= 0:
            return []
        allowed: set[str] | None = None
        stored_statuses: list[str] | None = None
        if statuses:
            wanted = {normalize_status(s) for s in statuses}
            by_trial = {t: s for t, s in self.store.statuses().items() if s and normalize_status(s) in wanted}
            if not by_trial:
                return []
            allowed, stored_statuses = set(by_trial), sorted(set(by_trial.values()))
        n = max(k * 2, 100)
        per_query: dict[str, list[list[str]]] = {}
        rankings: list[list[str]] = []
        for text in [query, *(q for q in more_queries if q.strip())]:
            if text not in per_query:
                per_query[text] = [
                    [trial_id for trial_id, _ in self.lexical.search_trials(text, n, allowed)],
                    self._dense_trials(text, n, stored_statuses),
                ]
            rankings.extend(per_query[text])
        return reciprocal_rank_fusion(rankings)[:k]

    def _dense_trials(self, query: str, n: int, statuses: list[str] | None) -> list[str]:
        if not tokenize(query):
            return []
        total = self._collection.count()
        if not total:
            return []
        vector = self.embedder.embed([query])
        # Chunks per trial vary; fetching ~8 chunks per wanted trial covers n distinct trials in practice.
        result = self._collection.query(
            query_embeddings=vector,
            n_results=min(total, n * 8),
            where=_where(status=statuses),
            include=["metadatas"],
        )
        ids, metadatas = result["ids"][0], result["metadatas"][0]
        known = self.store.known_vector_ids(ids)
        ranked: dict[str, None] = {}
        for vector_id, metadata in zip(ids, metadatas, strict=False):
            if vector_id in known:
                ranked.setdefault(str(metadata["trial_id"]), None)
        return list(ranked)[:n]

    def _trial_chunks(self, trial_ids: list[str], k: int, sections: list[str] | None) -> list[Hit]:
        expanded = set(expand_sections(sections) or SECTIONS)
        per_trial = [[c for c in self.store.chunks(t) if c.section in expanded] for t in trial_ids]
        # Round-robin across the named trials so each of them is represented.
        ordered = [c for group in zip(*_padded(per_trial), strict=False) for c in group if c is not None]
        return [Hit(chunk=c, score=1.0 / (rank + 1)) for rank, c in enumerate(ordered[:k])]


def validate_chunks(trial: Trial, chunks: list[Chunk]) -> None:
    """Raise ValueError when chunks belong to another trial or repeat an id (the index keys on chunk ids)."""
    seen: set[str] = set()
    for chunk in chunks:
        if chunk.trial_id != trial.trial_id:
            raise ValueError(f"chunk {chunk.id} belongs to {chunk.trial_id}, not to {trial.trial_id}")
        if chunk.id in seen:
            raise ValueError(f"{trial.trial_id}: chunk id {chunk.id} appears twice; chunk ids must be unique")
        seen.add(chunk.id)


def expand_sections(sections: list[str] | None) -> list[str] | None:
    """Section filter entries with their sub-sections ("eligibility" -> eligibility, .inclusion, ...)."""
    if sections is None:
        return None
    expanded = {s for s in sections}
    for wanted in sections:
        expanded.update(s for s in SECTIONS if s.startswith(wanted + "."))
    return sorted(expanded)


def _where(**filters: list[str] | None):
    clauses = []
    for key, values in filters.items():
        if values is None:
            continue
        if not values:
            return "empty"
        clauses.append({key: {"$in": list(values)}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _vector_ids(stored: list[StoredChunk]) -> set[str]:
    return {s.vector_id for s in stored if s.vector_id is not None}


def _record_hash(trial: Trial) -> str:
    return hashlib.sha256(trial.model_dump_json().encode()).hexdigest()


def _padded(groups: list[list[Chunk]]) -> list[list[Chunk | None]]:
    width = max((len(g) for g in groups), default=0)
    return [g + [None] * (width - len(g)) for g in groups]
