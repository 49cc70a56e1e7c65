"""Dialogue cases (CONTRACT): parsed by their `turns` key, judged turn by turn."""

from __future__ import annotations

import pytest

from evals import metrics
from evals.schema import CaseError, DialogueCase, parse_case


def test_dialogue_case_parses_and_refuses_unknown_keys():
    case = parse_case({"id": "d1", "turns": [{"user": "No", "expect": {"facts": {"age": 71}}}]}, "x.jsonl", 1)
    assert isinstance(case, DialogueCase) and case.turns[0].expect.facts == {"age": 71}
    with pytest.raises(CaseError, match="answer_al"):
        parse_case({"id": "d2", "turns": [{"user": "No", "expect": {"answer_al": ["x"]}}]}, "x.jsonl", 2)


def test_turns_are_judged_on_their_own_expectations():
    case = parse_case(
        {
            "id": "d3",
            "turns": [
                {"user": "I'm 61", "expect": {"facts": {"age": 61}}},
                {
                    "user": "sorry, 71 not 61",
                    "expect": {
                        "facts": {"age": 71},
                        "answer_none": ["trials matching"],
                        "verdicts": {"NCT1": "not_ineligible"},
                        "question_none": ["old"],
                    },
                },
            ],
        },
        "x.jsonl",
        3,
    )
    good = {
        "turns": [
            {"answer": "ok", "facts": {"age": 61.0}},
            {"answer": "ok", "facts": {"age": 71.0}, "next_question": {"fact": "x", "question": "HIV?"}},
        ]
    }
    assert metrics.judge_dialogue(case, good) == []
    bad = {
        "turns": [
            {"answer": "ok", "facts": {"age": 61}},
            {
                "answer": "no trials matching",
                "facts": {"age": 61},
                "eligibility": [{"trial_id": "NCT1", "verdict": "ineligible"}],
                "next_question": {"fact": "age", "question": "How old are you?"},
            },
        ]
    }
    reasons = metrics.judge_dialogue(case, bad)
    assert len(reasons) == 4 and all(r.startswith("turn 2") for r in reasons)
