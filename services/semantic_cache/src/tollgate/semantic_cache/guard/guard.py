"""The near-miss guard: a cached answer may serve a new question only when every difference
between the two questions is explained as meaning-preserving.

An embedding says "rent per month" and "rent per year", "Oak Street" and "Oak Avenue", "accept the
offer" and "reject the offer" are 95% alike; no list of categories can name every way two
questions differ. So the guard does not look for known kinds of difference: it aligns the two
questions (`explain.py`) and refuses unless each difference is an inflection, a change of word
order, an ignorable word (function word, politeness, request verb), a known equivalence (the data
files of guard/lexicons/) or a typo. The reason names what was left unexplained, the asked
question's side first: "unexplained difference: per year vs per month".
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from tollgate.common.lru import LruCache
from tollgate.semantic_cache.guard.explain import (
    Differences,
    Reading,
    Term,
    correct_typos,
    differences,
    read_terms,
    read_words,
    reading,
)
from tollgate.semantic_cache.guard.lexicon import Lexicon, load_lexicon
from tollgate.semantic_cache.guard.words import Word


@dataclass(frozen=True)
class Rejection:
    """Why a cached answer may not serve the asked question: what each says that the other
    does not."""

    found: Differences

    @property
    def reason(self) -> str:
        # Put into words when read: a lookup may refuse ten candidates and quote one.
        said_asked = _join(self.found.only_asked)
        said_cached = _join(self.found.only_cached)
        return f"unexplained difference: {said_asked} vs {said_cached}"


class NearMissGuard:
    """Compares an asked question with a cached one; what is read from each question alone is
    cached (a lookup compares one question with up to ten candidates, each seen before).

    `vocabulary` is the set of known words that tells a typo ("bedrom") from another word
    ("bedroom" vs "bathroom" are both known, so never a typo): the embedding model's word list.
    """

    def __init__(
        self,
        vocabulary: Collection[str],
        lexicon: Lexicon | None = None,
        cache_size: int = 4096,
    ) -> None:
        self._vocabulary = frozenset(vocabulary)
        self._lexicon = lexicon or load_lexicon()
        # A question's words, and their keys (what a typo of the other question may match).
        self._words: LruCache[str, tuple[tuple[Word, ...], frozenset[str]]] = LruCache(cache_size)
        # Terms read from the uncorrected words: what `check` uses for a side without typos,
        # which is nearly every side (reading terms is most of a check's cost).
        self._readings: LruCache[str, Reading] = LruCache(cache_size)

    def words(self, question: str) -> tuple[Word, ...]:
        return self._read_words(question)[0]

    def terms(self, question: str) -> tuple[Term, ...]:
        """The question's terms on its own (without typo correction against another)."""
        return self._reading(question).terms

    def check(self, asked: str, cached: str) -> Rejection | None:
        """None when the cached answer may serve the asked question, else why not."""
        words_asked, keys_asked = self._read_words(asked)
        words_cached, keys_cached = self._read_words(cached)
        vocabulary, lexicon = self._vocabulary, self._lexicon
        # One side at a time: a word already corrected is matched and stays as it is.
        fixed_asked = correct_typos(words_asked, words_cached, vocabulary, lexicon, keys_cached)
        # The asked question's keys are those of `fixed_asked` only if nothing was corrected.
        keys_fixed = keys_asked if fixed_asked is words_asked else None
        fixed_cached = correct_typos(words_cached, fixed_asked, vocabulary, lexicon, keys_fixed)
        found = differences(
            self._reading_of(asked, words_asked, fixed_asked),
            self._reading_of(cached, words_cached, fixed_cached),
        )
        return Rejection(found) if found else None

    def _read_words(self, question: str) -> tuple[tuple[Word, ...], frozenset[str]]:
        found = self._words.get(question)
        if found is None:
            words = read_words(question, self._lexicon)
            found = (words, frozenset(w.key for w in words))
            self._words.put(question, found)
        return found

    def _reading(self, question: str) -> Reading:
        found = self._readings.get(question)
        if found is None:
            found = reading(read_terms(self.words(question), self._lexicon))
            self._readings.put(question, found)
        return found

    def _reading_of(
        self, question: str, words: tuple[Word, ...], fixed: tuple[Word, ...]
    ) -> Reading:
        """The reading of `fixed`, the question's words after typo correction: the cached one
        when nothing was corrected (`correct_typos` then returns the same tuple)."""
        if fixed is words:
            return self._reading(question)
        return reading(read_terms(fixed, self._lexicon))


def model_vocabulary(model_dir: Path) -> frozenset[str]:
    """The whole words of the model's WordPiece vocabulary (tokenizer.json), lower case."""
    data = json.loads((model_dir / "tokenizer.json").read_text())
    vocab = data["model"]["vocab"]
    return frozenset(w for w in vocab if w.isalpha())


def _join(terms: tuple[Term, ...]) -> str:
    # Values were read from the text ("$500k" → #500000); show them without their marks.
    shown = [" ".join(w.lstrip("#@") for w in t.surface.split()) for t in terms]
    return ", ".join(shown) if shown else "nothing"
