"""Medical vocabulary shared by the criteria parser and the fact extractor.

The conditions (diagnoses, infections, cancers, procedures) and the drugs with their classes of the
concept registry (eligibility/concepts/conditions.yaml, drugs.yaml), compiled for finding them in
text. Both sides of the checker use the same canonical names, which is what makes a patient's "lupus"
meet a trial's "systemic lupus erythematosus" and "MabThera" count as "anti-CD20".
"""

from __future__ import annotations

import re
from typing import TypeVar

from eligibility import concepts, prefilter

Term = concepts.Condition
# Order matters only for overlapping spellings (conditions.yaml lists the longer, more specific first).
TERMS: tuple[Term, ...] = tuple(concepts.CONDITIONS.values())
TERM_BY_NAME: dict[str, Term] = {t.name: t for t in TERMS}

# Primary rheumatologic diagnoses: a patient who names one of these and not a cohort's disease is
# taken not to have that cohort's disease (the cohort-membership rule of the issue).
PRIMARY_DISEASES = frozenset(t.name for t in TERMS if t.primary)

# Group phrases used in criteria, mapped to the canonical names they stand for.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (p, g.members) for g in concepts.CONDITION_GROUPS.values() for p in g.phrases
)


def _compile(term: Term, lay: bool = False) -> re.Pattern[str]:
    parts = [rf"(?i:\b{p}\b)" for p in term.patterns + (term.lay if lay else ())]
    parts += [rf"\b{p}\b" for p in term.case_sensitive]
    return re.compile("|".join(parts))


TERM_PATTERNS: tuple[tuple[Term, re.Pattern[str]], ...] = tuple((t, _compile(t)) for t in TERMS)
# Patients also use lay words ("sugar diabetes", "high blood pressure") that criteria never do.
PATIENT_TERM_PATTERNS: tuple[tuple[Term, re.Pattern[str]], ...] = tuple((t, _compile(t, lay=True)) for t in TERMS)
GROUP_PATTERNS = tuple((re.compile(rf"(?i)\b{p}\b"), names) for p, names in GROUPS)
_TERM_GATE = prefilter.Gate(prefilter.starts(t.patterns + t.case_sensitive) for t in TERMS)
_PATIENT_TERM_GATE = prefilter.Gate(prefilter.starts(t.patterns + t.lay + t.case_sensitive) for t in TERMS)


def ancestors(name: str) -> frozenset[str]:
    """The name and every term it implies (lupus nephritis -> SLE; JDM -> myositis)."""
    seen, todo = set(), [name]
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        term = TERM_BY_NAME.get(n)
        if term:
            todo.extend(term.parents)
    return frozenset(seen)


# A mention found in text: (start, end, what was found, ...).
Hit = TypeVar("Hit", bound="tuple[int, int, *tuple[object, ...]]")


def earliest_longest(hits: list[Hit]) -> list[Hit]:
    """Non-overlapping mentions from (start, end, ...) hits: earliest first, the longest at a start."""
    hits.sort(key=lambda h: (h[0], -(h[1] - h[0])))
    out, end = [], -1
    for h in hits:
        if h[0] >= end:
            out.append(h)
            end = h[1]
    return out


def find_terms(text: str, patient: bool = False) -> list[tuple[int, int, Term]]:
    """Non-overlapping term mentions in text, earliest and longest first; `patient` text is also read
    for the words only patients use."""
    hits = []
    patterns, gate = (PATIENT_TERM_PATTERNS, _PATIENT_TERM_GATE) if patient else (TERM_PATTERNS, _TERM_GATE)
    for (term, pattern), may_match in zip(patterns, gate.open(text), strict=True):
        if not may_match:
            continue
        for m in pattern.finditer(text):
            if not term.means_else(text, m.start(), m.end()):
                hits.append((m.start(), m.end(), term))
    return earliest_longest(hits)


# ---------------------------------------------------------------------------------------------
# Drugs


Drug = concepts.Drug
DRUGS: tuple[Drug, ...] = tuple(concepts.DRUGS.values())

DRUG_BY_NAME: dict[str, Drug] = {d.name: d for d in DRUGS}
ALL_CLASSES = frozenset(c for d in DRUGS for c in d.classes)

# Words used in criteria and in patient text for a whole drug class.
CLASS_PHRASES: tuple[tuple[str, str], ...] = tuple((p, c.id) for c in concepts.DRUG_CLASSES.values() for p in c.phrases)


def _compile_drug(d: Drug) -> re.Pattern[str]:
    return re.compile("|".join(rf"(?i:\b{p}\b)" for p in d.patterns))


DRUG_PATTERNS = tuple((d, _compile_drug(d)) for d in DRUGS)
CLASS_PATTERNS = tuple((re.compile(rf"(?i)\b{p}"), c) for p, c in CLASS_PHRASES)
_DRUG_GATE = prefilter.Gate(
    [prefilter.starts(d.patterns) for d in DRUGS] + [prefilter.starts([p]) for p, _ in CLASS_PHRASES]
)


def find_drugs(text: str, with_classes: bool = True) -> list[tuple[int, int, str, bool]]:
    """Non-overlapping drug or class mentions: (start, end, name, is_class)."""
    hits = []
    gate = _DRUG_GATE.open(text)
    for (d, pattern), may_match in zip(DRUG_PATTERNS, gate, strict=False):
        if not may_match:
            continue
        for m in pattern.finditer(text):
            hits.append((m.start(), m.end(), d.name, False))
    if with_classes:
        for (pattern, cls), may_match in zip(CLASS_PATTERNS, gate[len(DRUG_PATTERNS) :], strict=False):
            if not may_match:
                continue
            for m in pattern.finditer(text):
                hits.append((m.start(), m.end(), cls, True))
    return earliest_longest(hits)


def drug_classes(name: str) -> frozenset[str]:
    """Classes of a drug name, or {name} when it is a class itself."""
    drug = DRUG_BY_NAME.get(name)
    if drug:
        return drug.classes
    return frozenset({name}) if name in ALL_CLASSES else frozenset()


def class_covers(broad: str, narrow: str) -> bool:
    """True when every drug of class `narrow` also belongs to class `broad` (biologic covers anti-CD20)."""
    if broad == narrow:
        return True
    members = [d for d in DRUGS if narrow in d.classes]
    return bool(members) and all(broad in d.classes for d in members)
