"""Format detection and dispatch: content decides the parser, bad input is a ParseError, goldens hold."""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.formats import SUPPORTED, parse_document, parse_document_each
from ingest.formats.ctgov_fields import date_as_written, humanize_enum, normalize_study_type
from ingest.models import IngestError, ParseError, Trial
from ingest.text import age_in_years, iso_date, normalize_phase, normalize_status

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
GOLDEN = HERE / "golden"
SEEDS = HERE.parents[1] / "data" / "trials"
UPDATE_GOLDEN = os.environ.get("TRIALFINDER_UPDATE_GOLDEN") == "1"


def fixture(relative: str) -> bytes:
    return (FIXTURES / relative).read_bytes()


# -- detection by content ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("relative", "misleading_name", "source_format"),
    [
        ("xml/NCT00005006.xml", "record.txt", "ctgov_xml"),
        ("json/ctgov_v2_complete.json", "record.xml", "ctgov_json"),
        ("json/ctgov_v2_studies.jsonl", "records.json", "ctgov_json"),
        ("json/ctgov_v2_page.json", "page.txt", "ctgov_json"),
    ],
)
def test_format_is_detected_by_content_not_extension(relative, misleading_name, source_format):
    trials = parse_document(misleading_name, fixture(relative))
    assert trials and {t.source_format for t in trials} == {source_format}
    assert {t.source_path for t in trials} == {misleading_name}


@pytest.mark.parametrize(
    ("seed", "source_format"),
    [
        ("NCT06888973", "clinconnect"),
        ("NCT03171194", "ctgov_page"),
        ("NCT04356287", "ctgov_page"),
        ("KCT0004337", "medpath"),
        ("NCT03929120", "medpath"),
    ],
)
def test_registry_pages_go_to_their_layout_parser(seed, source_format):
    data = (SEEDS / f"{seed}.txt").read_bytes()
    (trial,) = parse_document(f"data/trials/{seed}.txt", data)
    assert (trial.trial_id, trial.source_format) == (seed, source_format)
    assert trial.source_hash == hashlib.sha256(data).hexdigest()
    assert trial.source_path == f"data/trials/{seed}.txt"


def test_utf8_bom_is_accepted():
    data = b"\xef\xbb\xbf" + fixture("json/ctgov_v2_minimal.json")
    assert [t.trial_id for t in parse_document("bom.json", data)] == ["NCT09990005"]


def test_single_documents_hash_their_bytes_and_multi_study_ones_each_study():
    single = fixture("xml/NCT00004847.xml")
    assert parse_document("a.xml", single)[0].source_hash == hashlib.sha256(single).hexdigest()
    listed = fixture("json/ctgov_v2_list.json")
    hashes = [t.source_hash for t in parse_document("l.json", listed)]
    assert hashlib.sha256(listed).hexdigest() not in hashes and len(set(hashes)) == 3
    studies = json.loads(listed)
    canonical = json.dumps(studies[0], sort_keys=True, ensure_ascii=True, separators=(",", ":")).encode()
    assert hashes[0] == hashlib.sha256(canonical).hexdigest()


