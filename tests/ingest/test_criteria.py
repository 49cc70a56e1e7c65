"""The criteria splitter: atomic criteria, sub-items, cohorts, headings, line numbers."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.criteria import cohort_slug, parse_criteria_text
from ingest.models import Cohort

SEEDS = Path(__file__).resolve().parents[2] / "data" / "trials"


def _all(cohorts: list[Cohort]):
    return [c for cohort in cohorts for c in (*cohort.inclusion, *cohort.exclusion)]


def _seed_block(name: str, first: int, last: int) -> str:
    return "\n".join((SEEDS / f"{name}.txt").read_text(encoding="utf-8").splitlines()[first - 1 : last])


def test_ctgov_api_layout_bullets_and_headings():
    text = (
        "Inclusion Criteria:\n\n  * Age 18 to 75 years\n  * Diagnosis of SLE\n\n"
        "Exclusion Criteria:\n\n  * Pregnancy\n  * eGFR \\< 30 mL/min"
    )
    cohorts, warnings = parse_criteria_text("NCT00000001", text)
    assert warnings == []
    assert len(cohorts) == 1 and cohorts[0].name is None
    inc, exc = cohorts[0].inclusion, cohorts[0].exclusion
    assert [c.text for c in inc] == ["Age 18 to 75 years", "Diagnosis of SLE"]
    assert [c.text for c in exc] == ["Pregnancy", "eGFR < 30 mL/min"]
    assert [c.line for c in inc + exc] == [3, 4, 8, 9]
    assert [c.id for c in exc] == ["NCT00000001:eligibility.exclusion:1", "NCT00000001:eligibility.exclusion:2"]
    assert all(c.kind == c.heading_kind for c in inc + exc)


def test_legacy_xml_layout_wrapped_lines_join_their_item():
    text = """
        Inclusion Criteria:

          -  Age 18 to 65 years

          -  Diagnosis of systemic sclerosis with skin thickening
             proximal to the elbows

        Exclusion Criteria:

          -  Pregnant or nursing women
