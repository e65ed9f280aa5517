"""Splitting message text into sentences without losing a character.

Each sentence keeps the whitespace that followed it, so joining every sentence's `text + tail`
gives back the original text exactly, and dropping some sentences leaves the rest as written.
Lines are sentences too (chat messages and tool output are full of lists).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A sentence ends at ., ! or ? (plus closing quotes or brackets) followed by spaces, or at a line
# break.
_BOUNDARY = re.compile(r"([.!?]+[\"'\u2019\u201d)\]]*)([ \t]+)|([ \t]*\n\s*)")
# Words after which a full stop does not end a sentence.
_ABBREVIATION_WORDS = """
    st dr mr mrs ms jr sr prof ave blvd rd ln ct pl hwy mt ft no vs etc approx apt dept est
    inc ltd co corp e.g i.e a.m p.m u.s sq min max tel ext"""
_ABBREVIATIONS = frozenset(_ABBREVIATION_WORDS.split())
_LAST_WORD = re.compile(r"([A-Za-z.]+)$")


@dataclass(frozen=True)
class Sentence:
    text: str
    # Whitespace that followed the sentence in the original text.
    tail: str


def _is_abbreviation(before: str) -> bool:
    match = _LAST_WORD.search(before)
    return match is not None and match.group(1).lower().rstrip(".") in _ABBREVIATIONS


def split_sentences(text: str) -> list[Sentence]:
    """Sentences of `text`; `"".join(s.text + s.tail for s in result) == text`."""
    sentences: list[Sentence] = []
    start = 0
    leading = len(text) - len(text.lstrip())
    if leading:
        # Whitespace before the first sentence travels as an empty sentence's tail.
        sentences.append(Sentence("", text[:leading]))
        start = leading
    for match in _BOUNDARY.finditer(text, start):
        if match.group(3) is not None:
            end, tail = match.start(), match.group(3)
        else:
            if _is_abbreviation(text[start : match.start(1)]) and match.group(1) == ".":
                continue
            end, tail = match.end(1), match.group(2)
        if end > start:
            sentences.append(Sentence(text[start:end], tail))
        elif sentences:
            last = sentences[-1]
            sentences[-1] = Sentence(last.text, last.tail + tail)
        else:
            sentences.append(Sentence("", tail))
        start = match.end()
    if start < len(text):
        sentences.append(Sentence(text[start:], ""))
    return sentences


def join_sentences(sentences: list[Sentence]) -> str:
    """The text of `sentences`, each followed by its own whitespace, trailing space trimmed."""
    return "".join(s.text + s.tail for s in sentences).rstrip()


_WORD = re.compile(r"[a-z0-9$%']+")


def normalised(text: str) -> str:
    """Lower-case words only: the form used to spot a sentence said before."""
    return " ".join(_WORD.findall(text.lower()))
