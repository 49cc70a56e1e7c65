"""Cheap literal pre-checks that let the recognisers skip regexes that cannot match.

Most vocabulary patterns start with a plain word ("rituximab", "lupus nephritis", "hepatitis b"). When
none of a pattern's literal starts occurs in the (case-folded) text, the regex cannot match and is not
run: scanning a criterion with ~120 vocabulary regexes becomes a handful of substring tests. A pattern
whose start is not a plain literal (a group, a class, a top-level alternation) is always run, so the
pre-check never changes what is found.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

_META = set("\\()[]{}?*+|.^$")
_OPTIONAL = set("?*{")
# Non-ASCII characters that Python's case-insensitive matching equates with an ASCII letter
# (simple lower/upper case mappings and re's extra equivalences); `tests/eligibility/test_prefilter.py`
# checks this table against every Unicode code point.
_ASCII_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


def literal_starts(pattern: str) -> tuple[str, ...] | None:
    """Lower-cased literal texts one of which starts every match of `pattern` (None when unknown).

    Top-level alternatives and a leading non-capturing group of alternatives ("(?:breast|lung) cancer")
    are followed into; otherwise only leading plain characters count, and a character or group made
    optional by a following quantifier ends the literal.
    """
    out: list[str] = []
    for alternative in _split_alternatives(pattern):
        if alternative.startswith("(?:"):
            close = _closing_paren(alternative, 0)
            if close < 0 or alternative[close + 1 : close + 2] in _OPTIONAL:
                return None
            inner = literal_starts(alternative[3:close])
            if inner is None:
                return None
            out += inner
            continue
        start = _leading_literal(alternative)
        if not start or not start.isascii():
            return None
        out.append(start)
    return tuple(dict.fromkeys(out))


def _leading_literal(pattern: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt == "b" and not out:
                i += 2  # a leading word boundary matches no text
                continue
            if nxt.isalnum():
                break  # \w, \d, \s…: not a literal
            literal, width = nxt, 2
        elif ch in _META:
            break
        else:
            literal, width = ch, 1
        follower = pattern[i + width : i + width + 1]
        if follower in _OPTIONAL:
            break
        out.append(literal)
        i += width
        if follower == "+":
            break
    return "".join(out).casefold()


def _structure(pattern: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """(position, character, group depth after it) of each character outside escapes and classes."""
    depth, i, in_class = 0, start, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        else:
            depth += (ch == "(") - (ch == ")")
            yield i, ch, depth
        i += 1


def _split_alternatives(pattern: str) -> list[str]:
    """`pattern` cut at its top-level "|" (outside groups and character classes)."""
    parts, last = [], 0
    for i, ch, depth in _structure(pattern):
        if ch == "|" and depth == 0:
            parts.append(pattern[last:i])
            last = i + 1
    parts.append(pattern[last:])
    return parts


def _closing_paren(pattern: str, open_at: int) -> int:
    return next((i for i, ch, depth in _structure(pattern, open_at) if ch == ")" and depth == 0), -1)


def starts(patterns: Iterable[str]) -> tuple[str, ...] | None:
    """Literal starts of alternative patterns, or None when one of them has none (always run it)."""
    out: list[str] = []
    for p in patterns:
        found = literal_starts(p)
        if found is None:
            return None
        out += found
    return tuple(dict.fromkeys(out))


def fold(text: str) -> str:
    """`text` folded so that a case-insensitive match implies its literal start is a substring."""
    # Translated first: casefold would turn "\u0130" into two characters.
    return text.translate(_ASCII_FOLD).casefold()


class Gate:
    """Which of a table's patterns can match a text, from their literal starts (one pass per text)."""

    def __init__(self, starts_per_pattern: Iterable[tuple[str, ...] | None]) -> None:
        self._starts = tuple(starts_per_pattern)
        self._all = tuple(sorted({s for group in self._starts if group for s in group}))

    def open(self, text: str) -> list[bool]:
        """For each pattern, False only when it cannot match `text`."""
        folded = fold(text)
        present = {s for s in self._all if s in folded}
        return [group is None or not present.isdisjoint(group) for group in self._starts]
