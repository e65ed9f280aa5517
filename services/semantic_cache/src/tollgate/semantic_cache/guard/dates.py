"""Dates and times in a question, reduced to canonical tokens.

"March 5th" and "5 March" both read as month:3 day:5; "next week" and "the coming week" as
rel:next:week; "3pm" and "15:00" as time:15:00. Two questions agree on dates when they carry the
same tokens. Each match's span is returned so the number extractor does not count "5" again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MONTHS = {
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
}
_MONTH_ABBREVIATIONS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_MONTH_NUMBER = {**MONTHS, **_MONTH_ABBREVIATIONS}
WEEKDAYS = {
    "monday": "mon",
    "tuesday": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
    "tues": "tue",
    "weds": "wed",
    "thur": "thu",
    "thurs": "thu",
}
_RELATIVE_MODIFIERS = {
    "this": "this",
    "current": "this",
    "next": "next",
    "coming": "next",
    "upcoming": "next",
    "following": "next",
    "last": "last",
    "past": "last",
    "previous": "last",
    "prior": "last",
}
_PERIODS = {
    "day": "day",
    "days": "day",
    "week": "week",
    "weeks": "week",
    "weekend": "weekend",
    "weekends": "weekend",
    "month": "month",
    "months": "month",
    "quarter": "quarter",
    "quarters": "quarter",
    "year": "year",
    "years": "year",
    "spring": "spring",
    "summer": "summer",
    "fall": "fall",
    "autumn": "fall",
    "winter": "winter",
    **{name: short for name, short in WEEKDAYS.items() if len(name) > 5},
}
_SINGLE_WORDS = {
    "today": "day:today",
    "tonight": "day:today tod:night",
    "tomorrow": "day:tomorrow",
    "yesterday": "day:yesterday",
    "morning": "tod:morning",
    "afternoon": "tod:afternoon",
    "evening": "tod:evening",
    "overnight": "tod:night",
    "noon": "time:12:00",
    "midday": "time:12:00",
    "midnight": "time:00:00",
    "ytd": "rel:ytd",
    "mtd": "rel:mtd",
    "weekend": "rel:weekend",
    "weekday": "rel:weekday",
    "weekdays": "rel:weekday",
    "ago": "rel:ago",
}

_MONTH_ALTERNATION = "|".join(sorted(_MONTH_NUMBER, key=len, reverse=True))
_ORDINAL_SUFFIX = r"(?:st|nd|rd|th)?"


@dataclass(frozen=True)
class DateMention:
    tokens: tuple[str, ...]
    surface: str
    start: int
    end: int


_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"), "iso"),
    (re.compile(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?\b"), "slash"),
    (
        re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s?([ap])\.?m\b\.?", re.IGNORECASE),
        "clock12",
    ),
    (re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)\b"), "clock24"),
    (
        re.compile(
            rf"\b({_MONTH_ALTERNATION})\.?\s+(\d{{1,2}}){_ORDINAL_SUFFIX}\b(?:,?\s+(\d{{4}})\b)?",
            re.IGNORECASE,
        ),
        "month_day",
    ),
    (
        re.compile(
            rf"\b(\d{{1,2}}){_ORDINAL_SUFFIX}\s+(?:of\s+)?({_MONTH_ALTERNATION})\b"
            rf"(?:,?\s+(\d{{4}})\b)?",
            re.IGNORECASE,
        ),
        "day_month",
    ),
    (re.compile(r"\bq([1-4])\b", re.IGNORECASE), "quarter"),
    (
        re.compile(r"\b(year|month)[\s-]+to[\s-]+date\b", re.IGNORECASE),
        "to_date",
    ),
    (
        re.compile(
            r"\b(this|current|next|coming|upcoming|following|last|past|previous|prior)"
            r"(?:\s+(\d+))?\s+(" + "|".join(sorted(_PERIODS, key=len, reverse=True)) + r")\b",
            re.IGNORECASE,
        ),
        "relative",
    ),
    (
        re.compile(
            r"\b(?:(?:in|during|by|for|early|late|mid|the)\s+)(spring|summer|fall|autumn|winter)"
            r"\b|\b(spring|summer|fall|autumn|winter)\s+(\d{4})\b",
            re.IGNORECASE,
        ),
        "season",
    ),
]
_WORD_PATTERN = re.compile(r"\b[A-Za-z]+\b")


def extract_dates(text: str) -> list[DateMention]:
    """Every date or time mention in `text`, left to right, without overlaps."""
    mentions: list[DateMention] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    for pattern, kind in _PATTERNS:
        for match in pattern.finditer(text):
            if not free(match.start(), match.end()):
                continue
            tokens = _tokens(kind, match)
            if tokens is None:
                continue
            taken.append((match.start(), match.end()))
            mentions.append(DateMention(tokens, match.group().strip(), match.start(), match.end()))
    for match in _WORD_PATTERN.finditer(text):
        if not free(match.start(), match.end()):
            continue
        tokens = _single_word_tokens(match.group(), text, match.start())
        if tokens:
            taken.append((match.start(), match.end()))
            mentions.append(DateMention(tokens, match.group(), match.start(), match.end()))
    return sorted(mentions, key=lambda m: m.start)


def _tokens(kind: str, match: re.Match[str]) -> tuple[str, ...] | None:
    groups = match.groups()
    if kind == "iso":
        year, month, day = (int(g) for g in groups)
        return (f"date:{year:04d}-{month:02d}-{day:02d}",)
    if kind == "slash":
        month, day = int(groups[0]), int(groups[1])
        if not (1 <= month <= 12 and 1 <= day <= 31):
            return None
        out = [f"month:{month}", f"day:{day}"]
        if groups[2]:
            out.append(f"year:{_full_year(groups[2])}")
        return tuple(out)
    if kind == "clock12":
        hour, minute, half = int(groups[0]), int(groups[1] or 0), groups[2].lower()
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half == "p" else 0)
        return (f"time:{hour:02d}:{minute:02d}",)
    if kind == "clock24":
        return (f"time:{int(groups[0]):02d}:{groups[1]}",)
    if kind in ("month_day", "day_month"):
        month_name, day_text = (groups[0], groups[1]) if kind == "month_day" else groups[1::-1]
        day = int(day_text)
        if not 1 <= day <= 31:
            return None
        out = [f"month:{_MONTH_NUMBER[month_name.lower()]}", f"day:{day}"]
        if groups[2]:
            out.append(f"year:{groups[2]}")
        return tuple(out)
    if kind == "quarter":
        return (f"quarter:{groups[0]}",)
    if kind == "to_date":
        return ("rel:ytd",) if groups[0].lower() == "year" else ("rel:mtd",)
    if kind == "relative":
        # "the last 30 days": the count is part of the period.
        modifier = _RELATIVE_MODIFIERS[groups[0].lower()]
        count = f"{int(groups[1])}:" if groups[1] else ""
        return (f"rel:{modifier}:{count}{_PERIODS[groups[2].lower()]}",)
    if kind == "season":
        season = (groups[0] or groups[1]).lower()
        season = "fall" if season == "autumn" else season
        return (f"season:{season}", f"year:{groups[2]}") if groups[2] else (f"season:{season}",)
    return None


def _single_word_tokens(word: str, text: str, start: int) -> tuple[str, ...]:
    lower = word.lower()
    if lower in _SINGLE_WORDS:
        return tuple(_SINGLE_WORDS[lower].split())
    if lower in WEEKDAYS:
        return (f"weekday:{WEEKDAYS[lower]}",)
    if lower in ("mon", "wed", "thu", "fri") and word[0].isupper():
        return (f"weekday:{lower}",)
    if lower in MONTHS:
        # "may" and "march" are verbs too: only a capitalised one that does not open the
        # question is read as a month.
        if lower in ("may", "march") and (not word[0].isupper() or start == 0):
            return ()
        return (f"month:{MONTHS[lower]}",)
    if lower in _MONTH_ABBREVIATIONS and lower not in ("mar", "jan") and word[0].isupper():
        return (f"month:{_MONTH_ABBREVIATIONS[lower]}",)
    return ()


def _full_year(text: str) -> int:
    year = int(text)
    return year + 2000 if year < 100 else year
