"""Everything the guard compares, read once from a question."""

from __future__ import annotations

from dataclasses import dataclass

from tollgate.semantic_cache.guard.categories import Categories, extract_categories
from tollgate.semantic_cache.guard.dates import DateMention, extract_dates
from tollgate.semantic_cache.guard.entities import Entities, extract_entities
from tollgate.semantic_cache.guard.numbers import NumberMention, extract_numbers
from tollgate.semantic_cache.guard.polarity import Polarity, extract_polarity
from tollgate.semantic_cache.guard.text import mask, normalise


@dataclass(frozen=True)
class QuestionFeatures:
    text: str
    numbers: tuple[NumberMention, ...]
    dates: tuple[DateMention, ...]
    entities: Entities
    polarity: Polarity
    categories: Categories


def extract_features(question: str) -> QuestionFeatures:
    text = normalise(question)
    dates = extract_dates(text)
    # Dates are read first and blanked out, so "March 5th" is not also the number 5 and
    # "May" is not also a name.
    without_dates = mask(text, [(d.start, d.end) for d in dates])
    return QuestionFeatures(
        text=text,
        numbers=tuple(extract_numbers(without_dates)),
        dates=tuple(dates),
        entities=extract_entities(without_dates),
        polarity=extract_polarity(text, [(d.start, d.end) for d in dates]),
        categories=extract_categories(text),
    )
