"""Documents in, index out: read, parse, chunk and upsert in batches, with a report and a progress bar.

A document that cannot be read or parsed becomes an `IngestError` (path, line, message) and the rest still
ingest. Embedding is the slow step, so trials are upserted in batches (one embedding call per batch, across
trials). An exception from the index (disk full, Chroma down, interrupt) propagates: what was committed
before stays committed and usable, and a re-run skips it by hash.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from tqdm import tqdm

from ingest.chunking import chunk_trial
from ingest.formats import parse_document_each
from ingest.models import Chunk, IngestError, Trial
from ingest.sources import SourceDocument, iter_documents
from vectorstore.index import TrialIndex, UpsertStats, validate_chunks

# Chunks collected before one embedding batch + transaction; large enough to keep the model busy,
# small enough that an interrupted ingest loses little work.
BATCH_CHUNKS = 512
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2")


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
    timings: IngestTimings


def ingest_paths(
    paths: list[Path], index: TrialIndex, *, progress: bool = True, batch_chunks: int = BATCH_CHUNKS
) -> IngestReport:
    """Ingest files, folders and archives of trial documents into `index`; see the module docstring.

    `batch_chunks`: chunks collected before each embedding batch and transaction.
    """
    run = _Run(index, _progress_bar(paths, progress), batch_chunks)
    started = time.perf_counter()
    try:
        for item in iter_documents([Path(p) for p in paths]):
            if not isinstance(item, SourceDocument):
                run.errors.append(item)
                run.bar.update(1)
                continue
            parse_started = time.perf_counter()
            results = parse_document_each(item.path, item.data)
            run.parse_seconds += time.perf_counter() - parse_started
            for result in results:
                if isinstance(result, IngestError):
                    run.errors.append(result)
                else:
                    run.add(result, item.path)
            run.document_read(hashlib.sha256(item.data).hexdigest(), item.path)
            run.bar.update(1)
            run.show()
        run.flush()
        run.show()
    finally:
        run.bar.close()
    return run.report(time.perf_counter() - started)


class _Run:
    """The state of one ingest: the pending batch, summaries, errors and timings."""

    def __init__(self, index: TrialIndex, bar: tqdm, batch_chunks: int):
        self.index = index
        self.batch_chunks = batch_chunks
        self.bar = bar
        self.pending: list[tuple[Trial, list[Chunk]]] = []
        self.pending_chunks = 0
        self.read_documents: list[tuple[str, str]] = []
        self.summaries: list[TrialSummary] = []
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
            self.errors.append(IngestError(
                path=path, message=f"{trial.trial_id}: cannot be indexed ({type(exc).__name__}: {exc}); "
                "the other trials were ingested. Please report this record."))
            return
        finally:
            self.chunk_seconds += time.perf_counter() - started
        self.pending.append((trial, chunks))
        self.pending_chunks += len(chunks)
        if self.pending_chunks >= self.batch_chunks:
            self.flush()

    def document_read(self, sha256: str, path: str) -> None:
        self.documents += 1
        self.read_documents.append((sha256, path))

    def flush(self) -> None:
        """Upsert the pending batch; documents read completely before it are now fully committed."""
        if self.pending:
            outcomes = self.index.upsert_many(self.pending, stats=self.stats)
            for (trial, chunks), outcome in zip(self.pending, outcomes):
                self.summaries.append(_summary(trial, chunks, outcome))
                self.chunk_total += len(chunks)
            self.pending, self.pending_chunks = [], 0
        if self.read_documents:
            self.index.mark_documents(self.read_documents)
            self.read_documents = []

    def show(self) -> None:
        if not self.bar.disable:
            chunks = self.chunk_total
            elapsed = max(self.bar.format_dict.get("elapsed", 0.0), 1e-9)
            self.bar.set_postfix(trials=len(self.summaries), chunks=chunks, chunks_s=f"{chunks / elapsed:.0f}",
                                 errors=len(self.errors), refresh=False)

    def report(self, total_seconds: float) -> IngestReport:
        chunks = self.chunk_total
        outcomes = [s.outcome for s in self.summaries]
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
            trials=self.summaries,
            chunks=chunks,
            errors=self.errors,
            documents=self.documents,
            ingested=outcomes.count("added"),
            replaced=outcomes.count("replaced"),
            unchanged=outcomes.count("unchanged"),
            failed=len(self.errors),
            timings=timings,
        )


def _summary(trial: Trial, chunks: list[Chunk], outcome: str) -> TrialSummary:
    return TrialSummary(
        trial_id=trial.trial_id,
        title=trial.title,
        sections=list(dict.fromkeys(chunk.section for chunk in chunks)),
        criteria=len(trial.eligibility.criteria()),
        warnings=[warning.message for warning in trial.warnings],
        outcome=outcome,
    )


def _progress_bar(paths: list[Path], progress: bool) -> tqdm:
    enabled = progress and sys.stderr.isatty()
    return tqdm(total=_count_documents(paths) if enabled else None, desc="ingest", unit="doc",
                file=sys.stderr, disable=not enabled, dynamic_ncols=True)


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
