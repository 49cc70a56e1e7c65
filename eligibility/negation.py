"""NegEx/ConText-style context of a mention: negated, family, historical, hypothetical.

A cue modifies the mentions after it (or, for post-cues, before it) up to a scope terminator: sentence
end, ";", a contrasting conjunction ("but", "however", "except"), or a comma that does not continue a
list ("no fever, cough or rash" keeps the list negated; "no lupus nephritis, HIV positive" does not).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PRE_NEGATION = re.compile(
    r"(?i)\b(?:no|not|denies|denied|deny|without|negative for|never|free of|absence of|absent|"
    r"no evidence of|no history of|no h/o|no hx of|ruled out|rules out|non|nor|neither|"
    r"has not|have not|hasn't|haven't|didn't|did not|doesn't|does not|isn't|is not|wasn't|was not|"
    r"unremarkable for|no known|nkda)\b")
POST_NEGATION = re.compile(
    r"(?i)^\W{0,3}(?:\w+\W+){0,2}?(?:negative|neg\b|ruled out|was excluded|absent|-ve|\(-\)|not present|"
    r"denied|unlikely|resolved)")
POSITIVE_AFTER = re.compile(r"(?i)^\W{0,3}(?:positive|pos\b|\+|reactive|detected|confirmed)")
FAMILY = re.compile(
    r"(?i)\b(?:mother|father|mom|dad|sister|brother|sibling|aunt|uncle|grandmother|grandfather|grandparent|"
    r"cousin|son|daughter|parent|parents|family history|fhx|fh|family hx|maternal|paternal)\b")
HISTORICAL = re.compile(
    r"(?i)\b(?:h/o|hx of|history of|past|prior|previous|previously|in remission|resolved|s/p|status post|"
    r"treated for|had|was diagnosed|ago|former|formerly|used to)\b")
HYPOTHETICAL = re.compile(
    r"(?i)\b(?:if|risk of|at risk|could|would|might|may|possible|possibly|rule out|r/o|concern for|"
    r"worried|in case|plan to|planning|suspected|suspicion of|screen(?:ing)? for|to exclude|evaluate for)\b")
TERMINATOR = re.compile(r"(?i)[.;:!?\n]|\b(?:but|however|although|though|except|aside from|apart from|other than|"
                        r"which|who|whereas|yet|and is|currently)\b")


@dataclass(frozen=True)
class Context:
    negated: bool = False
    family: bool = False
    historical: bool = False
    hypothetical: bool = False


def clause_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """Start and end of the clause around text[start:end] (scope of ConText cues)."""
    left = max(0, start - 200)  # a clause longer than this is cut: cues far away do not apply
    for m in TERMINATOR.finditer(text, max(0, start - 200), start):
        if not _decimal_point(text, m):
            left = m.end()
    right = min(len(text), end + 200)
    for m in TERMINATOR.finditer(text, end, min(len(text), end + 200)):
        if not _decimal_point(text, m):
            right = m.start()
            break
    return left, right


def _decimal_point(text: str, m: re.Match) -> bool:
    i = m.start()
    return m.group(0) == "." and 0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit()


def context(text: str, start: int, end: int) -> Context:
    """ConText flags for the mention text[start:end]."""
    left, right = clause_bounds(text, start, end)
    before = text[left:start]
    after = text[end:right]
    negated = False
    for m in PRE_NEGATION.finditer(before):
        between = before[m.end():]
        if len(between) <= 120 and not _comma_breaks_list(before, m.end(), text, end):
            negated = True
    if POSITIVE_AFTER.search(after):
        negated = False
    elif POST_NEGATION.search(re.split(r"[,;]", after, maxsplit=1)[0][:40]):
        negated = True
    near = before[before.rfind(",") + 1:]  # family/historical/hypothetical cues end at a comma
    family = bool(FAMILY.search(near))
    historical = bool(HISTORICAL.search(near) or re.search(r"(?i)\bago\b|\bin remission\b",
                                                           re.split(r"[,;]", after, maxsplit=1)[0][:60]))
    hypothetical = bool(HYPOTHETICAL.search(near))
    return Context(negated, family, historical, hypothetical)


def _comma_breaks_list(before: str, cue_end: int, text: str, mention_end: int) -> bool:
    segment = before[cue_end:]
    if "," not in segment:
        return False
    # "no fever, cough or rash": the list continues through the mention when an "or"/"nor" follows it.
    rest = text[mention_end:mention_end + 60]
    continues = re.match(r"(?i)^[^,.;]{0,30}\b(?:or|nor)\b", rest) or re.search(r"(?i)\b(?:or|nor)\b", segment)
    return not continues
