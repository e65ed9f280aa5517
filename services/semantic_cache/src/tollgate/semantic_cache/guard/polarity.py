"""Negation and comparison in a question: the words that flip or bound what it asks.

"under $500k" and "over $500k", "the cheapest" and "the most expensive", "before Friday" and
"after Friday" embed almost identically. Each phrase maps to a direction class, synonyms to the
same class ("under", "below", "less than", "at most", "up to" are all `cap`), and two questions
must carry the same classes. Negations are counted: "is it pet-friendly" and "is it not
pet-friendly" differ by one. Phrases that contain a negation but bound a value ("no more than")
are read as the bound, not as a negation.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from tollgate.semantic_cache.guard.text import words


def _phrases(table: dict[str, str]) -> dict[tuple[str, ...], str]:
    """{"no more than | at most": "cap"} → {("no", "more", "than"): "cap", ("at", "most"): ...}."""
    out: dict[tuple[str, ...], str] = {}
    for spelled, direction in table.items():
        for phrase in spelled.split("|"):
            out[tuple(phrase.split())] = direction
    return out


# Longest phrases are tried first, so "more expensive" wins over "more".
_DIRECTIONS = _phrases(
    {
        # Upper bounds.
        "no more than | not more than | no higher than | no greater than | not over | not above"
        " | not exceeding | not exceed | at most | up to | or less | or fewer | or under"
        " | or below | or lower | or cheaper | less than | fewer than | lower than | cheaper than"
        " | under | below | beneath | underneath | max | maximum | within | capped at": "cap",
        # Lower bounds.
        "no less than | not less than | no fewer than | not under | not below | at least"
        " | or more | or higher | or above | or over | or greater | or bigger | or larger"
        " | more than | greater than | higher than | bigger than | larger than | over | above"
        " | exceeding | exceeds | exceed | min | minimum | upwards of": "floor",
        "no later than | not after | before | prior to | until | till | earlier than": "before",
        "no earlier than | not before | after | later than | since": "after",
        # Price.
        "cheapest | least expensive | lowest priced | lowest-priced | lowest price"
        " | lowest cost | most affordable | least costly": "cheapest",
        "most expensive | priciest | highest priced | highest-priced | highest price"
        " | most costly": "most_expensive",
        "cheaper | less expensive | more affordable | lower priced | lower-priced"
        " | less costly": "cheaper",
        "pricier | more expensive | costlier | more costly | higher priced"
        " | higher-priced": "pricier",
        # Size.
        "largest | biggest | most spacious": "largest",
        "smallest | tiniest | least spacious": "smallest",
        "bigger | larger | more spacious": "bigger",
        "smaller | tinier | less spacious": "smaller",
        # Age and recency.
        "newest | latest | most recent | most recently": "newest",
        "oldest | earliest | least recent | least recently": "oldest",
        "newer | more recent": "newer",
        "older": "older",
        # Distance.
        "closest | nearest": "closest",
        "farthest | furthest": "farthest",
        "closer | nearer": "closer",
        "farther": "farther",
        # Generic extremes and comparisons.
        "most | best | highest | top | greatest": "most",
        "least | worst | lowest | bottom | fewest": "least",
        "more | higher | greater": "more",
        "less | fewer | lower": "less",
        # Change.
        "increase | increased | increases | increasing | rise | rises | rising | rose | raise"
        " | raised | raising | grow | grows | growing | grew | go up | went up | gone up"
        " | goes up": "increase",
        "decrease | decreased | decreases | decreasing | drop | drops | dropped | dropping"
        " | decline | declines | declined | declining | fall | falls | falling | fell | reduce"
        " | reduces | reduced | reducing | cut | cuts | go down | went down | gone down"
        " | goes down": "decrease",
        # Time spans, not bounds: "over the past week" means "in the past week".
        "over the past | over the last | over the next | over the phone | in the past": "",
    }
)
_LONGEST = max(len(p) for p in _DIRECTIONS)
_NEGATIONS = frozenset(
    {
        "not",
        "no",
        "never",
        "none",
        "nobody",
        "nothing",
        "nowhere",
        "neither",
        "nor",
        "without",
        "cannot",
        "excluding",
        "except",
        "exclude",
        "excludes",
        "excluded",
        "lacking",
        "lacks",
        "lack",
    }
)
_NEGATION_PHRASES = {("other", "than")}
# "3+ beds", "$500k+": a lower bound written as a sign.
_PLUS_SIGN = re.compile(r"\d[\dkKmM]*\s?\+")


@dataclass(frozen=True)
class Polarity:
    directions: Counter[str]
    # The words behind each class, for the refusal message.
    direction_surfaces: dict[str, str]
    negations: int
    negation_surfaces: tuple[str, ...]


def extract_polarity(text: str, date_spans: Sequence[tuple[int, int]] = ()) -> Polarity:
    """Directions and negations of `text`; words inside `date_spans` ("this fall") are dates,
    not directions, though they still complete phrases such as "over the past week"."""
    found = words(text)
    in_date = [any(s <= w.start < e for s, e in date_spans) for w in found]
    tokens, in_date = _merge_compounds([w.lower for w in found], in_date)
    directions: Counter[str] = Counter()
    surfaces: dict[str, str] = {}
    negations: list[str] = []
    index = 0
    while index < len(tokens):
        for size in range(min(_LONGEST, len(tokens) - index), 0, -1):
            phrase = tuple(tokens[index : index + size])
            direction = _DIRECTIONS.get(phrase)
            if direction is not None and direction and any(in_date[index : index + size]):
                continue
            if direction is not None:
                if direction:
                    directions[direction] += 1
                    surfaces.setdefault(direction, " ".join(phrase))
                index += size
                break
            if phrase in _NEGATION_PHRASES:
                negations.append(" ".join(phrase))
                index += size
                break
        else:
            token = tokens[index]
            if token in _NEGATIONS or token.endswith("n't") or token.startswith("non-"):
                negations.append(token)
            index += 1
    for match in _PLUS_SIGN.finditer(text):
        directions["floor"] += 1
        surfaces.setdefault("floor", match.group())
    return Polarity(directions, surfaces, len(negations), tuple(negations))


def _merge_compounds(tokens: list[str], flags: list[bool]) -> tuple[list[str], list[bool]]:
    """ "follow up" is one word: its "up" must not start "up to"."""
    merged: list[str] = []
    merged_flags: list[bool] = []
    for token, flag in zip(tokens, flags, strict=True):
        if token == "up" and merged and merged[-1] in ("follow", "followed", "following"):
            merged[-1] = merged[-1] + "-up"
            continue
        merged.append(token)
        merged_flags.append(flag)
    return merged, merged_flags
