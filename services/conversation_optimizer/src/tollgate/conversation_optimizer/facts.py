"""Finding the facts in a sentence: money, numbers, dates, places, names, contacts, requirements.

A *span* is a stretch of text that states a fact ("$650,000", "June 15", "Saturday at 10:30 AM",
"41 Alder Street", "three bedrooms", "Summit Bank", "(555) 014-2281"). Its *key* is a normalised
form ("650000", "june 15", ...) used to tell whether a fact has been noted already. A sentence
states a *requirement* when it carries a cue such as "need", "must", "looking for" or
"deal-breaker", even without any span ("we must have a fenced yard").

The rules are general-purpose on purpose (no list of neighbourhoods or lenders): what they find is
what the facts note keeps and what pruning of low-value sentences never removes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)(?![A-Za-z])"
)
_WEEKDAY = r"(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day"
# A full stop after "AM"/"a.m" usually ends the sentence; it is not part of the time.
_TIME = r"\d{1,2}(?::\d{2})?\s?(?:[AaPp]\.?[Mm])\b|\d{1,2}:\d{2}|noon|midnight"
_ORDINAL = r"\d{1,2}(?:st|nd|rd|th)?(?!\d)"
_NUMBER_WORDS = (
    r"(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
    r"eighty|ninety|hundred|thousand|million|dozen)"
)
# "one", "single", "half" are counts only before a unit ("one bedroom", "a half bath"); elsewhere
# they are ordinary words ("one step at a time").
_UNIT_WORDS = (
    r"(?:bed(?:room)?s?|bath(?:room)?s?|car|garage|stor(?:y|ies)|level|floor|acre|year|month|"
    r"week|day|hour|minute|mile|block|unit|kid|child|dog|cat|pet|person|people|income|family)"
)
_STREET_SUFFIX = (
    r"(?:Street|St\.?|Avenue|Ave\.?|Road|Rd\.?|Lane|Ln\.?|Drive|Dr\.?|Court|Ct\.?|Way|Place|"
    r"Pl\.?|Terrace|Boulevard|Blvd\.?|Circle|Cir\.?|Parkway|Pkwy\.?|Highway|Hwy\.?|Square|Row|"
    r"Trail|Crescent|Close|Loop)"
)
_CAPITALISED = r"[A-Z][A-Za-z'\u2019.&-]*"

# Alternatives of one pattern, tried in this order at each position: the leftmost match wins,
# and at the same position the earlier kind ("June 15" is a date before it is a name).
_KINDS: list[tuple[str, str]] = [
    ("email", r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    ("url", r"https?://\S+[\w/]"),
    ("phone", r"(?:\+\d{1,3}[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}\b"),
    ("address", rf"\b\d{{1,6}}\s+(?:{_CAPITALISED}\s+){{0,3}}{_STREET_SUFFIX}(?![A-Za-z])"),
    (
        "date",
        rf"\b(?:(?:{_WEEKDAY}),?\s+)?(?:(?:the\s+)?(?:end|middle|beginning|start|first|last)"
        rf"\s+(?:week\s+)?of\s+(?:the\s+)?{_MONTH}|(?:mid|early|late)-?\s?{_MONTH}|"
        rf"{_MONTH}\.?\s+{_ORDINAL}(?:,?\s+\d{{4}})?|{_ORDINAL}\s+(?:of\s+)?{_MONTH}|"
        rf"{_MONTH}\s+\d{{4}}|{_MONTH}|{_WEEKDAY})(?:,?\s+(?:at|by|around)\s+(?:{_TIME}))?"
        r"|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b",
    ),
    (
        "relative_date",
        r"(?i:\b(?:today|tomorrow|tonight|yesterday|(?:next|this|last)\s+(?:week|weekend|month|"
        r"year|spring|summer|fall|autumn|winter)|(?:end|middle|beginning)\s+of\s+(?:the\s+)?"
        r"(?:week|month|year|quarter))\b)",
    ),
    ("time", rf"\b(?:{_TIME})(?![\w])"),
    (
        "money",
        r"(?:US)?\$\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:k|K|m|M|mm|million|thousand|billion)\b)?"
        r"|\b\d[\d,]*(?:\.\d+)?\s?(?:dollars|USD|usd)\b",
    ),
    (
        "number",
        r"(?i:\b\d[\d,]*(?:\.\d+)?(?:%|(?:st|nd|rd|th)\b|(?:[\s-]?[A-Za-z][a-z]*){0,1})"
        rf"|\b{_NUMBER_WORDS}(?:[\s-]and[\s-]a[\s-]half)?(?:[\s-][a-z]+)\b"
        rf"|\b(?:one|single|half|a half)[\s-]{_UNIT_WORDS}\b)",
    ),
    ("name", rf"\b{_CAPITALISED}(?:\s+(?:of\s+|de\s+|van\s+)?{_CAPITALISED})*"),
]
# Every fact starts at the beginning of a word, at "$", "(" or "+": the guard in front lets the
# engine skip positions inside words without trying each alternative there (about 2x faster).
_FACT = re.compile(
    r"(?:(?<![\w.+-])(?=[\w(+])|(?=\$))(?:"
    + "|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _KINDS)
    + ")"
)

_REQUIREMENT = re.compile(
    r"\b(?:need(?:s|ed)?|must|required?|requirements?|has to|have to|want(?:s|ed)?|"
    r"looking for|prefer(?:s|red)?|preference|deal[- ]?breakers?|non[- ]?negotiable|can't|"
    r"cannot|won't|don't want|do not want|no more than|at least|at most|up to|maximum|minimum|"
    r"avoid|allergic|important|priority|ideally|only|budget|ceiling|limit|afford)\b",
    re.IGNORECASE,
)

# Capitalised words that start sentences without naming anything.
_COMMON_WORDS = """
    a about absolutely actually after again all also although always an and another any
    anyway are as at awesome be because been before being best both but by can could
    definitely did do does done during each either even every everything excellent fantastic
    feel finally first for from get getting give glad go going good got great had happy has
    have having he hello her here hey hi his honestly hope how however i i'd i'll i'm i've if
    in instead is it it's its just kind last let let's like looking lovely maybe me meanwhile
    might more most my next nice no nope not nothing now of oh ok okay on once one only or
    other our perfect perhaps please quick quite really right says see she should since so
    some something sorry sounds still such sure thank thanks that that's the their them then
    there there's these they they're this those though through to too totally two unfortunately
    until up us very was we we'd we'll we're we've welcome well were what what's when where
    whether which while who why will with without wonderful would yeah yes yet you you'd you'll
    you're you've your"""
_COMMON_CAPITALISED = frozenset(_COMMON_WORDS.split())


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str
    text: str

    @property
    def key(self) -> str:
        """Normalised text: two spans with the same key state the same fact."""
        lowered = " ".join(self.text.lower().split()).rstrip(".,;:!?")
        if self.kind in ("money", "number"):
            # "$650,000" and "$650000" are one fact; a bare 650000 (a tool argument) is kept apart
            # so that it never stands in for what a person wrote.
            return lowered.replace(",", "")
        return lowered


def _name_span(match: re.Match[str], sentence: str, known_names: frozenset[str]) -> Span | None:
    """The proper noun in a run of capitalised words, without ordinary opening words."""
    text = match.group().rstrip(".")
    words = text.split()
    skip = 0
    while skip < len(words) and words[skip].lower() in _COMMON_CAPITALISED:
        skip += 1
    if skip == len(words):
        return None
    offset = text.index(words[skip], sum(len(w) for w in words[:skip]))
    start = match.start() + offset
    name = text[offset:]
    at_start = not sentence[:start].strip(" \"'(-*#>\u2022")
    # A lone capitalised word opening a sentence is an ordinary word ("Traffic was awful")
    # unless the conversation uses it as a name elsewhere ("we like Lakeview").
    if at_start and len(words) - skip == 1 and words[skip] not in known_names:
        return None
    return Span(start, start + len(name), "name", name)


def find_spans(sentence: str, known_names: frozenset[str] = frozenset()) -> list[Span]:
    """Non-overlapping fact spans of one sentence, in order."""
    spans: list[Span] = []
    for match in _FACT.finditer(sentence):
        kind = match.lastgroup or ""
        if kind == "relative_date":
            kind = "date"
        span: Span | None
        if kind == "name":
            span = _name_span(match, sentence, known_names)
        else:
            text = match.group().rstrip()
            span = Span(match.start(), match.start() + len(text), kind, text) if text else None
        if span is not None:
            spans.append(span)
    return spans


def has_requirement(sentence: str) -> bool:
    return _REQUIREMENT.search(sentence) is not None


_MID_SENTENCE_NAME = re.compile(r"(?<=[a-z,;:]\s)([A-Z][a-z][A-Za-z'\u2019-]*)")


def names_used_mid_sentence(texts: Iterable[str]) -> frozenset[str]:
    """Capitalised words seen after a lower-case word: proper nouns of the conversation."""
    found: set[str] = set()
    for text in texts:
        found.update(_MID_SENTENCE_NAME.findall(text))
    return frozenset(word for word in found if word.lower() not in _COMMON_CAPITALISED)
