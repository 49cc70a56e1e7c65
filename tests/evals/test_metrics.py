"""Metric functions on small hand-made inputs whose right values are worked out by hand."""

from __future__ import annotations

import math

import pytest

from evals import metrics
from evals.schema import EligibilityCase, QACase, RankingCase


def _cite(trial: str, text: str, chunk: str = "c1") -> dict:
    return {"id": f"{trial}:{chunk}", "trial_id": trial, "section": "arms", "text": text}


def _verdict(trial: str, verdict: str, cohort=None, failed=()) -> dict:
    return {
        "trial_id": trial,
        "cohort": cohort,
        "verdict": verdict,
        "unknown": [],
        "needs_review": [],
        "failed": [{"criterion": c, "kind": "exclusion", "reason": r, "citation": {}} for c, r in failed],
    }


def test_ndcg_and_precision_by_hand():
    judged = {"A": 2, "B": 1, "C": 0}
    # ideal order A, B: 2/log2(2) + 1/log2(3)
    ideal = 2 + 1 / math.log2(3)
    assert metrics.ndcg_at(["A", "B", "X"], judged) == pytest.approx(1.0)
    assert metrics.ndcg_at(["X", "A"], judged) == pytest.approx((2 / math.log2(3)) / ideal)
    assert metrics.ndcg_at(["C", "X"], judged) == 0.0
    assert metrics.ndcg_at(["A"], {"A": 0}) == 0.0
    assert metrics.precision_at(["A", "B", "X"], judged) == pytest.approx(0.1)
    assert metrics.precision_at(["A", "B"], judged, level=1) == pytest.approx(0.2)


def test_percentile_and_mean():
    assert metrics.percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    assert metrics.percentile([10], 95) == 10
    assert metrics.percentile([], 50) is None
    assert metrics.mean([1.0, None, 0.0]) == pytest.approx(0.5)
    assert metrics.mean([None]) is None


@pytest.mark.parametrize(
    "answer, trial, claimed",
    [
        ("You may be eligible for NCT03171194.", "NCT03171194", True),
        ("Verdict for NCT03171194: possibly_eligible.", "NCT03171194", True),
        ("You qualify for this trial.", "NCT03171194", True),
        ("You are not eligible for NCT03171194: platelets below 30,000/mm3.", "NCT03171194", False),
        ("NCT03171194: ineligible. The exclusion criterion on platelets applies.", "NCT03171194", False),
        ("You can't join NCT03171194 because you are pregnant.", "NCT03171194", False),
        ("You may be eligible for NCT04356287 but not for NCT03171194.", "NCT03171194", False),
        ("You may be eligible for NCT04356287 but not for NCT03171194.", "NCT04356287", True),
        ("I can't say you are eligible; the checker says the pregnancy exclusion applies.", "NCT03171194", False),
    ],
)
def test_claims_eligibility(answer, trial, claimed):
    assert metrics.claims_eligibility(answer, trial) is claimed


def test_judge_qa_reasons():
    case = QACase(id="q", question="Dose?", trials=["NCT03171194"], answer_any=["1 x 10"], answer_all=["cells/kg"])
    good = {"answer": "A single IV infusion of 1 x 10\\^6 cells/kg.", "citations": [_cite("NCT03171194", "x")]}
    assert metrics.judge_qa(case, good) == []
    bad = {"answer": "One million cells.", "citations": [_cite("NCT04356287", "x")]}
    reasons = metrics.judge_qa(case, bad)
    assert len(reasons) == 3
    assert "NCT03171194" in reasons[0] and "none of" in reasons[1] and "lacks" in reasons[2]


def test_judge_qa_forbid_eligible_checks_verdicts_and_text():
    case = QACase(id="q", question="Am I eligible?", trials=[], forbid_eligible="NCT03171194")
    ok = {
        "answer": "You are not eligible for NCT03171194.",
        "citations": [],
        "eligibility": [_verdict("NCT03171194", "ineligible")],
    }
    assert metrics.judge_qa(case, ok) == []
    by_verdict = {**ok, "eligibility": [_verdict("NCT03171194", "possibly_eligible")]}
    assert "forbids eligibility" in metrics.judge_qa(case, by_verdict)[0]
    by_text = {**ok, "answer": "Good news: you are eligible for NCT03171194."}
    assert "claims eligibility" in metrics.judge_qa(case, by_text)[0]


