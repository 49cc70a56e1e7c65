"""One comparison grammar for every quantity in criteria: age, labs, scores, vitals, weight, BMI, life
expectancy and durations.

A *quantity* is a bound on a number, written any of the ways real criteria write it:
- an operator in words or symbols before the number: "over 18", "no more than 2", "≥ 20", ">/= 4",
  "not exceeding 1.5 x ULN", "under the age of 18";
- a word after it: "18 years or older", "55 and above", "2 or less";
- a range: "18-75", "19~45", "18 to 75", "between 18 and 75", "from 20 to 65 years of age",
  "4 to < 17 years", or two bounds "≥20 and ≤40".
The grammar (pyparsing) knows operators, numbers and units, never what is measured: the caller binds a
quantity to the concept named next to it (eligibility/concepts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pyparsing as pp

# Operator phrases, longest first within each meaning (data: the order only matters for overlap).
OPERATORS: dict[str, tuple[str, ...]] = {
    ">=": (
        "greater than or equal to",
        "greater than or equal",
        "more than or equal to",
        "higher than or equal to",
        "larger than or equal to",
        "older than or equal to",
        "equal to or greater than",
        "equal or greater than",
        "equal to or more than",
        "equal or more than",
        "equal to or higher than",
        "equal to or above",
        "of at least",
        "at least",
        "no less than",
        "not less than",
        "no fewer than",
        "not fewer than",
        "no lower than",
        "not lower than",
        "not below",
        "a minimum of",
        "minimum of",
        "minimum",
        "min\\.?",
        "≥",
        "⩾",
        "≧",
        ">=",
        "=>",
        ">/=",
        "=/>",
        "> or =",
        "> =",
        "= or >",
        "= or greater than",
    ),
    "<=": (
        "less than or equal to",
        "less than or equal",
        "lower than or equal to",
        "smaller than or equal to",
        "younger than or equal to",
        "equal to or less than",
        "equal or less than",
        "equal to or lower than",
        "equal to or below",
        "at most",
        "no more than",
        "not more than",
        "no greater than",
        "not greater than",
        "no higher than",
        "not higher than",
        "no older than",
        "not older than",
        "not exceeding",
        "not to exceed",
        "not exceed",
        "does not exceed",
        "a maximum of",
        "maximum of",
        "maximum",
        "max\\.?",
        "up to",
        "upto",
        "≤",
        "⩽",
        "≦",
        "<=",
        "=<",
        "</=",
        "=/<",
        "< or =",
        "< =",
        "= or <",
        "= or less than",
    ),
    ">": (
        "greater than",
        "more than",
        "higher than",
        "larger than",
        "older than",
        "in excess of",
        "exceeding",
        "exceeds",
        "longer than",
        "above",
        "over",
        ">",
        "＞",
    ),
    "<": (
        "less than",
        "lower than",
        "smaller than",
        "fewer than",
        "younger than",
        "shorter than",
        "below",
        "under",
        "<",
        "＜",
    ),
}
# Words after the number that turn it into a bound ("18 years or older").
POSTFIX: dict[str, tuple[str, ...]] = {
    ">=": (
        "or older",
        "and older",
        "or over",
        "and over",
        "or above",
        "and above",
        "or more",
        "and more",
        "or greater",
        "or higher",
        "and up",
        "or later",
        "\\+",
    ),
    "<=": (
        "or younger",
        "and younger",
        "or less",
        "and less",
        "or below",
        "and below",
        "or under",
        "and under",
        "or lower",
        "or fewer",
    ),
}
# Unit spellings the grammar recognises after a number; what they mean is the concept's business.
UNITS = (
    (
        r"(?:x|×|times)\s*(?:the\s+)?(?:institutional\s+)?(?:upper\s+limits?\s+(?:of\s+)?(?:the\s+)?normal|uln|normal)"
        r"(?:\s*\(?uln\)?)?"
    ),
    r"%\s*(?:of\s+)?predicted",
    r"%",
    r"years?\s+of\s+age",
    r"years?[\s-]+old",
    r"years?",
    r"yrs?",
    r"y/o",
    r"yo",
    r"months?",
    r"mos?",
    r"weeks?",
    r"wks?",
    r"days?",
    r"hours?",
    r"hrs?",
    r"pounds?",
    r"lbs?",
    r"stones?",
    r"kg\s*/\s*m\s*(?:2|²|\^2)",
    r"kgs?",
    r"kilograms?",
    # concentrations, ratios and daily amounts before the bare mass units they start with ("g/dL" is not "g")
    r"(?:m?g)\s*/\s*(?:24\s*h(?:ours?|rs?)?|day|d)",
    r"mg\s*/\s*(?:mg|g|mmol)",
    r"g\s*/\s*g",
    r"m?g(?:m|rams?)?\s*%",  # "grams percent" is g/dL, "mg%" is mg/dL
    r"g(?:m|rams?)?\s*/\s*dl",
    r"g(?:m|rams?)?\s*/\s*l",
    r"mg\s*/\s*dl",
    r"grams?",
    r"gm?",
    r"mmol\s*/\s*mol",
    r"ng\s*/\s*(?:ml|dl)",
    r"[µu]g\s*/\s*l",
    r"nmol\s*/\s*l",
    r"mmol\s*/\s*l",
    r"[µu]mol\s*/\s*l",
    r"meq\s*/\s*l",
    r"i?u\s*/\s*l",
    # cell counts: "x 10^9/L", "x 109/L" (a caret lost in the source), "10e3/µL", "k/µL", "/mm3"
    r"(?:x|×)\s*10\s*(?:\^|e)?\s*\d+\s*(?:cells?\s*)?/\s*(?:[µu]l|mm(?:3|³)|mcl|l)",
    r"k\s*/\s*(?:[µu]l|mm(?:3|³)|mcl)",
    r"(?:cells?\s*|c\s*)?/\s*(?:mm(?:3|³)|[µu]l|mcl)",
    r"ml\s*/\s*min(?:\s*/\s*1\.73\s*(?:m\s*(?:2|²|\^\s*2|\(2\))|sq\.?\s*m))?",
    r"mm\s?hg",
    r"mm\s*/\s*h(?:r|our)?",
    r"bpm",
    r"beats?\s+per\s+min(?:ute)?",
    r"msecs?",
    r"ms",
    r"milliseconds?",
    r"°\s?[cf]",
    r"º\s?[cf]",
    r"℃",
    r"℉",
    r"degrees?\s+(?:celsius|fahrenheit|c|f)",
    r"cm",
    r"centimet(?:er|re)s?",
    r"class",
    r"points?",
    r"[cfk]",
)
_NUM = r"(?<![\w.,/^])(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?![\d,]*\.\d)"
# A titre ("1:80") is compared by its reciprocal, 80: "ANA titre of at least 1:80".
TITRE = r"(?<![\w.,/^:])1\s*:\s*(?P<titre>\d+)(?![\d.:])"


@dataclass(frozen=True, slots=True)
class Quantity:
    """A bound on a number as written: [low, high] with inclusivity, in the unit written (None: no unit)."""

    start: int
    end: int
    text: str
    low: float | None
    high: float | None
    low_inclusive: bool = True
    high_inclusive: bool = True
    unit: str | None = None
    low_unit: str | None = None  # "6 weeks to 12 months": the low bound's own unit, when it has one

    @property
    def lower_unit(self) -> str | None:
        """The unit of the low bound (its own, else the shared one)."""
        return self.low_unit or self.unit

    @property
    def uln(self) -> bool:
        """The number is a multiple of the upper limit of normal ("1.5 x ULN")."""
        return bool(self.unit and re.search(r"(?i)uln|upper|normal", self.unit))


def _phrase(words: tuple[str, ...]) -> str:
    out = []
    for w in sorted(words, key=len, reverse=True):
        body = w.replace(" ", r"\s+")
        # Word phrases stand on word boundaries ("over" is not in "overall"); symbols touch anything.
        out.append((r"(?<![\w])" if w[0].isalpha() else "") + body + (r"\b" if w[-1].isalpha() else ""))
    return "|".join(out)


def _number(tokens: pp.ParseResults) -> float:
    return float(tokens[0].replace(",", ""))


def _titre(tokens: pp.ParseResults) -> float:
    return float(re.sub(r"^1\s*:\s*", "", tokens[0]))


@lru_cache(maxsize=1)
def _grammar() -> pp.ParserElement:
    pp.ParserElement.set_default_whitespace_chars(" \t\n\r")
    pp.ParserElement.enable_packrat()  # the alternatives share their first tokens (operator, number, unit)
    op_re = {op: pp.Regex(rf"(?i)(?:{_phrase(words)})") for op, words in OPERATORS.items()}
    op = pp.MatchFirst([op_re[k].copy().set_parse_action(pp.replace_with(k)) for k in (">=", "<=", ">", "<")])
    post = pp.MatchFirst(
        [pp.Regex(rf"(?i)(?:{_phrase(w)})").set_parse_action(pp.replace_with(k)) for k, w in POSTFIX.items()]
    )
    num = pp.Regex(TITRE).set_parse_action(_titre) | pp.Regex(_NUM).set_parse_action(_number)
    unit = pp.Regex(rf"(?i)(?:{'|'.join(UNITS)})(?![\w])")
    ages_of = pp.Suppress(pp.Regex(r"(?i)(?:the\s+)?ages?(?:\s+of)?\b"))
    sep = pp.Regex(r"(?i)-|–|—|~|\bto\b|\bthrough\b|\buntil\b")
    between = pp.Regex(r"(?i)\b(?:between|from|ranging\s+from|range(?:d)?\s+from|range\s+of)\b")

    lo_part = num("lo") + pp.Optional(unit("unit1"))
    hi_part = pp.Optional(op("op2")) + num("hi") + pp.Optional(unit("unit"))
    range_between = between + pp.Optional(ages_of) + lo_part + (sep | pp.Regex(r"(?i)\band\b")) + hi_part
    range_plain = lo_part + sep + hi_part
    one_bound = op("op") + pp.Optional(ages_of) + num("n") + pp.Optional(unit("unit")) + pp.Optional(post("post"))
    two_bounds = (
        op("op")
        + pp.Optional(ages_of)
        + num("n")
        + pp.Optional(unit("unit1"))
        + pp.Suppress(pp.Regex(r"(?i)\s*(?:and|,|but|&)\s*"))
        + op("op2")
        + num("hi")
        + pp.Optional(unit("unit"))
    )
    postfix_bound = num("n") + pp.Optional(unit("unit")) + post("post")
    grammar = (
        range_between("between")
        | two_bounds("two")
        | one_bound("one")
        | postfix_bound("postfix")
        | range_plain("range")
    )
    grammar.streamline()
    return grammar


def _unit(raw: str | None) -> str | None:
    return re.sub(r"\s+", " ", raw).strip() if raw else None


def _text(fields: dict[str, object], name: str) -> str | None:
    """A named word of a match (operator, unit), None when the match has none."""
    value = fields.get(name)
    return value if isinstance(value, str) else None


def _bound(fields: dict[str, object], name: str) -> float | None:
    """A named number of a match (converted by the number's parse action), None when the match has none."""
    value = fields.get(name)
    return value if isinstance(value, float) else None


def _quantity(tokens: pp.ParseResults, start: int, end: int, text: str) -> Quantity | None:
    fields: dict[str, object] = tokens.as_dict()
    unit = _unit(_text(fields, "unit") or _text(fields, "unit1"))
    hi = _bound(fields, "hi")
    n = _bound(fields, "n")
    if n is not None and hi is None:
        op = _text(fields, "op") or _text(fields, "post")
        if op in (">", ">="):
            return Quantity(start, end, text, n, None, low_inclusive=op == ">=", unit=unit)
        return Quantity(start, end, text, None, n, high_inclusive=op == "<=", unit=unit)
    if hi is not None:
        lo = _bound(fields, "lo")
        lo = n if lo is None else lo
        if lo is None:
            return None
        op1 = _text(fields, "op") or ">="
        op2 = _text(fields, "op2") or "<="
        if op1 in ("<", "<=") and op2 in (">", ">="):  # "≤40 and ≥20": written high bound first
            lo, hi, op1, op2 = hi, lo, op2, op1
        low_unit = _unit(_text(fields, "unit1")) if _text(fields, "unit") else None
        same_unit = low_unit is None or low_unit.lower().rstrip("s") == (unit or "").lower().rstrip("s")
        if op1 not in (">", ">=") or op2 not in ("<", "<=") or (same_unit and lo > hi):
            return None
        return Quantity(
            start,
            end,
            text,
            lo,
            hi,
            low_inclusive=op1 == ">=",
            high_inclusive=op2 == "<=",
            unit=unit,
            low_unit=low_unit,
        )
    return None


def find(text: str, start: int = 0, end: int | None = None) -> list[Quantity]:
    """Every quantity within text[start:end], left to right, non-overlapping; never raises."""
    end = len(text) if end is None else end
    if not re.search(r"\d", text[start:end]):
        return []
    return [q for q in _scan(text) if q.start >= start and q.end <= end]


@lru_cache(maxsize=4096)
def _scan(text: str) -> tuple[Quantity, ...]:
    """All quantities of a text, scanned once: each recogniser of a criterion asks about the same text."""
    out = []
    grammar, pos = _grammar(), 0
    # Try the grammar only where a quantity can start (a number, an operator, "between"/"from"), not at
    # every character as scan_string would: criteria are parsed by the hundred thousand.
    while (m := _starts().search(text, pos)) is not None:
        try:
            end, tokens = grammar._parse(text, m.start())
        except (pp.ParseBaseException, RecursionError, ValueError, IndexError):
            pos = m.start() + 1
            continue
        q = _quantity(tokens, m.start(), end, text[m.start() : end].strip())
        if q is not None:
            out.append(q)
        pos = max(end, m.start() + 1)
    return tuple(out)


@lru_cache(maxsize=1)
def _starts() -> re.Pattern[str]:
    ops = "|".join(_phrase(w) for w in OPERATORS.values())
    return re.compile(rf"(?i){ops}|\b(?:between|from|ranging|range)\b|{_NUM}")


def first(text: str, start: int = 0, end: int | None = None) -> Quantity | None:
    found = find(text, start, end)
    return found[0] if found else None


def operator_before(text: str) -> str | None:
    """The operator that ends `text` ("a minimum" -> ">="), for a bound written before the name it
    bounds: "a minimum life expectancy of 12 weeks"."""
    for op, words in OPERATORS.items():
        if re.search(rf"(?i)(?:{_phrase(words)})\s*$", text):
            return op
    return None


_BARE = re.compile(rf"(?i)\s*(?:of|:|=|is|was)?\s*(?P<n>{_NUM})\s*(?P<unit>(?:{'|'.join(UNITS)})(?![\w]))?")


def bare_after(text: str, pos: int) -> Quantity | None:
    """A number (and unit) right after `pos` with no operator ("of 12 weeks"): an exact value."""
    m = _BARE.match(text, pos)
    if not m:
        return None
    n = float(m.group("n").replace(",", ""))
    unit = re.sub(r"\s+", " ", m.group("unit")).strip() if m.group("unit") else None
    return Quantity(m.start("n"), m.end(), text[m.start("n") : m.end()].strip(), n, n, unit=unit)


def bounded(q: Quantity, op: str) -> Quantity:
    """An exact value turned into the bound `op` gives it."""
    value = q.low
    if op in (">", ">="):
        return Quantity(q.start, q.end, q.text, value, None, low_inclusive=op == ">=", unit=q.unit)
    return Quantity(q.start, q.end, q.text, None, value, high_inclusive=op == "<=", unit=q.unit)
