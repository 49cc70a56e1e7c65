"""Dataset loading: every bad case is named by file, line and field; the project's datasets are valid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.runner import default_datasets
from evals.schema import CaseError, EligibilityCase, QACase, RankingCase, load_cases, load_datasets


def _write(tmp_path: Path, *lines: str, name: str = "cases.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_case_type_is_told_by_its_keys(tmp_path):
    path = _write(
        tmp_path,
        "# header comment",
        json.dumps({"id": "a", "question": "Dose?", "trials": ["NCT03171194"], "answer_any": ["1 x 10"]}),
        "",
        json.dumps({"id": "b", "patient": "SLE", "judged": {"NCT03171194": 2}}),
        json.dumps(
            {
                "id": "c",
                "trial": "NCT03171194",
                "patient": "pregnant",
                "expect": "ineligible",
                "reason_any": ["pregnan"],
            }
        ),
    )
    cases = load_cases(path)
    assert [type(c) for c in cases] == [QACase, RankingCase, EligibilityCase]
    assert cases[0].source == "cases.jsonl"


def test_unknown_key_is_refused_with_the_allowed_keys(tmp_path):
    path = _write(tmp_path, "# h", json.dumps({"id": "a", "question": "Dose?", "trials": [], "answer_al": ["x"]}))
    with pytest.raises(CaseError) as err:
        load_cases(path)
    message = str(err.value)
    assert message.startswith(f"{path}:2:")
    assert "answer_al" in message and "answer_all" in message and "forbid_eligible" in message


def test_bad_field_names_file_line_and_field(tmp_path):
    good = json.dumps({"id": "a", "question": "Dose?", "trials": []})
    bad = json.dumps({"id": "b", "trial": "NCT03171194", "patient": "x", "expect": "maybe"})
    path = _write(tmp_path, good, good.replace('"a"', '"a2"'), bad)
    with pytest.raises(CaseError) as err:
        load_cases(path)
    assert err.value.line == 3 and err.value.path == str(path)
    assert "field 'expect'" in str(err.value)


def test_wrong_judged_grade_and_missing_input(tmp_path):
    with pytest.raises(CaseError, match=r":1: .*field 'judged.NCT1'"):
        load_cases(_write(tmp_path, json.dumps({"id": "r", "query": "lupus", "judged": {"NCT1": 3}})))
    with pytest.raises(CaseError, match=r":1: .*'patient' or a 'query'"):
        load_cases(_write(tmp_path, json.dumps({"id": "r", "judged": {"NCT1": 1}}), name="b.jsonl"))


def test_untyped_line_bad_json_and_duplicate_ids(tmp_path):
    with pytest.raises(CaseError, match=r":1: cannot tell the case type"):
        load_cases(_write(tmp_path, json.dumps({"id": "x", "trials": []})))
    with pytest.raises(CaseError, match=r":2: not valid JSON"):
        load_cases(_write(tmp_path, "# h", "{not json", name="b.jsonl"))
    one = _write(tmp_path, json.dumps({"id": "same", "question": "q"}), name="c.jsonl")
    two = _write(tmp_path, "# h", json.dumps({"id": "same", "question": "q2"}), name="d.jsonl")
    with pytest.raises(CaseError) as err:
        load_datasets([one, two])
    assert err.value.path == str(two) and err.value.line == 2 and "duplicate id" in str(err.value)


def test_empty_answer_strings_are_refused(tmp_path):
    with pytest.raises(CaseError, match="field 'answer_any'"):
        load_cases(_write(tmp_path, json.dumps({"id": "a", "question": "q", "answer_any": [" "]})))


def test_project_datasets_are_valid_and_large_enough():
    paths = {p.name: p for p in default_datasets()}
    qa = load_cases(paths["qa.jsonl"])
    heldout = load_cases(paths["qa_heldout.jsonl"])
    assert sum(isinstance(c, QACase) for c in qa) >= 80
    assert sum(isinstance(c, QACase) for c in heldout) >= 30
    for name in ("qa.jsonl", "qa_heldout.jsonl"):
        header = paths[name].read_text(encoding="utf-8").splitlines()[0]
        assert header.startswith("#") and "from the five seed documents" in header
    assert "HELD-OUT" in paths["qa_heldout.jsonl"].read_text(encoding="utf-8").splitlines()[0]
    categories = {c.category for c in (*qa, *heldout) if isinstance(c, QACase)}
    assert {"fact", "find", "compare", "definition", "eligibility", "injection", "not_in_corpus"} <= categories
    # every not-in-corpus case names a trial id the bundled corpus does not have and expects no citation
    seeds = {p.stem for p in (Path(__file__).resolve().parents[2] / "data" / "trials").glob("*.txt")}
    for case in (*qa, *heldout):
        if isinstance(case, QACase) and case.category == "not_in_corpus":
            assert case.trials == [] and not any(s in case.question for s in seeds)
