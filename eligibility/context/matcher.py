"""ConText for one mention: which cues (data in `rules.py`) modify text[start:end].

Scope follows ConText: a cue modifies mentions after it (FORWARD), before it (BACKWARD) or both, within the
clause, which ends at sentence punctuation or a TERMINATE cue. PSEUDO cues are matched so the cue words inside
them ("not improving on") modify nothing. Two refinements for notes, where lists are written with commas:
a forward negation runs through a list ("no fever, cough or rash") but stops at a comma that does not continue
one ("no lupus nephritis, HIV positive"); a backward negation runs back over a closed list
("HIV, HBV and HCV all negative"). Family, historical and hypothetical cues end at a comma.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from eligibility.context.rules import (
    Category,
    ContextRule,
    Direction,
    TokenSpec,
    load_rules,
)
from eligibility.context.subject import proxy_relative

TOKEN = re.compile(r"\w+|[^\w\s]")
# A cue's reach (max_scope) counts words, and a hyphenated name is one word: "belimumab BLISS-LN study" has one
# word between the drug and "study", as "voclosporin AURORA study" does.
SCOPE_WORD = re.compile(r"\w+(?:[-/]\w+)*|[^\w\s]")
PUNCT_END = re.compile(r"[.;:!?\n]")
# A colon before a bare result ends no clause: "HBV/HCV/HIV: all negative" gives the list its result.
_RESULT_VALUE = re.compile(
    r"(?i)[ \t]*(?:(?:all|both)[ \t]+)?(?:negative|neg|positive|pos|non-?reactive|reactive)[ \t]*(?=[.;,\n]|$)"
)
WINDOW = 200  # a clause longer than this is cut: cues far away do not apply
FORWARD_REACH = 120  # characters a forward negation reaches across a list
BACKWARD_REACH = 60  # characters of list a backward cue reaches back over
LIST_GLUE = re.compile(
    r"(?i)^[\s,/&]*(?:(?:[\w'’/+-]+\s*){1,4}[,/&]\s*|(?:[\w'’/+-]+\s*){1,4}\b(?:and|or|nor)\b\s*)*"
    r"(?:[\w'’/+-]+\s*){0,4}?:?\s*(?:all|both|each|were|was|are|is|tested)?\s*$"
)


@dataclass(frozen=True)
class Context:
    negated: bool = False
    family: bool = False
    historical: bool = False
    hypothetical: bool = False


@dataclass(frozen=True)
class Cue:
    start: int
    end: int
    rule: ContextRule


def _specs(rule: ContextRule) -> tuple[TokenSpec, ...]:
    if rule.pattern is not None:
        return rule.pattern
    return tuple(TokenSpec.model_validate({"LOWER": w}) for w in TOKEN.findall(rule.literal.lower()))


@lru_cache(maxsize=1)
def _index() -> dict[str, list[tuple[tuple[TokenSpec, ...], ContextRule]]]:
    """Rules by the words their first required token may be, so each text token tries only a few rules."""
    index: dict[str, list[tuple[tuple[TokenSpec, ...], ContextRule]]] = defaultdict(list)
    for rule in load_rules():
        specs = _specs(rule)
        firsts: set[str] = set()
        for spec in specs:
            firsts |= spec.words
            if not spec.optional:
                break
        for word in firsts:
            index[word].append((specs, rule))
    return index


def _match(specs: tuple[TokenSpec, ...], words: list[str], i: int) -> int | None:
    """Number of tokens matched from words[i], or None."""
    if not specs:
        return 0
    head, rest = specs[0], specs[1:]
    if i < len(words) and words[i] in head.words:
        n = _match(rest, words, i + 1)
        if n is not None:
            return n + 1
    return _match(rest, words, i) if head.optional else None


@lru_cache(maxsize=16)
def cues(text: str) -> tuple[Cue, ...]:
    """Every cue in text, longest match first at each place (so PSEUDO phrases hide the cues inside them)."""
    tokens = list(TOKEN.finditer(text))
    words = [t.group(0).lower() for t in tokens]
    found: list[Cue] = []
    i = 0
    index = _index()
    while i < len(words):
        best: list[tuple[int, ContextRule]] = []
        for specs, rule in index.get(words[i], ()):
            n = _match(specs, words, i)
            if n:
                if not best or n > best[0][0]:
                    best = [(n, rule)]
                elif n == best[0][0]:
                    best.append((n, rule))
        if best:
            n = best[0][0]
            found += [Cue(tokens[i].start(), tokens[i + n - 1].end(), rule) for _, rule in best]
            i += n
        else:
            i += 1
    return tuple(found)


def _decimal_point(text: str, i: int) -> bool:
    return text[i] == "." and 0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit()


def clause_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """Start and end of the clause around text[start:end] (the scope of its context cues)."""
    lo, hi = max(0, start - WINDOW), min(len(text), end + WINDOW)
    left, right = lo, hi
    for m in PUNCT_END.finditer(text, lo, start):
        if not _decimal_point(text, m.start()):
            left = m.end()
    for m in PUNCT_END.finditer(text, end, hi):
        if _decimal_point(text, m.start()) or (m.group(0) == ":" and _RESULT_VALUE.match(text, m.end())):
            continue
        right = m.start()
        break
    for cue in cues(text):
        if cue.rule.direction is Direction.TERMINATE:
            if left <= cue.start and cue.end <= start:
                left = cue.end
            elif end <= cue.start < right:
                right = cue.start
    return left, right


def context(text: str, start: int, end: int, patient: str | None = None) -> Context:
    """ConText flags for the mention text[start:end]. `patient` names the relative already known to be the
    patient (a conversation that asked for "my daughter" earlier); otherwise the text itself decides."""
    left, right = clause_bounds(text, start, end)
    before_cues = [c for c in cues(text) if left <= c.start and c.end <= start]
    after_cues = [c for c in cues(text) if end <= c.start and c.end <= right]
    comma = text.rfind(",", left, start)
    near_from = comma + 1 if comma >= 0 else left
    after_comma = text.find(",", end, right)
    near_to = after_comma if after_comma >= 0 else right

    negated = any(
        _negates_forward(text, c, start, end)
        for c in before_cues
        if c.rule.category is Category.NEGATED_EXISTENCE and c.rule.direction is Direction.FORWARD
    )
    backward = [c for c in after_cues if c.rule.direction in (Direction.BACKWARD, Direction.BIDIRECTIONAL)]
    affirmed = any(
        c.rule.category is Category.AFFIRMED_EXISTENCE and text[end : c.start].strip(" :-") == "" for c in backward
    )
    if affirmed:
        negated = False
    elif any(c.rule.category is Category.NEGATED_EXISTENCE and _negates_backward(text, end, c) for c in backward):
        negated = True

    patient = patient or proxy_relative(text)

    def modifies(c: Cue, categories: tuple[Category, ...]) -> bool:
        # The relative the message asks for is the patient: "my son" then names the patient, not family.
        return c.rule.category in categories and not (
            c.rule.category is Category.FAMILY and text[c.start : c.end].lower() == patient
        )

    def flag(*categories: Category) -> bool:
        ahead = any(
            modifies(c, categories) and c.start >= near_from and _within(text, c.end, start, c.rule)
            for c in before_cues
            if c.rule.direction in (Direction.FORWARD, Direction.BIDIRECTIONAL)
        )
        behind = any(
            modifies(c, categories) and c.end <= near_to and _within(text, end, c.start, c.rule) for c in backward
        )
        return ahead or behind

    question = right < len(text) and text[right] == "?" and after_comma < 0
    return Context(
        negated=negated,
        family=flag(Category.FAMILY),
        historical=flag(Category.HISTORICAL),
        hypothetical=question or flag(Category.HYPOTHETICAL, Category.POSSIBLE_EXISTENCE),
    )


def _within(text: str, a: int, b: int, rule: ContextRule) -> bool:
    return rule.max_scope is None or len(SCOPE_WORD.findall(text[a:b])) <= rule.max_scope


def _negates_forward(text: str, cue: Cue, start: int, end: int) -> bool:
    if start - cue.end > FORWARD_REACH or not _within(text, cue.end, start, cue.rule):
        return False
    segment = text[cue.end : start]
    if "," not in segment:
        return True
    # "no fever, cough or rash": the list continues through the mention when an "or"/"nor" closes it.
    rest = text[end : end + 60]
    return bool(re.match(r"(?i)^[^,.;]{0,30}\b(?:or|nor)\b", rest) or re.search(r"(?i)\b(?:or|nor)\b", segment))


def _negates_backward(text: str, end: int, cue: Cue) -> bool:
    between = text[end : cue.start]
    if cue.start - end > BACKWARD_REACH or not _within(text, end, cue.start, cue.rule):
        return False
    if "," not in between and len(TOKEN.findall(between)) <= 3:
        return True
    # "HIV, HBV and HCV all negative", "hepatitis C and HIV serologies were negative": a closed list.
    return bool(re.search(r"(?i)\b(?:and|or|all|both)\b", between)) and bool(LIST_GLUE.match(between))
