"""A question as a sequence of words the guard can compare: lower case, contractions expanded,
amounts and clock times read as values, inflections undone.

"Show me 3-bedroom houses under $500k" becomes show · me · #3 · bedroom · hous · under · $ ·
#500000. Each word keeps its surface (what the question said), so a refusal can quote it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_PUNCTUATION = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": " ",
        "\u2212": "-",
        "\u00a0": " ",
        # Comparison signs read as the words they stand for.
        "<": " under ",
        ">": " over ",
        "~": " around ",
        "\u2264": " at most ",
        "\u2265": " at least ",
    }
)
_MULTIPLIERS = {
    "k": 1_000,
    "thousand": 1_000,
    "grand": 1_000,
    "m": 1_000_000,
    "mm": 1_000_000,
    "million": 1_000_000,
    "bn": 1_000_000_000,
    "billion": 1_000_000_000,
}
# "3pm", "3 p.m.", "3:30 PM" → @15:00 / @15:30.
_CLOCK = re.compile(r"(?<![\d.,])(\d{1,2})(?::(\d{2}))?\s*([ap])\.?m\.?(?![a-z])")
# "1-4", "1 - 4" read as "1 to 4"; not dates or phone numbers, which have more parts.
_RANGE = re.compile(r"(?<![\d-])(\d+)\s*-\s*(\d+)(?![\d-])")
# An amount: optional $, digits with thousands separators and decimals, optional multiplier
# ("500k", "1.2 million"); a short multiplier must touch the digits and end the word, so
# "30 mo" is not 30 million.
_AMOUNT = re.compile(
    r"(?<![\w.@:])(\$\s*)?(\d[\d,]*(?:\.\d+)?)"
    r"(?:\s*(thousand|million|billion|grand)\b|(k|m|mm|bn)(?![a-z]))?"
)
# Codes mixing letters and digits ("q1", "unit4b") stay one word; digits a word starts are
# amounts already ("3br" → #3 br).
_TOKEN = re.compile(r"#[\d.]+|@\d+:\d+|\$|%|[a-z]+\d[a-z\d]*|[a-z]+(?:'[a-z]+)*|\d+")
# "5th" → 5; "3+" → "at least 3".
_ORDINAL = re.compile(r"(?<=\d)(?:st|nd|rd|th)\b")
_AT_LEAST = re.compile(r"(?<![\w.])(\d[\d,.]*[km]?)\+")
# "15:00" without am/pm is a 24-hour clock time.
_CLOCK_24 = re.compile(r"(?<![\d:])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])")


@dataclass(frozen=True)
class Word:
    # What is compared: a stem ("hous"), a value ("#500000", "@15:00"), or a symbol ("$", "%").
    key: str
    # What the question said, for reasons.
    surface: str

    @property
    def is_value(self) -> bool:
        return self.key[:1] in ("#", "@")


def normalise(text: str) -> str:
    """NFKC, plain quotes and dashes, lower case; hyphens and slashes between words become
    spaces so "pre-approved" and "pre approved" read alike."""
    plain = unicodedata.normalize("NFKC", text).translate(_PUNCTUATION).lower()
    plain = _CLOCK.sub(_clock_value, plain)
    plain = _CLOCK_24.sub(lambda m: f" @{int(m.group(1)):02d}:{m.group(2)} ", plain)
    plain = _ORDINAL.sub("", plain)
    plain = _AT_LEAST.sub(r"at least \1", plain)
    plain = _RANGE.sub(r"\1 to \2", plain)
    return re.sub(r"(?<=[a-z])[-/](?=[a-z0-9])|(?<=[0-9])-(?=[a-z])", " ", plain)


def _clock_value(match: re.Match[str]) -> str:
    hour = int(match.group(1)) % 12 + (12 if match.group(3) == "p" else 0)
    return f" @{hour:02d}:{match.group(2) or '00'} "


def _amount_value(match: re.Match[str]) -> str:
    try:
        value = Decimal(match.group(2).replace(",", ""))
    except InvalidOperation:
        return match.group()
    multiplier = match.group(3) or match.group(4)
    if multiplier:
        value *= _MULTIPLIERS[multiplier]
    shown = format(value.normalize(), "f")
    currency = "$ " if match.group(1) else ""
    return f" {currency}#{shown} "


def tokenize(text: str, contractions: dict[str, str]) -> list[Word]:
    """The question's words in order, amounts as values, contractions expanded."""
    plain = _AMOUNT.sub(_amount_value, normalise(text))
    out: list[Word] = []
    for match in _TOKEN.finditer(plain):
        token = match.group()
        for part in _expand(token, contractions).split():
            out.append(Word(part, match.group()))
    return out


def _expand(token: str, contractions: dict[str, str]) -> str:
    if token in contractions:
        return contractions[token]
    if token.endswith("n't") and "n't" in contractions:
        return token[:-3] + " " + contractions["n't"]
    # Possessives: "the buyer's agent" asks about the same agent as "the buyer agent".
    if token.endswith("'s"):
        return token[:-2]
    return token.rstrip("'")


def stem(word: str, irregular: dict[str, str]) -> str:
    """Undo inflection: plurals, -ed, a final e ("closes", "closed", "close" → clos).

    Comparatives and derivations are left alone: "newer" is not "new", "monthly" not "month".
    """
    if word in irregular:
        word = irregular[word]
    if word.endswith(("ies", "ied")) and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("es") and word[:-2].endswith(("x", "z", "ch", "sh", "ss")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        word = word[:-1]
    # "-ing" stays: in these questions it mostly makes nouns (listing, showing, closing).
    if word.endswith("ed") and len(word) >= 5:
        word = _undouble(word[:-2])
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def _undouble(word: str) -> str:
    # "planned" → "plann" → "plan"; "called" keeps its double l.
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeioulsz":
        return word[:-1]
    return word