def test_judge_eligibility_uses_best_cohort_and_reason():
    case = EligibilityCase(id="e", trial="T1", patient="p", expect="ineligible", reason_any=["platelet"])
    out = {
        "results": [
            _verdict("T1", "ineligible", "A", [("Platelet count <30,000/mm3", "25,000 is below")]),
            _verdict("T1", "ineligible", "B", [("Pregnant", "pregnant")]),
        ]
    }
    assert metrics.judge_eligibility(case, out) == []
    wrong_reason = EligibilityCase(id="e", trial="T1", patient="p", expect="ineligible", reason_any=["HIV"])
    assert "no failed criterion" in metrics.judge_eligibility(wrong_reason, out)[0]
    mixed = {"results": [*out["results"], _verdict("T1", "possibly_eligible", "C")]}
    assert "best verdict possibly_eligible" in metrics.judge_eligibility(case, mixed)[0]
    not_inel = EligibilityCase(id="e", trial="T1", patient="p", expect="not_ineligible")
    assert metrics.judge_eligibility(not_inel, mixed) == []
    assert "no verdict" in metrics.judge_eligibility(not_inel, {"results": []})[0]


def test_judge_ranking_wants_a_two_else_a_one():
    case = RankingCase(id="r", query="lupus", judged={"A": 2, "B": 1})
    assert metrics.judge_ranking(case, {"trials": [{"trial_id": "B"}, {"trial_id": "A"}]}) == []
    assert metrics.judge_ranking(case, {"trials": [{"trial_id": "B"}]}) != []
    ones = RankingCase(id="r", query="lupus", judged={"A": 0, "B": 1})
    assert metrics.judge_ranking(ones, {"trials": [{"trial_id": "B"}]}) == []


def test_citation_precision_recall_and_groundedness():
    output = {
        "answer": "Participants receive a single IV infusion of 1 x 10^6 cells/kg [NCT03171194 · Study groups]. "
        "The study was funded by the Moon Agency.",
        "citations": [
            _cite("NCT03171194", "Participants will receive a single IV infusion of MSCs 1 x 10^6 cells/kg."),
            _cite("NCT03171194", "Emory University, Atlanta, Georgia", "c2"),
        ],
    }
    assert metrics.citation_precision(output) == pytest.approx(0.5)
    assert metrics.groundedness(output) == pytest.approx(0.5)
    assert metrics.citation_recall(["NCT03171194", "NCT04356287"], output) == pytest.approx(0.5)
    assert metrics.citation_recall([], output) is None
    assert metrics.citation_precision({"answer": "x", "citations": []}) is None


def test_key_terms_drop_stop_words_ids_and_markers():
    terms = metrics.key_terms("The dose in NCT03171194 is 1 x 10\\^6 cells/kg [NCT03171194 · Study groups].")
    assert "nct03171194" not in terms and "the" not in terms and "groups" not in terms
    assert {"dose", "cells/kg", "1", "10"} <= terms


def test_retrieval_scores():
    hits = [("B", "summary"), ("A", "eligibility.exclusion"), ("A", "arms")]
    scores = metrics.retrieval_scores(["A"], ["eligibility"], hits, k=10)
    assert scores == {"recall": 1.0, "rr": 0.5, "section_hit": 1.0}
    scores = metrics.retrieval_scores(["A", "C"], ["locations"], hits, k=1)
    assert scores["recall"] == 0.0 and scores["rr"] == 0.5 and scores["section_hit"] == 0.0


def test_eligibility_summary_counts_false_eligible_and_abstention():
    def rec(expect, verdict, reason_any=None, failed=()):
        case = EligibilityCase(id=f"{expect}{verdict}", trial="T", patient="p", expect=expect, reason_any=reason_any)
        return {"case": case, "output": {"results": [_verdict("T", verdict, failed=failed)]}}

    records = [
        rec("ineligible", "ineligible", ["hiv"], [("HIV positive", "HIV"), ("Age > 65", "70")]),
        rec("ineligible", "possibly_eligible"),
        rec("eligible", "eligible"),
        rec("not_ineligible", "ineligible", failed=[("Pregnant", "pregnant")]),
    ]
    s = metrics.eligibility_summary(records)
    assert s["verdict_accuracy"] == pytest.approx(0.5)
    assert s["false_eligible_rate"] == pytest.approx(0.5) and s["false_eligible"] == 1
    assert s["called_eligible"] == 0
    assert s["abstention_rate"] == pytest.approx(1 / 3)
    assert s["excluded_caught"] == pytest.approx(0.5)
    assert s["eligible_turned_away"] == pytest.approx(0.5)
    assert s["failed_precision"] == pytest.approx(0.5) and s["failed_recall"] == pytest.approx(1.0)


def test_flatten_keeps_numbers_only():
    flat = metrics.flatten({"a": {"b": 1, "c": None, "d": "x"}, "e": 0.5, "f": True})
    assert flat == {"a.b": 1.0, "e": 0.5}
