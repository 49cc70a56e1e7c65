"""The gate on its own: claim detection, citation support, verdict enforcement (no index needed)."""

from __future__ import annotations

import pytest

from app.generators import NOT_FOUND, Draft, Statement
from app.verify import SUPPORT_THRESHOLD, find_claim, gate, quality_warnings, support
from eligibility.models import FailedCriterion, TrialVerdict
from ingest.models import Chunk, DataWarning, Trial

DOSE = Chunk(
    id="NCT03171194:arms:1",
    trial_id="NCT03171194",
    section="arms",
    title="Study groups",
    text="Drug: Low Dose Mesenchymal Stem Cells ( MSCs)\nParticipants will receive a single IV infusion of "
    "Mesenchymal Stem Cells (MSCs) 1 x 10^6 cells/kg in Plasma-Lyte A solution.",
)
AGE = Chunk(
    id="NCT03171194:eligibility.facts:1",
    trial_id="NCT03171194",
    section="eligibility.facts",
    title="Eligibility · age, sex, healthy volunteers",
    text="Minimum age: 18 Years\nMaximum age: 65 Years",
)
CHUNKS = {c.id: c for c in (DOSE, AGE)}


def verdict(name: str, trial_id: str = "NCT03171194") -> TrialVerdict:
    failed = []
    if name == "ineligible":
        failed = [
            FailedCriterion(
                criterion="Maximum age: 65 Years",
                kind="inclusion",
                reason="age 66 is above 65",
                citation=AGE.citation(),
            )
        ]
    return TrialVerdict(trial_id=trial_id, verdict=name, failed=failed)


@pytest.mark.parametrize(
    "sentence, polarity",
    [
        ("You qualify for NCT03171194.", "eligible"),
        ("Based on this, you are eligible for the trial.", "eligible"),
        ("Your patient would be a good candidate for NCT04356287.", "eligible"),
        ("You may be eligible for NCT03171194.", "possibly_eligible"),
        ("She might qualify if her eGFR is above 30.", "possibly_eligible"),
        ("You are not eligible for NCT03171194.", "ineligible"),
        ("You would be excluded from this study because of your age.", "ineligible"),
        ("I'm afraid you cannot participate in NCT04356287.", "ineligible"),
    ],
)
def test_eligibility_claims_are_found_with_their_polarity(sentence, polarity):
    claim = find_claim(sentence)
    assert claim is not None and claim.polarity == polarity


@pytest.mark.parametrize(
    "sentence",
    [
        "Participants will receive a single IV infusion of MSCs.",
        "Patients with basal cell skin cancer are not excluded if it has been 5 years since excision.",
        "Exclusion criteria include pregnancy.",
    ],
)
def test_document_sentences_are_not_claims(sentence):
    assert find_claim(sentence) is None


def test_support_accepts_paraphrase_and_rejects_invented_numbers():
    assert support("Participants get a single IV infusion of 1 x 10^6 cells/kg.", [DOSE.text]) >= SUPPORT_THRESHOLD
    assert support("Participants get 5 x 10^8 cells/kg every week.", [DOSE.text]) == 0.0
    assert (
        support("The infusion is followed by a bone marrow biopsy and chemotherapy.", [DOSE.text]) < SUPPORT_THRESHOLD
    )


def test_gate_replaces_claim_contradicting_checker_and_warns():
    draft = Draft(
        backend="test",
        statements=[
            Statement(text="You are eligible for NCT03171194.", citations=[AGE.id]),
            Statement(text="Participants receive a single IV infusion of 1 x 10^6 cells/kg.", citations=[DOSE.id]),
        ],
    )
    checked = gate(draft, chunks=CHUNKS, verdicts=[verdict("ineligible")], default_trials=["NCT03171194"])
    texts = [s.text for s in checked.statements]
    assert "You are eligible for NCT03171194." not in texts
    assert "The rule checker's verdict for NCT03171194: ineligible." in texts
    assert any("contradicts the rule checker" in w for w in checked.warnings)
    assert checked.removed_claims == 1
    assert any("1 x 10^6" in t for t in texts)


def test_gate_keeps_claim_the_checker_agrees_with():
    draft = Draft(backend="test", statements=[Statement(text="You are not eligible for NCT03171194.", kind="fact")])
    checked = gate(draft, chunks=CHUNKS, verdicts=[verdict("ineligible")], default_trials=["NCT03171194"])
    assert [s.text for s in checked.statements] == ["You are not eligible for NCT03171194."]
    assert not checked.warnings


def test_gate_removes_claim_without_any_verdict():
    draft = Draft(backend="test", statements=[Statement(text="You qualify for NCT04356287.")])
    checked = gate(draft, chunks=CHUNKS, verdicts=[], default_trials=[])
    assert all("qualify" not in s.text for s in checked.statements)
    assert any("cannot back" in w for w in checked.warnings)


def test_gate_drops_uncited_unsupported_and_foreign_citations():
    draft = Draft(
        backend="test",
        statements=[
            Statement(text="The trial has 500 sites worldwide."),
            Statement(text="Participants receive 5 x 10^8 cells/kg weekly.", citations=[DOSE.id]),
            Statement(text="Participants receive a single infusion.", citations=["NCT00000000:arms:9"]),
        ],
    )
    checked = gate(draft, chunks=CHUNKS, verdicts=[], default_trials=[])
    assert [s.text for s in checked.statements] == [NOT_FOUND]
    assert len(checked.warnings) == 4  # one uncited, one unsupported, one foreign citation + its uncited sentence


def test_quality_warnings_name_the_trial():
    trial = Trial(
        trial_id="KCT0004337",
        registry="CRIS",
        title="t",
        warnings=[
            DataWarning(code="swapped_headings", message="Inclusion and exclusion headings look swapped", line=27)
        ],
    )
    assert quality_warnings([trial]) == ["KCT0004337: Inclusion and exclusion headings look swapped (line 27)"]


def test_an_id_written_in_a_claim_outside_the_focus_does_not_choose_the_trial():
    # A document of NCT03171194 mentioning another trial: the claim is about the cited trial, never the
    # mentioned one, whose verdict was not asked for.
    draft = Draft(
        backend="test",
        statements=[Statement(text="You are not eligible for NCT04356287.", citations=[AGE.id])],
    )
    checked = gate(draft, chunks=CHUNKS, verdicts=[verdict("possibly_eligible")], default_trials=["NCT03171194"])
    texts = [s.text for s in checked.statements]
    assert texts == ["The rule checker's verdict for NCT03171194: possibly eligible."]
    assert not any("NCT04356287 was not checked" in w for w in checked.warnings)
