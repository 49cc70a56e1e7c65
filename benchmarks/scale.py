"""Scale bench (part of `make bench`; alone: `python -m benchmarks.run --only scale`): 100,000 trials on a Chroma server, beside the embedded client.

In one run, on this machine:
1. `chroma run` on a free loopback port with a temporary data folder (stopped at the end);
2. `count` trials re-keyed from the archive (benchmarks/synth.py), in JSONL files of 1,000;
3. a real ingest (`app.indexer.ingest_paths`, compact dense policy: what `auto` picks for a bulk corpus)
   of the first `embedded` trials into an embedded-client index, and of the same trials into a
   server-backed index; then the rest of the `count` trials into the server-backed index (a second, real,
   incremental ingest), so the server has two measured sizes for the projection;
4. after each ingest, a fresh serving process (`serve_bench`, what a chat process holds) opens the index and
   measures dense and hybrid retrieval p50/p95 on the QA questions and patient search p50/p95 on the five
   patient notes (the query sets of benchmarks/run.py), and its own memory; the Chroma server's memory and
   every component's size on disk are read next to it;
5. two `trialfinder chat` processes on the full server-backed index (one Chroma server, one records store),
   driven at once over socket.io (benchmarks/chat_client.py): answers/s, p50/p95 and errors of each;
6. a projection to the 560,000 studies of ClinicalTrials.gov from the two server sizes (`project`).

Vectors are reused, not recomputed: embedding 100,000 profile texts takes ~35 minutes on 2 cores, so the
ingest gets a `benchmarks.reuse.ReusingEmbedder` that returns the archive index's stored vector for a profile
text it already holds (verified by its content-addressed id) and embeds any other text with the real model.
The indexes store exactly what an ingest with the model would store; the ingest throughput therefore
excludes embedding, whose cost is added back in the projection from the measured embedding rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.children import child_env
from trialfinder.settings import PROJECT_ROOT, Settings

REGISTRY_STUDIES = 560_000
# Profile texts per second of the real embedder on this machine, for adding embedding back to the projection
# (measured on 500 archive profiles: 42-48 texts/s; vectorstore/records.py PROFILE_CHARS).
PROFILE_EMBED_PER_S = 45.0
CHAT_SESSIONS_PER_PROCESS = 10


def log(message: str) -> None:
    print(f"bench scale: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- memory and disk


def rss_mb(pid: int) -> dict[str, float]:
    """Resident memory of a process now (VmRSS) and at its peak (VmHWM), in MB, from /proc."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values["rss_mb" if key == "VmRSS" else "peak_rss_mb"] = round(int(rest.split()[0]) / 1024, 1)
    return values


