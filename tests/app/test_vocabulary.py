"""Search synonyms derived from the concept registry (issue 11 section 1): the words a search expands a
condition into are the words the checker reads it by."""

from __future__ import annotations

import pytest

from app import vocabulary as vocab
from eligibility import concepts, lexicon

SEARCHED = [c for c in concepts.CONDITIONS.values() if c.category in ("disease", "procedure")]


@pytest.mark.parametrize("concept", SEARCHED, ids=lambda c: c.id)
def test_every_searched_concept_is_a_group_found_by_its_label(concept):
    groups = vocab.mentioned_groups(f"Trials for people with {concept.label}?")
    assert any(g[0] == concept.label.lower() for g in groups), groups


@pytest.mark.parametrize("concept", SEARCHED, ids=lambda c: c.id)
def test_every_spelling_of_a_group_is_read_by_the_checker_as_its_concept(concept):
    [group] = [g for g in vocab.SYNONYM_GROUPS if g[0] == concept.label.lower()]
    for name in group:
        if name in vocab.CASE_SENSITIVE:
            continue
        assert concept.id in {t.name for _, _, t in lexicon.find_terms(name)}, name


def test_a_spelling_holding_another_is_left_out():
    [stem_cells] = [g for g in vocab.SYNONYM_GROUPS if g[0] == "stem cell therapy"]
    assert "stem cell" in stem_cells and "mesenchymal stem cells" not in stem_cells


@pytest.mark.parametrize(
    ("text", "expected", "absent"),
    [
        ("A trial for AS with spinal fusion", "ankylosing spondylitis", None),
        ("what is known as the best option", None, "ankylosing spondylitis"),
        ("Any studies on SSc and lung fibrosis?", "systemic sclerosis", None),
        ("kidney involvement from lupus nephritis", "lupus nephritis", "systemic lupus erythematosus"),
        ("trials in rheumatic autoimmune disorders", "autoimmune disease", None),
        ("MSCs from the umbilical cord", "umbilical cord", None),
    ],
)
def test_mentions_follow_the_checkers_reading(text, expected, absent):
    firsts = [g[0] for g in vocab.mentioned_groups(text)]
    if expected:
        assert expected in firsts, firsts
    if absent:
        assert absent not in firsts, firsts


def test_abbreviations_keep_their_written_capitals():
    assert vocab.CASE_SENSITIVE["ssc"] == ("SSc", "SSC")
    assert vocab.CASE_SENSITIVE["psa"] == ("PsA",)
