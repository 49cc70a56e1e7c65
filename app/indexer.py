"""Documents in, index out: read, parse, chunk and upsert in batches, with a report and a progress bar.

A document that cannot be read or parsed becomes an `IngestError` (path, line, message) and the rest still
ingest. Embedding is the slow step, so trials are upserted in batches (one embedding call per batch, across
trials). An exception from the index (disk full, Chroma down, interrupt) propagates: what was committed
before stays committed and usable, and a re-run skips it by hash.

Two things keep a bulk ingest affordable (issue 8, measured on the 6,785-record archive):
- `settings.dense_policy` ("auto": `choose_dense_policy`): a bulk ingest embeds one profile text per trial
  instead of every chunk; every chunk is still stored, citable and searched by BM25.
- A document whose bytes were committed before by the same reader (`reader_signature`) and whose trials
  are still stored as then is not parsed again: an unchanged re-ingest only reads and hashes.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sys
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from tqdm import tqdm

from eligibility import compiled
from ingest.chunking import chunk_trial
from ingest.formats import parse_document_each
from ingest.models import Chunk, IngestError, Trial
from ingest.sources import SourceDocument, SourceLimits, iter_documents
from vectorstore.index import TrialIndex, UpsertStats, validate_chunks
from vectorstore.records import DensePolicy

# Chunks collected before one embedding batch + transaction; large enough to keep the model busy,
# small enough that an interrupted ingest loses little work.
BATCH_CHUNKS = 512
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2")
# dense_policy "auto" turns "compact" at these input sizes. Embedding every chunk runs at 25-50 chunks/s on
# the 2-core machine (~31 chunks per ClinicalTrials.gov record), so 1,000 records already take 10-20
# minutes; the bundled seed corpus (5 documents, 60 kB) stays far below and keeps every chunk embedded.
COMPACT_MIN_DOCUMENTS = 1000
COMPACT_MIN_BYTES = 50_000_000


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class TrialSummary(_Frozen):
    """What one ingested trial looks like in the index (CONTRACT: ingest --json `trials`)."""

    trial_id: str
    title: str
    sections: list[str] = Field(description="Section keys of its chunks, in reading order")
    criteria: int = Field(description="Number of eligibility criteria (each one chunk)")
    warnings: list[str] = Field(default_factory=list, description="Data-quality notes of the document")
    outcome: Literal["added", "replaced", "unchanged"]


class IngestTimings(_Frozen):
    """Seconds per stage; `embed_share` = embed / total, the part the embedding model takes."""

    parse_seconds: float
    chunk_seconds: float
    embed_seconds: float
    write_seconds: float
    total_seconds: float
    embed_share: float
    embedded_chunks: int = Field(description="Chunks embedded in this run (unchanged chunks are not)")
    chunks_per_second: float = Field(description="Chunks of the ingested trials / total seconds")


class IngestReport(_Frozen):
    trials: list[TrialSummary]
    chunks: int = Field(description="Total chunks of the trials above")
    errors: list[IngestError]
    documents: int
    ingested: int = Field(description="Trials new to the index")
    replaced: int
    unchanged: int
    failed: int = Field(description="Documents or studies that could not be ingested")
    dense_policy: Literal["all", "compact"] = Field(
        default="all", description="Which chunks got dense vectors in this run (settings.dense_policy)"
    )
    timings: IngestTimings


def ingest_paths(
    paths: list[Path], index: TrialIndex, *, progress: bool = True, batch_chunks: int = BATCH_CHUNKS
) -> IngestReport:
    """Ingest files, folders and archives of trial documents into `index`; see the module docstring.

    `batch_chunks`: chunks collected before each embedding batch and transaction. Which chunks get dense
    vectors follows `index.settings.dense_policy`, "auto" resolved by `choose_dense_policy(paths, ...)`.
    """
    dense = choose_dense_policy([Path(p) for p in paths], index.settings.dense_policy)
    run = _Run(index, _progress_bar(paths, progress), batch_chunks, dense)
    started = time.perf_counter()
    try:
        for item in iter_documents([Path(p) for p in paths], SourceLimits.of(index.settings)):
            if not isinstance(item, SourceDocument):
                run.errors.append(item)
                run.bar.update(1)
                continue
            sha256 = hashlib.sha256(item.data).hexdigest()
            known = index.read_document(sha256, run.reader)
            if known is not None:
                run.unchanged_document(known)
            else:
                parse_started = time.perf_counter()
                results = parse_document_each(item.path, item.data, max_criteria=index.settings.max_criteria)
                run.parse_seconds += time.perf_counter() - parse_started
                errors_before = len(run.errors)
                for result in results:
                    if isinstance(result, IngestError):
                        run.errors.append(result)
                    else:
                        run.add(result, item.path)
                trial_ids = [r.trial_id for r in results if not isinstance(r, IngestError)]
                run.document_read(sha256, item.path, trial_ids if len(run.errors) == errors_before else None)
            run.bar.update(1)
            run.show()
        run.flush()
        # BM25 is built here, once per ingest, so the first search after it does not pay for it.
        index.lexical.refresh()
        # Likewise the criteria: parsed into rules once here instead of at every first check.
        compile_rules(index)
        run.show()
    finally:
        run.bar.close()
    return run.report(time.perf_counter() - started)


class _Run:
    """The state of one ingest: the pending batch, summaries, errors and timings."""

    def __init__(self, index: TrialIndex, bar: tqdm, batch_chunks: int, dense: DensePolicy):
        self.index = index
        self.dense = dense
        self.batch_chunks = batch_chunks
        self.bar = bar
        self.reader = reader_signature(dense, index.settings.embedding_model)
        self.pending: list[tuple[int, Trial, list[Chunk]]] = []
        # Where each trial id of this run came from, and duplicate warnings by reading position.
        self.sources: dict[str, str] = {}
        self.notes: dict[int, list[str]] = {}
        self.pending_chunks = 0
        self.read_documents: list[tuple[str, str, list[str] | None]] = []
        # (position in reading order, summary, chunks): skipped documents report before the batch commits
        self.summaries: list[tuple[int, TrialSummary, int]] = []
        self.committed: dict[str, tuple[TrialSummary, int]] = {}
        self.position = 0
        self.errors: list[IngestError] = []
        self.documents = 0
        self.chunk_total = 0
        self.parse_seconds = 0.0
        self.chunk_seconds = 0.0
        self.stats = UpsertStats()

    def add(self, trial: Trial, path: str) -> None:
        started = time.perf_counter()
        try:
            chunks = chunk_trial(trial)
            validate_chunks(trial, chunks)
        except Exception as exc:  # noqa: BLE001 - one odd record must not stop the ingest of the others
            self.errors.append(
                IngestError(
                    path=path,
                    message=f"{trial.trial_id}: cannot be indexed ({type(exc).__name__}: {exc}); "
                    "the other trials were ingested. Please report this record.",
                )
            )
            return
        finally:
            self.chunk_seconds += time.perf_counter() - started
        if duplicate := self._duplicate(trial.trial_id, path):
            self.notes[self.position] = [duplicate]
        self.sources[trial.trial_id] = path
        self.pending.append((self.position, trial, chunks))
        self.position += 1
        self.pending_chunks += len(chunks)
        if self.pending_chunks >= self.batch_chunks:
            self.flush()

    def _duplicate(self, trial_id: str, path: str) -> str | None:
        """The warning for a trial id already read from another source, in this run or a stored one.

        The rule: the later one in ingest order wins (inputs in the order given, folders sorted, archives
        in member order; a new ingest comes after everything stored), so the warning names both.
        """
        earlier = self.sources.get(trial_id)
        if earlier is None:
            stored = self.index.trial(trial_id)
            earlier = stored.source_path if stored is not None else None
        if earlier is None or earlier == path:
            return None
        return (
            f"duplicate trial id {trial_id}: also in {earlier}; this one ({path}) is later in ingest order "
            "and replaces it"
        )

    def document_read(self, sha256: str, path: str, trial_ids: list[str] | None) -> None:
        """A document was parsed; `trial_ids` are its trials, None when some of it could not be ingested
        (such a document is parsed again next time, so its errors are reported again)."""
        self.documents += 1
        self.read_documents.append((sha256, path, trial_ids))

    def unchanged_document(self, trials: list[dict]) -> None:
        """A document already committed from the same bytes by the same reader: report, don't parse."""
        self.documents += 1
        for stored in trials:
            summary = TrialSummary(**{k: stored[k] for k in _SUMMARY_FIELDS}, outcome="unchanged")
            self.summaries.append((self.position, summary, stored["chunks"]))
            self.position += 1
            self.chunk_total += stored["chunks"]

    def flush(self) -> None:
        """Upsert the pending batch; documents read completely before it are now fully committed."""
        if self.pending:
            outcomes = self.index.upsert_many([(t, c) for _, t, c in self.pending], stats=self.stats, dense=self.dense)
            for (position, trial, chunks), outcome in zip(self.pending, outcomes, strict=False):
                summary = _summary(trial, chunks, outcome, self.notes.pop(position, []))
                self.summaries.append((position, summary, len(chunks)))
                self.committed[trial.trial_id] = (summary, len(chunks))
                self.chunk_total += len(chunks)
            self.pending, self.pending_chunks = [], 0
        if self.read_documents:
            read = {}
            for sha256, _, trial_ids in self.read_documents:
                if trial_ids is not None and all(t in self.committed for t in trial_ids):
                    read[sha256] = (
                        self.reader,
                        [
                            {**summary.model_dump(include=set(_SUMMARY_FIELDS)), "chunks": chunks}
                            for summary, chunks in (self.committed[t] for t in trial_ids)
                        ],
                    )
            self.index.mark_documents([(sha, path) for sha, path, _ in self.read_documents], read)
            self.read_documents = []

    def show(self) -> None:
        if not self.bar.disable:
            chunks = self.chunk_total
            elapsed = max(self.bar.format_dict.get("elapsed", 0.0), 1e-9)
            self.bar.set_postfix(
                trials=len(self.summaries),
                chunks=chunks,
                chunks_s=f"{chunks / elapsed:.0f}",
                errors=len(self.errors),
                refresh=False,
            )

    def report(self, total_seconds: float) -> IngestReport:
        chunks = self.chunk_total
        summaries = [summary for _, summary, _ in sorted(self.summaries, key=lambda item: item[0])]
        outcomes = [s.outcome for s in summaries]
        timings = IngestTimings(
            parse_seconds=round(self.parse_seconds, 3),
            chunk_seconds=round(self.chunk_seconds, 3),
            embed_seconds=round(self.stats.embed_seconds, 3),
            write_seconds=round(self.stats.write_seconds, 3),
            total_seconds=round(total_seconds, 3),
            embed_share=round(self.stats.embed_seconds / total_seconds, 3) if total_seconds else 0.0,
            embedded_chunks=self.stats.embedded_chunks,
            chunks_per_second=round(chunks / total_seconds, 1) if total_seconds else 0.0,
        )
        return IngestReport(
            trials=summaries,
            chunks=chunks,
            errors=self.errors,
            documents=self.documents,
            ingested=outcomes.count("added"),
            replaced=outcomes.count("replaced"),
            unchanged=outcomes.count("unchanged"),
            failed=len(self.errors),
            dense_policy=self.dense,
            timings=timings,
        )