"""
    cohorts, _ = parse_criteria_text("NCT00000002", text, first_line=40)
    inc, exc = cohorts[0].inclusion, cohorts[0].exclusion
    assert inc[1].text == "Diagnosis of systemic sclerosis with skin thickening proximal to the elbows"
    assert inc[1].line == 40 + 5
    assert [c.text for c in exc] == ["Pregnant or nursing women"]


def test_first_line_offsets_every_criterion_line():
    text = "Inclusion Criteria\n* a first item\n* a second item"
    cohorts, _ = parse_criteria_text("NCT1", text, first_line=100)
    assert [c.line for c in cohorts[0].inclusion] == [101, 102]


def test_glued_o_bullets_and_wrapped_subitems_stay_in_parent():
    text = (
        "Inclusion Criteria\n"
        "(1)Patients who have received any of the following within 3 months prior to baseline\n"
        "o Anti-TNF therapy(etanercept, adalimumab, infliximab,\n"
        "golimumab, tocilizumab)\n"
        "oAbatacept\n"
        "(2)Patients meeting:\n"
        "oat least 4 of the SLICC criteria; or\n"
        "ounresponsive to standard care\n"
        "(3)Obesity"
    )
    cohorts, _ = parse_criteria_text("KCT1", text)
    inc = cohorts[0].inclusion
    assert [c.number for c in inc] == ["(1)", "(2)", "(3)"]
    assert inc[0].text == (
        "Patients who have received any of the following within 3 months prior to baseline\n"
        "o Anti-TNF therapy(etanercept, adalimumab, infliximab, golimumab, tocilizumab)\n"
        "o Abatacept"
    )
    assert inc[1].text == "Patients meeting:\no at least 4 of the SLICC criteria; or\no unresponsive to standard care"
    assert inc[2].text == "Obesity"


def test_lettered_and_roman_subitems_and_nested_bullets_belong_to_parent():
    text = (
        "Exclusion Criteria\n2. Severe disease defined as:\ni) disease duration of 2 years, or ii) mRSS >15\n"
        "a) respiratory involvement\nb) renal involvement\n3. Organ damage defined as:\n* FVC < 45%;\n"
        "* LVEF < 40%\n4. Liver failure"
    )
    cohorts, warnings = parse_criteria_text("NCT2", text)
    exc = cohorts[0].exclusion
    assert [c.number for c in exc] == ["2", "3", "4"]
    assert exc[0].text.splitlines() == [
        "Severe disease defined as:",
        "i) disease duration of 2 years, or ii) mRSS >15",
        "a) respiratory involvement",
        "b) renal involvement",
    ]
    assert exc[1].text.splitlines() == ["Organ damage defined as:", "* FVC < 45%;", "* LVEF < 40%"]
    assert [w.code for w in warnings] == ["numbering_gap"]


def test_or_connector_keeps_alternatives_in_one_criterion():
    text = (
        "Inclusion Criteria:\n• Must meet either of the following criteria:\n• 1. score under 125\n• OR\n"
        "• 2. at least 3 abnormal measures\n• Stable background therapy"
    )
    cohorts, _ = parse_criteria_text("NCT3", text)
    inc = cohorts[0].inclusion
    assert len(inc) == 2
    assert inc[0].text == (
        "Must meet either of the following criteria:\n1. score under 125\nOR\n2. at least 3 abnormal measures"
    )


def test_same_style_bullets_after_colon_stay_separate():
    text = "Inclusion Criteria:\n• Fulfilling the criteria for AS:\n• BASDAI ≥4\n• Back pain ≥ 40 mm"
    cohorts, _ = parse_criteria_text("NCT4", text)
    assert len(cohorts[0].inclusion) == 3


def test_cohort_headers_at_start_and_mid_bullet_with_typos():
    text = (
        "• Inclusion Criteria:\n• A- RA\n• Diagnosis of RA\n• Exclusion Criteria:\n• • Allergy to MTX\n"
        "• Inclusion criteria for SLE\n• Active SLE\n"
        "• Refractory disease Exclusion criteria for SLE Severe flare defined as: (i) CNS; (ii) renal\n"
        "• Pregnancy Inclusion criteria for systemic sclerosis\n"
        "• mRSS 15 to 40 at screening Exclusion criteria\n"
        "• Previous tocilizumab Inclusion criteria for ankylosing spondlitis Male patients over 18 "
        "Exclusion criteria for ankylosing spondlitis\n"
        "• Nursing women Inclusion criteria for dermatomyositis\n• Definite dermatomyositis Exclusion for "
        "dermatomyositis\n• Inclusion body myositis"
    )
    cohorts, warnings = parse_criteria_text("NCT5", text, first_line=10)
    assert [c.name for c in cohorts] == ["RA", "SLE", "SSc", "AS", "DM/PM"]
    by = {c.name: c for c in cohorts}
    assert [c.text for c in by["RA"].inclusion] == ["Diagnosis of RA"]
    assert [c.text for c in by["RA"].exclusion] == ["Allergy to MTX"]
    assert [c.text for c in by["SLE"].inclusion] == ["Active SLE", "Refractory disease"]
    assert [c.text for c in by["SLE"].exclusion] == ["Severe flare defined as: (i) CNS; (ii) renal", "Pregnancy"]
    assert by["SLE"].exclusion[0].line == 17
    assert [c.text for c in by["SSc"].inclusion] == ["mRSS 15 to 40 at screening"]
    assert [c.text for c in by["SSc"].exclusion] == ["Previous tocilizumab"]
    assert [c.text for c in by["AS"].inclusion] == ["Male patients over 18"]
    assert [c.text for c in by["AS"].exclusion] == ["Nursing women"]
    assert [c.text for c in by["DM/PM"].inclusion] == ["Definite dermatomyositis"]
    assert [c.text for c in by["DM/PM"].exclusion] == ["Inclusion body myositis"]
    assert by["DM/PM"].exclusion[0].id == "NCT5:eligibility.dm-pm.exclusion:1"
    assert warnings == []


def test_prose_mentioning_criteria_is_not_a_heading():
    text = "Inclusion Criteria:\n* Patients who meet the exclusion criteria of the parent study are not eligible"
    cohorts, _ = parse_criteria_text("NCT6", text)
    assert len(cohorts) == 1 and len(cohorts[0].inclusion) == 1 and not cohorts[0].exclusion


def test_heading_with_item_on_same_line_and_uppercase_cohort_heading():
    text = (
        "Inclusion criteria: age over 18\nINCLUSION CRITERIA FOR HEALTHY VOLUNTEERS:\n1. No disease\n"
        "EXCLUSION CRITERIA FOR HEALTHY VOLUNTEERS:\n1. Any medication"
    )
    cohorts, _ = parse_criteria_text("NCT7", text)
    assert [(c.name, len(c.inclusion), len(c.exclusion)) for c in cohorts] == [
        (None, 1, 0),
        ("HEALTHY VOLUNTEERS", 1, 1),
    ]
    assert cohorts[1].inclusion[0].id == "NCT7:eligibility.healthy-volunteers.inclusion:1"


def test_cohort_slug():
    assert cohort_slug("DM/PM") == "dm-pm"
    assert cohort_slug("SSc") == "ssc"
    assert cohort_slug("Part A") == "part-a"


def test_seed_000_five_cohorts_with_their_counts():
    cohorts, warnings = parse_criteria_text("NCT06888973", _seed_block("NCT06888973", 28, 124), first_line=28)
    counts = [(c.name, len(c.inclusion), len(c.exclusion)) for c in cohorts]
    assert counts == [("RA", 7, 21), ("SLE", 5, 11), ("SSc", 6, 8), ("AS", 5, 3), ("DM/PM", 10, 16)]
    assert warnings == []
    by = {c.name: c for c in cohorts}
    assert by["RA"].inclusion[4].text == "Active RA, as defined as DAS ESR>3.1 (as defined by moderate and sever RA )"
    assert by["RA"].exclusion[0].text == "Allergy to methotrexate (MTX)" and by["RA"].exclusion[0].line == 38
    assert by["SLE"].exclusion[0].text.startswith('Severe "critical" SLE flare') and by["SLE"].exclusion[0].line == 64
    assert by["SSc"].inclusion[3].text == ">/= 15 and </= 40 mRSS units at screening"
    assert by["AS"].inclusion[0].text.startswith("Male or non-pregnant") and by["AS"].inclusion[0].line == 88
    jdm = by["DM/PM"].inclusion[4]
    assert jdm.line == 100 and jdm.text.count("\n") == 3 and "\nOR\n" in jdm.text
    assert by["DM/PM"].exclusion[1].text == "Inclusion body myositis"
    assert by["SLE"].inclusion[0].id == "NCT06888973:eligibility.sle.inclusion:1"


# ---- properties -----------------------------------------------------------------------------------------

_MARKER_TOKEN = re.compile(r"[*•-]|\(?\d+[.)]?")
_WORD = st.text(alphabet="bcdfghjkmnpqrstwyzBCDFGHJKMNPQRSTWYZ", min_size=3, max_size=8)
_MARKER = st.sampled_from(["", "* ", "• ", "- ", "1. ", "(2) ", "3) ", "  * "])
_HEADING = st.sampled_from(
    ["Inclusion Criteria:", "Exclusion Criteria", "Inclusion criteria for SLE", "• Exclusion Criteria:", ""]
)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400), st.integers(min_value=1, max_value=500))
def test_arbitrary_text_never_raises_and_lines_stay_in_range(text, first_line):
    cohorts, _ = parse_criteria_text("NCT9", text, first_line)
    criteria = _all(cohorts)
    n_lines = text.count("\n") + 1
    assert all(first_line <= c.line < first_line + n_lines for c in criteria)
    assert len({c.id for c in criteria}) == len(criteria)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(_HEADING, _MARKER, st.lists(_WORD, min_size=1, max_size=6), st.sampled_from(["", ":", "."])),
        min_size=1,
        max_size=12,
    )
)
def test_no_criterion_word_is_dropped(rows):
    lines, words = [], []
    for heading, marker, row, suffix in rows:
        if heading:
            lines.append(heading)
        lines.append(marker + " ".join(row) + suffix)
        words.extend(row)
    cohorts, _ = parse_criteria_text("NCT9", "\n".join(lines))
    # Sub-items keep their list marker inside the parent's text, and a group label ("Age:") prefixes every
    # item under it, so each word must be found at least as often as it was written.
    found = Counter(
        w.rstrip(":.") for w in " ".join(c.text for c in _all(cohorts)).split() if not _MARKER_TOKEN.fullmatch(w)
    )
    assert not Counter(words) - found


def test_group_labels_prefix_their_items_and_are_never_lost():
    text = """
        DISEASE CHARACTERISTICS:

          -  Histologically confirmed cancer

        PATIENT CHARACTERISTICS:

        Age:

          -  18 and over

        Hepatic:

          -  Bilirubin no greater than 3.0 mg/dL

          -  SGOT no greater than 3 times upper limit of normal

        Other:
