"""The real `trialfinder` command, run as a subprocess: CONTRACT shapes, one JSON object on stdout, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trialfinder.settings import PROJECT_ROOT


def run_cli(*args: str, index: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRIALFINDER_TODAY": "2026-11-24"}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args, "--index", str(index)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_json(done: subprocess.CompletedProcess) -> dict:
    """stdout must be exactly one JSON object (progress and logs go to stderr)."""
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, done.stdout[:500] + done.stderr[-500:]
    return json.loads(lines[0])


@pytest.fixture(scope="module")
def index_dir(seed_index, seed_settings) -> Path:
    return seed_settings.index_dir


def test_trials_lists_the_bundled_corpus(index_dir):
    out = one_json(run_cli("trials", "--json", index=index_dir))
    ids = {t["trial_id"] for t in out["trials"]}
    assert ids == {"NCT06888973", "NCT03171194", "NCT04356287", "KCT0004337", "NCT03929120"}
    for t in out["trials"]:
        assert set(t) >= {"trial_id", "title", "status", "phase", "conditions"} and isinstance(t["conditions"], list)


def test_check_prints_facts_and_cited_verdicts(index_dir):
    patient = "34-year-old woman with SLE, ANA 1:320, SLEDAI 6, eGFR 95, received rituximab 2 months ago"
    out = one_json(run_cli("check", "--patient", patient, "--trial", "NCT03171194", "--json", index=index_dir))
    assert out["facts"]
    [verdict] = out["results"]
    assert verdict["trial_id"] == "NCT03171194" and verdict["verdict"] == "ineligible"
    cited = [f["citation"]["id"] for f in verdict["failed"]]
    assert any("rituximab" in f["criterion"] for f in verdict["failed"]), verdict["failed"]
    assert all(c.startswith("NCT03171194:eligibility") for c in cited)
    # Every fact keeps the patient's own words, and a failed criterion quotes them.
    assert out["facts"]["spans"]["age"] == "34-year-old"
    [failed] = [f for f in verdict["failed"] if "rituximab" in f["criterion"]]
    assert failed["reason"].endswith("(you said: 'rituximab 2 months ago')"), failed["reason"]


def test_check_of_a_trial_not_indexed_is_a_usage_error(index_dir):
    done = run_cli("check", "--patient", "45 year old", "--trial", "NCT99999999", "--json", index=index_dir)
    # CONTRACT "Errors": with --json the error is one object on stdout, no traceback anywhere
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "NCT99999999" in one_json(done)["error"]["message"]


def test_ask_and_search_print_contract_objects(index_dir):
    answer = one_json(run_cli("ask", "What dose do participants get in NCT03171194?", "--json", index=index_dir))
    assert set(answer) >= {"answer", "citations", "eligibility", "warnings"}
    assert "10^6 cells/kg" in answer["answer"]
    assert {c["trial_id"] for c in answer["citations"]} == {"NCT03171194"}
    found = one_json(
        run_cli("search", "--patient", "45-year-old woman with lupus", "--limit", "3", "--json", index=index_dir)
    )
    assert 1 <= len(found["trials"]) <= 3
    assert found["trials"][0]["verdict"] in {"eligible", "possibly_eligible", "ineligible"}


def test_ingest_reports_bad_documents_by_path_and_exits_1(tmp_path, write_study):
    docs = tmp_path / "docs"
    write_study(docs, "NCT09990001", "A good study of lupus")
    (docs / "broken.json").write_text('{"protocolSection": {"identificationModule": ')
    done = run_cli("ingest", str(docs), "--json", index=tmp_path / "index")
    out = one_json(done)
    assert done.returncode == 1
    assert [t["trial_id"] for t in out["trials"]] == ["NCT09990001"]
    assert isinstance(out["trials"][0]["sections"], int) and isinstance(out["trials"][0]["criteria"], int)
    [error] = out["errors"]
    assert error["path"].endswith("broken.json") and error["message"]
    again = run_cli("ingest", str(docs / "NCT09990001.json"), "--json", index=tmp_path / "index")
    assert again.returncode == 0 and one_json(again)["trials"][0]["outcome"] == "unchanged"


def test_usage_errors_exit_2(tmp_path):
    assert run_cli("search", "--json", index=tmp_path / "index").returncode == 2
    assert run_cli("check", "--json", index=tmp_path / "index").returncode == 2


def test_ask_conversation_file_carries_the_state_and_the_summary_reads_it(index_dir, tmp_path):
    state = tmp_path / "chat.json"
    first = one_json(
        run_cli(
            "ask",
            "I'm 61 and have systemic sclerosis. Could I join NCT04356287?",
            "--conversation",
            str(state),
            "--json",
            index=index_dir,
        )
    )
    assert first["facts"]["age"] == 61 and first["next_question"]["question"].endswith("?")
    second = one_json(run_cli("ask", "sorry, 16 not 61", "--conversation", str(state), "--json", index=index_dir))
    assert second["facts"]["age"] == 16
    assert [v["verdict"] for v in second["eligibility"] if v["trial_id"] == "NCT04356287"] == ["ineligible"]
    page = one_json(run_cli("ask", "-", "--summary", "--conversation", str(state), "--json", index=index_dir))
    assert "sorry, 16 not 61" in page["markdown"] and "NCT04356287" in page["markdown"]
    assert page["html"].startswith("<!doctype html>") and "<main>" in page["html"]


def test_a_broken_conversation_file_is_a_usage_error(index_dir, tmp_path):
    state = tmp_path / "broken.json"
    state.write_text("{not json", encoding="utf-8")
    done = run_cli("ask", "No", "--conversation", str(state), "--json", index=index_dir)
    assert done.returncode == 2 and "conversation file" in done.stdout + done.stderr
    assert state.read_text(encoding="utf-8") == "{not json"  # nothing lost


def test_ask_view_lays_the_answer_out_as_the_chat_does(seed_index, seed_settings):
    question = "compare NCT03171194 and NCT04356287"
    clinician = run_cli("ask", question, "--view", "clinician", index=seed_settings.index_dir)
    patient = run_cli("ask", question, "--view", "patient", index=seed_settings.index_dir)
    as_json = run_cli("ask", question, "--view", "clinician", "--json", index=seed_settings.index_dir)

    assert clinician.returncode == patient.returncode == as_json.returncode == 0
    assert "| | NCT03171194 | NCT04356287 |" in clinician.stdout and "Passages:" in clinician.stdout
    assert "| |" not in patient.stdout
    assert json.loads(as_json.stdout)["intent"] == "compare"  # --json keeps the contract's Answer