# Below this many trials to compile, starting compiling processes (each imports the parser and its registry,
# ~2 s) costs more than it saves.
PARALLEL_COMPILE_FROM = 500


def compile_rules(index: TrialIndex, batch: int = 200) -> int:
    """Compile the criteria of every stored trial that has no rules from the current compiler, and store them
    beside the record; returns how many trials were compiled.

    New and replaced trials have none (a commit drops them), and a changed parser, registry or matcher makes
    every stored payload stale (`compiled.COMPILER_VERSION`), so an ingest after such a change recompiles all
    trials even when no document changed. Until then the checker refuses stale payloads and parses afresh.

    Many trials are compiled by `TRIALFINDER_COMPILE_WORKERS` processes (parsing is pure Python, one core
    each), a batch at a time and saved in order as they come back: an interrupted run keeps what it saved.
    """
    stale = index.store.uncompiled(compiled.COMPILER_VERSION)
    batches = [stale[start : start + batch] for start in range(0, len(stale), batch)]
    workers = index.settings.compile_workers or os.cpu_count() or 1
    if workers < 2 or len(stale) < PARALLEL_COMPILE_FROM:
        for ids in batches:
            payloads = {
                trial.trial_id: compiled.compile_payload(trial)
                for trial_id in ids
                if (trial := index.trial(trial_id)) is not None
            }
            index.store.save_compiled(compiled.COMPILER_VERSION, payloads)
        return len(stale)
    # "spawn": a forked copy of a process holding the embedding model and its threads can hang.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending: deque[Future[dict[str, str]]] = deque()
        for ids in batches:
            pending.append(pool.submit(compiled.compile_records, _records(index, ids)))
            # A few batches in flight per process: the records of a whole registry are never all in memory.
            if len(pending) >= 2 * workers:
                index.store.save_compiled(compiled.COMPILER_VERSION, pending.popleft().result())
        while pending:
            index.store.save_compiled(compiled.COMPILER_VERSION, pending.popleft().result())
    return len(stale)


