"""The concept registry (eligibility/concepts): validated data, and nothing a criterion can require that
a patient cannot state or be asked about."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from eligibility import concepts, lexicon, questions
from eligibility.facts import Measurement, PatientFacts, extract_facts
from eligibility.matching import CHRONIC, FactIndex, dependencies, evaluate
from eligibility.parsing import ALLERGENS, parse_text

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


TESTS = sorted(concepts.SEROLOGY.values(), key=lambda t: t.id)
TODAY = date(2026, 1, 1)


@pytest.mark.parametrize("test", [t for t in TESTS if t.criteria], ids=lambda t: t.id)
def test_every_test_a_criterion_names_can_be_stated_and_asked(test):
    """The same walk for qualitative tests: required by a criterion, stated positive or negative by a
    patient, decided as the entry says, asked in plain words."""
    assert test.example is not None
    rule = parse_text(test.example.criterion, "inclusion")
    assert f"lab:{test.id}" in dependencies(rule), rule
    facts = extract_facts(test.example.patient, TODAY)
    assert any(m.name == test.id and m.positive is not None for m in facts.labs), facts.labs
    assert evaluate(rule, FactIndex.build(facts), "inclusion").value is test.example.met
    assert questions.question_for(test.id) == test.question


@pytest.mark.parametrize("test", TESTS, ids=lambda t: t.id)
def test_every_test_a_patient_states_is_asked_in_plain_words(test):
    said = test.example.patient if test.example else f"{test.patient[0]} positive"  # a plain name
    facts = extract_facts(said, TODAY)
    assert any(m.name == test.id and m.positive is not None for m in facts.labs), (said, facts.labs)
    question = questions.question_for(test.id)
    assert question.endswith("?") and "_" not in question


@pytest.mark.parametrize("concept", [c for c in ALL if c.uln], ids=lambda c: c.id)
def test_a_multiple_of_normal_can_be_required_stated_and_asked(concept):
    """A lab criteria bound by the upper limit of normal: the patient can give it that way too, and
    the question for it asks that way."""
    written = concept.criteria_re.search(concept.example.criterion)
    said = concept.patient_re.search(concept.example.patient)
    assert written and said
    rule = parse_text(f"{written.group(0)} no more than 2 x ULN", "inclusion")
    # An absolute value does not say how it stands against the laboratory's normal range: asked for.
    absolute = Measurement(name=concept.id, value=concept.range[1], normalized=concept.range[1], span="given")
    needs = evaluate(rule, FactIndex.build(PatientFacts(today=TODAY, labs=[absolute])), "inclusion").needs
    assert needs == (f"{concept.id}_uln",)
    assert concept.label in questions.question_for(needs[0]) and "upper limit of normal" in questions.question_for(
        needs[0]
    )
    facts = extract_facts(f"{said.group(0)} 3 x ULN", TODAY)
    assert evaluate(rule, FactIndex.build(facts), "inclusion").value is False


def test_no_fact_a_registry_criterion_needs_falls_back_to_a_generic_question():
    examples = [c.example.criterion for c in ALL] + [t.example.criterion for t in TESTS if t.example]
    empty = FactIndex.build(extract_facts("", TODAY))
    needs = {n for text in examples for n in evaluate(parse_text(text, "inclusion"), empty, "inclusion").needs}
    assert needs
    for need in needs:
        assert not questions.question_for(need).startswith("Could you tell me more"), need


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
        loaded.measurements["thing"].label = "other"  # type: ignore[misc]


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


# --- conditions and drugs (conditions.yaml, drugs.yaml) ----------------------------------------------

CONDITIONS = sorted(lexicon.TERMS, key=lambda t: t.name)


@pytest.mark.parametrize("term", CONDITIONS, ids=lambda t: t.name)
def test_every_condition_can_be_stated_by_its_label_and_asked(term):
    facts = extract_facts(f"I have had {term.label} for 3 months.", TODAY)
    assert term.name in {d.name for d in facts.diagnoses}
    question = questions.question_for(term.name)
    assert question.endswith("?") and "_" not in question


@pytest.mark.parametrize("cls", sorted({c for d in lexicon.DRUGS for c in d.classes}))
def test_every_drug_class_is_asked_in_plain_words(cls):
    for suffix in ("_use", "_last_dose", "_start"):
        question = questions.question_for(cls + suffix)
        assert question.endswith("?") and "_" not in question


@pytest.mark.parametrize(
    "said,name",
    [
        ("I'm a diabetic", "diabetes"),
        ("she has high blood pressure", "hypertension"),
        ("lupus affecting my kidneys since 2019", "lupus_nephritis"),
        ("my kidneys were damaged by lupus", "lupus_nephritis"),
        ("an irregular heartbeat", "arrhythmia"),
    ],
)
def test_lay_words_are_read_in_patient_text_only(said, name):
    assert name in {d.name for d in extract_facts(said, TODAY).diagnoses}
    assert name not in {t.name for _, _, t in lexicon.find_terms(said)}  # criteria never use them


def test_is_a_parents_are_used_only_in_the_safe_direction():
    """A patient's lupus nephritis is lupus, but a patient's lupus is not lupus nephritis: a specific
    term never widens to its parent when it is the one required or excluded."""
    nephritis = FactIndex.build(extract_facts("I have lupus nephritis", TODAY))
    lupus = FactIndex.build(extract_facts("I have lupus", TODAY))
    assert evaluate(parse_text("Diagnosis of SLE", "inclusion"), nephritis, "inclusion").value is True
    assert evaluate(parse_text("Lupus nephritis", "exclusion"), lupus, "exclusion").value is not True
    assert evaluate(parse_text("Active lupus nephritis", "inclusion"), lupus, "inclusion").value is not True


@pytest.mark.parametrize(
    "body,where",
    [
        ("- {id: a, kind: condition, category: disease, label: a, names: [a], parents: [nothing]}", "nothing"),
        ("- {id: d, kind: drug, names: [d], classes: [no_such_class]}", "no_such_class"),
        ("- {id: a, kind: condition, category: planet, label: a, names: [a]}", "category"),
        ("- {id: g, kind: condition_group, phrases: [g], members: [unheard_of]}", "unheard_of"),
    ],
)
def test_conditions_and_drugs_name_only_what_exists(tmp_path, body, where):
    with pytest.raises(concepts.RegistryError, match=where):
        concepts.load(_write(tmp_path, body))


@pytest.mark.parametrize(
    "said,absent,present",
    [
        ("Sats 93% on RA, afebrile", "ra", None),  # room air
        ("HR 90, RR 20, 97% RA", "ra", None),
        ("known RA, on methotrexate", None, "ra"),
        ("echo: severe AS, valve area 0.8", "as", None),  # aortic stenosis
        ("WAS TREATED AS AN OUTPATIENT", "as", None),  # the word, in capitals
        ("HLA-B27 positive AS since 2018", None, "as"),
    ],
)
def test_an_ambiguous_abbreviation_takes_the_meaning_its_context_gives(said, absent, present):
    names = {d.name for d in extract_facts(said, TODAY).diagnoses}
    assert absent is None or absent not in names
    assert present is None or present in names


def test_an_ambiguity_must_name_an_abbreviation_of_its_entry_and_a_context(tmp_path):
    base = "- {id: a, kind: condition, category: disease, label: a, names: [a], case_sensitive: [AB], ambiguous: [%s]}"
    with pytest.raises(concepts.RegistryError, match="case_sensitive"):
        concepts.load(_write(tmp_path, base % "{abbreviation: XY, means: x, preceded_by: 'z'}"))
    with pytest.raises(concepts.RegistryError, match="context"):
        concepts.load(_write(tmp_path, base % "{abbreviation: AB, means: x}"))


def test_allergens_and_chronic_infections_are_registry_flags():
    allergies = {c.id for c in concepts.CONDITIONS.values() if c.category == "allergy"}
    assert {name for name, _ in ALLERGENS} == allergies
    assert CHRONIC == {c.id for c in concepts.CONDITIONS.values() if c.chronic} >= {"hiv"}
