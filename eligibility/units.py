"""Numbers written in words, durations in days, and numbers shown to people.

Labs, measurements and scores are converted to their canonical units by the concept registry
(eligibility/concepts), with each analyte's own factors.
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


def fmt(value: float) -> str:
    """A number without trailing zeros (30.0 -> '30', 0.5 -> '0.5')."""
    if value == int(value):
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")
