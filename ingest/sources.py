"""Trial documents from files, folders and archives, streamed one at a time.

Archives (.zip, .tar, .tar.gz, .tar.xz, .tar.bz2) are read member by member without unpacking to disk,
so a 10 GB AllPublicXML download costs one member's memory at a time. Archives are recognised by their
magic bytes, not their names. A member's path is shown as `archive.tar.xz!NCT0000xxxx/NCT00000102.xml`.

A trial record is kilobytes: a plain file or an archive member larger than `SourceLimits` allows is
refused with an error entry before it is read (TRIALFINDER_MAX_FILE_BYTES, TRIALFINDER_MAX_MEMBER_BYTES),
so one oversized document cannot take the ingest's memory or slow every later question.
"""

from __future__ import annotations

import re
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest.models import IngestError
from trialfinder.settings import Settings

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_COMPRESSED_TAR_MAGIC = (b"\x1f\x8b", b"\xfd7zXZ\x00")
_BZIP2_MAGIC = re.compile(rb"BZh[1-9]1AY&SY")


@dataclass(frozen=True, slots=True)
class SourceLimits:
    """Largest plain file and largest archive member read, in bytes (defaults: those of `Settings`)."""

    max_file_bytes: int = Settings.model_fields["max_file_bytes"].default
    max_member_bytes: int = Settings.model_fields["max_member_bytes"].default

    @classmethod
    def of(cls, settings: Settings) -> SourceLimits:
        return cls(max_file_bytes=settings.max_file_bytes, max_member_bytes=settings.max_member_bytes)


@dataclass(frozen=True, slots=True)
class SourceDocument:
    """One document's bytes and where it came from (a file path, or `archive!member`)."""

    path: str
    data: bytes


def iter_documents(paths: list[Path], limits: SourceLimits = SourceLimits()) -> Iterator[SourceDocument | IngestError]:
    """Every document under `paths`, in order: files as given, folders recursively sorted, archives streamed.

    Yields an `IngestError` (and goes on with the rest) for a path that does not exist, an unreadable
    file, a damaged or empty archive, a file or archive member larger than `limits`, and every
    archive member refused as unsafe (a `..` or absolute path, a link, a device or a fifo): nothing is
    skipped without saying so. Folders and hidden files (`.DS_Store`, `__MACOSX`) are passed over silently.
    """
    for path in paths:
        if path.is_dir():
            yield from _iter_folder(path, limits)
        elif path.is_file():
            yield from _iter_file(path, limits)
        else:
            yield IngestError(
                path=str(path),
                message=f"no such file or folder: {path}; check the path "
                "(a file, a folder or a .zip/.tar/.tar.gz/.tar.xz archive of trial documents).",
            )


def _iter_folder(folder: Path, limits: SourceLimits) -> Iterator[SourceDocument | IngestError]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not _is_hidden(p.relative_to(folder)))
    if not files:
        yield IngestError(path=str(folder), message=f"folder {folder} holds no documents; nothing to ingest.")
    for file in files:
        yield from _iter_file(file, limits)


def _is_hidden(relative: Path) -> bool:
    # Editor backups, .DS_Store and macOS resource forks ("._x.xml") are never trial documents.
    return any(part.startswith(".") or part == "__MACOSX" for part in relative.parts)


def _iter_file(path: Path, limits: SourceLimits) -> Iterator[SourceDocument | IngestError]:
    try:
        with path.open("rb") as handle:
            head = handle.read(262)
        if head.startswith(_ZIP_MAGIC):
            yield from _counted(path, _iter_zip(path, limits.max_member_bytes))
        elif head.startswith(_COMPRESSED_TAR_MAGIC) or _BZIP2_MAGIC.match(head) or head[257:262] == b"ustar":
            yield from _counted(path, _iter_tar(path, limits.max_member_bytes))
        elif _is_empty_tar(path, head):
            yield _empty(path)
        else:
            with path.open("rb") as handle:
                # Read one byte past the limit: the size on disk may change while reading.
                data = handle.read(limits.max_file_bytes + 1)
            if len(data) > limits.max_file_bytes:
                yield _too_large(str(path), "file", path.stat().st_size, limits.max_file_bytes, "MAX_FILE_BYTES")
            else:
                yield SourceDocument(path=str(path), data=data)
    except OSError as exc:
        yield IngestError(path=str(path), message=f"cannot read {path}: {exc.strerror or exc}.")