# -- bad input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "line", "needle"),
    [
        (b"", 1, "empty file"),
        (b"  \n\t\n", 1, "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 3, "binary data (NUL byte"),
        (b'{"a": 1}\n\n\xff\xfe broken', 3, "not UTF-8 text (invalid byte 0xff"),
        (b"Minutes of the steering committee\nNext meeting: Tuesday\n", 1, "unknown format"),
        (b"<!DOCTYPE html>\n<html><body><h1>NCT00005006</h1>", 1, "HTML page: "),
    ],
)
def test_unreadable_documents_say_what_is_wrong_and_where(data, line, needle):
    with pytest.raises(ParseError) as caught:
        parse_document("doc", data)
    assert caught.value.line == line and needle in caught.value.message


def test_unknown_format_names_the_supported_ones():
    with pytest.raises(ParseError) as caught:
        parse_document("notes.txt", fixture("bad/unknown.txt"))
    assert SUPPORTED in caught.value.message and "'Dear colleague," in caught.value.message


def test_parse_document_each_turns_errors_into_ingest_errors_with_the_path():
    assert parse_document_each("bad/empty.txt", b"") == [
        IngestError(
            path="bad/empty.txt",
            line=1,
            message="empty file: it holds no trial document. Remove it or replace it with the saved record.",
        )
    ]


_PRINTABLE = bytes(32 + b % 95 for b in range(256))


@pytest.mark.parametrize("kind", ["random bytes", "printable noise", "noise after a brace", "noise after a tag"])
def test_fifty_megabytes_of_noise_are_rejected_in_seconds(kind):
    data = random.Random(8).randbytes(50 * 1024 * 1024)
    if kind != "random bytes":
        data = data.translate(_PRINTABLE)
        data = {"noise after a brace": b"{", "noise after a tag": b"<"}.get(kind, b"") + data
    started = time.perf_counter()
    with pytest.raises(ParseError) as caught:
        parse_document("noise.bin", data)
    assert time.perf_counter() - started < 5
    assert "internal error" not in caught.value.message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_give_trials_or_a_parse_error(data):
    try:
        trials = parse_document("fuzz", data)
    except ParseError as exc:
        assert exc.message and "internal error" not in exc.message
    else:
        assert all(isinstance(t, Trial) for t in trials)


_prefixes = st.sampled_from(
    [
        b"{",
        b"[",
        b"<",
        b'{"protocolSection": {',
        b"<clinical_study>",
        b'[{"studies": ',
        b"<clinical_study><id_info><nct_id>NCT09990009</nct_id></id_info>",
        b"",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=_prefixes, body=st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_arbitrary_text_after_a_format_prefix_never_crashes_a_parser(prefix, body):
    try:
        parse_document("fuzz", prefix + body.encode("utf-8"))
    except ParseError as exc:
        assert "internal error" not in exc.message


@pytest.mark.parametrize("relative", [f"xml/{p.name}" for p in sorted((FIXTURES / "xml").glob("*.xml"))[:8]])
def test_truncating_a_real_record_anywhere_gives_a_parse_error_with_a_line(relative):
    data = fixture(relative)
    for cut in range(50, len(data) - 20, max(1, len(data) // 12)):
        with pytest.raises(ParseError) as caught:
            parse_document(relative, data[:cut])
        assert caught.value.line is not None and 1 <= caught.value.line <= data[:cut].count(b"\n") + 1


# -- golden files --------------------------------------------------------------------------------------

GOLDEN_CASES = [
    ("xml_NCT00005006", "xml/NCT00005006.xml", "NCT00005006"),
    ("xml_NCT00004847", "xml/NCT00004847.xml", "NCT00004847"),
    ("xml_NCT00000180", "xml/NCT00000180.xml", "NCT00000180"),
    ("json_NCT09990001", "json/ctgov_v2_complete.json", "NCT09990001"),
    ("json_NCT09990003", "json/ctgov_v2_list.json", "NCT09990003"),
]


@pytest.mark.parametrize(("golden", "relative", "trial_id"), GOLDEN_CASES)
def test_parsed_trial_matches_its_golden_file(golden, relative, trial_id):
    """Goldens were checked field by field against the record; TRIALFINDER_UPDATE_GOLDEN=1 rewrites them.

    The criteria cohorts are left out: splitting criteria is the criteria module's contract, tested there.
    """
    (trial,) = [t for t in parse_document(f"fixtures/{relative}", fixture(relative)) if t.trial_id == trial_id]
    actual = trial.model_dump(mode="json", exclude={"eligibility": {"cohorts"}})
    path = GOLDEN / f"{golden}.json"
    if UPDATE_GOLDEN:
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with TRIALFINDER_UPDATE_GOLDEN=1 and check it against the record"
    assert actual == json.loads(path.read_text(encoding="utf-8"))


# -- shared value normalisation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "value", "expected"),
    [
        (normalize_status, "Active, not recruiting", "ACTIVE_NOT_RECRUITING"),
        (normalize_status, "Unknown status", "UNKNOWN"),
        (normalize_status, "ENROLLING_BY_INVITATION", "ENROLLING_BY_INVITATION"),
        (normalize_status, "  ", None),
        (normalize_phase, ["Phase 1/Phase 2"], "PHASE1/PHASE2"),
        (normalize_phase, ["PHASE2", "PHASE3"], "PHASE2/PHASE3"),
        (normalize_phase, ["Early Phase 1"], "EARLY_PHASE1"),
        (normalize_phase, ["N/A"], "NA"),
        (normalize_phase, [], None),
        (normalize_study_type, "Observational [Patient Registry]", "OBSERVATIONAL"),
        (normalize_study_type, "Expanded Access", "EXPANDED_ACCESS"),
        (age_in_years, "18 Years", 18.0),
        (age_in_years, "6 Months", 0.5),
        (age_in_years, "1 Year", 1.0),
        (age_in_years, "N/A", None),
        (age_in_years, "eighteen", None),
        (age_in_years, "30 Days", 0.082136),
        (normalize_phase, "Phase 1/2", "PHASE1/PHASE2"),
        (normalize_phase, "Not Applicable", "NA"),
        (normalize_phase, "Interventional", None),
        (iso_date, "March 1996", "1996-03"),
        (iso_date, "March 15, 2010", "2010-03-15"),
        (iso_date, "Sept. 3, 2019", "2019-09-03"),
        (iso_date, "2021-10-18", "2021-10-18"),
        (iso_date, "Spring 2001", None),
        (iso_date, "2001", None),
        (iso_date, "Phase 2", None),
        (date_as_written, "March 1996", "1996-03"),
        (date_as_written, "Spring 2001", "Spring 2001"),
        (date_as_written, " ", None),
        (humanize_enum, "ACTIVE_COMPARATOR", "Active Comparator"),
        (humanize_enum, "NON_RANDOMIZED", "Non-Randomized"),
        (humanize_enum, "N/A", "N/A"),
    ],
)
def test_value_normalisation(function, value, expected):
    assert function(value) == expected
