"""Recommended actions for the agent, ranked, from plain rules on what the lead told us.

A lender is suggested only to a lead with no financing or only a pre-qualification: never to a
cash buyer or a pre-approved one, and a suggestion from Claude that would do so is set aside.
The channel is the lead's preferred one and never one they excluded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tollgate.lead_scoring.answer_financing import Financing
from tollgate.lead_scoring.answer_preferences import Channel
from tollgate.lead_scoring.answers import ReadAnswers
from tollgate.lead_scoring.blend import LeadClass
from tollgate.lead_scoring.churn import ChurnResult
from tollgate.lead_scoring.qualification import QualificationResult

HIGH_CHURN_RISK = 70.0
# A lead moving within this many days without financing needs a lender now.
LENDER_HORIZON_DAYS = 180
_LENDER_WORDS = re.compile(r"\b(lender|mortgage|pre-?approv|loan officer|financing)", re.IGNORECASE)


@dataclass(frozen=True)
class Action:
    action: str
    reason: str
    channel: Channel | None = None


def _by(channel: Channel | None) -> str:
    return (
        ""
        if channel is None
        else {Channel.PHONE: " by phone", Channel.TEXT: " by text", Channel.EMAIL: " by email"}[
            channel
        ]
    )


def _where(answers: ReadAnswers) -> str:
    return f" in {', '.join(answers.areas[:3])}" if answers.areas else ""


def recommended_actions(
    lead_class: LeadClass,
    answers: ReadAnswers,
    qualification: QualificationResult,
    churn: ChurnResult,
    days_to_move: float | None,
) -> list[Action]:
    """Every action that applies, most useful first (at least one)."""
    channel = answers.contact.channel()
    by = _by(channel)
    financing = answers.financing.financing
    actions: list[Action] = []
    if lead_class is LeadClass.HOT and answers.financing.ready:
        how = "a cash buyer" if financing is Financing.CASH else "pre-approved"
        actions.append(
            Action(
                f"Reach out today{by} to book showings{_where(answers)}.",
                f"Hot lead and {how}: they can make an offer now.",
                channel,
            )
        )
    elif lead_class is LeadClass.HOT:
        actions.append(
            Action(f"Reach out today{by}.", "Hot lead: answer while they are engaged.", channel)
        )
    soon = days_to_move is not None and days_to_move <= LENDER_HORIZON_DAYS
    if financing in (Financing.NONE, Financing.PRE_QUALIFIED) and (
        soon or lead_class is LeadClass.HOT
    ):
        state = "only pre-qualified" if financing is Financing.PRE_QUALIFIED else "not pre-approved"
        actions.append(
            Action(
                "Introduce a lender to get them fully pre-approved.",
                f"They plan to move soon and are {state}.",
                None,
            )
        )
    if financing is Financing.UNKNOWN and qualification.answered > 0:
        actions.append(
            Action(
                f"Ask{by} how they plan to pay: cash or a mortgage (and if pre-approved).",
                "We do not know how they will pay yet.",
                channel,
            )
        )
    if churn.available and churn.risk >= HIGH_CHURN_RISK:
        actions.append(
            Action(
                f"Re-engage with a personal check-in{by} and fresh listings{_where(answers)}.",
                f"They have gone quiet (churn risk {churn.risk:.0f}/100).",
                channel,
            )
        )
    missing = [q.replace("_", " ") for q in qualification.missing]
    if missing:
        actions.append(
            Action(
                f"Ask the missing questions{by}: {', '.join(missing)}.",
                f"{len(missing)} of 7 qualification questions are unanswered.",
                channel,
            )
        )
    if lead_class is LeadClass.WARM:
        actions.append(
            Action(
                f"Send curated listings{_where(answers)}{by} and follow up in 2-3 days.",
                "Warm lead: keep them engaged with homes that fit.",
                channel,
            )
        )
    if lead_class is LeadClass.COLD:
        actions.append(
            Action(
                "Add to the monthly nurture campaign and revisit when they engage.",
                "Cold lead: little sign of intent yet.",
                None,
            )
        )
    if channel is None and answers.contact.excluded:
        actions.append(
            Action(
                "Agree a contact channel: they asked not to be reached by "
                + ", ".join(sorted(c.value for c in answers.contact.excluded))
                + ".",
                "Every usual channel is excluded.",
                None,
            )
        )
    return actions


def suggestion_fits(action: str, answers: ReadAnswers) -> bool:
    """False when a suggested action contradicts the facts (a lender for a cash buyer)."""
    return not (answers.financing.ready and _LENDER_WORDS.search(action))
