"""The guard's lexicons, read from the data files in guard/lexicons/ (see its README.md).

Every phrase of a file is read through the same steps as a question (tokenize, stem, number
words), so a lexicon line matches the question's words whatever their inflection.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from tollgate.semantic_cache.guard.words import stem, tokenize

LEXICON_DIR = Path(__file__).resolve().parent / "lexicons"

# The phrase table's value for a phrase that may be dropped.
IGNORABLE = ""


class LexiconError(ValueError):
    """A lexicon file contradicts itself (a phrase with two meanings) or is malformed."""


@dataclass(frozen=True)
class Lexicon:
    contractions: dict[str, str]
    irregular: dict[str, str]
    # Number phrases (as stems) → value key ("#500000").
    numbers: dict[tuple[str, ...], str]
    # Phrases (as stems) → canonical key, or IGNORABLE.
    phrases: dict[tuple[str, ...], str]
    binding: frozenset[str]

    @cached_property
    def number_starts(self) -> dict[str, int]:
        """The longest number phrase starting with each word (see `phrase_starts`)."""
        return phrase_starts(self.numbers)

    @cached_property
    def phrase_starts(self) -> dict[str, int]:
        """The longest lexicon phrase starting with each word (see `phrase_starts`)."""
        return phrase_starts(self.phrases)

    def keys(self, phrase: str) -> tuple[str, ...]:
        """`phrase` as the stems and values a question's words become."""
        stems = tuple(
            w.key if w.is_value or w.key in "$%" else stem(w.key, self.irregular)
            for w in tokenize(phrase, self.contractions)
        )
        return replace_numbers(stems, self.numbers)


def phrase_starts(table: Mapping[tuple[str, ...], str]) -> dict[str, int]:
    """For each word that starts a phrase of `table`, the length of its longest such phrase.

    `phrase_spans` tries only the lengths a phrase starting at a word can have: most words of a
    question start no phrase and cost one lookup instead of one per length (the guard reads the
    terms of both questions for every candidate it examines).
    """
    starts: dict[str, int] = {}
    for phrase in table:
        if phrase:
            starts[phrase[0]] = max(starts.get(phrase[0], 0), len(phrase))
    return starts


def phrase_spans(
    keys: Sequence[str], table: Mapping[tuple[str, ...], str], starts: Mapping[str, int]
) -> Iterator[tuple[int, int, str | None]]:
    """(start, end, meaning) covering `keys` left to right, the longest phrase of `table` first
    at each position; meaning is None for a word no phrase covers. `starts` is
    `phrase_starts(table)`."""
    index = 0
    while index < len(keys):
        longest = starts.get(keys[index], 0)
        for size in range(min(longest, len(keys) - index), 0, -1):
            meaning = table.get(tuple(keys[index : index + size]))
            if meaning is not None:
                yield index, index + size, meaning
                index += size
                break
        else:
            yield index, index + 1, None
            index += 1


def replace_numbers(keys: tuple[str, ...], numbers: dict[tuple[str, ...], str]) -> tuple[str, ...]:
    """Number words and phrases ("half a million", "three") replaced by their values."""
    starts = phrase_starts(numbers)
    return tuple(
        meaning if meaning is not None else keys[start]
        for start, _, meaning in phrase_spans(keys, numbers, starts)
    )


def _lines(name: str, directory: Path) -> Iterator[str]:
    for raw in (directory / name).read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            yield line


def _pairs(name: str, directory: Path) -> Iterator[tuple[str, str]]:
    for line in _lines(name, directory):
        left, sep, right = line.partition("=")
        if not sep or not left.strip() or not right.strip():
            raise LexiconError(f"{name}: expected 'a = b', got {line!r}")
        yield left.strip().lower(), right.strip().lower()


def load_lexicon(directory: Path = LEXICON_DIR) -> Lexicon:
    contractions = dict(_pairs("contractions.txt", directory))
    irregular = dict(_pairs("irregular.txt", directory))
    base = Lexicon(contractions, irregular, {}, {}, frozenset())
    numbers: dict[tuple[str, ...], str] = {}
    for words, value in _pairs("numbers.txt", directory):
        numbers[base.keys(words)] = f"#{value}"
    with_numbers = Lexicon(contractions, irregular, numbers, {}, frozenset())
    phrases: dict[tuple[str, ...], str] = {}

    def add(variant: tuple[str, ...], meaning: str, source: str) -> None:
        known = phrases.get(variant)
        if known is not None and known != meaning:
            shown = " ".join(variant)
            raise LexiconError(f"{source}: {shown!r} means both {known!r} and {meaning!r}")
        phrases[variant] = meaning

    for phrase in _lines("ignorable.txt", directory):
        add(with_numbers.keys(phrase), IGNORABLE, "ignorable.txt")
    for canonical, variants in _pairs("equivalences.txt", directory):
        canonical_keys = with_numbers.keys(canonical)
        meaning = " ".join(canonical_keys)
        for variant in [canonical, *variants.split("|")]:
            keys = with_numbers.keys(variant.strip())
            if keys:
                # An equivalence naming an ignorable word ("dollar") keeps it ignorable.
                add(keys, phrases.get(canonical_keys, meaning), "equivalences.txt")
    binding = frozenset(
        stem(w, irregular) for w in _lines("binding.txt", directory) if " " not in w
    )
    return Lexicon(contractions, irregular, numbers, phrases, binding)
