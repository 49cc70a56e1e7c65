"""Data-quality checks: swapped headings, lost characters, numbering gaps."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.criteria import parse_criteria_text
from ingest.models import Criterion
from ingest.quality import exclusion_score, headings_swapped, lost_character_warnings, numbering_gap_warnings

SEEDS = Path(__file__).resolve().parents[2] / "data" / "trials"
# (seed, first and last line of its criteria block)
CRITERIA_BLOCKS = {
    "NCT06888973": (28, 124),
    "NCT03171194": (51, 70),
    "NCT04356287": (62, 83),
    "KCT0004337": (29, 60),
    "NCT03929120": (32, 48),
}

# Real ClinicalTrials.gov criteria (legacy XML records of the shared corpus), verbatim layout.
CTGOV_TEXTS = [
    """
        Inclusion Criteria:

          -  Adults with rheumatoid arthritis according to the 1987 ACR criteria

          -  Active disease with at least 6 swollen and 6 tender joints

          -  Stable dose of methotrexate for at least 4 weeks

        Exclusion Criteria:

          -  Pregnant or lactating women

          -  History of tuberculosis or positive PPD test without treatment

          -  Patients who have received any biologic agent within 3 months

          -  Known hypersensitivity to the study drug
""",
    """
        Inclusion Criteria:

          -  Patients who have received at least one prior chemotherapy regimen

          -  History of biopsy-proven lupus nephritis class III or IV

          -  Age 18 years or older

        Exclusion Criteria:

          -  Diagnosis of another autoimmune disease meeting ACR classification criteria

          -  Positive test for hepatitis B surface antigen

          -  Active infection requiring antibiotics
""",
    """
        Patients must meet all of the following:

          -  Histologically confirmed adenocarcinoma of the prostate

          -  Willing and able to provide informed consent

        Patients must not have:

          -  Prior radiotherapy to the pelvis within 6 months
