"""Documents from files, folders and archives: order, member paths, streaming, and errors as entries."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from ingest.models import IngestError
from ingest.sources import SourceDocument, SourceLimits, iter_documents

CORPUS = Path(__file__).resolve().parents[2] / "data" / "corpora" / "autoimmune.tar.xz"
XML = Path(__file__).parent / "fixtures" / "xml"
MEMBERS = {
    "NCT0000xxxx/NCT00005006.xml": (XML / "NCT00005006.xml").read_bytes(),
    "NCT0000xxxx/NCT00004847.xml": (XML / "NCT00004847.xml").read_bytes(),
    "json/study.json": b'{"protocolSection": {"identificationModule": {"nctId": "NCT09990001"}}}',
}


def make_tar(path: Path, mode: str) -> Path:
    with tarfile.open(path, mode) as archive:
        for name, data in MEMBERS.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        hidden = tarfile.TarInfo("NCT0000xxxx/._NCT00005006.xml")
        hidden.size = 3
        archive.addfile(hidden, io.BytesIO(b"\x00\x01\x02"))
    return path


def make_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("NCT0000xxxx/", b"")
        for name, data in MEMBERS.items():
            archive.writestr(name, data)
        archive.writestr("__MACOSX/NCT0000xxxx/._NCT00005006.xml", b"\x00\x01")
    return path


@pytest.mark.parametrize(
    ("name", "builder"),
    [
        ("corpus.zip", make_zip),
        ("corpus.tar", lambda p: make_tar(p, "w")),
        ("corpus.tar.gz", lambda p: make_tar(p, "w:gz")),
        ("corpus.tar.xz", lambda p: make_tar(p, "w:xz")),
        ("corpus.tar.bz2", lambda p: make_tar(p, "w:bz2")),
    ],
)
def test_archives_are_streamed_member_by_member(tmp_path, name, builder):
    archive = builder(tmp_path / name)
    before = set(tmp_path.rglob("*"))
    documents = list(iter_documents([archive]))
    assert documents == [SourceDocument(path=f"{archive}!{member}", data=data) for member, data in MEMBERS.items()]
    assert set(tmp_path.rglob("*")) == before  # nothing unpacked to disk


def test_archive_recognised_by_content_not_name(tmp_path):
    archive = make_tar(tmp_path / "download.bin", "w:xz")
    assert [d.path.split("!")[1] for d in iter_documents([archive])] == list(MEMBERS)


def test_folder_is_recursive_sorted_and_skips_hidden_files(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "deep").mkdir(parents=True)
    (tmp_path / "b" / "2.xml").write_bytes(b"two")
    (tmp_path / "a" / "deep" / "1.json").write_bytes(b"one")
    (tmp_path / "a" / "0.txt").write_bytes(b"zero")
    (tmp_path / ".DS_Store").write_bytes(b"junk")
    (tmp_path / "b" / ".2.xml.swp").write_bytes(b"junk")
    make_zip(tmp_path / "b" / "more.zip")
    documents = list(iter_documents([tmp_path]))
    assert [Path(d.path.split("!")[0]).relative_to(tmp_path).as_posix() for d in documents] == [
        "a/0.txt",
        "a/deep/1.json",
        "b/2.xml",
        "b/more.zip",
        "b/more.zip",
        "b/more.zip",
    ]
    assert [d.data for d in documents[:3]] == [b"zero", b"one", b"two"]


def test_missing_path_and_empty_folder_are_error_entries_and_the_rest_goes_on(tmp_path):
    present = tmp_path / "present.xml"
    present.write_bytes(b"<clinical_study/>")
    empty = tmp_path / "empty"
    empty.mkdir()
    results = list(iter_documents([tmp_path / "missing.xml", empty, present]))
    assert isinstance(results[0], IngestError) and results[0].path == str(tmp_path / "missing.xml")
    assert "no such file or folder" in results[0].message
    assert isinstance(results[1], IngestError) and "holds no documents" in results[1].message
    assert results[2] == SourceDocument(path=str(present), data=b"<clinical_study/>")


def test_truncated_archive_yields_what_it_could_read_then_an_error(tmp_path):
    archive = make_tar(tmp_path / "corpus.tar.gz", "w:gz")
    damaged = tmp_path / "damaged.tar.gz"
    damaged.write_bytes(archive.read_bytes()[: len(archive.read_bytes()) * 2 // 3])
    results = list(iter_documents([damaged]))
    assert isinstance(results[-1], IngestError) and results[-1].path == str(damaged)
    assert "damaged or truncated archive" in results[-1].message
    assert all(isinstance(r, SourceDocument) for r in results[:-1])


def test_damaged_zip_is_an_error_entry(tmp_path):
    archive = make_zip(tmp_path / "corpus.zip")
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(archive.read_bytes()[:200])
    results = list(iter_documents([damaged]))
    assert len(results) == 1 and isinstance(results[0], IngestError) and "damaged zip" in results[0].message


def test_the_bundled_autoimmune_corpus_streams_with_member_paths():
    documents = list(iter_documents([CORPUS]))
    assert len(documents) == 213 and all(isinstance(d, SourceDocument) for d in documents)
    assert documents[0].path == f"{CORPUS}!NCT0000xxxx/NCT00004784.xml"
    assert all(d.data.startswith(b"<clinical_study>") for d in documents)
    assert len({d.path for d in documents}) == 213


def test_a_file_over_the_size_limit_is_an_error_entry_and_the_rest_still_come(tmp_path):
    small = tmp_path / "a.xml"
    small.write_bytes(MEMBERS["json/study.json"])
    big = tmp_path / "b.xml"
    big.write_bytes(b"<x>" + b" " * 5000 + b"</x>")
    results = list(iter_documents([tmp_path], SourceLimits(max_file_bytes=4096)))
    assert results[0] == SourceDocument(path=str(small), data=small.read_bytes())
    assert isinstance(results[1], IngestError) and results[1].path == str(big)
    assert "5,007 bytes" in results[1].message and "TRIALFINDER_MAX_FILE_BYTES" in results[1].message
    assert len(results) == 2


@pytest.mark.parametrize("name, builder", [("c.zip", make_zip), ("c.tar.gz", lambda p: make_tar(p, "w:gz"))])
def test_an_archive_member_over_its_limit_is_named_and_the_others_still_come(tmp_path, name, builder):
    archive = builder(tmp_path / name)
    limit = max(len(data) for data in MEMBERS.values()) - 1  # the largest member is one byte too large
    results = list(iter_documents([archive], SourceLimits(max_member_bytes=limit)))
    refused = [r for r in results if isinstance(r, IngestError)]
    assert [r.path for r in refused] == [f"{archive}!{m}" for m, data in MEMBERS.items() if len(data) > limit]
    assert len(refused) == 1 and "TRIALFINDER_MAX_MEMBER_BYTES" in refused[0].message
    assert [r.path.split("!")[1] for r in results if isinstance(r, SourceDocument)] == [
        m for m, data in MEMBERS.items() if len(data) <= limit
    ]
