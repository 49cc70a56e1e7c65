"""Patient-to-trial search on the seed index: CONTRACT shape, verdict ordering, filters, next question."""

from __future__ import annotations

import json
from datetime import date

import pytest

from app.search import TOPIC_BONUS, VERDICT_BONUS, build_query, note_query, rank_trials, search_trials
from eligibility.facts import extract_facts

TODAY = date(2026, 11, 24)
VERDICTS = {"eligible", "possibly_eligible", "ineligible"}


def check_shape(payload: dict) -> None:
    assert set(payload) == {"trials", "next_question"}
    for row in payload["trials"]:
        assert set(row) == {"trial_id", "title", "status", "score", "verdict", "reasons", "citations"}
        assert isinstance(row["score"], float) and row["verdict"] in VERDICTS
        assert all(isinstance(r, str) for r in row["reasons"])
        for c in row["citations"]:
            assert set(c) == {"id", "trial_id", "section", "text"}
    nq = payload["next_question"]
    if nq is not None:
        assert set(nq) == {"fact", "question", "splits"} and isinstance(nq["splits"], int) and nq["splits"] >= 1
    json.dumps(payload)


def test_patient_note_ranks_with_verdicts_and_reasons(seed_index):
    payload = search_trials(
        seed_index,
        query=None,
        patient="58 yo F with h/o SLE on prednisone 10 mg, Cr 2.1, denies pregnancy",
        limit=10,
        today=TODAY,
    )
    check_shape(payload)
    rows = payload["trials"]
    assert len(rows) == 5
    ruled_out = [r["verdict"] == "ineligible" for r in rows]
    assert ruled_out == sorted(ruled_out), "ineligible trials must come after all others"
    lupus = {r["trial_id"] for r in rows[:3]}
    assert "NCT03171194" in lupus or "KCT0004337" in lupus
    for row in rows:
        assert row["reasons"]
        for c in row["citations"]:
            assert seed_index.chunk(c["id"]).text == c["text"]


def test_ineligible_trial_goes_last_and_can_be_hidden(seed_index):
    note = "70 year old man with systemic lupus erythematosus"
    payload = search_trials(seed_index, query="lupus", patient=note, limit=10, today=TODAY)
    check_shape(payload)
    by_id = {r["trial_id"]: r for r in payload["trials"]}
    assert by_id["NCT03171194"]["verdict"] == "ineligible"
    assert any(r.startswith("Not met") for r in by_id["NCT03171194"]["reasons"])
    order = [r["trial_id"] for r in payload["trials"]]
    open_rows = [r for r in payload["trials"] if r["verdict"] != "ineligible"]
    assert all(order.index(r["trial_id"]) < order.index("NCT03171194") for r in open_rows)
    hidden = search_trials(seed_index, query="lupus", patient=note, limit=10, hide_ineligible=True, today=TODAY)
    assert "NCT03171194" not in {r["trial_id"] for r in hidden["trials"]}
    assert all(r["verdict"] != "ineligible" for r in hidden["trials"])


def test_scores_add_the_documented_verdict_bonus(seed_index):
    payload = search_trials(seed_index, query="systemic sclerosis", patient=None, limit=5, today=TODAY)
    check_shape(payload)
    assert payload["trials"][0]["trial_id"] == "NCT04356287"
    for row in payload["trials"]:
        assert (
            VERDICT_BONUS[row["verdict"]]
            <= row["score"]
            <= 1.0 + max(TOPIC_BONUS.values()) + VERDICT_BONUS[row["verdict"]]
        )


def test_status_filter_and_limit(seed_index):
    payload = search_trials(
        seed_index, query="mesenchymal stem cells", patient=None, limit=2, statuses=["recruiting"], today=TODAY
    )
    assert len(payload["trials"]) == 2
    assert all(r["status"] == "RECRUITING" for r in payload["trials"])


def test_next_question_is_a_fact_that_splits_listed_trials(seed_index):
    payload = search_trials(seed_index, query=None, patient="45 year old woman with lupus", limit=10, today=TODAY)
    nq = payload["next_question"]
    assert nq is not None and nq["question"].endswith("?")
    assert 1 <= nq["splits"] <= sum(r["verdict"] != "ineligible" for r in payload["trials"])


def test_query_uses_patient_diagnoses_with_synonyms():
    facts = extract_facts("52 yo woman with scleroderma and hypertension", TODAY)
    query = build_query(None, facts, "52 yo woman with scleroderma and hypertension")
    assert "systemic sclerosis" in query and "scleroderma" in query


def test_search_needs_query_or_patient(seed_index):
    with pytest.raises(ValueError, match="query or a patient"):
        search_trials(seed_index, query=" ", patient=None)


def test_note_query_keeps_the_patient_and_drops_family_and_negated_mentions():
    note = "48 M with h/o HTN, mother had breast cancer, never took metformin. Now with lupus."
    text = note_query(note, extract_facts(note, TODAY))
    assert "HTN" in text and "lupus" in text
    assert "breast cancer" not in text and "metformin" not in text


def test_note_adds_its_own_rankings_to_the_fusion(seed_index):
    note = "45 year old woman with systemic sclerosis and interstitial lung disease on mycophenolate"
    facts = extract_facts(note, TODAY)
    query = build_query(None, facts, note)
    alone = rank_trials(seed_index, query=query, facts=facts, limit=5)
    fused = rank_trials(seed_index, query=query, facts=facts, limit=5, note=note_query(note, facts))
    assert {r.trial.trial_id for r in fused} >= {r.trial.trial_id for r in alone}
    assert [r.relevance for r in alone] != [r.relevance for r in fused]
    ruled_out = [r.best.verdict == "ineligible" for r in fused]
    assert ruled_out == sorted(ruled_out)


def test_near_orders_by_the_nearest_site_and_within_filters(seed_index):
    from app.search import search_trials

    payload = search_trials(seed_index, query="stem cells", patient=None, near="Montreal", within_km=None)
    rows = [r for r in payload["trials"] if r["verdict"] != "ineligible"]
    assert rows[0]["trial_id"] == "NCT04356287" and rows[0]["nearest_site"]["distance_km"] < 10
    dists = [r["nearest_site"]["distance_km"] for r in rows]
    assert dists == sorted(dists)
    close = search_trials(seed_index, query="stem cells", patient=None, near="Montreal", within_km=100)
    assert [r["trial_id"] for r in close["trials"]] == ["NCT04356287"]