def _counted(path: Path, items: Iterator[SourceDocument | IngestError]) -> Iterator[SourceDocument | IngestError]:
    """An archive's items, plus an "empty archive" error when it held no member at all to read or refuse."""
    empty = True
    for item in items:
        empty = False
        yield item
    if empty:
        yield _empty(path)


def _is_empty_tar(path: Path, head: bytes) -> bool:
    # A tar of no members is only its end-of-archive blocks: zeros, a whole number of 512-byte records.
    if head.strip(b"\0") or len(head) < 262:
        return False
    size = path.stat().st_size
    if size % 512:
        return False
    with path.open("rb") as handle:
        return not any(block.strip(b"\0") for block in iter(lambda: handle.read(1 << 16), b""))


def _empty(path: Path) -> IngestError:
    return IngestError(path=str(path), message=f"empty archive: {path} holds no documents; nothing to ingest.")


def _unsafe_name(name: str) -> str | None:
    """Why a member name is refused: trial documents never sit outside the archive's own folder."""
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:[/\\]", name):
        return "absolute path"
    if ".." in parts:
        return "path climbs out of the archive (..)"
    return None


def _refused(name: str, why: str) -> IngestError:
    return IngestError(path=name, message=f"archive member refused: {why}; skipped (trial documents are plain files).")


def _iter_zip(path: Path, max_bytes: int) -> Iterator[SourceDocument | IngestError]:
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = f"{path}!{info.filename}"
                if info.is_dir():
                    continue
                if unsafe := _unsafe_name(info.filename):
                    yield _refused(name, unsafe)
                    continue
                if stat.S_ISLNK(info.external_attr >> 16):
                    yield _refused(name, "symbolic link")
                    continue
                if _is_hidden(Path(info.filename)):
                    continue
                if info.file_size > max_bytes:
                    yield _member_too_large(name, info.file_size, max_bytes)
                    continue
                try:
                    with archive.open(info) as member:
                        data = member.read(max_bytes + 1)
                except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as exc:
                    yield IngestError(path=name, message=f"damaged or unsupported zip member: {exc}.")
                    continue
                yield (
                    _member_too_large(name, len(data), max_bytes)
                    if len(data) > max_bytes
                    else SourceDocument(name, data)
                )
    except zipfile.BadZipFile as exc:
        yield IngestError(path=str(path), message=f"damaged zip archive ({exc}); download it again.")


def _iter_tar(path: Path, max_bytes: int) -> Iterator[SourceDocument | IngestError]:
    # "r|*" reads the archive as a stream: members in archive order, each read once, nothing on disk.
    try:
        with tarfile.open(path, mode="r|*") as archive:
            for member in archive:
                name = f"{path}!{member.name}"
                if member.isdir():
                    continue
                if unsafe := _unsafe_name(member.name):
                    yield _refused(name, unsafe)
                    continue
                if not member.isfile():
                    yield _refused(name, _tar_kind(member))
                    continue
                if _is_hidden(Path(member.name)):
                    continue
                if member.size > max_bytes:
                    yield _member_too_large(name, member.size, max_bytes)
                    continue
                handle = archive.extractfile(member)
                if handle is not None:
                    yield SourceDocument(path=name, data=handle.read())
    except (tarfile.TarError, OSError, EOFError) as exc:
        yield IngestError(
            path=str(path),
            message=f"damaged or truncated archive ({type(exc).__name__}: {exc}); "
            "the documents before this point were read. Download the archive again; a single compressed "
            "document (.json.gz, .xml.xz) is not an archive: decompress it first.",
        )


def _tar_kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return f"symbolic link to {member.linkname}"
    if member.islnk():
        return f"hard link to {member.linkname}"
    if member.ischr() or member.isblk():
        return "device file"
    if member.isfifo():
        return "fifo"
    return f"not a regular file (tar type {member.type!r})"


def _member_too_large(name: str, size: int, limit: int) -> IngestError:
    return _too_large(name, "archive member", size, limit, "MAX_MEMBER_BYTES")


def _too_large(name: str, what: str, size: int, limit: int, setting: str) -> IngestError:
    return IngestError(
        path=name,
        message=f"{what} of {size:,} bytes is larger than any trial document ({limit:,} bytes at most, "
        f"TRIALFINDER_{setting}); skipped. Split it into one document per trial, or raise the limit.",
    )
