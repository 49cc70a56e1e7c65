"""Patient text -> measurements of the concept registry ("My weight is 99 pounds", "Temp 37.2 C",
"ASA 3", "platelets 45,000/mm3", "AST 3x ULN", "ANA 1:320", "SLEDAI-2K 6"), each in its canonical unit
and keeping the exact words it came from; plus facts derived from them (BMI from weight and height,
a value judged against the reference range stated with it, labs stated normal).

Driven by eligibility/concepts: a measurement the registry knows is read here without new code.
"""

from __future__ import annotations

import re
from functools import cache

from eligibility import concepts, quantities
from eligibility.facts import Measurement

# Words between a name and its value: "weight: 121", "life expectancy about 2 months", "ASA is 3".
_FILLER = (
    r"(?:\s*(?:[:=~\-]|\bis\b|\bwas\b|\bwere\b|\bare\b|\bof\b|\babout\b|\baround\b|\bapprox(?:imately|\.)?|\broughly\b|"
    r"\bestimated(?:\s+at)?\b|\bat\b|\bcurrently\b|\bnow\b|\bmeasured\b|\brecorded\b|\btoday\b|\bscore\b|"
    r"\bclass\b|\blevel\b|\bvalue\b|\bgrade\b|\bstatus\b|\bof\s+about\b|\bonly\b|\bcount\b|\btit(?:er|re)\b|"
    r"\belevated(?:\s+at)?\b|\braised(?:\s+at)?\b|\bdown\s+to\b|\bup\s+to\b))*\s*"
)
# Words that may follow a bare value; any other word there may be a unit we do not know ("12 stone").
_FOLLOWERS = frozenset(
    {
        "and",
        "or",
        "on",
        "in",
        "at",
        "per",
        "today",
        "this",
        "last",
        "now",
        "with",
        "but",
        "since",
        "ago",
        "was",
        "is",
        "when",
        "while",
        "after",
        "before",
        "during",
        "from",
        "the",
        "a",
        "an",
        "yesterday",
        "recently",
        "currently",
        "score",
        "points",
        "class",
        "grade",
        "level",
    }
)
_NEXT_WORD = re.compile(r"\s*([A-Za-z]+)")
_ROMAN = {"i": 1.0, "ii": 2.0, "iii": 3.0, "iv": 4.0, "v": 5.0, "vi": 6.0}


# A unit that makes the value a multiple of the upper limit of normal ("3x ULN", "2 times normal").
_ULN = re.compile(r"(?i)uln|upper|normal")


@cache
def _pattern(concept_id: str) -> re.Pattern[str]:
    c = concepts.MEASUREMENTS[concept_id]
    number = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
    if c.titre:
        number = r"1\s*:\s*(?P<titre>\d+)|" + number
    if c.roman:
        number += r"|\b(?:vi|iv|v|iii|ii|i)\b"
    # A number followed by ":<digits>" is a time or a ratio, not the value; a colon ending the clause
    # ("eGFR 95: could I join?") is punctuation.
    return re.compile(
        rf"(?i)(?<![\w-])(?:{'|'.join(c.patient)})(?![\w]){_FILLER}(?P<n>{number})(?!\d|\s*:\s*\d)"
        rf"(?:\s*(?P<unit>{'|'.join(quantities.UNITS)})(?![\w]))?"
    )


@cache
def _value_first_pattern(concept_id: str) -> re.Pattern[str]:
    """The value and its unit before the name: "born at 38 weeks' gestation"."""
    c = concepts.MEASUREMENTS[concept_id]
    return re.compile(
        rf"(?i)(?<![\w.,])(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>{'|'.join(quantities.UNITS)})(?![\w])['’]?\s+(?:of\s+)?"
        rf"(?:{'|'.join(c.patient)})(?![\w])"
    )


def _value(m: re.Match[str]) -> float:
    if m.groupdict().get("titre"):
        return float(m.group("titre"))
    raw = m.group("n").lower()
    return _ROMAN[raw] if raw in _ROMAN else float(raw.replace(",", ""))


