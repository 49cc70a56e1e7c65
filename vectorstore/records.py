"""The SQLite store: source of truth for trial records and chunk texts.

Chroma only holds vectors; every reader goes through this store and ignores vector ids it does not know,
so a half-written ingest (vectors added, records not committed) is invisible. Each chunk row names the
vector that embeds it (`vector_id` = chunk id + content hash): an unchanged chunk of a replaced trial keeps
its vector, and a changed one gets a new vector id instead of overwriting the vector the committed record
still points to. `version` counts committed changes to the chunk set; the lexical indexes rebuild when it moves.

`compiled_rules` keeps, beside each trial, its criteria compiled by the eligibility checker: an opaque payload
and the compiler version that wrote it (this store does not read either). Writing a trial drops its payload,
so a payload never outlives the record it was compiled from.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ingest.models import Chunk, Trial

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    trial_id TEXT PRIMARY KEY,
    source_hash TEXT,
    digest TEXT,
    status TEXT,
    title TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY,
    trial_id TEXT NOT NULL REFERENCES trials(trial_id) ON DELETE CASCADE,
    ord INTEGER NOT NULL,
    vector_id TEXT,
    section TEXT NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    cohort TEXT,
    kind TEXT,
    line INTEGER
);
CREATE TABLE IF NOT EXISTS documents (hash TEXT PRIMARY KEY, path TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_trial ON chunks(trial_id, ord);
CREATE INDEX IF NOT EXISTS chunks_vector ON chunks(vector_id);
"""


# Sections whose chunks after the first are searched by BM25 only: their text (addresses, names, citations)
# carries little meaning an embedding helps with, and on ClinicalTrials.gov records they are a third of all
# text (30 archive records: 197 of 1,170 chunks, 75k of 220k characters), so embedding all of it would cost
# a third of the ingest time. The first chunk keeps a vector so "where does it take place" still finds it.
LEXICAL_ONLY_SECTIONS = frozenset({"locations", "investigators", "references"})


# Dense policies an upsert applies (settings.dense_policy "auto" is resolved to one of these by the caller).
DensePolicy = Literal["all", "compact"]
# Characters of the compact policy's profile text. Embedding cost grows with the tokens embedded, so the
# profile is kept short: 480 characters are 104 word pieces on average (p90 131, max 153) on the archive.
# Measured on 500 archive profiles: 42-48 texts/s whether the model reads 256 or 128 tokens (texts under
# 120 tokens: 51-52 texts/s both ways), so the model's own max_seq_length is left as it is.
PROFILE_CHARS = 480
# Where the profile vector is attached: the first chunk of the first of these sections the trial has.
_PROFILE_ANCHORS = ("summary", "conditions", "status")


@dataclass(frozen=True)
class StoredChunk:
    """A chunk with the vector that embeds it (None for lexical-only sections) and the text embedded."""

    chunk: Chunk
    vector_id: str | None
    embed_text: str
    metadata: dict[str, str | int]


def index_text(trial_id: str, trial_title: str, chunk_title: str, text: str) -> str:
    """What BM25 indexes for a chunk: a header naming the trial and section, then the text.

    The header lets "the platelet exclusion in the lupus pilot" reach a criterion whose own text names
    neither lupus nor the pilot; citations still show only the chunk's text.
    """
    return f"{trial_id} {trial_title} | {chunk_title}\n{text}"


def embed_text(chunk: Chunk) -> str:
    """What is embedded for a chunk: its section title and text.

    The trial title is left out on purpose: it would double the tokens of a typical criterion (the
    embedding is the slow step of an ingest) and BM25 already matches it through `index_text`.
    """
    return f"{chunk.title}: {chunk.text}"


