"""Names in a question — people, places, streets, programmes — found by shape, without a model.

A word is read as a name when:
  1. it is capitalised inside a sentence ("homes in Austin", "call Sarah Johnson");
  2. it is in capitals ("FHA", "HOA"), a few everyday abbreviations aside;
  3. it opens a sentence capitalised and is not a common word ("Sarah wants a condo");
  4. it is a possessive of an uncommon word ("sarah's budget");
  5. it follows a cue ("in", "near", "to", "named", "Mr", "lead"...) and is not a common word
     ("condos in austin", "email to okafor");
  6. it precedes a street suffix ("oak st", "12 Maple Court").
"Common" means in lexicon.COMMON_WORDS. Two questions agree on names when every name of each
appears, in any case, among the words of the other.

Text typed without capitals hides most names ("list nashville home sales"). What still shows
them is a substitution: an uncommon word of one question standing where the other has another
uncommon word, between the same content words ("list nashville home" / "list raleigh home").
Paraphrases reword around their synonyms; a swapped name keeps its neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

from tollgate.semantic_cache.guard.lexicon import (
    AMBIGUOUS_STREET_SUFFIXES,
    CAPITALISED_COMMON,
    COMMON_WORDS,
    ENTITY_CUES,
    FUNCTION_WORDS,
    STREET_SUFFIXES,
    UPPERCASE_COMMON,
)
from tollgate.semantic_cache.guard.text import Word, words


@dataclass(frozen=True)
class Entities:
    # Names, lower-cased, in order of appearance (a name repeated is listed once).
    names: tuple[str, ...]
    # How each name was written, for messages.
    spelled: dict[str, str]
    # Every word of the question, lower-cased, possessives also without their "'s".
    vocabulary: frozenset[str]
    # The words in order, lower-cased, possessives without their "'s".
    sequence: tuple[str, ...]


def extract_entities(text: str) -> Entities:
    """Names in `text` (whose dates are already masked out, so months are not names)."""
    found = words(text)
    # In Title Case or ALL CAPS text a capital says nothing: only the case-free rules apply.
    capitals_informative = not _mostly_capitalised(found)
    names: list[str] = []
    spelled: dict[str, str] = {}
    for index, word in enumerate(found):
        previous = found[index - 1] if index else None
        following = found[index + 1] if index + 1 < len(found) else None
        name = _name_of(word, previous, following, text, capitals_informative)
        if name and name not in names:
            names.append(name)
            spelled[name] = word.possessive_base or word.text
    vocabulary = {w.lower for w in found}
    vocabulary.update(w.possessive_base.lower() for w in found if w.possessive_base)
    sequence = tuple((w.possessive_base or w.text).lower() for w in found)
    return Entities(tuple(names), spelled, frozenset(vocabulary), sequence)


def unmatched(a: Entities, b: Entities) -> tuple[list[str], list[str]]:
    """Names of `a` that `b` never mentions, and the other way round, as each wrote them."""
    return (
        [a.spelled[n] for n in a.names if n not in b.vocabulary],
        [b.spelled[n] for n in b.names if n not in a.vocabulary],
    )


def substitution(a: Entities, b: Entities) -> tuple[str, str] | None:
    """An uncommon word of `a` replaced by an uncommon word of `b` in the same place, if any.

    "The same place" means the same left or right neighbour, that neighbour being a content
    word: function words ("the", "in") border too many different words to tell anything.
    """
    swapped_a = _uncommon_positions(a, b)
    swapped_b = _uncommon_positions(b, a)
    for i in swapped_a:
        for j in swapped_b:
            if _shared_neighbour(a.sequence, i, b.sequence, j):
                return a.sequence[i], b.sequence[j]
    return None


def _uncommon_positions(own: Entities, other: Entities) -> list[int]:
    return [
        i
        for i, word in enumerate(own.sequence)
        if len(word) >= 3
        and word.isalpha()
        and word not in COMMON_WORDS
        and word not in other.vocabulary
    ]


def _shared_neighbour(a: tuple[str, ...], i: int, b: tuple[str, ...], j: int) -> bool:
    left_a, left_b = (a[i - 1] if i else None), (b[j - 1] if j else None)
    right_a = a[i + 1] if i + 1 < len(a) else None
    right_b = b[j + 1] if j + 1 < len(b) else None
    return (left_a is not None and left_a == left_b and left_a not in FUNCTION_WORDS) or (
        right_a is not None and right_a == right_b and right_a not in FUNCTION_WORDS
    )


def _name_of(
    word: Word,
    previous: Word | None,
    following: Word | None,
    text: str,
    capitals_informative: bool,
) -> str | None:
    base = word.possessive_base
    lower = (base or word.text).lower()
    if len(lower) < 2 or (lower in FUNCTION_WORDS and not word.is_all_caps):
        return None
    if lower.rstrip(".") in STREET_SUFFIXES | AMBIGUOUS_STREET_SUFFIXES:
        # "St" and "Street" mark the name before them; they are not names themselves.
        return None
    if following is not None and _is_street_suffix(following, word, text):
        return lower
    if capitals_informative and word.is_all_caps:
        return None if lower in UPPERCASE_COMMON or lower in CAPITALISED_COMMON else lower
    if capitals_informative and word.is_capitalised:
        if lower in CAPITALISED_COMMON:
            return None
        if not word.sentence_initial:
            return lower
        return None if lower in COMMON_WORDS else lower
    if lower in COMMON_WORDS or not lower.replace("'", "").replace("-", "").isalpha():
        return None
    if base is not None:
        return lower
    if previous is not None and previous.lower in ENTITY_CUES and len(lower) >= 3:
        return lower
    return None


def _mostly_capitalised(found: list[Word]) -> bool:
    if len(found) < 4:
        return False
    capitalised = sum(1 for w in found if w.is_capitalised)
    return capitalised / len(found) > 0.6


def _is_street_suffix(suffix: Word, name: Word, text: str) -> bool:
    lowered = suffix.lower.rstrip(".")
    if lowered in STREET_SUFFIXES:
        return True
    if lowered in AMBIGUOUS_STREET_SUFFIXES:
        # "Maple Court", "12 oak way"; not "test drive" or "no way".
        before = text[: name.start].rstrip()
        return (name.is_capitalised and not name.sentence_initial) or before[-1:].isdigit()
    return False
