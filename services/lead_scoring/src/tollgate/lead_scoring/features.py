"""The conversion model's inputs, computed by one function from a lead's facts as of a moment.

A scored lead and a training row (raw events with a snapshot date) both become a `LeadInput`
first, so a model is always fitted on exactly what scoring computes.
"""

from __future__ import annotations

import math

from tollgate.lead_scoring.engagement import summarise
from tollgate.lead_scoring.lead_input import LeadInput
from tollgate.lead_scoring.qualification import score_qualification

FEATURE_NAMES: tuple[str, ...] = (
    "qualification_points",
    "financing_ready",
    "budget_stated",
    "moving_within_90_days",
    "referral_source",
    "log_replies_30d",
    "log_visits_30d",
    "log_opens_30d",
    "log_messages_30d",
    "quiet_days",
    "no_contact_yet",
)

# Sources that bring leads who already trust the agent.
_REFERRAL_SOURCES = frozenset({"referral", "past_client", "repeat", "sphere"})
URGENT_DAYS = 90


def feature_vector(lead: LeadInput, qualification_points: float | None = None) -> list[float]:
    """Values in the order of FEATURE_NAMES (pass the qualification points if already known)."""
    if qualification_points is None:
        qualification_points = score_qualification(lead.answers).points
    days = lead.answers.days_to_move(lead.as_of_date)
    engagement = summarise(lead.events)
    return [
        qualification_points,
        float(lead.answers.financing.ready),
        float(lead.answers.budget is not None),
        float(days is not None and days <= URGENT_DAYS),
        float(lead.source.strip().lower().replace(" ", "_") in _REFERRAL_SOURCES),
        math.log1p(engagement.replies_30d),
        math.log1p(engagement.visits_30d),
        math.log1p(engagement.opens_30d),
        math.log1p(engagement.messages_30d),
        engagement.quiet_days / 30.0,
        float(not engagement.contacted),
    ]
