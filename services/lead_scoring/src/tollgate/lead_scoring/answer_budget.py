"""Budgets in answers: "$650k", "under 500", "400-450k", "at least 300k", "up to 1.2M".

Amounts are whole dollars here and become micro-dollars at the contract's edge. A bare number
below 10,000 with no unit is read in thousands ("under 500" is $500,000): nobody buys a home for
$500, and agents type budgets in thousands. Numbers that count something else (bedrooms,
percent down, months) are not amounts. A single amount is a ceiling unless a word makes it a
floor ("at least", "minimum", "+", "or more"); two amounts joined by "-", "to" or "and" are a
range, the first taking the unit of the second when it has none ("between 400 and 450k").
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from tollgate.lead_scoring.answer_text import says_nothing

# Below this a unit-less number is thousands of dollars.
_THOUSANDS_BELOW = 10_000
# Smallest amount that can be a home budget once read.
_MIN_BUDGET = 10_000

_AMOUNT = re.compile(
    r"\$?\s*(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s*(k|m|mm|mil|million|thousand|grand)?(?![a-z0-9])"
    r"(\s*(?:%|percent|bed|bd|br|bath|ba|bedroom|sq|square|month|mo|year|yr|day|week|acre))?",
    re.IGNORECASE,
)
_RANGE_JOIN = re.compile(r"^\s*(?:-|\u2013|to|and)\s*$", re.IGNORECASE)
_FLOOR_BEFORE = re.compile(
    r"(at least|minimum of|min\.?|starting at|from|over|above|more than)\s*$", re.IGNORECASE
)
# "no more than", "can't go over": a ceiling, not a floor.
_NEGATED_FLOOR = re.compile(
    r"\b(no|not|never|can'?t|cannot|won'?t|don'?t)\s+(?:go\s+|be\s+|spend\s+)?"
    r"(over|above|more than)\s*$",
    re.IGNORECASE,
)
_FLOOR_AFTER = re.compile(r"^\s*(\+|minimum|min\b|or more|and up|or above)", re.IGNORECASE)


@dataclass(frozen=True)
class BudgetRange:
    # Whole dollars; None when that end is open.
    low: int | None
    high: int | None

    @property
    def top(self) -> int:
        """The most the lead will spend, or the floor when only a floor is known."""
        return self.high if self.high is not None else (self.low or 0)


@dataclass(frozen=True)
class _Amount:
    dollars: float
    has_unit: bool
    start: int
    end: int


def _amounts(text: str) -> list[_Amount]:
    found = []
    for match in _AMOUNT.finditer(text):
        if match.group(3):
            continue  # a count of bedrooms, a percentage, a duration
        raw = match.group(1).replace(",", "")
        value = float(raw)
        unit = (match.group(2) or "").lower()
        if unit in ("k", "thousand", "grand"):
            value *= 1_000
        elif unit in ("m", "mm", "mil", "million"):
            value *= 1_000_000
        found.append(
            _Amount(value, bool(unit) or "," in match.group(1), match.start(), match.end())
        )
    return found


def _dollars(amount: _Amount, unit_of: _Amount | None = None) -> float:
    if amount.has_unit or amount.dollars >= _THOUSANDS_BELOW:
        return amount.dollars
    if unit_of is not None and unit_of.has_unit and unit_of.dollars >= 1_000_000:
        return amount.dollars * 1_000_000 if amount.dollars < 100 else amount.dollars * 1_000
    return amount.dollars * 1_000


def read_budget(text: str) -> BudgetRange | None:
    if not text.strip() or says_nothing(text):
        return None
    amounts = _amounts(text)
    if not amounts:
        return None
    for first, second in itertools.pairwise(amounts):
        if _RANGE_JOIN.match(text[first.end : second.start]):
            low, high = _dollars(first, second), _dollars(second)
            if _MIN_BUDGET <= low <= high:
                return BudgetRange(int(low), int(high))
    # The first amount that reads as a home price.
    for amount in amounts:
        value = _dollars(amount)
        if value < _MIN_BUDGET:
            continue
        before = text[: amount.start]
        floor_word = _FLOOR_BEFORE.search(before) and not _NEGATED_FLOOR.search(before)
        if floor_word or _FLOOR_AFTER.match(text[amount.end :]):
            return BudgetRange(int(value), None)
        return BudgetRange(None, int(value))
    return None
