"""The conversion signal explained in an agent's words: what about this lead helps, what holds
it back. Effects are measured against a lead that told us nothing, not against the averages of
the training data, so "pre-approved" helps every pre-approved lead the same way."""

from __future__ import annotations

import math

from tollgate.lead_scoring.answer_financing import Financing
from tollgate.lead_scoring.lead_input import LeadInput
from tollgate.lead_scoring.model import LogisticModel

# Effects smaller than this (on the logit) are not worth an agent's attention.
_NOTABLE = 0.05
_SHOWN = 3
_SILENT_WHEN_ZERO = frozenset({"no_contact_yet", "referral_source"})


def _count(value: float) -> int:
    return round(math.expm1(value))


def _phrase(name: str, value: float, lead: LeadInput, qualification_answered: int) -> str:
    answers = lead.answers
    if name == "qualification_points":
        return f"answered {qualification_answered} of 7 questions"
    if name == "financing_ready":
        if answers.financing.financing is Financing.CASH:
            return "a cash buyer"
        return "pre-approved" if value else "no financing in place yet"
    if name == "budget_stated":
        return "gave a budget" if value else "no budget yet"
    if name == "moving_within_90_days":
        return "moving within 90 days" if value else "no move planned within 90 days"
    if name == "referral_source":
        return "came by referral" if value else "not a referral"
    if name == "quiet_days":
        return f"quiet for {value * 30:.0f} days"
    if name == "no_contact_yet":
        return "brand-new, no contact yet" if value else "already in contact"
    labels = {
        "log_replies_30d": "replies",
        "log_visits_30d": "visits",
        "log_opens_30d": "opens",
        "log_messages_30d": "messages from us",
    }
    return f"{_count(value)} {labels.get(name, name)} in the last 30 days"


def conversion_explanation(
    model: LogisticModel,
    lead: LeadInput,
    features: list[float],
    reference: list[float],
    probability: float,
    answered: int,
) -> str:
    values = dict(zip(model.feature_names, features, strict=True))
    # "Not new" and "not a referral" tell an agent nothing about this lead.
    effects = [
        (name, effect)
        for name, effect in model.effects(features, reference)
        if not (name in _SILENT_WHEN_ZERO and values[name] == 0)
    ]
    helps = [n for n, e in effects if e >= _NOTABLE][:_SHOWN]
    hurts = [n for n, e in effects if e <= -_NOTABLE][:_SHOWN]
    parts = [f"Likely to convert: {probability:.0%} by the model {model.version}"]
    if model.trained_on_synthetic_data:
        parts[0] += " (fitted on synthetic data: train it on your own outcomes before trusting it)"
    if helps:
        parts.append("helps: " + ", ".join(_phrase(n, values[n], lead, answered) for n in helps))
    if hurts:
        parts.append(
            "holds it back: " + ", ".join(_phrase(n, values[n], lead, answered) for n in hurts)
        )
    return "; ".join(parts) + "."