def listening_pid(port: int) -> int | None:
    """The pid of the `chroma run` process started on `port` (found by its command line)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(a.endswith(b"chroma") for a in argv[:2]) and b"run" in argv and str(port).encode() in argv:
            return int(entry.name)
    return None


def folder_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def disk_usage(index_dir: Path, chroma_dir: Path) -> dict[str, int]:
    """Bytes of the records store (with its WAL), the Chroma data (embedded folder or server folder), BM25."""
    records = sum(folder_bytes(p) for p in index_dir.glob("records.sqlite*"))
    sizes = {"records": records, "chroma": folder_bytes(chroma_dir), "lexical": folder_bytes(index_dir / "lexical")}
    return {**sizes, "total": sum(sizes.values())}


# ---------------------------------------------------------------- ingest and serving


def ingest(index_dir: Path, chroma: str | None, paths: list[Path], reuse) -> dict:
    """A real ingest of `paths` into the index at `index_dir` (compact dense policy), vectors through `reuse`."""
    from app.indexer import ingest_paths
    from vectorstore.index import TrialIndex

    settings = Settings(index_dir=index_dir, chroma_server=chroma, dense_policy="compact")
    index = TrialIndex.open(settings, embedder=reuse)
    reused, embedded = reuse.reused, reuse.embedded
    report = ingest_paths(paths, index, progress=False)
    trials, chunks = index.store.counts()
    vectors = index.vector_count()
    index.close()
    t = report.timings
    return {
        "trials": len(report.trials),
        "chunks": report.chunks,
        "errors": len(report.errors),
        "dense_policy": report.dense_policy,
        "seconds": round(t.total_seconds, 1),
        "trials_per_s": round(len(report.trials) / t.total_seconds, 1),
        "chunks_per_s": round(report.chunks / t.total_seconds, 1),
        "vectors_reused": reuse.reused - reused,
        "vectors_embedded": reuse.embedded - embedded,
        "embed_seconds": round(t.embed_seconds, 1),
        "index_trials": trials,
        "index_chunks": chunks,
        "index_vectors": vectors,
    }


def serve_bench(index_dir: Path, chroma: str | None) -> dict:
    """What a serving (chat) process sees: open time to a first answer, latencies and its own memory."""
    from benchmarks.run import bench_search, latencies_ms, qa_queries, scale_questions
    from vectorstore.index import TrialIndex

    started = time.perf_counter()
    index = TrialIndex.open(Settings(index_dir=index_dir, chroma_server=chroma, dense_policy="compact"))
    index.search("warm up", 10)
    open_s = time.perf_counter() - started
    questions = scale_questions(qa_queries())
    result = {
        "open_to_first_search_s": round(open_s, 1),
        "dense": latencies_ms(lambda q: index.search_dense(q[0], 10), questions),
        "hybrid": latencies_ms(lambda q: index.search(q[0], 10), questions),
        "search": bench_search(index),
        **rss_mb(os.getpid()),
    }
    index.close()
    return result


def serve_bench_process(index_dir: Path, chroma: str | None) -> dict:
    """`serve_bench` in a fresh Python process, so its memory is that of a reader alone."""
    command = [sys.executable, "-m", "benchmarks.scale", "--serve", str(index_dir)]
    if chroma:
        command += ["--chroma", chroma]
    done = subprocess.run(
        command, cwd=PROJECT_ROOT, env=child_env(), capture_output=True, text=True, timeout=1800, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"serving bench failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def measure(index_dir: Path, chroma: str | None, chroma_dir: Path, server_pid: int | None) -> dict:
    result = {"serving": serve_bench_process(index_dir, chroma), "disk_bytes": disk_usage(index_dir, chroma_dir)}
    if server_pid is not None:
        result["chroma_server"] = rss_mb(server_pid)
    return result


# ---------------------------------------------------------------- two chat processes


async def _two_chats(urls: list[str], turns: tuple[str, ...], sessions: int) -> list[dict]:
    from benchmarks.load import concurrent_sessions

    return list(await asyncio.gather(*(concurrent_sessions(url, sessions, turns) for url in urls)))


def two_chat_processes(index_dir: Path, chroma: str, workdir: Path, trial_id: str, sessions: int) -> dict:
    """Two `trialfinder chat` servers on one index and one Chroma server, driven at the same time."""
    from benchmarks.chat_client import start_chat_server, stop_chat_server

    env = {"TRIALFINDER_CHROMA_SERVER": chroma, "TRIALFINDER_DENSE_POLICY": "compact"}
    turns = (
        "Find lupus trials",
        "I'm 34, female, SLE since 2019, SLEDAI 6, eGFR 95, on prednisone 10 mg daily",
        f"Am I eligible for {trial_id}?",
    )
    processes = []
    try:
        started = time.perf_counter()
        for n in (1, 2):
            processes.append(start_chat_server(index_dir, workdir / f"chat-{n}.log", env=env, start_seconds=900))
        start_s = time.perf_counter() - started
        per_process = asyncio.run(_two_chats([url for _, url in processes], turns, sessions))
        for (process, _), figures in zip(processes, per_process, strict=True):
            figures.update(rss_mb(process.pid))
        return {"start_both_s": round(start_s, 1), "processes": per_process}
    finally:
        for process, _ in processes:
            stop_chat_server(process)


# ---------------------------------------------------------------- projection


def linear(n1: float, y1: float, n2: float, y2: float, target: float) -> float:
    """y at `target` on the line through (n1, y1) and (n2, y2)."""
    return y2 + (y2 - y1) / (n2 - n1) * (target - n2)


def project(small: dict, large: dict, target: int = REGISTRY_STUDIES, embed_per_s: float = PROFILE_EMBED_PER_S) -> dict:
    """The registry of `target` studies from two measured server-backed sizes.

    `small`/`large`: {"trials", "ingest_s" (cumulative, vectors reused), "disk": {component: bytes},
    "chat_rss_mb", "server_rss_mb"}. Linear in the number of trials: disk and memory through the two points
    (their slope is the per-trial cost, their intercept the fixed cost: model, code); ingest time at the
    larger size's rate, plus embedding one profile text per trial at `embed_per_s` (the vectors the bench
    reused must be computed for real studies).
    """
    n1, n2 = small["trials"], large["trials"]
    ingest_rate = n2 / large["ingest_s"]
    ingest_s = target / ingest_rate
    embed_s = target / embed_per_s
    disk = {key: linear(n1, small["disk"][key], n2, large["disk"][key], target) for key in large["disk"]}
    return {
        "studies": target,
        "ingest_hours_without_embedding": round(ingest_s / 3600, 2),
        "embedding_hours": round(embed_s / 3600, 2),
        "ingest_hours": round((ingest_s + embed_s) / 3600, 2),
        "disk_gb": {key: round(value / 1e9, 2) for key, value in disk.items()},
        "chat_rss_gb": round(linear(n1, small["chat_rss_mb"], n2, large["chat_rss_mb"], target) / 1024, 2),
        "server_rss_gb": round(linear(n1, small["server_rss_mb"], n2, large["server_rss_mb"], target) / 1024, 2),
    }


def _point(stage: dict, ingest_s: float) -> dict:
    return {
        "trials": stage["ingest"]["index_trials"],
        "ingest_s": ingest_s,
        "disk": stage["disk_bytes"],
        "chat_rss_mb": stage["serving"]["rss_mb"],
        "server_rss_mb": stage["chroma_server"]["rss_mb"],
    }


# ---------------------------------------------------------------- the whole section


def bench_scale(archive_index: Path, count: int = 100_000, embedded: int = 10_000, sessions: int = 10) -> dict:
    from benchmarks.reuse import ReusingEmbedder, archive_vectors
    from benchmarks.synth import ARCHIVE
    from vectorstore.embeddings import Embedder
    from vectorstore.server import chroma_server

    if not (archive_index / "records.sqlite").is_file():
        return {"skipped": f"{archive_index} not built (its vectors are reused; run `trialfinder eval --external`)"}
    if not ARCHIVE.is_file():
        return {"skipped": f"{ARCHIVE} not found (set TRIALFINDER_SHARED_DIR)"}
    started = time.perf_counter()
    log(f"{count} re-keyed trials")
    # Generated in a child process: the whole corpus passes through memory once, and a Python process keeps
    # what it freed, which (at 100,000 trials, 12 GB) would be counted against the ingests that follow.
    made = subprocess.run(
        [sys.executable, "-m", "benchmarks.synth", "--count", str(count), "--shards"],
        cwd=PROJECT_ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    paths = [Path(line) for line in made.stdout.split()]
    first = paths[: max(1, embedded // 1000)]
    log(f"archive vectors from {archive_index} (read-only)")
    known = archive_vectors(archive_index)
    reuse = ReusingEmbedder(known, Embedder(Settings().embedding_model))
    result: dict = {"count": count, "embedded_count": len(first) * 1000, "archive_vectors": len(known)}
    with tempfile.TemporaryDirectory(prefix="trialfinder-scale-") as tmp:
        workdir = Path(tmp)
        log(f"embedded client: ingest {len(first)} files")
        stage = {"ingest": ingest(workdir / "embedded", None, first, reuse)}
        stage.update(measure(workdir / "embedded", None, workdir / "embedded" / "chroma", None))
        result["embedded"] = stage
        with chroma_server(workdir / "chroma-server") as address:
            server_pid = listening_pid(int(address.rpartition(":")[2]))
            server_data = workdir / "chroma-server" / "data"
            index_dir = workdir / "server"
            log(f"server: ingest {len(first)} files")
            small = {"ingest": ingest(index_dir, address, first, reuse)}
            small.update(measure(index_dir, address, server_data, server_pid))
            log(f"server: ingest the other {len(paths) - len(first)} files")
            large = {"ingest": ingest(index_dir, address, paths[len(first) :], reuse)}
            large.update(measure(index_dir, address, server_data, server_pid))
            result["server"] = {"small": small, "large": large}
            log(f"two chat processes, {sessions} sessions each")
            result["two_chats"] = two_chat_processes(index_dir, address, workdir, "NCT90000001", sessions)
            result["two_chats"]["chroma_server"] = rss_mb(server_pid) if server_pid else None
    ingest_small = small["ingest"]["seconds"]
    result["projection"] = project(
        _point(small, ingest_small), _point(large, ingest_small + large["ingest"]["seconds"])
    )
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", type=Path, help="(internal) measure a serving process on this index")
    parser.add_argument("--chroma", help="(internal, with --serve) host:port of the Chroma server")
    args = parser.parse_args(argv)
    if args.serve:
        print(json.dumps(serve_bench(args.serve, args.chroma)))
        return 0
    parser.error("run the scale bench with `python -m benchmarks.run --only scale`")
    return 2


if __name__ == "__main__":
    sys.exit(main())


# ---------------------------------------------------------------- report


def _lat(stats: dict) -> str:
    return f"{stats['p50_ms']:.1f} / {stats['p95_ms']:.1f}"


def _mb(value: int) -> str:
    return f"{value / 1e6:,.0f} MB"


def scale_table(result: dict) -> str:
    """The Markdown table of SCALE.md: one column per measured index."""
    columns = [
        (f"embedded client, {result['embedded']['ingest']['index_trials']:,} trials", result["embedded"]),
        (f"Chroma server, {result['server']['small']['ingest']['index_trials']:,} trials", result["server"]["small"]),
        (f"Chroma server, {result['server']['large']['ingest']['index_trials']:,} trials", result["server"]["large"]),
    ]

    def row(name: str, cell) -> str:
        return f"| {name} | " + " | ".join(cell(stage) for _, stage in columns) + " |"

    def server_mem(stage: dict) -> str:
        server = stage.get("chroma_server")
        return f"{server['rss_mb']:,.0f} MB" if server else "(inside the serving process)"

    lines = [
        "| measure | " + " | ".join(name for name, _ in columns) + " |",
        "|---|" + "---|" * len(columns),
        row(
            "ingest (trials/s, chunks/s; vectors reused / embedded)",
            lambda s: (
                f"{s['ingest']['trials_per_s']:,.1f}, {s['ingest']['chunks_per_s']:,.0f} "
                f"({s['ingest']['trials']:,} trials in {s['ingest']['seconds']:,.0f} s; "
                f"{s['ingest']['vectors_reused']:,} / {s['ingest']['vectors_embedded']:,})"
            ),
        ),
        row(
            "chunks / vectors in the index",
            lambda s: f"{s['ingest']['index_chunks']:,} / {s['ingest']['index_vectors']:,}",
        ),
        row("dense retrieval p50 / p95 ms", lambda s: _lat(s["serving"]["dense"])),
        row("hybrid retrieval p50 / p95 ms", lambda s: _lat(s["serving"]["hybrid"])),
        row("patient search p50 / p95 ms", lambda s: _lat(s["serving"]["search"])),
        row("serving process: open to first search", lambda s: f"{s['serving']['open_to_first_search_s']:.1f} s"),
        row(
            "serving process memory (RSS now / peak)",
            lambda s: f"{s['serving']['rss_mb']:,.0f} / {s['serving']['peak_rss_mb']:,.0f} MB",
        ),
        row("Chroma server memory (RSS)", server_mem),
        row(
            "on disk: records / Chroma / BM25 = total",
            lambda s: (
                " / ".join(_mb(s["disk_bytes"][k]) for k in ("records", "chroma", "lexical"))
                + f" = {_mb(s['disk_bytes']['total'])}"
            ),
        ),
    ]
    return "\n".join(lines)


def chats_table(two: dict) -> str:
    lines = [
        "| chat process | sessions x turns | answers | errors | answers/s | p50 / p95 ms | RSS now / peak |",
        "|---|---|---|---|---|---|---|",
    ]
    for n, p in enumerate(two["processes"], 1):
        lines.append(
            f"| {n} | {p['sessions']} x {p['turns']} | {p['answers']} | {p['errors']} | {p['answers_per_s']} | "
            f"{p['p50_ms']:,.0f} / {p['p95_ms']:,.0f} | {p['rss_mb']:,.0f} / {p['peak_rss_mb']:,.0f} MB |"
        )
    return "\n".join(lines)


def write_scale(result: dict, folder: Path | None = None) -> None:
    """benchmarks/scale.json and benchmarks/SCALE.md (the scale section's own files)."""
    from benchmarks.run import BENCH_DIR, machine

    folder = folder or BENCH_DIR
    result = {"machine": machine(), **result} if "machine" not in result else result
    (folder / "scale.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    if "skipped" in result:
        return
    m, p, two = result["machine"], result["projection"], result["two_chats"]
    lines = [
        f"# Scale: {result['count']:,} trials on a Chroma server (`make bench`; alone: `python -m benchmarks.run --only scale`)",
        "",
        f"Machine: {m['cores']} cores, {m['cpu']}, {m['memory_gb']} GB RAM; run {m['date']} "
        f"(1-minute load average {m['load_average_1min']} at the end; other work shared the machine). "
        f"Whole section: {result['seconds'] / 60:.0f} min.",
        "",
        scale_table(result),
        "",
        f"Two `trialfinder chat` processes on the {result['server']['large']['ingest']['index_trials']:,}-trial "
        f"server-backed index (one Chroma server, one records store), driven at the same time "
        f"(both started in {two['start_both_s']:.0f} s; Chroma server afterwards: "
        f"{two['chroma_server']['rss_mb']:,.0f} MB):",
        "",
        chats_table(two),
        "",
        f"Projection to the {p['studies']:,} studies of ClinicalTrials.gov (linear through the two server sizes):",
        "",
        f"- ingest: {p['ingest_hours']:.1f} h = {p['ingest_hours_without_embedding']:.1f} h measured rate without "
        f"embedding + {p['embedding_hours']:.1f} h embedding one profile text per study at "
        f"{PROFILE_EMBED_PER_S:.0f} texts/s;",
        "- disk: " + ", ".join(f"{k} {v:,.1f} GB" for k, v in p["disk_gb"].items()) + ";",
        f"- memory: {p['chat_rss_gb']:.1f} GB per chat process, {p['server_rss_gb']:.1f} GB for the Chroma server.",
        "",
        "Notes:",
        f"- Trials are re-keyed from the archive (benchmarks/synth.py). Vectors were reused, not recomputed: of "
        f"the {result['archive_vectors']:,} archive profile vectors (verified by their content-addressed ids), "
        "an ingest takes the stored vector for a profile text it already holds and embeds any other text with "
        "the real model (counts in the ingest row). The indexes hold what a real ingest stores; ingest "
        "throughput excludes embedding, which the projection adds back.",
        "- Dense policy `compact` (one profile vector per trial), what `auto` picks for a bulk ingest; every chunk "
        "is stored and searched by BM25.",
        "- Retrieval latency: warm, per query, in a fresh serving process over the project's QA questions (trial "
        "ids removed) and five patient notes x2 (search), as in RESULTS.md. Memory: VmRSS from /proc.",
        f"- The embedded client was measured at {result['embedded_count']:,} trials, the same size as the "
        "server's first stage, to keep the section within its time budget.",
    ]
    (folder / "SCALE.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
