"""Do two answers to the same request say the same thing?

The cached answer and Claude's fresh one are worded differently even when both are right, so
wording is not compared. What is compared is what a wrong answer changes: the numbers and amounts
(prices, counts, dates and times), the names, whether the answer negates, and — for everything
else — the similarity of the two answers' embeddings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tollgate.semantic_cache.guard.lexicon import Lexicon
from tollgate.semantic_cache.guard.words import tokenize

_NEGATIONS = frozenset({"not", "no", "never", "none", "nothing", "without", "cannot", "neither"})
_CAPITALISED = re.compile(r"\b([A-Z][a-zA-Z']+)")
# A capitalised word opening a sentence or a list item says nothing about being a name.
_OPENER = re.compile(r"(?:^|[.!?:\n]\s*|[-*•]\s+|\d+\.\s+)([A-Z][a-zA-Z']+)")


@dataclass(frozen=True)
class AnswerComparison:
    agreed: bool
    # Why they disagree, the cached answer's side first; "" when they agree.
    disagreement: str
    similarity: float


def compare_answers(
    cached: str, fresh: str, similarity: float, min_similarity: float, lexicon: Lexicon
) -> AnswerComparison:
    """Agreement needs the same numbers, names and negation, and `similarity` (cosine of the
    two answers' embeddings) at least `min_similarity`."""
    values_a, values_b = _values(cached, lexicon), _values(fresh, lexicon)
    # A name one answer gives must appear in the other, wherever (a sentence may open with it).
    names_a = {n for n in _names(cached) if n.lower() not in _lower_words(fresh)}
    names_b = {n for n in _names(fresh) if n.lower() not in _lower_words(cached)}
    for what, only_a, only_b in (
        ("numbers", values_a - values_b, values_b - values_a),
        ("names", names_a, names_b),
    ):
        if only_a or only_b:
            shown_a = ", ".join(sorted(only_a)) or "none"
            shown_b = ", ".join(sorted(only_b)) or "none"
            return AnswerComparison(False, f"{what} differ: {shown_a} vs {shown_b}", similarity)
    negated_a, negated_b = _negated(cached, lexicon), _negated(fresh, lexicon)
    if negated_a != negated_b:
        said = ("negates", "does not") if negated_a else ("does not", "negates")
        return AnswerComparison(
            False,
            f"negation differs: the cached answer {said[0]}, the fresh one {said[1]}",
            similarity,
        )
    if similarity < min_similarity:
        return AnswerComparison(
            False,
            f"answers differ in meaning: similarity {similarity:.3f} is below {min_similarity:.3f}",
            similarity,
        )
    return AnswerComparison(True, "", similarity)


def _values(text: str, lexicon: Lexicon) -> set[str]:
    return {w.key.lstrip("#@") for w in tokenize(text, lexicon.contractions) if w.is_value}


def _names(text: str) -> set[str]:
    """Capitalised words inside sentences ("Austin", "Sarah"), possessives undone."""
    text = text.replace("\u2019", "'")
    openers = {m.start(1) for m in _OPENER.finditer(text)}
    names = set()
    for match in _CAPITALISED.finditer(text):
        word = match.group(1)
        if match.start(1) in openers or word.isupper():
            continue
        names.add(word[:-2] if word.endswith("'s") else word.rstrip("'"))
    return names


def _lower_words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z]+", text)}


def _negated(text: str, lexicon: Lexicon) -> bool:
    return any(w.key in _NEGATIONS for w in tokenize(text, lexicon.contractions))
