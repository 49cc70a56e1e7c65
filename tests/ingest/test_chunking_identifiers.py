"""chunk_trial makes a trial's other identifiers (org study id, secondary ids, aliases) citable."""

from __future__ import annotations

from ingest.chunking import chunk_trial
from ingest.models import Identifier, Reference, Trial


def _trial(*identifiers: Identifier) -> Trial:
    return Trial(
        trial_id="NCT00000001",
        registry="ClinicalTrials.gov",
        title="A trial",
        references=[Reference(citation="Doe J. A paper. 2020.")],
        identifiers=list(identifiers),
    )


def test_identifiers_become_one_chunk_after_the_references():
    chunks = chunk_trial(
        _trial(
            Identifier(id="00061632", source="org_study_id"),  # registry page layout: the kind sits in source
            Identifier(id="R01-AR-1234", type="secondary_id", source="NIH"),  # XML/JSON layout: kind in type
            Identifier(id="2019-001234-12", type="EUDRACT_NUMBER"),
        )
    )
    sections = [c.section for c in chunks]
    assert sections.index("identifiers") == sections.index("references") + 1
    chunk = next(c for c in chunks if c.section == "identifiers")
    assert chunk.id == "NCT00000001:identifiers:1" and chunk.title == "Other identifiers"
    assert chunk.text.splitlines() == [
        "Organization study ID: 00061632",
        "Secondary ID: R01-AR-1234 (NIH)",
        "Eudract number: 2019-001234-12",
    ]


def test_a_trial_without_identifiers_has_no_identifier_chunk():
    assert not [c for c in chunk_trial(_trial()) if c.section == "identifiers"]


def test_the_org_study_id_of_a_seed_page_is_citable(seed_index):
    chunks = [c for c in seed_index.chunks("NCT03171194") if c.section == "identifiers"]
    assert [c.id for c in chunks] == ["NCT03171194:identifiers:1"]
    assert "00061632" in chunks[0].text
