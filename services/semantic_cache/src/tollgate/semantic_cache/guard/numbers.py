"""Numbers and amounts in a question, with the unit each one counts.

"$500k", "$500,000" and "500 thousand dollars" are the same amount; "3-bed", "3 bedrooms" and
"three-bedroom" the same count of bedrooms. Each mention becomes (value, unit), the unit being
None when the text does not say. Ordinals ("2nd", "second") count too: "the second one" and
"the first one" are different questions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

_MULTIPLIERS = {
    "k": Decimal(1_000),
    "thousand": Decimal(1_000),
    "grand": Decimal(1_000),
    "m": Decimal(1_000_000),
    "mm": Decimal(1_000_000),
    "mil": Decimal(1_000_000),
    "mill": Decimal(1_000_000),
    "million": Decimal(1_000_000),
    "millions": Decimal(1_000_000),
    "b": Decimal(1_000_000_000),
    "bn": Decimal(1_000_000_000),
    "billion": Decimal(1_000_000_000),
}
_UNITS = {
    "bed": "bed",
    "beds": "bed",
    "bedroom": "bed",
    "bedrooms": "bed",
    "br": "bed",
    "bd": "bed",
    "bdr": "bed",
    "bdrm": "bed",
    "bdrms": "bed",
    "bath": "bath",
    "baths": "bath",
    "bathroom": "bath",
    "bathrooms": "bath",
    "ba": "bath",
    "sqft": "sqft",
    "sf": "sqft",
    "sq": "sqft",
    "square": "sqft",
    "acre": "acre",
    "acres": "acre",
    "car": "car",
    "cars": "car",
    "story": "story",
    "stories": "story",
    "storey": "story",
    "floor": "story",
    "floors": "story",
    "level": "story",
    "levels": "story",
    "year": "year",
    "years": "year",
    "yr": "year",
    "yrs": "year",
    "month": "month",
    "months": "month",
    "mo": "month",
    "week": "week",
    "weeks": "week",
    "wk": "week",
    "wks": "week",
    "day": "day",
    "days": "day",
    "hour": "hour",
    "hours": "hour",
    "hr": "hour",
    "hrs": "hour",
    "minute": "minute",
    "minutes": "minute",
    "min": "minute",
    "mins": "minute",
    "mile": "mile",
    "miles": "mile",
    "mi": "mile",
    "percent": "percent",
    "pct": "percent",
    "%": "percent",
    "dollar": "usd",
    "dollars": "usd",
    "usd": "usd",
    "bucks": "usd",
    "unit": "unit",
    "units": "unit",
}
_CURRENCIES = {"$": "usd", "€": "eur", "£": "gbp"}
_WORD_NUMBERS = {
    "zero": 0,
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
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "dozen": 12,
}
_ORDINAL_WORDS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
}

_MULTIPLIER_ALTERNATION = "|".join(sorted(_MULTIPLIERS, key=len, reverse=True))
_DIGITS = re.compile(
    r"(?<![\w.])(?P<cur>[$€£])?\s?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?P<ordinal>st|nd|rd|th)?"
    rf"(?:\s?(?P<mult>{_MULTIPLIER_ALTERNATION})\b)?"
    r"(?P<plus>\+)?"
    r"(?P<pct>\s?%)?",
    re.IGNORECASE,
)
_NUMBER_WORD = re.compile(
    r"\b(?:(?P<fraction>half\s+a|a\s+quarter(?:\s+of\s+a)?)\s+)?"
    r"(?P<words>(?:" + "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True)) + r")"
    r"(?:[\s-](?:" + "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True)) + r"))*)"
    rf"(?:\s(?P<mult>{_MULTIPLIER_ALTERNATION}))?\b",
    re.IGNORECASE,
)
_BARE_MULTIPLIER = re.compile(
    r"\b(?P<fraction>half\s+a|a\s+quarter(?:\s+of\s+a)?|a)\s+(?P<mult>million|billion|thousand)\b",
    re.IGNORECASE,
)
_ORDINAL_WORD = re.compile(r"\b(" + "|".join(_ORDINAL_WORDS) + r")\b", re.IGNORECASE)
_UNIT_AFTER = re.compile(r"^[\s-]*(?P<unit>%|[A-Za-z]+)(?:[\s-]*(?P<second>[A-Za-z]+))?")


@dataclass(frozen=True)
class NumberMention:
    value: Decimal
    unit: str | None
    surface: str
    start: int
    end: int


def extract_numbers(text: str) -> list[NumberMention]:
    """Every number in `text` (dates already masked out), left to right."""
    mentions: list[NumberMention] = []
    taken: list[tuple[int, int]] = []

    def add(value: Decimal, unit: str | None, start: int, end: int) -> None:
        if any(not (end <= s or start >= e) for s, e in taken):
            return
        taken.append((start, end))
        surface = text[start:end].strip()
        mentions.append(NumberMention(value.normalize(), unit, surface, start, end))

    for match in _DIGITS.finditer(text):
        if not match.group("num").strip("."):
            continue
        value = Decimal(match.group("num").replace(",", ""))
        unit: str | None = _CURRENCIES.get(match.group("cur") or "")
        if match.group("mult"):
            value *= _MULTIPLIERS[match.group("mult").lower()]
        if match.group("pct"):
            unit = "percent"
        elif match.group("ordinal"):
            unit = "ordinal"
        elif unit is None:
            unit = _unit_after(text, match.end())
        add(value, unit, match.start(), match.end())

    for match in _BARE_MULTIPLIER.finditer(text):
        factor = _fraction(match.group("fraction"))
        value = factor * _MULTIPLIERS[match.group("mult").lower()]
        add(value, _unit_after(text, match.end()), *match.span())

    for match in _NUMBER_WORD.finditer(text):
        words = re.split(r"[\s-]+", match.group("words").lower())
        multiplier = match.group("mult")
        unit = _unit_after(text, match.end())
        # "one" is mostly a pronoun ("the cheaper one"): it counts only before a unit or a
        # multiplier ("one bedroom", "one million").
        if words == ["one"] and not (multiplier or unit):
            continue
        value = _words_value(words) * _fraction(match.group("fraction"))
        if multiplier:
            value *= _MULTIPLIERS[multiplier.lower()]
        add(value, unit, match.start(), match.end())

    for match in _ORDINAL_WORD.finditer(text):
        add(Decimal(_ORDINAL_WORDS[match.group(1).lower()]), "ordinal", *match.span())
    return sorted(mentions, key=lambda m: m.start)


def _unit_after(text: str, end: int) -> str | None:
    match = _UNIT_AFTER.match(text[end : end + 24])
    if not match:
        return None
    unit = _UNITS.get(match.group("unit").lower())
    if unit == "sqft" and match.group("unit").lower() in ("sq", "square"):
        second = (match.group("second") or "").lower()
        return "sqft" if second in ("ft", "feet", "foot", "footage") else None
    return unit


def _words_value(words: list[str]) -> Decimal:
    """ "twenty five" → 25, "two hundred" → 200, "three" → 3."""
    total = 0
    for word in words:
        number = _WORD_NUMBERS[word]
        if number == 100:
            total = max(total, 1) * 100
        else:
            total += number
    return Decimal(total)


def _fraction(text: str | None) -> Decimal:
    lowered = (text or "").lower()
    if lowered.startswith("half"):
        return Decimal("0.5")
    if "quarter" in lowered:
        return Decimal("0.25")
    return Decimal(1)
