"""The seven qualification answers, read into facts the scores use.

A CRM may send the answers as structured fields (budget range, financing, move date, areas,
property types, contact channels); a field that is set is used as is. Otherwise the free text of
its question is read by the readers in `answer_*.py`, against the day of scoring (`as_of`) for
dates. An answer that says nothing ("not sure", "just looking") leaves the fact unknown.

Each question earns 1 point when its fact is known, ½ when answered but unknown, 0 when not
answered; motivation has no structured form and is specific unless it says nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from tollgate.lead_scoring.answer_budget import BudgetRange, read_budget
from tollgate.lead_scoring.answer_dates import move_by
from tollgate.lead_scoring.answer_financing import Financing, FinancingState, read_financing
from tollgate.lead_scoring.answer_preferences import (
    ContactWish,
    PropertyWish,
    read_areas,
    read_contact,
    read_property,
)
from tollgate.lead_scoring.answer_text import says_nothing

QUESTIONS: tuple[str, ...] = (
    "budget",
    "timeline",
    "location",
    "pre_approval",
    "motivation",
    "property_type",
    "contact_preference",
)


@dataclass(frozen=True)
class AnswerAssessment:
    question: str
    answered: bool
    specific: bool

    @property
    def points(self) -> float:
        """1 for a specific answer, 0.5 for one that says nothing, 0 when unanswered."""
        if not self.answered:
            return 0.0
        return 1.0 if self.specific else 0.5


@dataclass(frozen=True)
class ReadAnswers:
    """What the lead told us, as facts. `structured` names the questions given as fields."""

    budget: BudgetRange | None = None
    financing: FinancingState = field(default_factory=lambda: FinancingState(Financing.UNKNOWN))
    move_by: date | None = None
    areas: tuple[str, ...] = ()
    property: PropertyWish = field(default_factory=PropertyWish)
    contact: ContactWish = field(default_factory=ContactWish)
    motivation: str = ""
    texts: Mapping[str, str] = field(default_factory=dict)
    structured: frozenset[str] = frozenset()

    def known(self, question: str) -> bool:
        if question == "budget":
            return self.budget is not None
        if question == "timeline":
            return self.move_by is not None
        if question == "location":
            return bool(self.areas)
        if question == "pre_approval":
            return self.financing.financing is not Financing.UNKNOWN
        if question == "motivation":
            return bool(self.motivation.strip()) and not says_nothing(self.motivation)
        if question == "property_type":
            return self.property.known
        if question == "contact_preference":
            return self.contact.known
        raise ValueError(f"unknown question {question!r}")

    def assess(self) -> list[AnswerAssessment]:
        """One assessment per question, in the order of QUESTIONS."""
        result = []
        for question in QUESTIONS:
            given = question in self.structured or bool(self.texts.get(question, "").strip())
            result.append(AnswerAssessment(question, given, given and self.known(question)))
        return result

    def days_to_move(self, as_of: date) -> float | None:
        return None if self.move_by is None else float((self.move_by - as_of).days)


def read_answers(texts: Mapping[str, str], as_of: date) -> ReadAnswers:
    """The free-text answers read against `as_of`."""
    return ReadAnswers(
        budget=read_budget(texts.get("budget", "")),
        financing=read_financing(texts.get("pre_approval", ""), as_of),
        move_by=move_by(texts.get("timeline", ""), as_of),
        areas=read_areas(texts.get("location", "")),
        property=read_property(texts.get("property_type", "")),
        contact=read_contact(texts.get("contact_preference", "")),
        motivation=texts.get("motivation", ""),
        texts=dict(texts),
    )