def chunk_metadata(trial: Trial, chunk: Chunk) -> dict[str, str | int]:
    """Scalar Chroma metadata of a chunk (lists joined with '; ', missing values left out)."""
    countries = list(dict.fromkeys(loc.country for loc in trial.locations if loc.country))
    values: dict[str, str | int | None] = {
        "trial_id": trial.trial_id,
        "section": chunk.section,
        "cohort": chunk.cohort,
        "kind": chunk.kind,
        "status": trial.status,
        "phase": trial.phase,
        "conditions": "; ".join(trial.conditions) or None,
        "country": "; ".join(countries) or None,
    }
    return {key: value for key, value in values.items() if value is not None}


def content_digest(trial: Trial, stored: list[StoredChunk]) -> str:
    """Hash of everything an upsert writes for a trial: its record, chunks and vector ids.

    Equal digests mean an upsert would change nothing, even when the source hash is the same but the
    parser or chunker now reads the document differently (then the trial is replaced, not skipped).
    Where the document was read from is left out: the same bytes from another path are unchanged.
    """
    payload = [
        trial.model_dump(mode="json", exclude={"source_path"}),
        [[s.chunk.model_dump(mode="json"), s.vector_id] for s in stored],
    ]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def profile_text(trial: Trial, limit: int = PROFILE_CHARS) -> str:
    """The compact policy's one dense text per trial: title, conditions, keywords, then the summary.

    Cut at the last word boundary before `limit` characters: what a trial is about and for whom, which is
    what patient-to-trial retrieval compares against; the criteria and the rest stay searchable by BM25.
    """
    parts = [trial.title]
    if trial.conditions:
        parts.append("Conditions: " + "; ".join(trial.conditions))
    if trial.keywords:
        parts.append("Keywords: " + "; ".join(trial.keywords))
    if trial.summary:
        parts.append(" ".join(trial.summary.split()))
    text = ". ".join(p.strip().rstrip(".") for p in parts if p and p.strip())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit]


def stored_chunks(trial: Trial, chunks: list[Chunk], dense: DensePolicy = "all") -> list[StoredChunk]:
    """Pair each chunk with its content-addressed vector id (None: BM25 only), embedded text and metadata.

    `dense="all"`: every chunk gets a vector of its own text, except the chunks after the first of the
    `LEXICAL_ONLY_SECTIONS`. `dense="compact"`: one vector per trial, of `profile_text(trial)`, attached to
    its first summary chunk (else conditions, else status, else first chunk); every other chunk is BM25 only.
    """
    if dense not in ("all", "compact"):
        raise ValueError(f"dense policy must be 'all' or 'compact', got {dense!r}")
    anchor = _profile_anchor(chunks) if dense == "compact" else None
    result = []
    sections_seen: set[str] = set()
    for chunk in chunks:
        text = embed_text(chunk)
        metadata = chunk_metadata(trial, chunk)
        first_of_section = chunk.section not in sections_seen
        sections_seen.add(chunk.section)
        if dense == "compact":
            embedded = chunk is anchor
            if embedded:
                text = profile_text(trial)
        else:
            embedded = chunk.section not in LEXICAL_ONLY_SECTIONS or first_of_section
        vector_id = None
        if embedded:
            digest = hashlib.sha1(
                json.dumps([text, metadata], sort_keys=True, ensure_ascii=False).encode()
            ).hexdigest()[:16]
            vector_id = f"{chunk.id}@{digest}"
        result.append(StoredChunk(chunk, vector_id, text, metadata))
    return result


def _profile_anchor(chunks: list[Chunk]) -> Chunk | None:
    for section in _PROFILE_ANCHORS:
        for chunk in chunks:
            if chunk.section == section:
                return chunk
    return chunks[0] if chunks else None


# Trials whose record and chunks a reader keeps parsed (see `RecordStore._cached`). An answer on the archive
# reads a few dozen to ~200 trials (every trial a description such as "the scleroderma trial" matches), and the
# next questions of a chat mostly read the same ones; parsing a record takes ~1 ms, its ~30 chunks ~1.5 ms.
# About 40 KB of objects per archive trial: the cache stays near 40 MB.
_CACHED_TRIALS = 1024


