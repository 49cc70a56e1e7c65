"""The concept registry (eligibility/concepts): validated data, and nothing a criterion can require that
a patient cannot state or be asked about."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from eligibility import concepts, questions
from eligibility.facts import extract_facts
from eligibility.matching import FactIndex, dependencies, evaluate
from eligibility.parsing import parse_text

ALL = sorted(concepts.MEASUREMENTS.values(), key=lambda c: c.id)


@pytest.mark.parametrize("concept", ALL, ids=lambda c: c.id)
def test_every_concept_can_be_required_stated_and_asked(concept):
    """Walk the registry: its example criterion becomes a rule on the concept, its example patient
    statement gives that fact, the rule decides it as the entry says, and the question is plain words."""
    rule = parse_text(concept.example.criterion, "inclusion")
    side = "score" if concept.kind == "score" else "lab"
    assert f"{side}:{concept.id}" in dependencies(rule), rule
    assert concept.id in evaluate(rule, FactIndex.build(extract_facts("", date(2026, 1, 1))), "inclusion").needs
    facts = extract_facts(concept.example.patient, date(2026, 1, 1))
    assert concept.id in {m.name for m in (facts.scores if side == "score" else facts.labs)}
    assert evaluate(rule, FactIndex.build(facts), "inclusion").value is concept.example.met
    question = questions.question_for(concept.id)
    assert question == concept.question and question.endswith("?")
    assert "_" not in question  # never an internal name


def _write(tmp_path, body: str):
    (tmp_path / "bad.yaml").write_text(body, encoding="utf-8")
    return tmp_path


GOOD = """
- id: thing
  kind: lab
  label: a thing
  question: What is your thing?
  example: {criterion: 'thing above 2', patient: 'thing 3', met: true}
  criteria: ['thing']
  patient: ['thing']
  unit: mg
  range: [0, 10]
"""


def test_a_good_file_loads_frozen(tmp_path):
    loaded = concepts.load(_write(tmp_path, GOOD))
    with pytest.raises(ValidationError):
        loaded["thing"].label = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    "change,where",
    [
        (("question: What is your thing?", "question: What is your thing"), "question"),
        (("kind: lab", "kind: planet"), "kind"),
        (("criteria: ['thing']", "criteria: ['thing(']"), "thing"),
        (("unit: mg", "unit: mg\n  colour: red"), "colour"),
    ],
)
def test_a_bad_entry_names_file_entry_and_field(tmp_path, change, where):
    with pytest.raises(concepts.RegistryError) as err:
        concepts.load(_write(tmp_path, GOOD.replace(*change)))
    message = str(err.value)
    assert "bad.yaml" in message and "thing" in message and where in message


def test_duplicate_ids_are_refused(tmp_path):
    with pytest.raises(concepts.RegistryError, match="duplicate"):
        concepts.load(_write(tmp_path, GOOD + GOOD))


def test_conversions_are_analyte_specific():
    m = concepts.MEASUREMENTS
    assert m["glucose"].to_canonical(7.0, "mmol/L") == pytest.approx(126, abs=0.5)
    assert m["bilirubin"].to_canonical(34.2, "µmol/L") == pytest.approx(2.0, abs=0.01)
    assert m["hba1c"].to_canonical(53, "mmol/mol") == pytest.approx(7.0, abs=0.05)
    assert m["temperature"].to_canonical(98.6, "°F") == pytest.approx(37.0, abs=0.01)
    assert m["weight"].to_canonical(10, "furlongs") is None
    assert m["life_expectancy"].to_canonical(3, None) is None  # "3" alone is not a life expectancy
