"""Dates in answers, resolved against the day the answer was given (`as_of`).

"in 60 days", "by March", "March 2027", "end of the year", "next year", "asap", "6-9 months":
each becomes the last day the lead means to move by. A month without a year is its next
occurrence that has not fully passed ("by March" said in December is next March; said on
March 10 it is this month). Vague spans get a fixed reading, stated here so it can be checked:
"asap" is two weeks, "next year" is the middle of next year, a season is the end of its middle
month, a range ("6-9 months") is its far end.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

from tollgate.lead_scoring.answer_text import NUMBER_PATTERN, number, says_nothing

ASAP_DAYS = 14

_MONTHS: dict[str, int] = {}
for _index in range(1, 13):
    _MONTHS[calendar.month_name[_index].lower()] = _index
    _MONTHS[calendar.month_abbr[_index].lower()] = _index
_MONTHS["sept"] = 9
_MONTH_WORD = r"(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"

_ASAP = re.compile(
    r"\b(asap|a\.s\.a\.p|as soon as possible|immediately|right away|right now|yesterday|"
    r"urgent(?:ly)?|this week)\b",
    re.IGNORECASE,
)
# "not right now": the opposite of urgent.
_NEGATED_TAIL = re.compile(r"\b(not|no|never|isn'?t)\s*$", re.IGNORECASE)
_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_US_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{2,4})\b")
_SPAN = re.compile(
    r"\b"
    + NUMBER_PATTERN
    + r"(?:\s*(?:-|to|or)\s*"
    + NUMBER_PATTERN
    + r")?\s*(?:of\s+)?(day|week|wk|month|mo|mth|year|yr)s?\b",
    re.IGNORECASE,
)
_MONTH_YEAR = re.compile(_MONTH_WORD + r"\s*,?\s*(\d{4})\b", re.IGNORECASE)
_MONTH_ALONE = re.compile(
    r"\b(before\s+|by\s+(?:the\s+)?(?:end\s+of\s+)?)?" + _MONTH_WORD + r"(?![a-z])",
    re.IGNORECASE,
)
_YEAR_END = re.compile(
    r"\b(end of (?:the |this )?year|year[- ]end|this year)\b",
    re.IGNORECASE,
)
_NEXT_YEAR = re.compile(r"\bnext year\b", re.IGNORECASE)
_SEASONS = {"spring": 4, "summer": 7, "fall": 10, "autumn": 10, "winter": 1}
_SEASON = re.compile(r"\b(spring|summer|fall|autumn|winter)\b", re.IGNORECASE)
_NEXT_MONTH = re.compile(r"\bnext month\b", re.IGNORECASE)
_THIS_MONTH = re.compile(r"\bthis month\b", re.IGNORECASE)


def end_of_month(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def add_months(start: date, months: float) -> date:
    whole = int(months)
    index = start.month - 1 + whole
    year, month = start.year + index // 12, index % 12 + 1
    moved = date(year, month, min(start.day, calendar.monthrange(year, month)[1]))
    return moved + timedelta(days=round((months - whole) * 30))


def _next_end_of(month: int, as_of: date) -> date:
    year = as_of.year if month >= as_of.month else as_of.year + 1
    return end_of_month(year, month)


def _span_date(match: re.Match[str], as_of: date) -> date | None:
    first, second, unit = match.group(1), match.group(2), match.group(3).lower()
    amount = number(second) if second else number(first)
    if amount is None:
        return None
    if unit == "day":
        return as_of + timedelta(days=amount)
    if unit in ("week", "wk"):
        return as_of + timedelta(weeks=amount)
    if unit in ("month", "mo", "mth"):
        return add_months(as_of, amount)
    return add_months(as_of, amount * 12)


def _is_month_word(text: str, match: re.Match[str]) -> bool:
    # "may" is a month only when written as one ("May", "by may"), not "we may move".
    word = match.group(2)
    if word.lower() != "may":
        return True
    return word[0].isupper() or bool(match.group(1))


def calendar_date(text: str, as_of: date) -> date | None:
    """An explicit date: "2027-03-15", "3/15/2027", "March 2027" (end of that month)."""
    iso = _ISO.search(text)
    if iso:
        try:
            return date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        except ValueError:
            return None
    us = _US_DATE.search(text)
    if us:
        year = int(us.group(3))
        year = year + 2000 if year < 100 else year
        try:
            return date(year, int(us.group(1)), int(us.group(2)))
        except ValueError:
            return None
    month_year = _MONTH_YEAR.search(text)
    if month_year:
        return end_of_month(int(month_year.group(2)), _MONTHS[month_year.group(1).lower()])
    return None


def move_by(text: str, as_of: date) -> date | None:
    """The last day the lead means to move by, or None when the answer does not say."""
    if not text.strip() or says_nothing(text):
        return None
    asap = _ASAP.search(text)
    if asap and not _NEGATED_TAIL.search(text[: asap.start()]):
        return as_of + timedelta(days=ASAP_DAYS)
    explicit = calendar_date(text, as_of)
    if explicit is not None:
        return explicit
    span = _SPAN.search(text)
    if span:
        return _span_date(span, as_of)
    for match in _MONTH_ALONE.finditer(text):
        if not _is_month_word(text, match):
            continue
        month = _MONTHS[match.group(2).lower()]
        target = _next_end_of(month, as_of)
        if match.group(1) and match.group(1).lower().startswith("before"):
            # "Before March": by the end of February.
            target = target.replace(day=1) - timedelta(days=1)
            if target < as_of:
                target = end_of_month(target.year + 1, target.month)
        return target
    if _NEXT_MONTH.search(text):
        return end_of_month(*divmod_month(as_of, 1))
    if _THIS_MONTH.search(text):
        return end_of_month(as_of.year, as_of.month)
    if _YEAR_END.search(text):
        return date(as_of.year, 12, 31)
    if _NEXT_YEAR.search(text):
        return date(as_of.year + 1, 6, 30)
    season = _SEASON.search(text)
    if season:
        return _next_end_of(_SEASONS[season.group(1).lower()], as_of)
    return None


def divmod_month(start: date, months: int) -> tuple[int, int]:
    """(year, month) `months` after the month of `start`."""
    index = start.month - 1 + months
    return start.year + index // 12, index % 12 + 1
