"""Small helpers every answer reader shares: clauses, number words, "don't know" answers."""

from __future__ import annotations

import re

# Answers that give no information. Matched against the whole answer (after trimming), so a
# sentence that merely contains "not sure" next to a real fact is still read for the fact.
_NO_INFORMATION = re.compile(
    r"^\s*(?:i'?m |we'?re |i am |we are )?(?:"
    r"n/?a|none|unknown|not sure(?: yet)?(?: what that means)?|unsure|"
    r"(?:i |we )?(?:don'?t|do not) know(?: yet)?|dunno|idk|no idea(?: honestly)?|"
    r"maybe|tbd|tba|\?+|-+|undecided|not (?:yet )?decided|"
    r"prefer not to say|rather not say|haven'?t (?:figured|decided)(?: that out| yet)?|"
    r"any|anything|anywhere|whatever(?: works)?|wherever|flexible|open|"
    r"open to (?:anything|suggestions)|"
    r"no preference|doesn'?t matter|either|(?:just )?(?:looking|browsing)(?: around)?|"
    r"(?:no rush, )?just (?:looking|browsing)(?: around)?"
    r")\s*[.!?]*\s*$",
    re.IGNORECASE,
)

NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "couple": 2,
    "few": 3,
}

# Where one thought ends and the next starts: "no calls, text me", "house - no condos".
_CLAUSE_BREAK = re.compile(r"\s*(?:[,;.!]|\s-+\s|\bbut\b)\s*", re.IGNORECASE)


def says_nothing(text: str) -> bool:
    """True for an answer that carries no information ("not sure", "idk", "anywhere")."""
    return bool(_NO_INFORMATION.match(text))


def clauses(text: str) -> list[str]:
    return [part for part in _CLAUSE_BREAK.split(text) if part.strip()]


def number(word: str) -> float | None:
    """ "3" → 3, "three" → 3, "couple" → 2; None when it is not a count."""
    word = word.lower()
    if word in NUMBER_WORDS:
        return float(NUMBER_WORDS[word])
    try:
        return float(word)
    except ValueError:
        return None


NUMBER_PATTERN = r"(\d+(?:\.\d+)?|" + "|".join(NUMBER_WORDS) + r")"
