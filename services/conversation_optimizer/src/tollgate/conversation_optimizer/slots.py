"""What a user sentence is about (its slots), and whether it corrects something said before.

A *slot* is named by the kind of value a sentence states (an amount, a date, a time) or by one of
its topic words ("cash", "lease", "cabinets", "fridge"): two user sentences that share a slot
speak about the same thing. No domain list is involved, so "budget" and "financing" are not
slots by name; a correction is matched to the earlier statement by what the two share.

A sentence *corrects* when it says so: "actually", "instead", "changed our mind", "no longer",
"scratch that", "change of plan", "not anymore", "now" ... A new value for a slot without any of
these words is not treated as a correction: both stay, in the order they were said, and the
later one reads as the current one.
"""

from __future__ import annotations

import re

from tollgate.conversation_optimizer.facts import find_spans

_CORRECTION = re.compile(
    r"\b(?:actually|instead|changed? (?:our|my|their) minds?|change of plans?|changed|"
    r"no longer|not any ?more|scratch that|on second thought|correct(?:ed|ion)|"
    r"switch(?:ed|ing)?|update[ds]?|now|rather than|after all)\b",
    re.IGNORECASE,
)
# Words that say nothing about what a sentence is about.
_FUNCTION_WORD_TEXT = """
    about after again also although always another because been before being both cannot
    could does doing done during each either even ever every from have having here into just
    know like little make many might more most much must need needs only other ours over
    really same should since some still such than that their them then there these they
    thing things think this those though through very want wants well were what when where
    which while will with would your yours okay sure right good great also maybe please
    going talked told said says able want wanted prefer love fine nice"""
_FUNCTION_WORDS = frozenset(_FUNCTION_WORD_TEXT.split())
# Words of four letters or more; contractions ("we'd", "don't") say nothing about the topic.
_WORD = re.compile(r"(?<![a-z'])[a-z][a-z-]{3,}(?![a-z'])")
_SUFFIX = re.compile(r"(?:ing|ed|es|s)$")
_VALUE_KINDS = frozenset({"money", "date", "time"})
# A shared kind of value (two amounts, two dates) says more than a shared word.
VALUE_WEIGHT = 2


def corrects(sentence: str) -> bool:
    return _CORRECTION.search(sentence) is not None


def slots(sentence: str) -> frozenset[str]:
    """The slots a sentence speaks about: its value kinds and its topic words (crudely stemmed,
    so "fenced" and "fencing" are one)."""
    kinds = {f"<{s.kind}>" for s in find_spans(sentence) if s.kind in _VALUE_KINDS}
    without_cues = _CORRECTION.sub(" ", sentence.lower())
    stems = {_SUFFIX.sub("", w) for w in _WORD.findall(without_cues) if w not in _FUNCTION_WORDS}
    return frozenset(kinds | {stem for stem in stems if len(stem) >= 4})


def overlap(a: frozenset[str], b: frozenset[str]) -> int:
    """How strongly two sentences' slots say they are about the same thing (0: not at all)."""
    return sum(VALUE_WEIGHT if slot.startswith("<") else 1 for slot in a & b)
