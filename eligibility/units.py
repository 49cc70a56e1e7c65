"""Unit normalisation: every lab, measurement and duration is compared in one canonical unit.

Canonical units: platelets, WBC and neutrophils in 10^9/L; hemoglobin in g/dL; creatinine in mg/dL;
eGFR in mL/min; CD4 in cells/µL (= 10^6/L); percentages as numbers; durations in days.
"""

from __future__ import annotations

DAYS = {"day": 1.0, "week": 7.0, "month": 30.4375, "year": 365.25, "hour": 1 / 24}

_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "eighteen": 18,
    "several": None,
}


def number(token: str) -> float | None:
    """A number written in digits (with thousands separators) or as a small English word."""
    token = token.strip().lower().replace(",", "")
    if token in _NUMBER_WORDS:
        v = _NUMBER_WORDS[token]
        return float(v) if v is not None else None
    try:
        return float(token)
    except ValueError:
        return None


def to_days(amount: float, unit: str) -> float:
    """Days in `amount` units of day/week/month/year (abbreviations yr, wk, mo accepted)."""
    unit = unit.lower().rstrip("s")
    unit = {"yr": "year", "wk": "week", "mo": "month", "hr": "hour"}.get(unit, unit)
    return amount * DAYS[unit]


def _unit(u: str | None) -> str:
    return (u or "").lower().replace(" ", "").replace("μ", "µ").replace("³", "3")


def normalise(analyte: str, value: float, unit: str | None) -> float:
    """`value` of `analyte` in `unit` converted to the analyte's canonical unit.

    Handles the forms found in criteria and notes: "30,000/mm3" and "30 x 109 cell/L" (a caret lost in
    the source) are both 30 x10^9/L; hemoglobin in g/L; creatinine in µmol/L; CD4 in x10^6/L or x10^9/L.
    Without a unit, the magnitude decides where it is unambiguous (platelets 150000 -> 150).
    """
    u = _unit(unit)
    if analyte in ("platelets", "wbc", "anc"):
        if "10^9" in u or "109" in u or "x10e9" in u or u == "g/l":
            return value
        if "10^3" in u or "103" in u or "k/" in u or u in ("k", "thou/µl"):
            return value
        if ("mm3" in u or "µl" in u or "ul" in u or "mcl" in u) and value >= 100:
            return value / 1000.0
        if not u and value >= 1000:
            return value / 1000.0
        if u == "k":
            return value
        return value
    if analyte == "hemoglobin":
        if u in ("g/l", "gm/l"):
            return value / 10.0
        if "mmol" in u:
            return value * 1.611
        if not u and value > 25:
            return value / 10.0
        return value
    if analyte == "creatinine":
        if "mol" in u:
            return value / 88.4
        if not u and value > 20:
            return value / 88.4
        return value
    if analyte == "cd4":
        if "10^9" in u or "109" in u:
            return value * 1000.0
        return value
    return value


def fmt(value: float) -> str:
    """A number without trailing zeros (30.0 -> '30', 0.5 -> '0.5')."""
    if value == int(value):
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")
