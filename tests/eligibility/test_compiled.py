"""Compiled rules (eligibility/compiled.py): the stored form gives back exactly what parsing gives, a stale
payload is never used, and a check from stored rules gives the verdicts of a check from parsed ones."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eligibility import compiled, evaluate
from eligibility.evaluate import check_trials
from eligibility.facts import extract_facts
from ingest.models import Criterion, Trial

PATIENTS = [
    "45-year-old woman with lupus nephritis, eGFR 55, platelets 90,000/mm3, on prednisone 20 mg daily",
    "29 year old man, rheumatoid arthritis, methotrexate since 2019, HIV negative, not pregnant",
    "I'm 71, diabetic, took rituximab 3 months ago",
    "",
]


@pytest.fixture(autouse=True)
def _cold():
    evaluate.clear_cache()
    yield
    evaluate.clear_cache()


def _same(fresh: tuple[compiled.CompiledCohort, ...], loaded: tuple[compiled.CompiledCohort, ...]) -> None:
    assert [c.name for c in loaded] == [c.name for c in fresh]
    for a, b in zip(fresh, loaded, strict=True):
        assert b.summary == a.summary
        assert len(a.items) == len(b.items)
        for x, y in zip(a.items, b.items, strict=True):
            assert y.criterion == x.criterion
            assert y.citation == x.citation
            assert y.rule == x.rule, x.criterion.text
            assert (y.key, y.deps, y.static) == (x.key, x.deps, x.static)


def _corpus(seed_by_id: dict[str, Trial], archive_sample: list[Trial]) -> list[Trial]:
    return [*seed_by_id.values(), *archive_sample]


def test_every_bundled_criterion_loads_back_as_parsed(seed_by_id, archive_sample):
    trials = _corpus(seed_by_id, archive_sample)
    criteria = 0
    for trial in trials:
        fresh = compiled.compile_trial(trial)
        loaded = compiled.loads(trial, compiled.dumps(trial, fresh))
        assert loaded is not None, trial.trial_id
        _same(fresh, loaded)
        criteria += sum(len(c.items) for c in fresh)
    assert criteria > 3000  # the seed trials and the 200 archive records, not an empty loop


def test_checks_from_stored_rules_give_the_verdicts_of_parsed_rules(seed_by_id, archive_sample, monkeypatch):
    trials = _corpus(seed_by_id, archive_sample)
    stored = {t.trial_id: compiled.compile_payload(t) for t in trials}
    for text in PATIENTS:
        facts = extract_facts(text)
        evaluate.clear_cache()
        parsed = check_trials(trials, facts)
        evaluate.clear_cache()
        # Nothing may be parsed now: every rule comes from its payload.
        monkeypatch.setattr(compiled, "compile_trial", _no_parsing)
        from_store = check_trials(trials, facts, rules=lambda ids: {i: stored[i] for i in ids})
        monkeypatch.undo()
        assert [v.model_dump() for v in from_store] == [v.model_dump() for v in parsed], text


def _no_parsing(trial: Trial):
    raise AssertionError(f"{trial.trial_id} was parsed although its compiled rules were stored")


def test_a_payload_of_another_compiler_version_is_recompiled_not_used(seed_by_id, monkeypatch):
    trial = seed_by_id["NCT03171194"]
    payload = compiled.compile_payload(trial)
    stale = payload.replace(compiled.COMPILER_VERSION, "0" * len(compiled.COMPILER_VERSION), 1)
    assert compiled.is_current(payload) and not compiled.is_current(stale)
    assert compiled.loads(trial, stale) is None

    calls: list[str] = []
    real = compiled.compile_trial

    def counting(t: Trial):
        calls.append(t.trial_id)
        return real(t)

    monkeypatch.setattr(compiled, "compile_trial", counting)
    facts = extract_facts(PATIENTS[0])
    verdicts = check_trials([trial], facts, rules=lambda ids: {i: stale for i in ids})
    assert calls == [trial.trial_id]
    evaluate.clear_cache()
    calls.clear()
    assert check_trials([trial], facts, rules=lambda ids: {i: payload for i in ids}) == verdicts
    assert calls == []


def test_a_payload_of_another_trial_or_document_is_not_used(seed_by_id):
    lupus, other = seed_by_id["NCT03171194"], seed_by_id["NCT04356287"]
    payload = compiled.compile_payload(lupus)
    assert compiled.loads(other, payload) is None
    changed = lupus.model_copy(update={"source_hash": "f" * 64})
    assert compiled.loads(changed, payload) is None


def test_a_payload_of_another_criteria_list_is_not_used(seed_by_id):
    lupus = seed_by_id["NCT03171194"]
    payload = compiled.compile_payload(lupus)
    first = lupus.eligibility.cohorts[0]
    fewer = first.model_copy(update={"exclusion": first.exclusion[:-1]})
    changed = lupus.model_copy(
        update={
            "eligibility": lupus.eligibility.model_copy(update={"cohorts": [fewer, *lupus.eligibility.cohorts[1:]]})
        }
    )
    assert changed.source_hash == lupus.source_hash
    assert compiled.loads(changed, payload) is None


def test_a_cold_check_builds_only_the_criteria_the_patient_touches(seed_by_id, archive_sample):
    trials = _corpus(seed_by_id, archive_sample)
    stored = {t.trial_id: compiled.compile_payload(t) for t in trials}
    facts = extract_facts("I'm 71")
    verdicts = check_trials(trials, facts, rules=lambda ids: {i: stored[i] for i in ids})
    cohorts = [c for t in trials for c in evaluate.compile_trial(t)]
    built = sum(c._items.count(None) == 0 for c in cohorts)
    unbuilt = sum(c._items.count(None) for c in cohorts)
    total = sum(len(c) for c in cohorts)
    # Age is a fact of few criteria: most stay unbuilt until a verdict's reasons are read.
    assert unbuilt > total * 0.8 and built < len(cohorts)
    entries = [(v.failed, v.unknown, v.needs_review) for v in verdicts]
    # Reading the reasons needs each criterion's text, citation and empty-patient outcome, not its rule.
    assert sum(c._items.count(None) for c in cohorts) == unbuilt
    evaluate.clear_cache()
    parsed = check_trials(trials, facts)
    assert [(v.failed, v.unknown, v.needs_review) for v in parsed] == entries
    assert [v.verdict for v in parsed] == [v.verdict for v in verdicts]


# Criterion wordings recombined from phrase families; the round trip must hold for whatever the parser makes
# of them (rules, review, consent), not only for the bundled trials.
_PHRASES = st.sampled_from(
    [
        "aged 18 to 75 years",
        "over 65",
        "eGFR < 30 mL/min/1.73m2",
        "platelets at least 100,000/mm3",
        "prednisone > 10 mg/day",
        "no prior rituximab within 6 months",
        "history of malignancy except basal cell carcinoma",
        "uncontrolled hypertension",
        "pregnant or breastfeeding",
        "SLEDAI-2K score >= 6",
        "HIV, HBV or HCV positive",
        "willing to give consent",
        "in the investigator's opinion unsuitable",
        "weighs less than 110 pounds",
        "and",
        "or",
        "(for the lupus nephritis cohort only)",
    ]
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    texts=st.lists(st.lists(_PHRASES, min_size=1, max_size=4).map(" ".join), min_size=1, max_size=6),
    exclusion=st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_generated_criteria_load_back_as_parsed(seed_by_id, texts, exclusion):
    base = seed_by_id["NCT04356287"]
    criteria = [
        Criterion(
            id=f"{base.trial_id}:eligibility.{kind}:{n}",
            trial_id=base.trial_id,
            kind=kind,
            heading_kind=kind,
            text=text,
        )
        for n, (text, excl) in enumerate(zip(texts, exclusion, strict=False))
        for kind in ["exclusion" if excl else "inclusion"]
    ]
    cohort = base.eligibility.cohorts[0].model_copy(
        update={
            "inclusion": [c for c in criteria if c.kind == "inclusion"],
            "exclusion": [c for c in criteria if c.kind == "exclusion"],
        }
    )
    trial = base.model_copy(update={"eligibility": base.eligibility.model_copy(update={"cohorts": [cohort]})})
    fresh = compiled.compile_trial(trial)
    payload = compiled.dumps(trial, fresh)
    json.loads(payload)  # plain JSON, whatever the text holds
    loaded = compiled.loads(trial, payload)
    assert loaded is not None
    _same(fresh, loaded)


def test_a_payload_is_the_same_text_in_every_process(seed_by_id, tmp_path):
    # String hashing differs per process (PYTHONHASHSEED): nothing in a payload may follow a set's order.
    import subprocess
    import sys

    from trialfinder.settings import PROJECT_ROOT

    trial = seed_by_id["NCT06888973"]
    record = tmp_path / "trial.json"
    record.write_text(trial.model_dump_json())
    code = (
        "import sys; from eligibility.compiled import compile_records; "
        "print(compile_records([open(sys.argv[1]).read()])[sys.argv[2]], end='')"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code, str(record), trial.trial_id],
            capture_output=True,
            text=True,
            check=True,
            cwd=PROJECT_ROOT,
            env={"PYTHONPATH": str(PROJECT_ROOT), "PYTHONHASHSEED": seed, "HF_HUB_OFFLINE": "1"},
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert outs == {compiled.compile_payload(trial)}
