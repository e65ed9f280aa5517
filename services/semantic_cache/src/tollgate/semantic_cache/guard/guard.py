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
    Term,
    correct_typos,
    differences,
    read_terms,
    read_words,
)
from tollgate.semantic_cache.guard.lexicon import Lexicon, load_lexicon
from tollgate.semantic_cache.guard.words import Word


@dataclass(frozen=True)
class Rejection:
    kind: str
    reason: str


class NearMissGuard:
    """Compares an asked question with a cached one; the terms of questions are cached.

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
        self._words: LruCache[str, tuple[Word, ...]] = LruCache(cache_size)
        # Terms read from the uncorrected words: what `check` uses for a side without typos,
        # which is nearly every side (reading terms is most of a check's cost).
        self._terms: LruCache[str, tuple[Term, ...]] = LruCache(cache_size)

    def words(self, question: str) -> tuple[Word, ...]:
        found = self._words.get(question)
        if found is None:
            found = read_words(question, self._lexicon)
            self._words.put(question, found)
        return found

    def terms(self, question: str) -> tuple[Term, ...]:
        """The question's terms on its own (without typo correction against another)."""
        found = self._terms.get(question)
        if found is None:
            found = read_terms(self.words(question), self._lexicon)
            self._terms.put(question, found)
        return found

    def check(self, asked: str, cached: str) -> Rejection | None:
        """None when the cached answer may serve the asked question, else why not."""
        words_asked, words_cached = self.words(asked), self.words(cached)
        vocabulary, lexicon = self._vocabulary, self._lexicon
        # One side at a time: a word already corrected is matched and stays as it is.
        fixed_asked = correct_typos(words_asked, words_cached, vocabulary, lexicon)
        fixed_cached = correct_typos(words_cached, fixed_asked, vocabulary, lexicon)
        found = differences(
            self._terms_of(asked, words_asked, fixed_asked),
            self._terms_of(cached, words_cached, fixed_cached),
        )
        if not found:
            return None
        said_asked = _join(found.only_asked)
        said_cached = _join(found.only_cached)
        return Rejection("difference", f"unexplained difference: {said_asked} vs {said_cached}")

    def _terms_of(
        self, question: str, words: tuple[Word, ...], fixed: tuple[Word, ...]
    ) -> tuple[Term, ...]:
        """The terms of `fixed`, the question's words after typo correction: the cached terms
        when nothing was corrected (`correct_typos` then returns the same tuple)."""
        if fixed is words:
            return self.terms(question)
        return read_terms(fixed, self._lexicon)


def model_vocabulary(model_dir: Path) -> frozenset[str]:
    """The whole words of the model's WordPiece vocabulary (tokenizer.json), lower case."""
    data = json.loads((model_dir / "tokenizer.json").read_text())
    vocab = data["model"]["vocab"]
    return frozenset(w for w in vocab if w.isalpha())


def _join(terms: tuple[Term, ...]) -> str:
    # Values were read from the text ("$500k" → #500000); show them without their marks.
    shown = [" ".join(w.lstrip("#@") for w in t.surface.split()) for t in terms]
    return ", ".join(shown) if shown else "nothing"