""",
]


def _cohorts(seed: str):
    first, last = CRITERIA_BLOCKS[seed]
    lines = (SEEDS / f"{seed}.txt").read_text(encoding="utf-8").splitlines()
    return parse_criteria_text(seed, "\n".join(lines[first - 1 : last]), first_line=first)


def test_kct0004337_headings_swapped_and_corrected():
    cohorts, warnings = _cohorts("KCT0004337")
    swapped = [w for w in warnings if w.code == "swapped_headings"]
    assert len(swapped) == 1 and swapped[0].line == 29
    cohort = cohorts[0]
    # The corrected inclusion list is the SLE definition that the page put under "Exclusion Criteria".
    assert len(cohort.inclusion) == 6 and len(cohort.exclusion) == 9
    assert all(c.kind == "inclusion" and c.heading_kind == "exclusion" for c in cohort.inclusion)
    assert all(c.kind == "exclusion" and c.heading_kind == "inclusion" for c in cohort.exclusion)
    assert "SLICC" in cohort.inclusion[1].text and cohort.inclusion[1].line == 52
    assert "positive test result for antinuclear antibody" in cohort.inclusion[2].text
    assert cohort.exclusion[0].text.startswith("Patients who have received any investigational product")
    assert cohort.exclusion[0].id == "KCT0004337:eligibility.exclusion:1" and cohort.exclusion[0].line == 31
    assert cohort.exclusion[8].text == "Patients who determined by the investigators to be inappropriate"


def test_kct0004337_lost_characters_on_15mg_prednisone():
    cohorts, warnings = _cohorts("KCT0004337")
    lost = [w for w in warnings if w.code == "lost_characters"]
    assert len(lost) == 1 and lost[0].line == 56 and "=15mg" in lost[0].message
    # The text itself stays verbatim.
    assert "dosage of =15mg of prednisone" in cohorts[0].inclusion[3].text


@pytest.mark.parametrize("seed", ["NCT06888973", "NCT03171194", "NCT04356287", "NCT03929120"])
def test_no_swap_on_the_other_seeds(seed):
    cohorts, warnings = _cohorts(seed)
    assert not [w for w in warnings if w.code == "swapped_headings"]
    assert all(c.kind == c.heading_kind for cohort in cohorts for c in (*cohort.inclusion, *cohort.exclusion))


@pytest.mark.parametrize("text", CTGOV_TEXTS)
def test_no_swap_on_typical_ctgov_criteria(text):
    _, warnings = parse_criteria_text("NCT00000000", text)
    assert not [w for w in warnings if w.code == "swapped_headings"]


def test_swap_is_detected_from_content_whatever_the_trial_id():
    text = (
        "Inclusion Criteria\n* Patients who have received rituximab within 6 months\n"
        "* History of anaphylaxis to murine proteins\n* Pregnant or breastfeeding women\n"
        "Exclusion Criteria\n* Diagnosis of SLE meeting the 2012 SLICC criteria\n"
        "* Positive ANA test (titer at least 1:80)\n* Aged 18 to 70 years"
    )
    cohorts, warnings = parse_criteria_text("NCT12345678", text)
    assert [w.code for w in warnings] == ["swapped_headings"]
    assert [c.text for c in cohorts[0].inclusion][0].startswith("Diagnosis of SLE")


def test_swap_needs_both_lists_to_point_the_wrong_way():
    exclusion_like = ["Patients who have received rituximab within 6 months", "History of anaphylaxis"]
    inclusion_like = ["Diagnosis of SLE meeting SLICC criteria", "Aged 18 to 70 years"]
    neutral = ["Body weight above 50 kg", "Resident of the study area"]
    assert headings_swapped(exclusion_like, inclusion_like)
    assert not headings_swapped(exclusion_like, neutral)
    assert not headings_swapped(neutral, inclusion_like)
    assert not headings_swapped(inclusion_like, exclusion_like)
    assert not headings_swapped(exclusion_like[:1], inclusion_like[:1])


def test_exclusion_score_signs():
    assert exclusion_score("Patients who have received any biologic agent within 5 half-lives") > 0
    assert exclusion_score("Known hypersensitivity to penicillin") > 0
    assert exclusion_score("Definite SLE by meeting either SLICC or ACR Classification Criteria for SLE") < 0
    assert exclusion_score("Negative pregnancy test") <= 0


def _criterion(text: str) -> Criterion:
    return Criterion(
        id="T:eligibility.inclusion:1", trial_id="T", kind="inclusion", heading_kind="inclusion", text=text, line=7
    )


@pytest.mark.parametrize(
    "text",
    [
        "continued daily dosage of =15mg of prednisone",
        "ECOG status =2",
        "Platelet count ? 100,000/mm^3",
        "Creatinine \ufffd 1.5 x ULN",
    ],
)
def test_lost_characters_flagged(text):
    warnings = lost_character_warnings([_criterion(text)])
    assert [w.code for w in warnings] == ["lost_characters"] and warnings[0].line == 7


@pytest.mark.parametrize(
    "text",
    [
        "dosage of >=15mg of prednisone",
        "Adult patients, >/= 18 years of age",
        "Trimethoprim < or = 20 mg/kg/day",
        "ALT < =2.5 x ULN",
        "Clinical Dementia Rating = 0.5",
        "SLEDAI score ≥4 and ≤10",
        "Have you been treated? 2 answers",
    ],
)
def test_lost_characters_not_flagged(text):
    assert lost_character_warnings([_criterion(text)]) == []


def test_numbering_gaps():
    assert [w.line for w in numbering_gap_warnings("T", "inclusion list", [("2", 5), ("3", 6)])] == [5]
    gap = numbering_gap_warnings("T", "inclusion list", [("1", 5), ("2", 6), ("4", 8)])
    assert len(gap) == 1 and gap[0].line == 8 and "from item 2 to item 4" in gap[0].message
    assert numbering_gap_warnings("T", "x", [("(1)", 1), ("(2)", 2), ("(3)", 3)]) == []
    assert numbering_gap_warnings("T", "x", [("1", 1), ("2", 2), ("1", 5), ("2", 6)]) == []
    assert numbering_gap_warnings("T", "x", [(None, 1), (None, 2)]) == []


def test_nct04356287_lists_start_at_two():
    _, warnings = _cohorts("NCT04356287")
    gaps = [w for w in warnings if w.code == "numbering_gap"]
    assert [(w.line, "starts at item 2" in w.message) for w in gaps] == [(63, True), (68, True)]
    assert "inclusion" in gaps[0].message and "exclusion" in gaps[1].message