class RecordStore:
    """Trial records and chunks in one SQLite file (WAL mode, so readers never block on an ingest)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        # Parsed records and chunk lists by trial id, valid for the store version they were read at.
        self._cache_version = -1
        self._trial_cache: OrderedDict[str, Trial | None] = OrderedDict()
        self._chunks_cache: OrderedDict[str, list[Chunk]] = OrderedDict()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(trials)")}
        if "digest" not in columns:  # an index written before digests existed: its trials get replaced once
            self._db.execute("ALTER TABLE trials ADD COLUMN digest TEXT")
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(documents)")}
        for column in ("reader", "trials"):  # older indexes: their documents are re-read once, then skipped
            if column not in columns:
                self._db.execute(f"ALTER TABLE documents ADD COLUMN {column} TEXT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- meta ---------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0][0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    @property
    def version(self) -> int:
        """Counter of committed changes to the chunk set."""
        return int(self.get_meta("version") or 0)

    # -- reads --------------------------------------------------------------------------------------
    def digests(self, trial_ids: list[str]) -> dict[str, str | None]:
        """`content_digest` of each of `trial_ids` that is stored (None for records older than digests)."""
        found: dict[str, str | None] = {}
        for start in range(0, len(trial_ids), 500):
            part = trial_ids[start : start + 500]
            marks = ",".join("?" * len(part))
            rows = self._query(f"SELECT trial_id, digest FROM trials WHERE trial_id IN ({marks})", part)
            found.update(dict(rows))
        return found

    def all_hashes(self) -> set[str]:
        """Hashes of every ingested document and of every stored trial record."""
        trials = self._query("SELECT source_hash FROM trials WHERE source_hash IS NOT NULL")
        documents = self._query("SELECT hash FROM documents")
        return {row[0] for row in (*trials, *documents)}

    def vector_ids(self, trial_ids: list[str]) -> dict[str, set[str]]:
        """The vector ids currently committed for each of `trial_ids`."""
        result: dict[str, set[str]] = {tid: set() for tid in trial_ids}
        for start in range(0, len(trial_ids), 500):
            part = trial_ids[start : start + 500]
            marks = ",".join("?" * len(part))
            for trial_id, vector_id in self._query(
                f"SELECT trial_id, vector_id FROM chunks WHERE trial_id IN ({marks}) AND vector_id IS NOT NULL", part
            ):
                result[trial_id].add(vector_id)
        return result

    def known_vector_ids(self, vector_ids: list[str]) -> set[str]:
        known: set[str] = set()
        for start in range(0, len(vector_ids), 500):
            part = vector_ids[start : start + 500]
            marks = ",".join("?" * len(part))
            known.update(r[0] for r in self._query(f"SELECT vector_id FROM chunks WHERE vector_id IN ({marks})", part))
        return known

    def trial(self, trial_id: str) -> Trial | None:
        def read() -> Trial | None:
            rows = self._query("SELECT record FROM trials WHERE trial_id = ?", (trial_id,))
            return Trial.model_validate_json(rows[0][0]) if rows else None

        return self._cached(self._trial_cache, trial_id, read)

    def trials(self) -> list[Trial]:
        return [Trial.model_validate_json(r[0]) for r in self._query("SELECT record FROM trials ORDER BY trial_id")]

    def iter_trials(self, page: int = 500) -> Iterator[Trial]:
        """Every trial, ordered by id, read `page` at a time: a caller that keeps only a summary of each (the
        chat's first screen, the description catalog) never holds the whole registry in memory at once."""
        last = ""
        sql = "SELECT trial_id, record FROM trials WHERE trial_id > ? ORDER BY trial_id LIMIT ?"
        while rows := self._query(sql, (last, page)):
            for _, record in rows:
                yield Trial.model_validate_json(record)
            last = rows[-1][0]

    def trial_ids(self) -> list[str]:
        return [r[0] for r in self._query("SELECT trial_id FROM trials ORDER BY trial_id")]

    def statuses(self) -> dict[str, str | None]:
        return dict(self._query("SELECT trial_id, status FROM trials"))

    def chunk(self, chunk_id: str) -> Chunk | None:
        rows = self._query(f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE id = ?", (chunk_id,))
        return _chunk(rows[0]) if rows else None

    def chunks(self, trial_id: str) -> list[Chunk]:
        def read() -> list[Chunk]:
            rows = self._query(f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE trial_id = ? ORDER BY ord", (trial_id,))
            return [_chunk(row) for row in rows]

        return list(self._cached(self._chunks_cache, trial_id, read))

    def _cached(self, cache: OrderedDict, trial_id: str, read):
        """`read()` for `trial_id` through a small LRU cache that is emptied whenever the version moves.

        The version is read from SQLite on every call, so a commit by another process (an ingest beside
        a running chat) is seen at once. Cached models are frozen; chunk lists are copied by the caller.
        """
        with self._lock:
            version = self.version
            if version != self._cache_version:
                self._trial_cache.clear()
                self._chunks_cache.clear()
                self._cache_version = version
            if trial_id in cache:
                cache.move_to_end(trial_id)
                return cache[trial_id]
            value = read()
            cache[trial_id] = value
            if len(cache) > _CACHED_TRIALS:
                cache.popitem(last=False)
            return value

    def chunks_by_vector(self, vector_ids: list[str]) -> dict[str, Chunk]:
        """Committed chunks of the given vector ids; ids not committed are left out."""
        found: dict[str, Chunk] = {}
        for start in range(0, len(vector_ids), 500):
            part = vector_ids[start : start + 500]
            marks = ",".join("?" * len(part))
            for row in self._query(
                f"SELECT vector_id, {_CHUNK_COLUMNS} FROM chunks WHERE vector_id IN ({marks})", part
            ):
                found[row[0]] = _chunk(row[1:])
        return found

    def index_rows(self):
        """(chunk id, trial id, section, trial title, chunk title, text) of every chunk, in a stable order."""
        return self._query(
            "SELECT c.id, c.trial_id, c.section, t.title, c.title, c.text "
            "FROM chunks c JOIN trials t USING (trial_id) ORDER BY c.trial_id, c.ord"
        )

    def _has_compiled(self) -> bool:
        return bool(self._query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'compiled_rules'"))

    def compiled_rules(self, trial_ids: list[str]) -> dict[str, str]:
        """The stored compiled-rules payload of each of `trial_ids` that has one (of any compiler version)."""
        found: dict[str, str] = {}
        if not self._has_compiled():
            return found
        for start in range(0, len(trial_ids), 500):
            part = trial_ids[start : start + 500]
            marks = ",".join("?" * len(part))
            found.update(self._query(f"SELECT trial_id, payload FROM compiled_rules WHERE trial_id IN ({marks})", part))
        return found

    def uncompiled(self, compiler: str) -> list[str]:
        """Ids of the stored trials without a compiled-rules payload written by `compiler`."""
        if not self._has_compiled():
            return self.trial_ids()
        rows = self._query(
            "SELECT t.trial_id FROM trials t LEFT JOIN compiled_rules c USING (trial_id) "
            "WHERE c.compiler IS NULL OR c.compiler != ? ORDER BY t.trial_id",
            (compiler,),
        )
        return [r[0] for r in rows]

    def counts(self) -> tuple[int, int]:
        trials = self._query("SELECT COUNT(*) FROM trials")[0][0]
        chunks = self._query("SELECT COUNT(*) FROM chunks")[0][0]
        return trials, chunks

    # -- writes -------------------------------------------------------------------------------------
    def mark_documents(
        self, documents: list[tuple[str, str]], read: dict[str, tuple[str, list[dict]]] | None = None
    ) -> None:
        """Remember (sha256, path) of documents whose trials are all committed, for staleness checks.

        `read` maps a document hash to (reader signature, one dict per trial it holds, each with that
        trial's committed "digest"), which lets `read_document` skip re-parsing it.
        """
        read = read or {}
        rows = [
            (
                sha,
                path,
                read[sha][0] if sha in read else None,
                json.dumps(read[sha][1], ensure_ascii=False) if sha in read else None,
            )
            for sha, path in documents
        ]
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO documents(hash, path, reader, trials) VALUES (?, ?, ?, ?)", rows
            )

    def read_document(self, sha256: str, reader: str) -> list[dict] | None:
        """The trial dicts stored by `mark_documents` for a document of these bytes read by `reader`, if every
        one of its trials is still committed with the digest it had then; None otherwise (read it again)."""
        rows = self._query("SELECT trials FROM documents WHERE hash = ? AND reader = ?", (sha256, reader))
        if not rows or rows[0][0] is None:
            return None
        trials = json.loads(rows[0][0])
        current = self.digests([t["trial_id"] for t in trials])
        if any(current.get(t["trial_id"]) != t["digest"] for t in trials):
            return None
        return trials

    def save_compiled(self, compiler: str, payloads: dict[str, str]) -> None:
        """Store compiled-rules payloads by trial id, in one transaction; ids no longer stored are skipped."""
        with self._lock:
            self._db.execute(COMPILED_SCHEMA)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO compiled_rules(trial_id, compiler, payload) "
                    "SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM trials WHERE trial_id = ?)",
                    [(tid, compiler, payload, tid) for tid, payload in payloads.items()],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def commit(self, items: list[tuple[Trial, list[StoredChunk]]]) -> None:
        """Replace the records and chunks of these trials in one transaction and bump the version."""
        if not items:
            return
        with self._lock:
            db = self._db
            compiled = self._has_compiled()
            db.execute("BEGIN IMMEDIATE")
            try:
                for trial, stored in items:
                    db.execute("DELETE FROM chunks WHERE trial_id = ?", (trial.trial_id,))
                    if compiled:  # compiled from the record being replaced: recompiled from the new one
                        db.execute("DELETE FROM compiled_rules WHERE trial_id = ?", (trial.trial_id,))
                    db.execute(
                        "INSERT OR REPLACE INTO trials(trial_id, source_hash, digest, status, title, record) "
                        "VALUES (?,?,?,?,?,?)",
                        (
                            trial.trial_id,
                            trial.source_hash,
                            content_digest(trial, stored),
                            trial.status,
                            trial.title,
                            trial.model_dump_json(),
                        ),
                    )
                    db.executemany(
                        "INSERT INTO chunks(id, trial_id, ord, vector_id, section, title, text, cohort, kind, line) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?)",
                        [
                            (
                                s.chunk.id,
                                trial.trial_id,
                                n,
                                s.vector_id,
                                s.chunk.section,
                                s.chunk.title,
                                s.chunk.text,
                                s.chunk.cohort,
                                s.chunk.kind,
                                s.chunk.line,
                            )
                            for n, s in enumerate(stored)
                        ],
                    )
                db.execute(
                    "INSERT INTO meta(key, value) VALUES ('version', '1') "
                    "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _query(self, sql: str, params=()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()


# Created by the first `save_compiled`, not on open: opening an index to read it (an eval on a shared index)
# must not change it, and an index without the table simply has no compiled rules yet.
COMPILED_SCHEMA = """
CREATE TABLE IF NOT EXISTS compiled_rules (
    trial_id TEXT PRIMARY KEY REFERENCES trials(trial_id) ON DELETE CASCADE,
    compiler TEXT NOT NULL,
    payload TEXT NOT NULL
)
"""

_CHUNK_COLUMNS = "id, trial_id, section, title, text, cohort, kind, line"


def _chunk(row: tuple) -> Chunk:
    chunk_id, trial_id, section, title, text, cohort, kind, line = row
    # Rows were validated as `Chunk`s when committed; building them unvalidated halves the cost of reading a
    # trial's chunks, which an answer does for every trial it shows.
    return Chunk.model_construct(
        id=chunk_id, trial_id=trial_id, section=section, title=title, text=text, cohort=cohort, kind=kind, line=line
    )
