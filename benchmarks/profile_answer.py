"""Where a warm extractive answer spends its time on a large index (issue 15: warm answer p95).

Loads the index once, warms up, answers the QA questions the bench times (`run.scale_questions`, first 30)
and prints the per-question latency, then a cProfile of the slowest questions answered again.

    PYTHONPATH=$PWD python -m benchmarks.profile_answer --index var/index-ctgov [--top 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import time
from pathlib import Path

from benchmarks.run import qa_queries, scale_questions
from trialfinder.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--top", type=int, default=5, help="slowest questions to profile")
    parser.add_argument("--questions", type=int, default=30)
    parser.add_argument("--json", type=Path, help="write per-question latency and answers here")
    args = parser.parse_args()

    from app.chain import Assistant
    from vectorstore.index import TrialIndex

    settings = Settings(index_dir=args.index)
    index = TrialIndex.open(settings)
    assistant = Assistant(index, settings)
    questions = [q for q, _ in scale_questions(qa_queries())[: args.questions]]
    for q in questions[:2]:
        assistant.ask(q)
    timings: list[tuple[float, str]] = []
    answers = {}
    for q in questions:
        started = time.perf_counter()
        answer = assistant.ask(q)
        timings.append(((time.perf_counter() - started) * 1000, q))
        answers[q] = answer.model_dump(mode="json")
    ordered = sorted(x for x, _ in timings)
    print(f"p50 {ordered[len(ordered) // 2]:.0f} ms, max {ordered[-1]:.0f} ms over {len(ordered)} questions")
    for ms, q in sorted(timings, reverse=True)[: args.top * 2]:
        print(f"{ms:7.0f} ms  {q}")
    profile = cProfile.Profile()
    for _, q in sorted(timings, reverse=True)[: args.top]:
        profile.runcall(assistant.ask, q)
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(45)
    print(out.getvalue())
    if args.json:
        args.json.write_text(json.dumps({"timings_ms": {q: ms for ms, q in timings}, "answers": answers}, indent=1))
    index.close()


if __name__ == "__main__":
    main()
