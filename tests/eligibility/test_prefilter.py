"""The literal pre-check skips only regexes that cannot match: vocabulary lookups find exactly what
running every pattern finds."""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eligibility import concepts, lexicon, prefilter
from eligibility.parsing import _CONCEPT_GATE


@pytest.mark.parametrize(
    "pattern, starts",
    [
        (r"lupus nephritis", ("lupus nephritis",)),
        (r"hydroxych?lor?oquine", ("hydroxyc",)),
        (r"cin ?[1-3]", ("cin",)),
        (r"\btb\b", ("tb",)),
        (r"platelets?(?: count)?|thrombocytopenia", ("platelet", "thrombocytopenia")),
        (r"(?:breast|lung) cancer", ("breast", "lung")),
        (r"(?:cortico)?steroids?", None),
        (r"\w+statin", None),
        (r"anti-?ccp", ("anti",)),
        (r"a+b", ("a",)),
        (r"hiv(?:-positive| positive|\+)?", ("hiv",)),
    ],
)
def test_literal_starts(pattern, starts):
    assert prefilter.literal_starts(pattern) == starts


def test_fold_table_covers_every_character_re_equates_with_an_ascii_letter():
    letter = re.compile(r"(?i)[a-z]")
    for code in range(0x80, sys.maxunicode + 1):
        ch = chr(code)
        if letter.fullmatch(ch):
            folded = prefilter.fold(ch)
            assert len(folded) == 1 and folded.isascii() and re.fullmatch(f"(?i){re.escape(folded)}", ch), hex(code)


def _terms_ungated(text):
    return lexicon.earliest_longest(
        [
            (m.start(), m.end(), t)
            for t, p in lexicon.TERM_PATTERNS
            for m in p.finditer(text)
            if not t.means_else(text, m.start(), m.end())
        ]
    )


def _drugs_ungated(text):
    hits = [(m.start(), m.end(), d.name, False) for d, p in lexicon.DRUG_PATTERNS for m in p.finditer(text)]
    hits += [(m.start(), m.end(), c, True) for p, c in lexicon.CLASS_PATTERNS for m in p.finditer(text)]
    return lexicon.earliest_longest(hits)


def _assert_same(text):
    assert lexicon.find_terms(text) == _terms_ungated(text)
    assert lexicon.find_drugs(text) == _drugs_ungated(text)
    gate = _CONCEPT_GATE.open(text)
    for concept, may_match in zip(concepts.MEASUREMENTS.values(), gate, strict=True):
        assert may_match or not concept.criteria_re.search(text), concept.id


def test_gated_lookups_equal_ungated_on_real_criteria(seed_by_id, archive_sample):
    texts = [
        c.text
        for t in [*seed_by_id.values(), *archive_sample]
        for co in t.eligibility.cohorts
        for c in (*co.inclusion, *co.exclusion)
    ]
    assert len(texts) > 1000
    for text in texts:
        _assert_same(text)


_VOCAB = [
    "SLE",
    "lupus",
    "HIV",
    "ſle",
    "hıv",
    "K",
    "İ",
    "Rituximab",
    "anti-CD20",
    "TNF blockers",
    "MTX",
    "breast cancer",
    "TB",
    "platelets",
    "ALT",
    "statin",
    "atorvastatin",
    "(",
    "|",
    " ",
    ", ",
    "-",
    "é",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_VOCAB), st.text(max_size=8)), max_size=20))
def test_gated_lookups_equal_ungated_on_arbitrary_text(parts):
    _assert_same("".join(parts))
