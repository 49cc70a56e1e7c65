"""Load test of the real chat server (part of `make bench`; alone: `python -m benchmarks.load`).

Starts `trialfinder chat` over an index of the bundled corpus and drives it with socket.io clients that
speak the browser's handshake (benchmarks/chat_client.py):

1. `sessions` concurrent sessions of three turns each (a search, patient facts, an eligibility question):
   errors (must be 0), answers per second, p50 / p95 answer latency;
2. isolation: a few light sessions measured alone, then again while one hostile session floods the server
   with messages just under the message limit (bursts of them, without waiting for answers, each followed
   by "start over" so the profile limit does not cut them short); the light sessions' p95 must not grow by
   more than 2x.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.chat_client import ChatClient, fetch_browser_cookie, start_chat_server, stop_chat_server
from trialfinder.settings import Settings

TURNS = (
    "Find lupus trials",
    "I'm 34, female, SLE since 2019, SLEDAI 6, eGFR 95, on prednisone 10 mg daily",
    "Am I eligible for NCT03171194?",
)
LIGHT_SESSIONS = 8
HEAVY_BURST = 10  # near-limit messages the hostile session sends at once
ISOLATION_LIMIT = 2.0


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def near_limit_message(limit: int) -> str:
    """A patient history just under `limit` characters: many facts, numbers and negations to read."""
    sentences = [
        "She is {n} years old with systemic lupus erythematosus diagnosed {n} months ago.",
        "eGFR {n} mL/min, creatinine {n} mg/dL, platelets {n},000/mm3, hemoglobin {n} g/dL.",
        "No history of tuberculosis, hepatitis B or HIV; not pregnant; took rituximab {n} months ago.",
        "SLEDAI {n}, proteinuria {n} g/day, on prednisone {n} mg daily and mycophenolate {n} mg twice daily.",
    ]
    parts, n = [], 1
    while True:
        sentence = sentences[n % len(sentences)].format(n=10 + n % 80)
        if sum(map(len, parts)) + len(parts) + len(sentence) > limit - 1:
            return " ".join(parts)
        parts.append(sentence)
        n += 1


async def _session(
    url: str,
    turns: tuple[str, ...],
    latencies: list[float],
    errors: list[str],
    first_tokens: list[float] | None = None,
) -> None:
    client = ChatClient(url, cookie=await asyncio.to_thread(fetch_browser_cookie, url))
    try:
        await client.connect(timeout=120)
        for turn in turns:
            reply = await client.ask(turn, timeout=300)
            if "NCT" not in reply.everything and "trial" not in reply.everything.lower():
                errors.append(f"no answer to {turn!r}: {reply.everything[:120]!r}")
                continue
            latencies.append(reply.seconds)
            if first_tokens is not None and reply.first_token_seconds is not None:
                first_tokens.append(reply.first_token_seconds)
    except Exception as exc:  # counted, not raised: the figure is the error count
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        await client.close()


async def concurrent_sessions(url: str, sessions: int, turns: tuple[str, ...] = TURNS) -> dict:
    """`sessions` sessions at once, each sending `turns`."""
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    await asyncio.gather(*(_session(url, turns, latencies, errors) for _ in range(sessions)))
    wall = time.perf_counter() - started
    return {
        "sessions": sessions,
        "turns": len(turns),
        "answers": len(latencies),
        "errors": len(errors),
        "error_examples": errors[:3],
        "wall_s": round(wall, 1),
        "answers_per_s": round(len(latencies) / wall, 2),
        "p50_ms": round(1000 * (_percentile(latencies, 0.5) or 0), 1),
        "p95_ms": round(1000 * (_percentile(latencies, 0.95) or 0), 1),
    }


async def isolation(url: str, message_limit: int) -> dict:
    """p95 of light sessions alone, then beside one session flooding near-limit messages."""
    alone: list[float] = []
    alone_first: list[float] = []
    errors: list[str] = []
    await asyncio.gather(*(_session(url, TURNS, alone, errors, alone_first) for _ in range(LIGHT_SESSIONS)))

    heavy_text = near_limit_message(message_limit)
    heavy_answers = 0
    stop = asyncio.Event()

    async def heavy() -> None:
        nonlocal heavy_answers
        client = ChatClient(url, cookie=await asyncio.to_thread(fetch_browser_cookie, url))
        try:
            await client.connect(timeout=120)
            while not stop.is_set():
                await client.flood([heavy_text, "start over"] * HEAVY_BURST, timeout=600)
                heavy_answers += HEAVY_BURST
        except Exception as exc:
            errors.append(f"heavy session: {type(exc).__name__}: {exc}")
        finally:
            await client.close()

    heavy_task = asyncio.create_task(heavy())
    await asyncio.sleep(1.0)  # the heavy session is busy before the light ones start
    beside: list[float] = []
    beside_first: list[float] = []
    await asyncio.gather(*(_session(url, TURNS, beside, errors, beside_first) for _ in range(LIGHT_SESSIONS)))
    stop.set()
    await heavy_task

    def p95_ms(values: list[float]) -> float:
        return round(1000 * (_percentile(values, 0.95) or 0.0), 1)

    ratio = p95_ms(beside) / p95_ms(alone) if p95_ms(alone) else None
    return {
        "light_sessions": LIGHT_SESSIONS,
        "heavy_message_chars": len(heavy_text),
        "heavy_answers": heavy_answers,
        "p95_alone_ms": p95_ms(alone),
        "p95_beside_heavy_ms": p95_ms(beside),
        "first_token_p95_alone_ms": p95_ms(alone_first),
        "first_token_p95_beside_heavy_ms": p95_ms(beside_first),
        "ratio": round(ratio, 2) if ratio else None,
        "within_limit": ratio is not None and ratio <= ISOLATION_LIMIT,
        "errors": len(errors),
        "error_examples": errors[:3],
    }


def bench_load(sessions: int = 100) -> dict:
    """Both measurements against a fresh server over a fresh index of the bundled corpus."""
    from app.indexer import ingest_paths
    from vectorstore.index import TrialIndex

    with tempfile.TemporaryDirectory(prefix="trialfinder-load-") as tmp:
        settings = Settings(index_dir=Path(tmp) / "index", chroma_server=None)
        index = TrialIndex.open(settings)
        ingest_paths([settings.corpus_dir], index, progress=False)
        index.close()
        process, url = start_chat_server(settings.index_dir, Path(tmp) / "chat-server.log")
        try:
            result = {
                "workers": settings.answer_workers,
                "message_limit": settings.max_message_chars,
                "concurrent": asyncio.run(concurrent_sessions(url, sessions)),
                "isolation": asyncio.run(isolation(url, settings.max_message_chars)),
            }
        finally:
            stop_chat_server(process)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=100)
    args = parser.parse_args(argv)
    result = bench_load(args.sessions)
    print(json.dumps(result, indent=1))
    ok = result["concurrent"]["errors"] == 0 and result["isolation"]["within_limit"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
