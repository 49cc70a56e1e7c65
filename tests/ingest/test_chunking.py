"""chunk_trial: every section citable, criteria one chunk each, stable ids, no related trials, verbatim text."""

from __future__ import annotations

import re

from ingest.chunking import chunk_trial
from ingest.models import (
    Arm,
    Cohort,
    Criterion,
    Eligibility,
    Intervention,
    Location,
    Outcome,
    Reference,
    RelatedTrial,
    Trial,
)
from ingest.passages import split_sentences

LONG_DESCRIPTION = " ".join(
    f"Sentence number {n} explains the rationale of the infusion schedule in some detail for the reader."
    for n in range(1, 25)
)


def _criterion(trial_id: str, cohort: str | None, kind: str, n: int, text: str) -> Criterion:
    slug = f".{cohort.lower()}" if cohort else ""
    return Criterion(
        id=f"{trial_id}:eligibility{slug}.{kind}:{n}",
        trial_id=trial_id,
        cohort=cohort,
        kind=kind,
        heading_kind=kind,
        text=text,
        line=40 + n,
    )


def make_trial(**overrides) -> Trial:
    tid = "NCT01234567"
    cohorts = [
        Cohort(
            name="SLE",
            inclusion=[_criterion(tid, "SLE", "inclusion", 1, "Definite SLE by ACR criteria")],
            exclusion=[
                _criterion(tid, "SLE", "exclusion", 1, "Platelet count <30,000/mm3"),
                _criterion(tid, "SLE", "exclusion", 2, "Pregnant or breast feeding"),
            ],
        ),
        Cohort(name="RA", inclusion=[_criterion(tid, "RA", "inclusion", 1, "RA by 2010 ACR/EULAR criteria")]),
    ]
    values = dict(
        trial_id=tid,
        registry="ClinicalTrials.gov",
        title="Stem cells for lupus and arthritis",
        status="RECRUITING",
        phase="PHASE1",
        study_type="INTERVENTIONAL",
        enrollment=24,
        enrollment_type="planned",
        start_date="2024-01-01",
        completion_date="2026-12-31",
        sponsor="Test University",
        collaborators=["Other Foundation"],
        conditions=["Systemic Lupus Erythematosus", "Rheumatoid Arthritis"],
        keywords=["MSC"],
        summary="This pilot study tests umbilical cord stem cells.",
        description=LONG_DESCRIPTION,
        design={"allocation": "NA", "intervention_model": "SINGLE_GROUP", "masking": "NONE"},
        arms=[
            Arm(
                label="Low dose",
                type="EXPERIMENTAL",
                description="1 x 10^6 cells/kg IV once",
                interventions=["Biological: MSC"],
            )
        ],
        interventions=[Intervention(name="MSC", type="BIOLOGICAL", description="Single IV infusion")],
        outcomes=[
            Outcome(kind="primary", measure="Adverse events", time_frame="12 months"),
            Outcome(kind="secondary", measure="SLEDAI change", time_frame="6 months"),
        ],
        eligibility=Eligibility(
            minimum_age="18 Years", maximum_age="65 Years", sex="all", healthy_volunteers=False, cohorts=cohorts
        ),
        locations=[Location(facility="Emory University", city="Atlanta", state="Georgia", country="United States")],
        references=[Reference(citation="Kamen DL et al. Lupus Sci Med. 2022.", pmid="35820000")],
        related=[RelatedTrial(trial_id="NCT09999999", title="Another lupus trial about zebra therapy")],
        source_hash="abc",
    )
    values.update(overrides)
    return Trial(**values)


def test_every_criterion_is_its_own_chunk_with_the_criterion_id():
    trial = make_trial()
    chunks = {c.id: c for c in chunk_trial(trial)}
    for criterion in trial.eligibility.criteria():
        chunk = chunks[criterion.id]
        assert chunk.text == criterion.text
        assert chunk.section == f"eligibility.{criterion.kind}"
        assert (chunk.cohort, chunk.kind, chunk.line) == (criterion.cohort, criterion.kind, criterion.line)
    assert chunks["NCT01234567:eligibility.sle.exclusion:1"].title == "Eligibility · exclusion (SLE)"