def _read(concept: concepts.Concept, m: re.Match[str], text: str) -> Measurement | None:
    """One statement of `concept` as a measurement, or None when it is not one (unknown unit, a unit
    the patient must give, an implausible value)."""
    value, unit = _value(m), m.group("unit")
    where = {"span": m.group(0).strip(), "start": m.start(), "end": m.end()}
    if unit and _ULN.search(unit):
        # "AST 3x ULN": a multiple of the upper limit of normal, only for labs criteria state that way.
        return Measurement(name=concept.id, uln_multiple=value, **where) if concept.uln else None
    if unit is None and concept.patient_requires_unit:
        return None
    nxt = _NEXT_WORD.match(text, m.end())
    if unit is None and concept.units and nxt and nxt.group(1).lower() not in _FOLLOWERS:
        return None
    canonical = concept.to_canonical(value, unit)
    if canonical is None:
        return None
    # A bare number read by its size ("platelets 150000") has no unit to show.
    shown = unit or (concept.unit if canonical == value else None)
    return Measurement(name=concept.id, value=value, unit=shown, normalized=round(canonical, 4), **where)


def extract(text: str) -> list[Measurement]:
    """The registry measurements stated in text (the last statement of each wins)."""
    found: dict[str, Measurement] = {}
    for concept in concepts.MEASUREMENTS.values():
        matches = list(_pattern(concept.id).finditer(text))
        if concept.value_first:
            matches = sorted(matches + list(_value_first_pattern(concept.id).finditer(text)), key=lambda m: m.start())
        for m in matches:
            measurement = _read(concept, m, text)
            if measurement is not None:
                found[concept.id] = measurement
    return list(found.values())


def _bmi(found: dict[str, Measurement]) -> Measurement | None:
    """BMI = weight (kg) / height (m)^2, when both were stated and BMI was not."""
    w, h = found.get("weight"), found.get("height")
    if w is None or h is None or w.normalized is None or not h.normalized:
        return None
    bmi = w.normalized / (h.normalized / 100.0) ** 2
    return Measurement(
        name="bmi", value=round(bmi, 1), unit="kg/m2", normalized=round(bmi, 1), span=f"{w.span}; {h.span}"
    )


# A reference range stated right after a value: "creatinine 150 umol/L (ref 45-90)".
_REFERENCE = re.compile(
    r"(?i)\s*[(\[,;]?\s*(?:ref(?:erence)?(?:\s+range)?|normal(?:\s+range)?|nl|rr|n)\s*[:=]?\s*"
    r"(?P<lo>\d+(?:\.\d+)?)\s*(?:-|–|to)\s*(?P<hi>\d+(?:\.\d+)?)"
)
# "LFTs wnl", "labs were normal": the tests named are at most the upper limit of normal.
_NORMAL = re.compile(
    r"(?i)\b(?P<what>LFTs?|liver (?:function )?tests?|liver enzymes|transaminases|labs?|blood ?work|"
    r"bloods|blood tests?|renal function|kidney function)\s*(?:are|were|is|was|all)?\s*"
    r"(?:wnl|within normal limits|normal|unremarkable)\b"
)
_NORMAL_LABS = {
    "lft": ("ast", "alt", "bilirubin"),
    "liver": ("ast", "alt", "bilirubin"),
    "transaminases": ("ast", "alt"),
    "renal": ("creatinine",),
    "kidney": ("creatinine",),
}
_ALL_NORMAL = ("ast", "alt", "bilirubin", "creatinine")


def _against_reference(m: Measurement, text: str) -> Measurement:
    """A value judged against the reference range the patient gave: its multiple of the upper limit."""
    at = text.find(m.span)
    ref = _REFERENCE.match(text, at + len(m.span)) if at >= 0 and m.value is not None else None
    if ref is None or m.uln_multiple is not None or m.value is None:
        return m
    high = float(ref.group("hi"))
    if high <= 0:
        return m
    return m.model_copy(update={"uln_multiple": round(m.value / high, 3), "span": text[at : ref.end()].strip()})


def _stated_normal(text: str) -> list[Measurement]:
    out: dict[str, Measurement] = {}
    for m in _NORMAL.finditer(text):
        what = m.group("what").lower()
        names = next((v for k, v in _NORMAL_LABS.items() if what.startswith(k)), _ALL_NORMAL)
        for name in names:
            out[name] = Measurement(name=name, uln_multiple=1.0, span=m.group(0))
    return list(out.values())


def read(text: str) -> tuple[list[Measurement], list[Measurement]]:
    """The registry measurements stated in text, values judged against a stated reference range, labs
    stated normal ("LFTs wnl") and BMI from weight and height: (labs and vitals, scores)."""
    found = {m.name: _against_reference(m, text) for m in extract(text)}
    for m in _stated_normal(text):
        found.setdefault(m.name, m)
    bmi = _bmi(found)
    if bmi is not None:
        found.setdefault("bmi", bmi)
    labs = [m for m in found.values() if not concepts.is_score(m.name)]
    return labs, [m for m in found.values() if concepts.is_score(m.name)]
