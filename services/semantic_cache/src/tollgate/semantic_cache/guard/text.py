"""Text preparation shared by the guard's extractors: normalisation, masking, word tokens."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_PUNCTUATION = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": " - ",
        "\u2212": "-",
        "\u00a0": " ",
    }
)
# Letters, with inner apostrophes and hyphens: "O'Brien", "isn't", "pet-friendly".
_WORD = re.compile(r"[A-Za-z]+(?:['-][A-Za-z]+)*")
# What ends a sentence (or a list item): the next word starts a new sentence.
_SENTENCE_BREAKS = frozenset(".?!:;\n\u2022*")
_OPENERS = frozenset("\"'([{ \t\r")


def normalise(text: str) -> str:
    """NFKC, with typographic quotes and dashes made plain, so a curly apostrophe in "isn't"
    reads like a straight one."""
    return unicodedata.normalize("NFKC", text).translate(_PUNCTUATION)


def mask(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with each span blanked out, keeping every other offset where it was."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


@dataclass(frozen=True)
class Word:
    text: str
    start: int
    end: int
    # First word of a sentence, where a capital letter says nothing about being a name.
    sentence_initial: bool

    @property
    def lower(self) -> str:
        return self.text.lower()

    @property
    def possessive_base(self) -> str | None:
        """ "Sarah's" → "Sarah"; None when the word is not a possessive."""
        if self.lower.endswith("'s") and len(self.text) > 2:
            return self.text[:-2]
        return None

    @property
    def is_capitalised(self) -> bool:
        return self.text[0].isupper()

    @property
    def is_all_caps(self) -> bool:
        letters = [c for c in self.text if c.isalpha()]
        return len(letters) >= 2 and all(c.isupper() for c in letters)


def words(text: str) -> list[Word]:
    """The words of `text` in order, each knowing whether it opens a sentence."""
    found: list[Word] = []
    for match in _WORD.finditer(text):
        found.append(
            Word(match.group(), match.start(), match.end(), _opens_sentence(text, match.start()))
        )
    return found


def _opens_sentence(text: str, start: int) -> bool:
    index = start - 1
    while index >= 0 and text[index] in _OPENERS:
        index -= 1
    return index < 0 or text[index] in _SENTENCE_BREAKS
