"""No silent loss in `trialfinder ingest` (issue 14): every refused archive member, an empty archive and a
duplicate trial id are reported, through the real command."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from trialfinder.settings import PROJECT_ROOT


def ingest(*paths: Path, index: Path) -> tuple[int, dict]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "ingest", *map(str, paths), "--json", "--no-progress", "--index", str(index)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "Traceback" not in done.stderr, done.stderr[-1500:]
    return done.returncode, json.loads(done.stdout)


@pytest.fixture
def study_bytes(tmp_path, write_study) -> Callable[[str, str], bytes]:
    """A minimal ClinicalTrials.gov study record's bytes (see `ctgov_study` in tests/conftest.py)."""
    return lambda nct_id, title: write_study(tmp_path / "records", nct_id, title).read_bytes()


def add_file(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def add_special(archive: tarfile.TarFile, name: str, kind: bytes, linkname: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    archive.addfile(info)


def test_every_refused_archive_member_is_an_error_naming_it(tmp_path, study_bytes):
    tar_path = tmp_path / "hostile.tar"
    with tarfile.open(tar_path, "w") as archive:
        add_file(archive, "good/NCT09990101.json", study_bytes("NCT09990101", "A study kept"))
        add_file(archive, "../escape.json", study_bytes("NCT09990102", "Climbing out"))
        add_file(archive, "/etc/absolute.json", study_bytes("NCT09990103", "Absolute"))
        add_special(archive, "link.json", tarfile.SYMTYPE, "/etc/passwd")
        add_special(archive, "hard.json", tarfile.LNKTYPE, "good/NCT09990101.json")
        add_special(archive, "dev.json", tarfile.CHRTYPE)
        add_special(archive, "pipe.json", tarfile.FIFOTYPE)
    zip_path = tmp_path / "hostile.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("NCT09990104.json", study_bytes("NCT09990104", "Zip study kept"))
        archive.writestr("../../zip-escape.json", study_bytes("NCT09990105", "Zip climbing out"))
        archive.writestr("/abs/zip.json", study_bytes("NCT09990106", "Zip absolute"))
        link = zipfile.ZipInfo("zip-link.json")
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")

    code, out = ingest(tar_path, zip_path, index=tmp_path / "index")

    assert code == 1
    assert sorted(t["trial_id"] for t in out["trials"]) == ["NCT09990101", "NCT09990104"]
    why = {e["path"].split("!", 1)[1]: e["message"] for e in out["errors"]}
    assert set(why) == {
        "../escape.json",
        "/etc/absolute.json",
        "link.json",
        "hard.json",
        "dev.json",
        "pipe.json",
        "../../zip-escape.json",
        "/abs/zip.json",
        "zip-link.json",
    }, why
    assert ".." in why["../escape.json"] and ".." in why["../../zip-escape.json"]
    assert "absolute path" in why["/etc/absolute.json"] and "absolute path" in why["/abs/zip.json"]
    assert "symbolic link" in why["link.json"] and "symbolic link" in why["zip-link.json"]
    assert "hard link" in why["hard.json"]
    assert "device" in why["dev.json"] and "fifo" in why["pipe.json"]
    assert all("refused" in message for message in why.values())


def test_an_empty_archive_says_so(tmp_path):
    empty_tar = tmp_path / "empty.tar"
    tarfile.open(empty_tar, "w").close()
    empty_tgz = tmp_path / "empty.tar.gz"
    tarfile.open(empty_tgz, "w:gz").close()
    empty_zip = tmp_path / "empty.zip"
    zipfile.ZipFile(empty_zip, "w").close()

    code, out = ingest(empty_tar, empty_tgz, empty_zip, index=tmp_path / "index")

    assert code == 1 and out["trials"] == []
    messages = {Path(e["path"]).name: e["message"] for e in out["errors"]}
    assert set(messages) == {"empty.tar", "empty.tar.gz", "empty.zip"}
    for message in messages.values():
        assert "empty archive" in message and "binary" not in message


def test_a_duplicate_trial_id_is_a_warning_naming_both_sources_and_the_later_one_wins(tmp_path, study_bytes):
    first, second, third = tmp_path / "first", tmp_path / "second", tmp_path / "third"
    for folder, title in (
        (first, "Version from the first folder"),
        (second, "Version from the second folder"),
        (third, "Version ingested later"),
    ):
        folder.mkdir()
        (folder / "NCT09990201.json").write_bytes(study_bytes("NCT09990201", title))
    index = tmp_path / "index"

    # within one run: the later input wins and its warning names the earlier source
    code, out = ingest(first, second, index=index)
    assert code == 0
    [warning] = [w for t in out["trials"] for w in t["warnings"] if "duplicate" in w]
    assert str(first / "NCT09990201.json") in warning and str(second / "NCT09990201.json") in warning

    # across runs: a stored trial replaced from another source is named too
    code, out = ingest(third, index=index)
    assert code == 0
    [trial] = out["trials"]
    assert trial["outcome"] == "replaced" and trial["title"] == "Version ingested later"
    [warning] = [w for w in trial["warnings"] if "duplicate" in w]
    assert str(second / "NCT09990201.json") in warning and str(third / "NCT09990201.json") in warning

    # re-reading the same file is no duplicate
    (third / "NCT09990201.json").write_bytes(study_bytes("NCT09990201", "Version ingested later, edited"))
    code, out = ingest(third, index=index)
    assert not [w for t in out["trials"] for w in t["warnings"] if "duplicate" in w]
