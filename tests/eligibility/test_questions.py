"""Every fact name the checker can ask about becomes a plain-language question."""

from __future__ import annotations

import re

import pytest

from eligibility import lexicon
from eligibility.evaluate import compile_trial, question_for
from eligibility.matching import empty_index, evaluate


def _leaves(rule):
    if rule.kind in ("all_of", "any_of"):
        for r in rule.rules:
            yield from _leaves(r)
    elif rule.kind in ("not", "qualified"):
        yield from _leaves(rule.rule)
    elif rule.kind == "implies":
        yield from _leaves(rule.condition)
        yield from _leaves(rule.then)
    else:
        yield rule


def _possible_needs(leaf) -> set[str]:
    """Every fact name `eligibility.matching` can put in `needs` for this leaf, for any patient."""
    k = leaf.kind
    if k in ("age", "sex"):
        return {k}
    if k == "diagnosis":
        return {"diagnosis" if leaf.closed_world else leaf.names[0]}
    if k == "condition":
        # "_active"/"_date" name the patient's own condition: any term that implies one of the names.
        matching = {t.name for t in lexicon.TERMS if lexicon.ancestors(t.name) & set(leaf.names)}
        return {leaf.names[0]} | {f"{n}{s}" for n in matching for s in ("_active", "_date")}
    if k == "lab":
        return {leaf.analyte, f"{leaf.analyte}_uln"}
    if k == "score":
        return {leaf.score}
    if k == "serology":
        return {leaf.test}
    if k == "exposure":
        bases = (leaf.drugs + leaf.classes) or ["drug"]
        return {f"{b}{s}" for b in bases for s in ("_last_dose", "_start", "_use")}
    if k == "dose":
        return {"prednisone_dose", "weight"}
    if k == "duration":
        return {"disease_duration"}
    return set()


@pytest.fixture(scope="module")
def fact_names(seed_by_id, archive_sample) -> set[str]:
    names: set[str] = set()
    emitted: set[str] = set()
    for trial in [*seed_by_id.values(), *archive_sample]:
        for cohort in compile_trial(trial):
            for item in cohort.items:
                for leaf in _leaves(item.rule):
                    names |= _possible_needs(leaf)
                    emitted |= set(evaluate(leaf, empty_index(), item.criterion.kind).needs)
    assert emitted <= names, f"needs the enumeration misses: {sorted(emitted - names)}"
    return names


def test_the_walk_covers_many_kinds_of_fact(fact_names):
    assert len(fact_names) > 150
    for name in (
        "age",
        "pregnancy",
        "alt",
        "alt_uln",
        "rituximab_last_dose",
        "hiv",
        "tb_active",
        "allergy_methotrexate",
        "diagnosis",
        "prednisone_dose",
    ):
        assert name in fact_names


def test_every_fact_name_maps_to_a_well_formed_question(fact_names):
    bad = {}
    for name in sorted(fact_names):
        q = question_for(name)
        problems = [
            p
            for p, failed in (
                ("does not end with '?'", not q.endswith("?")),
                ("does not start with a capital", not q[:1].isupper()),
                ("shows an identifier", "_" in q or re.search(rf"\b{re.escape(name)}\b", q) and "_" in name),
                ("generic fallback", q.startswith("Could you tell me more")),
                ("stray spaces or punctuation", "  " in q or " ?" in q or ",," in q),
            )
            if failed
        ]
        if problems:
            bad[name] = (q, problems)
    assert not bad, bad


@pytest.mark.parametrize(
    "fact, question",
    [
        ("alt", "What was your most recent ALT (liver enzyme) result?"),
        ("allergy_methotrexate", "Are you allergic to methotrexate?"),
        ("rituximab_last_dose", "Have you ever taken rituximab, and when was the last dose?"),
        ("anti_cd20_use", "Have you ever taken an anti-CD20 drug, and are you still on it?"),
        ("live_vaccine_last_dose", "Have you ever received a live vaccine, and when was the last dose?"),
        ("tb_active", "Is your tuberculosis active now, or was it only in the past?"),
        ("renal_transplant_date", "When did you have your kidney transplant (month and year, if you know)?"),
        ("psychiatric", "Have you been diagnosed with a psychiatric disorder?"),
    ],
)
def test_examples(fact, question):
    assert question_for(fact) == question


def test_an_unforeseen_name_still_gets_a_sentence():
    assert question_for("some_new_fact") == "Could you tell me more about your some new fact?"


def test_every_fact_has_a_plain_label_not_its_internal_name(fact_names):
    from eligibility.questions import fact_label

    for fact in fact_names:
        label = fact_label(fact)
        assert label and "_" not in label, (fact, label)
    assert fact_label("dsdna") == "anti-dsDNA antibody"
    assert fact_label("rituximab_last_dose") == "rituximab (last dose)"
