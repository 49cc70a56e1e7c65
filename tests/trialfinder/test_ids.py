"""Trial ids of every registry ingest reads are found, spelled canonically and mapped to their registry."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trialfinder.ids import canonical, find_ids, is_trial_id, registry_for, strip_ids

IDS = {
    "NCT03171194": "ClinicalTrials.gov",
    "KCT0004337": "CRIS",
    "ISRCTN12345678": "ISRCTN",
    "EUCTR2015-001234-56-DE": "EU Clinical Trials Register",
    "CTRI/2020/05/025123": "CTRI",
    "ChiCTR2000029990": "ChiCTR",
    "ACTRN12619000123456": "ANZCTR",
    "DRKS00012345": "DRKS",
    "JPRN-UMIN000012345": "JPRN",
}


@pytest.mark.parametrize("trial_id, registry", IDS.items())
def test_every_registry_id_is_recognised(trial_id, registry):
    assert is_trial_id(trial_id)
    assert registry_for(trial_id) == registry
    assert find_ids(f"Is {trial_id} still open, and what about {trial_id}?") == [trial_id]
    assert trial_id not in strip_ids(f"Tell me about {trial_id} please")


def test_typed_ids_are_canonical_and_near_misses_are_not_ids():
    assert find_ids("compare nct03171194 with kct0004337") == ["NCT03171194", "KCT0004337"]
    assert canonical("isrctn12345678") == "ISRCTN12345678"
    for near_miss in ("NCT0317119", "NCT031711945", "KCT000433", "nct03171194", "NCT 03171194"):
        assert not is_trial_id(near_miss)
    assert registry_for("XYZ123") == "unknown"


@given(st.integers(min_value=0, max_value=99_999_999))
def test_any_eight_digit_nct_id_round_trips(number):
    trial_id = f"NCT{number:08d}"
    assert find_ids(f"({trial_id.lower()}),") == [trial_id]
