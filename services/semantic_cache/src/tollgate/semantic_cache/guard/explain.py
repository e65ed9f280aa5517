"""Align two questions and explain each difference, or say which one is unexplained.

A question is read into terms (`read_terms`): its words stemmed, number words and amounts as
values, each phrase of the equivalence lexicon replaced by its canonical form, ignorable words
(function words, politeness, request verbs) dropped, and a binding preposition joined to the term
after it ("under" + "#500000" → "under #500000"). Word order is otherwise free.

Before that, a word the embedding model's vocabulary does not know that is one edit away from a
word of the other question is read as that word (a typo). Two questions' terms are then
aligned as multisets: a term on both sides is matched; what remains on one side only is an
unexplained difference.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from tollgate.semantic_cache.guard.lexicon import IGNORABLE, Lexicon, phrase_spans
from tollgate.semantic_cache.guard.words import Word, stem, tokenize

# Shorter words are too often other real words one edit away ("rent"/"rant").
_MIN_TYPO_CHARS = 4


@dataclass(frozen=True)
class Term:
    key: str
    # The words of the question this term stands for.
    surface: str


@dataclass(frozen=True)
class Reading:
    """A question's terms and how often each key occurs in them: read once, then aligned with
    every candidate a lookup examines."""

    terms: tuple[Term, ...]
    counts: Counter[str]


def reading(terms: tuple[Term, ...]) -> Reading:
    return Reading(terms, Counter(t.key for t in terms))


@dataclass(frozen=True)
class Differences:
    # Terms of each question the other does not explain, in question order.
    only_asked: tuple[Term, ...]
    only_cached: tuple[Term, ...]

    def __bool__(self) -> bool:
        return bool(self.only_asked or self.only_cached)


def read_words(question: str, lexicon: Lexicon) -> tuple[Word, ...]:
    """The question's words, stemmed (values and symbols as they are)."""
    return tuple(
        w if w.is_value or w.key in "$%" else Word(stem(w.key, lexicon.irregular), w.surface)
        for w in tokenize(question, lexicon.contractions)
    )


def correct_typos(
    words: tuple[Word, ...],
    other: tuple[Word, ...],
    vocabulary: Collection[str],
    lexicon: Lexicon,
    other_keys: Collection[str] | None = None,
) -> tuple[Word, ...]:
    """Each word the vocabulary does not know that is one edit from a word of the other question
    ("bedrom" / "bedroom") read as that word: a typo, not a difference. A known word is never
    a typo ("lease" / "least", "bath" / "bats" are other words). `other_keys`, when given, are
    the keys of `other`'s words (a caller comparing one question with many keeps them).

    Returns `words` itself when nothing was corrected, so a caller can reuse what it read from
    them."""
    matched = {w.key for w in other} if other_keys is None else other_keys
    # Built only for a word that could be a typo: most questions have none.
    candidates: list[str] | None = None
    out = []
    corrected = False
    for word in words:
        match = None
        if (
            word.key not in matched
            and _could_be_typo(word.surface)
            and word.surface not in vocabulary
        ):
            if candidates is None:
                candidates = sorted({w.surface for w in other if _could_be_typo(w.surface)})
            match = next((c for c in candidates if _one_edit(word.surface, c)), None)
        if match:
            corrected = True
            out.append(Word(stem(match, lexicon.irregular), word.surface))
        else:
            out.append(word)
    return tuple(out) if corrected else words


def read_terms(words: tuple[Word, ...], lexicon: Lexicon) -> tuple[Term, ...]:
    merged = _merge(list(words), lexicon.numbers, lexicon.number_starts)
    merged = _merge(merged, lexicon.phrases, lexicon.phrase_starts)
    counted = _bind_counts(merged, lexicon.binding)
    terms = [Term(w.key, w.surface) for w in counted if w.key != IGNORABLE]
    return _bind(terms, lexicon.binding)


def _bind_counts(words: list[Word], binding: Collection[str]) -> list[Word]:
    """A number joins the word right after it, the thing it counts: "3 beds and 2 baths" is not
    "2 beds and 3 baths". Amounts of money ("$500k homes") count nothing and stay alone."""
    out: list[Word] = []
    index = 0
    while index < len(words):
        word = words[index]
        following = words[index + 1] if index + 1 < len(words) else None
        is_count = word.key.startswith("#") and not (out and out[-1].surface == "$")
        if (
            is_count
            and following is not None
            and following.key not in (IGNORABLE, *binding)
            and not following.is_value
        ):
            out.append(Word(f"{word.key} {following.key}", f"{word.surface} {following.surface}"))
            index += 2
        else:
            out.append(word)
            index += 1
    return out


def _merge(
    words: list[Word], table: dict[tuple[str, ...], str], starts: Mapping[str, int]
) -> list[Word]:
    """Each phrase of `table` found in `words` becomes one word with the phrase's meaning."""
    keys = [w.key for w in words]
    out = []
    for start, end, meaning in phrase_spans(keys, table, starts):
        if meaning is None:
            out.append(words[start])
        else:
            out.append(Word(meaning, " ".join(w.surface for w in words[start:end])))
    return out


def _bind(terms: list[Term], binding: Collection[str]) -> tuple[Term, ...]:
    out: list[Term] = []
    index = 0
    while index < len(terms):
        term = terms[index]
        if term.key in binding and index + 1 < len(terms):
            following = terms[index + 1]
            out.append(Term(f"{term.key} {following.key}", f"{term.surface} {following.surface}"))
            index += 2
        else:
            out.append(term)
            index += 1
    return tuple(out)


def differences(asked: Reading, cached: Reading) -> Differences:
    """What each question says that the other does not."""
    if asked.counts == cached.counts:
        return Differences((), ())
    left = asked.counts - cached.counts
    right = cached.counts - asked.counts
    return Differences(tuple(_remaining(asked.terms, left)), tuple(_remaining(cached.terms, right)))


def _remaining(terms: tuple[Term, ...], budget: Counter[str]) -> list[Term]:
    """The terms `budget` counts, in question order (`budget` is used up)."""
    out = []
    for term in terms:
        if budget[term.key] > 0:
            budget[term.key] -= 1
            out.append(term)
    return out


def _could_be_typo(surface: str) -> bool:
    return surface.isalpha() and len(surface) >= _MIN_TYPO_CHARS


def _one_edit(x: str, y: str) -> bool:
    """Damerau distance 1: one letter inserted, deleted, replaced, or two neighbours swapped."""
    if x == y or abs(len(x) - len(y)) > 1:
        return False
    if len(x) == len(y):
        diffs = [i for i in range(len(x)) if x[i] != y[i]]
        if len(diffs) == 1:
            return True
        return (
            len(diffs) == 2
            and diffs[1] == diffs[0] + 1
            and x[diffs[0]] == y[diffs[1]]
            and x[diffs[1]] == y[diffs[0]]
        )
    short, long = (x, y) if len(x) < len(y) else (y, x)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))