def _records(index: TrialIndex, trial_ids: list[str]) -> list[str]:
    return [trial.model_dump_json() for trial_id in trial_ids if (trial := index.trial(trial_id)) is not None]


def _summary(trial: Trial, chunks: list[Chunk], outcome: str, notes: list[str]) -> TrialSummary:
    return TrialSummary(
        trial_id=trial.trial_id,
        title=trial.title,
        sections=list(dict.fromkeys(chunk.section for chunk in chunks)),
        criteria=len(trial.eligibility.criteria()),
        warnings=[warning.message for warning in trial.warnings] + notes,
        outcome=outcome,
    )


_SUMMARY_FIELDS = ("trial_id", "title", "sections", "criteria", "warnings")
# What decides the records an ingest writes for a document: the parsers, criteria reader and chunker
# (ingest/) and the chunk-to-vector mapping (vectorstore/records.py).
_READER_SOURCES = (
    Path(__file__).resolve().parent,
    Path(__file__).resolve().parent.parent / "vectorstore" / "records.py",
)


def reader_signature(dense: str, embedding_model: str) -> str:
    """Fingerprint of how a document becomes records: the reading code's bytes, the dense policy, the model.

    A document whose bytes were committed under the same signature is skipped without being parsed (an
    unchanged re-ingest of the 6,785-record archive then reads and hashes, nothing more); any change to
    the code, the policy or the model makes every document be read again and compared by content digest.
    """
    digest = hashlib.sha256(f"{dense}\0{embedding_model}".encode())
    for source in _READER_SOURCES:
        for file in sorted(source.rglob("*.py")) if source.is_dir() else [source]:
            digest.update(str(file.relative_to(source.parent)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def choose_dense_policy(paths: list[Path], setting: str) -> DensePolicy:
    """Resolve `settings.dense_policy` for an ingest of `paths`: "all" and "compact" are kept as they are;
    "auto" is "compact" for a bulk ingest (an archive among the inputs, or at least `COMPACT_MIN_DOCUMENTS`
    files or `COMPACT_MIN_BYTES` bytes under them) and "all" otherwise.

    Decided once per run from the inputs, so re-ingesting the same inputs applies the same policy and
    leaves every trial unchanged.
    """
    if setting == "all":
        return "all"
    if setting == "compact":
        return "compact"
    if setting != "auto":
        raise ValueError(f"TRIALFINDER_DENSE_POLICY must be auto, all or compact, got {setting!r}")
    files, size = 0, 0
    for path in paths:
        candidates = (Path(d) / f for d, _, names in os.walk(path) for f in names) if path.is_dir() else [path]
        for file in candidates:
            if str(file).lower().endswith(ARCHIVE_SUFFIXES):
                return "compact"
            if file.name.startswith(".") or not file.is_file():
                continue
            files += 1
            size += file.stat().st_size
            if files >= COMPACT_MIN_DOCUMENTS or size >= COMPACT_MIN_BYTES:
                return "compact"
    return "all"


def _progress_bar(paths: list[Path], progress: bool) -> tqdm:
    enabled = progress and sys.stderr.isatty()
    return tqdm(
        total=_count_documents(paths) if enabled else None,
        desc="ingest",
        unit="doc",
        file=sys.stderr,
        disable=not enabled,
        dynamic_ncols=True,
    )


def _count_documents(paths: list[Path]) -> int | None:
    """Files under `paths` (for the ETA); None when an archive is involved (counting would mean reading it)."""
    total = 0
    for path in map(Path, paths):
        if path.is_dir():
            for _, _, files in os.walk(path):
                if any(name.lower().endswith(ARCHIVE_SUFFIXES) for name in files):
                    return None
                total += sum(1 for name in files if not name.startswith("."))
        elif str(path).lower().endswith(ARCHIVE_SUFFIXES):
            return None
        else:
            total += 1
    return total


def is_stale(index: TrialIndex, corpus_dir: Path) -> bool:
    """True when the index is empty or any document under `corpus_dir` is new or changed."""
    known = index.source_hashes()
    if not known:
        return True
    return any(
        isinstance(document, SourceDocument) and hashlib.sha256(document.data).hexdigest() not in known
        for document in iter_documents([Path(corpus_dir)], SourceLimits.of(index.settings))
    )
