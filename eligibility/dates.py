"""Dates and durations in patient text, resolved against a reference date (settings.today / --today).

Calendar arithmetic and date parsing come from python-dateutil (relativedelta, parser); this module only
finds the date expressions in a clause. A month without a day resolves to its 15th (mid-month: at most
half a month off either way); a year alone to July 1st.
"""

from __future__ import annotations

import re
from datetime import date, datetime

# python-dateutil ships no type stubs here: its results are typed Any, so they are annotated where they land.
from dateutil import parser
from dateutil.relativedelta import relativedelta

from eligibility import units

_NUMBER = r"(\d+(?:\.\d+)?|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_UNIT = r"(day|week|month|year|yr|wk|mo)s?"
_AGO = re.compile(rf"(?i)\b{_NUMBER}[- ]?{_UNIT}\s+ago\b")
_FOR = re.compile(rf"(?i)\b(?:for|since|x)\s+(?:the\s+(?:last|past)\s+)?{_NUMBER}[- ]?{_UNIT}\b")
_SINCE_YEAR = re.compile(r"(?i)\b(?:since|in|diagnosed|dx|from)\s+(?:\w+\s+)?((?:19|20)\d\d)\b")
_ISO_DATE = re.compile(r"\b(?:19|20)\d\d-\d\d-\d\d\b")
_NUMERIC_DATE = re.compile(r"\b\d{1,2}[/.-]\d{1,2}[/.-](?:19|20)\d\d\b")
_MONTH_SLASH_YEAR = re.compile(r"\b(0?[1-9]|1[0-2])[/-]((?:19|20)\d\d)\b")
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_NAMED_DATE = re.compile(
    rf"(?i)\b(?:\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}\.?,?\s+(?:19|20)\d\d|"
    rf"{_MONTH}\.?\s+(?:\d{{1,2}}(?:st|nd|rd|th)?,?\s+)?(?:19|20)\d\d)\b"
)
_LAST_MONTH_NAME = re.compile(rf"(?i)\blast\s+({_MONTH})\b")
_LAST_PERIOD = re.compile(r"(?i)\b(?:last|this) (week|month|year)\b|\b(yesterday|today)\b")


def back(today: date, amount: float, unit: str) -> date:
    """`amount` units before today; whole months and years move on the calendar (June 1 - 2 months = April 1)."""
    unit = {"yr": "year", "wk": "week", "mo": "month"}.get(unit.lower().rstrip("s"), unit.lower().rstrip("s"))
    if unit in ("month", "year") and amount == int(amount):
        step = relativedelta(**{unit + "s": int(amount)})
    elif unit == "week":
        step = relativedelta(days=round(amount * 7))
    else:
        step = relativedelta(days=round(units.to_days(amount, unit)))
    return _minus(today, step)


def _minus(today: date, step: relativedelta) -> date:
    result: date = today - step
    return result


def _parse(words: str, default: date) -> date | None:
    try:
        parsed: datetime = parser.parse(words, default=datetime(default.year, default.month, default.day))
        return parsed.date()
    except (ValueError, OverflowError):
        try:  # 14/09/2026: day first when month first is impossible
            parsed = parser.parse(words, dayfirst=True, default=datetime(default.year, default.month, 15))
            return parsed.date()
        except (ValueError, OverflowError):
            return None


def date_in(clause: str, today: date) -> date | None:
    """The date a clause refers to: "six weeks ago", "2026-03-01", "09/14/2026", "11/2025", "Aug 2026",
    "last March", "last week"."""
    found = find_date(clause, today)
    return found[0] if found else None


def find_date(clause: str, today: date) -> tuple[date, int, int] | None:
    """The date a clause refers to, with the offsets of the words that say it (see `date_in`)."""
    m = _AGO.search(clause)
    if m:
        n = units.number(m.group(1))
        if n is not None:
            return back(today, n, m.group(2)), m.start(), m.end()
    for pattern in (_ISO_DATE, _NUMERIC_DATE, _NAMED_DATE):
        m = pattern.search(clause)
        if m:
            parsed = _parse(m.group(0), today.replace(day=15))
            return (parsed, m.start(), m.end()) if parsed is not None else None
    m = _MONTH_SLASH_YEAR.search(clause)
    if m:
        return date(int(m.group(2)), int(m.group(1)), 15), m.start(), m.end()
    m = _LAST_MONTH_NAME.search(clause)
    if m:
        named = _parse(m.group(1), today.replace(day=15))
        if named is not None:
            when = named if named < today.replace(day=1) else named - relativedelta(years=1)
            return when, m.start(), m.end()
    m = _LAST_PERIOD.search(clause)
    if m:
        word = (m.group(1) or m.group(2)).lower()
        step = {
            "week": relativedelta(weeks=1),
            "month": relativedelta(months=1),
            "year": relativedelta(years=1),
            "yesterday": relativedelta(days=1),
            "today": relativedelta(),
        }[word]
        return _minus(today, step), m.start(), m.end()
    return None


def duration_days(clause: str, today: date) -> float | None:
    """Length of "for 6 months", "x 2 weeks", "for the past year", in days before today."""
    m = _FOR.search(clause)
    if m:
        n = units.number(m.group(1))
        if n is not None:
            return float((today - back(today, n, m.group(2))).days)
    return None


def since_year(clause: str, today: date) -> date | None:
    """ "diagnosed in 2019", "since 2015": the middle of that year (never a future year)."""
    m = _SINCE_YEAR.search(clause)
    if m and int(m.group(1)) <= today.year:
        return date(int(m.group(1)), 7, 1)
    return None
