"""Format detection and dispatch: document bytes in, `Trial`s out, or a `ParseError` saying why not.

Formats are recognised by content, not by file name: ClinicalTrials.gov API v2 JSON and JSON Lines,
legacy `<clinical_study>` XML, and the registry pages saved as text (ClinConnect, the ClinicalTrials.gov
mirror and MedPath layouts, each in its own module with `detect(text)` and `parse(text, path)`).
Cheap checks come first (empty, NUL bytes, UTF-8) so that a large junk file is turned away in
milliseconds, and the page detectors only ever see text of a plausible page size.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from functools import partial
from types import ModuleType
from typing import TypeVar

from ingest.formats import clinconnect, ctgov_json, ctgov_page, ctgov_xml, medpath
from ingest.models import IngestError, ParseError, Trial

log = logging.getLogger(__name__)
T = TypeVar("T")

# Registry pages saved as text, tried in this order; each module has detect(text) and parse(text, path).
PAGE_FORMATS: tuple[tuple[str, ModuleType], ...] = (
    ("clinconnect", clinconnect),
    ("ctgov_page", ctgov_page),
    ("medpath", medpath),
)
# No saved registry page comes near this size; larger text is not offered to the page detectors.
MAX_PAGE_CHARS = 2_000_000
SUPPORTED = (
    'ClinicalTrials.gov API v2 study JSON (.json: one study, a list, {"studies": [...]}; .jsonl: one study '
    "per line), ClinicalTrials.gov legacy XML (.xml, <clinical_study>), and registry pages saved as text "
    "(.txt: ClinConnect, ClinicalTrials.gov page, MedPath layouts)"
)
_HTML = re.compile(r"\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b", re.IGNORECASE | re.DOTALL)
_XML_LEGACY_ENCODING = re.compile(
    rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"'](?:iso-8859-1|latin-?1|windows-1252|cp1252|us-ascii)[\"']", re.IGNORECASE
)


def parse_document(path: str, data: bytes) -> list[Trial]:
    """Detect the format of one document and parse it into trials (several for multi-study JSON).

    Every trial gets `source_path` and `source_hash` (sha256 of the document bytes; for multi-study
    JSON/JSONL, of each study's canonical JSON). Raises `ParseError` (message + line) for anything that
    cannot be read: empty, binary or non-UTF-8 data, unknown formats, invalid JSON or XML, refused entity
    declarations, studies without an NCT id. In a multi-study document the first bad study raises; use
    `parse_document_each` to keep the readable studies.
    """
    trials = []
    for result in parse_document_each(path, data):
        if isinstance(result, IngestError):
            raise ParseError(result.message, result.line)
        trials.append(result)
    return trials


def parse_document_each(path: str, data: bytes, *, max_criteria: int | None = None) -> list[Trial | IngestError]:
    """Like `parse_document`, but one bad study of a multi-study document costs only itself.

    Returns the trials and, in document order, an `IngestError` (path, line, message) for each document
    or study that could not be read, and for each trial with more than `max_criteria` eligibility
    criteria (TRIALFINDER_MAX_CRITERIA; unset: no limit). Never raises for bad input.
    """
    try:
        results = _dispatch(path, data)
    except ParseError as exc:
        return [IngestError(path=path, line=exc.line, message=exc.message)]
    file_hash = hashlib.sha256(data).hexdigest()
    out: list[Trial | IngestError] = []
    for result in results:
        if isinstance(result, ParseError):
            out.append(IngestError(path=path, line=result.line, message=result.message))
        elif max_criteria is not None and len(result.eligibility.criteria()) > max_criteria:
            out.append(
                IngestError(
                    path=path,
                    message=f"{result.trial_id} has {len(result.eligibility.criteria()):,} eligibility criteria, more "
                    f"than any trial document ({max_criteria:,} at most, TRIALFINDER_MAX_CRITERIA); skipped. Check "
                    "that the file is one trial's record, or raise the limit.",
                )
            )
        else:
            out.append(result.model_copy(update={"source_path": path, "source_hash": result.source_hash or file_hash}))
    return out


def _dispatch(path: str, data: bytes) -> list[Trial | ParseError]:
    if not data.strip():
        raise ParseError("empty file: it holds no trial document. Remove it or replace it with the saved record.", 1)
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ParseError(
            f"binary data (NUL byte at offset {nul}): not a text document. Supported: {SUPPORTED}, saved as "
            "UTF-8 text.",
            data.count(b"\n", 0, nul) + 1,
        )
    text = _decode(data)
    head = text.lstrip("\ufeff \t\r\n")[:1]
    if head == "<" and _HTML.match(text[:4096]):
        raise ParseError(
            "HTML page: a web page is not one of the supported formats. Save the registry page as "
            f"text (.txt), or download the record as XML or JSON. Supported: {SUPPORTED}.",
            1,
        )
    if head == "<":
        return _guarded("ClinicalTrials.gov XML", lambda: list(ctgov_xml.parse(data, path)))
    if head in ("{", "["):
        return _guarded("ClinicalTrials.gov JSON", lambda: list(ctgov_json.parse_each(text, path)))
    if len(text) <= MAX_PAGE_CHARS:
        for name, module in PAGE_FORMATS:
            if _guarded(f"{name} page", partial(module.detect, text)):
                return _guarded(f"{name} page", partial(_page_results, module, name, text, path))
    raise ParseError(
        f"unknown format: the document is not one of the supported formats ({SUPPORTED}). Its first "
        f"characters are {text.lstrip()[:40]!r}.",
        1,
    )


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if _XML_LEGACY_ENCODING.match(data[:200]):
            # XML that declares a single-byte legacy encoding: the XML parser honours the declaration.
            return data.decode("latin-1")
        raise ParseError(
            f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset {exc.start}): save the document as "
            "UTF-8 (or, for XML, declare its encoding in the <?xml ...?> declaration).",
            data.count(b"\n", 0, exc.start) + 1,
        ) from None


def _guarded(name: str, call: Callable[[], T]) -> T:
    """Run a format parser; a crash inside it becomes a ParseError so one document never stops an ingest."""
    try:
        return call()
    except ParseError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser bug must be reported per document, not crash the run
        # The traceback is for developers (debug logging); the user gets the per-document error below.
        log.debug("the %s parser failed", name, exc_info=True)
        raise ParseError(
            f"internal error in the {name} parser ({type(exc).__name__}: {exc}); the document "
            "looks like this format but could not be read. Please report it with the file."
        ) from None


def _page_results(module: ModuleType, name: str, text: str, path: str) -> list[Trial | ParseError]:
    trial: Trial = module.parse(text, path)
    return [trial if trial.source_format else trial.model_copy(update={"source_format": name})]