"""
    cohorts, _ = parse_criteria_text("NCT8", text, first_line=20)
    assert [(c.text, c.line) for c in cohorts[0].inclusion] == [
        ("DISEASE CHARACTERISTICS: Histologically confirmed cancer", 23),
        ("PATIENT CHARACTERISTICS: Age: 18 and over", 29),
        ("Hepatic: Bilirubin no greater than 3.0 mg/dL", 33),
        ("Hepatic: SGOT no greater than 3 times upper limit of normal", 35),
        ("Other:", 37),
    ]


def test_wrapped_line_ending_in_colon_is_not_a_label():
    text = "Inclusion Criteria:\n  - Diagnosis confirmed by one of the\n    following:\n      - biopsy\n      - imaging"
    cohorts, _ = parse_criteria_text("NCT8", text)
    assert [c.text for c in cohorts[0].inclusion] == [
        "Diagnosis confirmed by one of the following:\n- biopsy\n- imaging"
    ]


def test_words_starting_with_o_are_not_sub_bullets_without_o_bullets_in_the_document():
    text = "Inclusion Criteria:\n* Patients receiving one of:\norally administered steroids\n* Age over 18"
    cohorts, _ = parse_criteria_text("NCT9", text)
    assert [c.text for c in cohorts[0].inclusion] == [
        "Patients receiving one of:\norally administered steroids",
        "Age over 18",
    ]
