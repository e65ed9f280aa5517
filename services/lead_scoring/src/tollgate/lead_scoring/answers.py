"""Reading the free-text answers to the seven qualification questions.

Agents type what the lead said, so answers are short free text ("$450k", "within 3 months",
"yes, pre-approved with Chase"). These helpers pull out the few facts the scores depend on; they
are deliberately conservative: an answer counts as specific only when a rule recognises it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

QUESTIONS: tuple[str, ...] = (
    "budget",
    "timeline",
    "location",
    "pre_approval",
    "motivation",
    "property_type",
    "contact_preference",
)

# Answers that say nothing; they count as answered but never as specific.
_VAGUE = re.compile(
    r"^\s*(n/?a|none|unknown|not sure|unsure|don'?t know|idk|no idea|maybe|tbd|\?+|-+|"
    r"anywhere|whatever|any|flexible|not yet decided|undecided)\s*[.!]?\s*$",
    re.IGNORECASE,
)
_AMOUNT = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*(k|m|mm|thousand|million)?\b", re.IGNORECASE)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(day|week|month|year|yr|mo)s?\b", re.IGNORECASE)
_NOW_WORDS = re.compile(
    r"\b(asap|immediately|right away|now|this month|next month|urgent|this week)\b", re.IGNORECASE
)
_LATER_WORDS = re.compile(
    r"\b(next year|this year|spring|summer|fall|autumn|winter|end of (the )?year|"
    r"january|february|march|april|may|june|july|august|september|october|november|december)\b",
    re.IGNORECASE,
)
_YES_APPROVED = re.compile(
    r"\b(yes|yep|approved|pre-?approved|preapproved|cash|have (a )?letter)\b", re.IGNORECASE
)
_NO_WORDS = re.compile(r"\b(no|not|haven'?t|never|nope)\b", re.IGNORECASE)
_PROPERTY_TYPES = re.compile(
    r"\b(house|home|single[- ]family|condo|condominium|apartment|townhouse|townhome|duplex|"
    r"triplex|multi[- ]family|land|lot|loft|studio|bungalow|ranch|villa|cottage|penthouse|"
    r"mobile home|farm|commercial)\b",
    re.IGNORECASE,
)
_CHANNELS = re.compile(
    r"\b(phone|call|calls|text|texts|sms|email|e-mail|whatsapp|mornings?|evenings?|afternoons?|"
    r"weekends?|\d{1,2}\s*(am|pm))\b",
    re.IGNORECASE,
)


def answered(text: str) -> bool:
    return bool(text.strip())


def is_vague(text: str) -> bool:
    return bool(_VAGUE.match(text))


def budget_amount(text: str) -> int | None:
    """The largest dollar amount named, in whole dollars ("450k" → 450000), or None."""
    best: int | None = None
    for number, unit in _AMOUNT.findall(text):
        value = float(number.replace(",", ""))
        unit = unit.lower()
        if unit in ("k", "thousand"):
            value *= 1_000
        elif unit in ("m", "mm", "million"):
            value *= 1_000_000
        # Bare small numbers ("2 bedrooms") are not budgets.
        if value >= 10_000 and (best is None or value > best):
            best = int(value)
    return best


def timeline_months(text: str) -> float | None:
    """How many months until the lead means to move, when the answer says; else None."""
    if _NOW_WORDS.search(text):
        return 0.5
    match = _DURATION.search(text)
    if match:
        amount = float(match.group(1))
        unit = match.group(2).lower()
        per_month = {"day": 1 / 30, "week": 0.25, "month": 1.0, "mo": 1.0, "year": 12.0}
        return amount * per_month.get(unit, 12.0)
    if _LATER_WORDS.search(text):
        return 6.0
    return None


def is_pre_approved(text: str) -> bool:
    """A yes (or cash buyer) that is not negated ("not approved yet" is a no)."""
    return bool(_YES_APPROVED.search(text)) and not _NO_WORDS.search(text)


def names_property_type(text: str) -> bool:
    return bool(_PROPERTY_TYPES.search(text))


def names_contact_channel(text: str) -> bool:
    return bool(_CHANNELS.search(text))


@dataclass(frozen=True)
class AnswerAssessment:
    question: str
    answered: bool
    specific: bool

    @property
    def points(self) -> float:
        """1 for a specific answer, 0.5 for a vague one, 0 when unanswered."""
        if not self.answered:
            return 0.0
        return 1.0 if self.specific else 0.5


def _specific(question: str, text: str) -> bool:
    if is_vague(text):
        return False
    if question == "budget":
        return budget_amount(text) is not None
    if question == "timeline":
        return timeline_months(text) is not None
    if question == "location":
        # A place name: at least three letters.
        return len(re.findall(r"[A-Za-z]", text)) >= 3
    if question == "pre_approval":
        # Either way is a clear answer; "maybe"-like answers were caught as vague above.
        return bool(_YES_APPROVED.search(text) or _NO_WORDS.search(text))
    if question == "motivation":
        # A reason, not a word: "relocating for a new job", "growing family".
        return len(text.split()) >= 3
    if question == "property_type":
        return names_property_type(text)
    if question == "contact_preference":
        return names_contact_channel(text)
    raise ValueError(f"unknown question {question!r}")


def assess(answers: Mapping[str, str]) -> list[AnswerAssessment]:
    """One assessment per question, in the order of QUESTIONS."""
    result = []
    for question in QUESTIONS:
        text = answers.get(question, "")
        given = answered(text)
        result.append(AnswerAssessment(question, given, given and _specific(question, text)))
    return result
