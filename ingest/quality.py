"""Data-quality checks on eligibility criteria: swapped headings, lost characters, numbering gaps.

These problems come from the source documents themselves. They are reported as `DataWarning`s so
answers can say so; the criterion text itself is always kept verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ingest.models import Criterion, DataWarning

# Cues that a criterion describes who is *kept out* (weights are evidence strengths).
_EXCLUSION_CUES: tuple[tuple[re.Pattern[str], float], ...] = tuple(
    (re.compile(p, re.IGNORECASE), w)
    for p, w in (
        (
            r"\b(?:patients?|subjects?|participants?)\s+(?:who\s+)?(?:have|has|had)\s+(?:received|taken|been\s+"
            r"(?:treated|exposed)|undergone|used)\b",
            2.0,
        ),
        (
            r"\b(?:received|receipt of|exposure to|treatment with|use of)\b.{0,160}\b(?:within|in the (?:past|last))"
            r"\s+\d",
            1.0,
        ),
        (r"\bhistory of\b", 1.0),
        (r"\bhypersensitiv|\ballerg(?:y|ic)\b|\banaphyla", 1.0),
        (r"(?<!non-)(?<!negative )\bpregnan(?:t|cy)\b|\bbreast[- ]?feeding\b|(?<!non-)\blactating\b|\bnursing\b", 1.0),
        (r"\binappropriate\b|\bunsuitable\b|\bnot (?:be )?(?:eligible|suitable)\b|\bcontra-?indicat", 1.0),
        (r"\b(?:infection|malignan\w*|cancer|neoplasm|HIV|hepatitis)\b", 1.0),
        (r"\b(?:participat\w+|enrol\w*) in (?:another|any other)\b", 1.0),
        (r"\b(?:unable|unwilling|inability)\b", 1.0),
        (r"\b(?:abuse|dependence)\b", 1.0),
    )
)
# Cues that a criterion *defines* the population (disease definition, activity, age, consent).
_INCLUSION_CUES: tuple[tuple[re.Pattern[str], float], ...] = tuple(
    (re.compile(p, re.IGNORECASE), w)
    for p, w in (
        (r"\b(?:meet(?:s|ing)?|fulfil+(?:s|ing)?|satisf(?:y|ying|ies))\b.{0,80}\bcriteri", 2.0),
        (r"\bclassification criteria\b|\b(?:SLICC|ACR|EULAR)\b", 1.0),
        (r"\bdiagnos(?:is|ed)\b|\bdefinite\b", 1.0),
        (r"\bpositive\b.{0,60}\b(?:test|antibod\w*|ANA|titer|titre|RF|CCP)\b", 1.0),
        (r"\baged?\b.{0,40}\d+\s*(?:–|-|to)\s*\d+|\b\d+\s*years?\s*(?:of age|and older|or older|old)\b", 1.0),
        (r"\b(?:willing|able) to\b", 1.0),
        (r"\brefractory\b|\bnon-?responder\b|\binadequate response\b|\bunresponsive\b|\bpartial responder\b", 1.0),
        (r"\b(?:active|activity)\b", 0.5),
    )
)

# How strongly both lists must point the wrong way before headings count as swapped.
_MIN_ITEMS = 2
_MIN_MEAN = 0.75
_MIN_SHARE = 0.6


def exclusion_score(text: str) -> float:
    """Exclusion-likeness of one criterion: positive reads as an exclusion, negative as an inclusion."""
    plus = sum(w for p, w in _EXCLUSION_CUES if p.search(text))
    minus = sum(w for p, w in _INCLUSION_CUES if p.search(text))
    return plus - minus


def _leans(texts: Sequence[str], sign: int) -> bool:
    """True when a list leans clearly one way: mean score and most items agree with `sign`."""
    if len(texts) < _MIN_ITEMS:
        return False
    scores = [sign * exclusion_score(t) for t in texts]
    agreeing = sum(1 for s in scores if s > 0)
    return sum(scores) / len(scores) >= _MIN_MEAN and agreeing / len(scores) >= _MIN_SHARE


def headings_swapped(inclusion_texts: Sequence[str], exclusion_texts: Sequence[str]) -> bool:
    """True when the list under "Inclusion" reads as exclusions and the one under "Exclusion" as inclusions.

    Both lists must lean the wrong way clearly (mean score and a majority of items), so an ordinary
    list with a few odd items is never flagged.
    """
    return _leans(inclusion_texts, +1) and _leans(exclusion_texts, -1)


# A comparison whose "<"/">" was lost: "dosage of =15mg", "( =3 times ULN)".
# A written "= 0.5" (spaces both sides) is an equality and "< or =" is spelled out, so neither counts.
_LOST_COMPARATOR = re.compile(r"(?<!\bor )(?<![<>≤≥] )(?:^|(?<=[\s(\[,;:]))=\d")
# A "?" or replacement character where a comparison sign or unit belongs: "eGFR ?30", "ALT ? 3 x ULN".
# A "?" ending a question ("treated? 2 answers") has a word before it and a space after, so it does not count.
_LOST_QUESTION = re.compile(r"\s\?\s*=?\s*\d|\w\?=?\d|\ufffd")


def lost_character_warnings(criteria: Sequence[Criterion]) -> list[DataWarning]:
    """Warn on criteria whose comparison signs were lost at the source (text stays verbatim)."""
    warnings = []
    for c in criteria:
        if _LOST_COMPARATOR.search(c.text) or _LOST_QUESTION.search(c.text):
            warnings.append(
                DataWarning(
                    code="lost_characters",
                    message=(
                        f"{c.id}: a comparison sign seems lost at the source (e.g. '=15mg' where '>=15mg' "
                        f"was meant); read it with care: {c.text!r}"
                    ),
                    line=c.line,
                )
            )
    return warnings


def numbering_gap_warnings(
    trial_id: str, label: str, numbers: Sequence[tuple[str | None, int | None]]
) -> list[DataWarning]:
    """Warn when a numbered list does not start at 1 or skips numbers (items lost at the source).

    `numbers` holds each item's label as written (None for unnumbered items) and its line.
    """
    numbered = [(int(re.sub(r"\D", "", n)), line) for n, line in numbers if n and re.search(r"\d", n)]
    if not numbered or all(n == 1 for n, _ in numbered) and len(numbered) > 1:
        return []
    warnings = []
    first, first_line = numbered[0]
    if first != 1:
        warnings.append(
            DataWarning(
                code="numbering_gap",
                message=f"{trial_id}: the {label} starts at item {first}; earlier items may be missing at the source.",
                line=first_line,
            )
        )
    # A list restarting at 1 is a new sub-list under a sub-heading, not a gap.
    for (prev, _), (n, line) in zip(numbered, numbered[1:], strict=False):
        if n > prev + 1:
            warnings.append(
                DataWarning(
                    code="numbering_gap",
                    message=f"{trial_id}: the {label} jumps from item {prev} to item {n}; items may be missing.",
                    line=line,
                )
            )
    return warnings
