"""The near-miss guard: two similar questions may share an answer only if they agree on what
decides it — numbers and amounts, dates, names, negation, direction words and domain slots.

An embedding says "3-bed homes under $500k in Austin" and "...under $600k..." are 98% alike; the
guard reads both and refuses, with a reason a person understands ("numbers differ: $600k vs
$500k", the asked question first).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from tollgate.common.lru import LruCache
from tollgate.semantic_cache.guard import categories, entities
from tollgate.semantic_cache.guard.features import QuestionFeatures, extract_features
from tollgate.semantic_cache.guard.numbers import NumberMention


@dataclass(frozen=True)
class Rejection:
    # "numbers", "dates", "names", "negation", "comparison" or "attributes".
    kind: str
    reason: str


class NearMissGuard:
    """Compares an asked question with a cached one; features of questions are cached."""

    def __init__(self, cache_size: int = 4096) -> None:
        self._features: LruCache[str, QuestionFeatures] = LruCache(cache_size)

    def features(self, question: str) -> QuestionFeatures:
        found = self._features.get(question)
        if found is None:
            found = extract_features(question)
            self._features.put(question, found)
        return found

    def check(self, asked: str, cached: str) -> Rejection | None:
        """None when the cached answer may serve the asked question, else why not."""
        a, b = self.features(asked), self.features(cached)
        for compare in _CHECKS:
            rejection = compare(a, b)
            if rejection is not None:
                return rejection
        return None


def _numbers(a: QuestionFeatures, b: QuestionFeatures) -> Rejection | None:
    values_a = Counter(m.value for m in a.numbers)
    values_b = Counter(m.value for m in b.numbers)
    if values_a != values_b:
        only_a = _surfaces([m for m in a.numbers if values_a[m.value] > values_b[m.value]])
        only_b = _surfaces([m for m in b.numbers if values_b[m.value] > values_a[m.value]])
        return Rejection("numbers", f"numbers differ: {only_a} vs {only_b}")
    for value in values_a:
        units_a = Counter(m.unit for m in a.numbers if m.value == value and m.unit)
        units_b = Counter(m.unit for m in b.numbers if m.value == value and m.unit)
        # A unit the text leaves unsaid ("500k" vs "$500k") matches any.
        if units_a and units_b and units_a != units_b:
            said_a = _join([f"{m.surface} ({m.unit})" for m in a.numbers if m.value == value])
            said_b = _join([f"{m.surface} ({m.unit})" for m in b.numbers if m.value == value])
            return Rejection("numbers", f"numbers count different things: {said_a} vs {said_b}")
    return None


def _dates(a: QuestionFeatures, b: QuestionFeatures) -> Rejection | None:
    tokens_a = Counter(t for d in a.dates for t in d.tokens)
    tokens_b = Counter(t for d in b.dates for t in d.tokens)
    if tokens_a == tokens_b:
        return None
    only_a = [d.surface for d in a.dates if any(tokens_a[t] > tokens_b[t] for t in d.tokens)]
    only_b = [d.surface for d in b.dates if any(tokens_b[t] > tokens_a[t] for t in d.tokens)]
    return Rejection("dates", f"dates differ: {_join(only_a)} vs {_join(only_b)}")


def _names(a: QuestionFeatures, b: QuestionFeatures) -> Rejection | None:
    only_a, only_b = entities.unmatched(a.entities, b.entities)
    if not only_a and not only_b:
        return None
    return Rejection("names", f"names differ: {_join(only_a)} vs {_join(only_b)}")


def _swapped_words(a: QuestionFeatures, b: QuestionFeatures) -> Rejection | None:
    # Last of the checks: the loosest one, and the others explain their refusals better.
    swapped = entities.substitution(a.entities, b.entities)
    if swapped is None:
        return None
    return Rejection("names", f"names differ: {swapped[0]} vs {swapped[1]}")


def _negation(a: QuestionFeatures, b: QuestionFeatures) -> Rejection | None:
    if a.polarity.negations == b.polarity.negations:
        return None
    said_a = _join(list(a.polarity.negation_surfaces))
    said_b = _join(list(b.polarity.negation_surfaces))
    return Rejection("negation", f"negation differs: {said_a} vs {said_b}")


def _comparison(a: QuestionFeatures, b: QuestionFeatures) -> Rejection | None:
    if a.polarity.directions == b.polarity.directions:
        return None
    only_a = a.polarity.directions - b.polarity.directions
    only_b = b.polarity.directions - a.polarity.directions
    said_a = _join([a.polarity.direction_surfaces[d] for d in only_a])
    said_b = _join([b.polarity.direction_surfaces[d] for d in only_b])
    return Rejection("comparison", f"comparison differs: {said_a} vs {said_b}")


def _attributes(a: QuestionFeatures, b: QuestionFeatures) -> Rejection | None:
    found = categories.conflicts(a.categories, b.categories)
    if not found:
        return None
    group, classes_a, classes_b = found[0]
    return Rejection(
        "attributes",
        f"{group} differs: {_join(sorted(classes_a))} vs {_join(sorted(classes_b))}",
    )


_CHECKS: tuple[Callable[[QuestionFeatures, QuestionFeatures], Rejection | None], ...] = (
    _numbers,
    _dates,
    _names,
    _negation,
    _comparison,
    _attributes,
    _swapped_words,
)


def _surfaces(mentions: list[NumberMention]) -> str:
    return _join([m.surface for m in mentions])


def _join(items: list[str]) -> str:
    return ", ".join(items) if items else "none"
