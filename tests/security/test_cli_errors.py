"""Clean errors from the real `trialfinder` command (issue 14, CONTRACT "Errors").

With --json: one `{"error": {"message", "hint"}}` object on stdout and nothing else; exit 2 for bad input,
3 for an unreadable index; never a traceback. Without --json: one line on stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trialfinder.settings import PROJECT_ROOT


def run(*args: str | bytes, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(PROJECT_ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], cwd=PROJECT_ROOT, env=environ, capture_output=True, timeout=120
    )


def error_object(done: subprocess.CompletedProcess) -> dict:
    assert b"Traceback" not in done.stderr + done.stdout, done.stderr.decode(errors="replace")[-800:]
    lines = [line for line in done.stdout.decode().splitlines() if line.strip()]
    assert len(lines) == 1, done.stdout
    payload = json.loads(lines[0])
    assert set(payload) == {"error"} and set(payload["error"]) == {"message", "hint"}
    assert isinstance(payload["error"]["message"], str) and payload["error"]["message"]
    assert payload["error"]["hint"] is None or isinstance(payload["error"]["hint"], str)
    return payload["error"]


def one_stderr_line(done: subprocess.CompletedProcess) -> str:
    assert done.stdout == b"" and b"Traceback" not in done.stderr
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture
def corrupted_index(tmp_path: Path) -> Path:
    folder = tmp_path / "index"
    folder.mkdir()
    (folder / "records.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x13\x37garbage" * 600)
    return folder


def test_invalid_utf8_in_a_question_is_bad_input(tmp_path):
    # The OS hands a non-UTF-8 argument to Python as a surrogate escape; it must not reach the index.
    done = run("ask", b"\xff which trials", "--json", "--index", str(tmp_path / "missing"))
    assert done.returncode == 2
    assert "UTF-8" in error_object(done)["message"]
    assert not (tmp_path / "missing").exists()


def test_a_date_that_is_not_iso_is_bad_input(tmp_path):
    for command in (["check", "--patient", "45 year old"], ["search", "lupus"], ["ask", "what dose?"]):
        done = run(*command, "--today", "yesterday", "--json", "--index", str(tmp_path))
        assert done.returncode == 2, command
        assert "yesterday" in error_object(done)["message"]
    line = one_stderr_line(run("check", "--patient", "45", "--today", "yesterday", "--index", str(tmp_path)))
    assert "ISO date" in line


def test_an_index_that_is_a_file_is_unreadable(tmp_path):
    file = tmp_path / "index"
    file.write_text("not an index")
    for command in (["trials"], ["check", "--patient", "45 year old"], ["ingest", str(tmp_path)]):
        done = run(*command, "--json", "--index", str(file))
        assert done.returncode == 3, command
        assert "not an index folder" in error_object(done)["message"]
    assert file.read_text() == "not an index"


def test_a_corrupted_records_file_is_an_unreadable_index(corrupted_index):
    for command in (["trials"], ["search", "lupus"], ["ask", "what dose?"]):
        done = run(*command, "--json", "--index", str(corrupted_index))
        assert done.returncode == 3, command
        error = error_object(done)
        assert "cannot be read" in error["message"] and "ingest" in error["hint"]
    assert "cannot be read" in one_stderr_line(run("trials", "--index", str(corrupted_index)))


def test_a_malformed_allowed_origins_setting_is_bad_input(tmp_path):
    done = run("trials", "--json", "--index", str(tmp_path), env={"TRIALFINDER_ALLOWED_ORIGINS": "not json"})
    assert done.returncode == 2
    error = error_object(done)
    assert "TRIALFINDER_ALLOWED_ORIGINS" in error["message"] and error["hint"]


@pytest.mark.parametrize(
    "command",
    [["trials"], ["rules"], ["check", "--patient", "45 year old"], ["search", "lupus"], ["ask", "what dose?"]],
)
def test_a_missing_index_folder_is_an_error_and_is_not_created(tmp_path, command):
    missing = tmp_path / "no" / "such" / "index"
    done = run(*command, "--json", "--index", str(missing))
    assert done.returncode == 3
    assert str(missing) in error_object(done)["message"]
    assert not missing.exists() and not (tmp_path / "no").exists()


def test_bad_arguments_give_the_error_object_too(tmp_path):
    done = run("search", "--limit", "many", "--json", "--index", str(tmp_path))
    assert done.returncode == 2
    assert "many" in error_object(done)["message"]
    assert "--limit" in one_stderr_line(run("search", "--limit", "many", "--index", str(tmp_path)))