def test_every_section_is_citable_and_ids_follow_the_pattern():
    chunks = chunk_trial(make_trial())
    sections = {c.section for c in chunks}
    assert sections == {
        "summary",
        "description",
        "conditions",
        "status",
        "design",
        "arms",
        "interventions",
        "outcomes",
        "eligibility.inclusion",
        "eligibility.exclusion",
        "eligibility.facts",
        "locations",
        "sponsor",
        "references",
    }
    for chunk in chunks:
        if not chunk.section.startswith("eligibility.") or chunk.section == "eligibility.facts":
            assert re.fullmatch(rf"NCT01234567:{re.escape(chunk.section)}:\d+", chunk.id)
        assert chunk.title and chunk.text.strip() == chunk.text
    assert len({c.id for c in chunks}) == len(chunks)


def test_ids_and_texts_are_stable_across_runs():
    first = [(c.id, c.text) for c in chunk_trial(make_trial())]
    second = [(c.id, c.text) for c in chunk_trial(make_trial())]
    assert first == second


def test_related_trials_are_never_chunked():
    text = "\n".join(c.text for c in chunk_trial(make_trial()))
    assert "NCT09999999" not in text and "zebra" not in text


def test_long_description_is_cut_into_verbatim_sentence_slices():
    pieces = [c for c in chunk_trial(make_trial()) if c.section == "description"]
    assert len(pieces) >= 3
    assert [c.id for c in pieces] == [f"NCT01234567:description:{n}" for n in range(1, len(pieces) + 1)]
    for piece in pieces:
        assert 0 < len(piece.text) <= 800
        assert piece.text in LONG_DESCRIPTION
        assert piece.text.endswith("reader.")  # cut between sentences, never inside one
    assert " ".join(p.text for p in pieces) == LONG_DESCRIPTION


def test_status_design_outcomes_and_facts_say_what_the_document_says():
    chunks = chunk_trial(make_trial())
    status = next(c for c in chunks if c.section == "status")
    for value in ("RECRUITING", "PHASE1", "INTERVENTIONAL", "24 (planned)", "2024-01-01", "2026-12-31"):
        assert value in status.text
    design = next(c for c in chunks if c.section == "design")
    assert "SINGLE_GROUP" in design.text and "Masking: NONE" in design.text
    outcomes = [c for c in chunks if c.section == "outcomes"]
    assert [c.title for c in outcomes] == ["Primary outcome", "Secondary outcome"]
    assert "Adverse events" in outcomes[0].text and "Time frame: 12 months" in outcomes[0].text
    facts = next(c for c in chunks if c.section == "eligibility.facts")
    assert "18 Years" in facts.text and "65 Years" in facts.text and "No" in facts.text


def test_empty_fields_make_no_chunks_and_no_filler():
    bare = Trial(trial_id="KCT0000001", registry="CRIS", title="Bare trial")
    chunks = chunk_trial(bare)
    assert [c.section for c in chunks] == ["status"]
    assert chunks[0].text == "Title: Bare trial"


def test_unsplit_criteria_text_stays_citable():
    trial = make_trial(eligibility=Eligibility(text="Adults with lupus. No pregnancy."))
    chunks = [c for c in chunk_trial(trial) if c.section == "eligibility"]
    assert [c.text for c in chunks] == ["Adults with lupus. No pregnancy."]


def test_split_sentences_cuts_a_giant_sentence_at_white_space():
    text = "word " * 400
    pieces = split_sentences(text)
    assert all(len(p) <= 800 for p in pieces)
    assert " ".join(pieces).split() == text.split()


def test_hard_wrapped_prose_is_cut_between_sentences_not_at_line_breaks():
    sentence = (
        "Participants are followed every six months with visual fields,\nintraocular pressure and "
        "disc photographs for the\nwhole duration of the study. "
    )
    text = (sentence * 12).strip()
    pieces = split_sentences(text)
    assert len(pieces) > 1
    for piece in pieces:
        assert piece.startswith("Participants") and piece.endswith("study.")
        assert piece in text
