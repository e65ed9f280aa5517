"""The conversion model's inputs, computed the same way from a scored lead and a training row.

Training CSVs hold the raw facts (answers as text, 30-day engagement counts, days since the last
touch), not features, so a model is always fitted on exactly what scoring computes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from tollgate.lead_scoring import answers
from tollgate.lead_scoring.engagement import MAX_QUIET_DAYS, EngagementSummary
from tollgate.lead_scoring.qualification import score_qualification

FEATURE_NAMES: tuple[str, ...] = (
    "qualification_points",
    "pre_approved",
    "budget_stated",
    "urgent_timeline",
    "referral_source",
    "log_replies_30d",
    "log_visits_30d",
    "log_opens_30d",
    "log_messages_30d",
    "quiet_days",
)

# Sources that bring leads who already trust the agent.
_REFERRAL_SOURCES = frozenset({"referral", "past_client", "repeat", "sphere"})
# A move within this many months counts as urgent.
_URGENT_MONTHS = 3.0

# The columns a training CSV must have (besides the outcome column `converted`).
CSV_COLUMNS: tuple[str, ...] = (
    "source",
    *answers.QUESTIONS,
    "messages_30d",
    "replies_30d",
    "opens_30d",
    "visits_30d",
    "days_since_last_engagement",
)
OUTCOME_COLUMN = "converted"


@dataclass(frozen=True)
class LeadFacts:
    source: str
    answers: Mapping[str, str] = field(default_factory=dict)
    engagement: EngagementSummary = field(default_factory=EngagementSummary)


def feature_vector(facts: LeadFacts, qualification_points: float | None = None) -> list[float]:
    """Values in the order of FEATURE_NAMES (pass the qualification points if already known)."""
    text = facts.answers
    if qualification_points is None:
        qualification_points = score_qualification(text).points
    months = answers.timeline_months(text.get("timeline", ""))
    e = facts.engagement
    return [
        qualification_points,
        float(answers.is_pre_approved(text.get("pre_approval", ""))),
        float(answers.budget_amount(text.get("budget", "")) is not None),
        float(months is not None and months <= _URGENT_MONTHS),
        float(facts.source.strip().lower().replace(" ", "_") in _REFERRAL_SOURCES),
        math.log1p(e.replies_30d),
        math.log1p(e.visits_30d),
        math.log1p(e.opens_30d),
        math.log1p(e.messages_30d),
        e.quiet_days / 30.0,
    ]


def facts_from_row(row: Mapping[str, str]) -> LeadFacts:
    """A CSV row as facts; raises ValueError with the column at fault."""

    def count(column: str) -> int:
        try:
            value = int(row[column] or 0)
        except ValueError:
            raise ValueError(f"column {column!r}: {row[column]!r} is not a whole number") from None
        if value < 0:
            raise ValueError(f"column {column!r}: counts cannot be negative")
        return value

    raw_quiet = (row.get("days_since_last_engagement") or "").strip()
    try:
        quiet = float(raw_quiet) if raw_quiet else None
    except ValueError:
        raise ValueError(
            f"column 'days_since_last_engagement': {raw_quiet!r} is not a number"
        ) from None
    if quiet is not None and (quiet < 0 or math.isnan(quiet)):
        raise ValueError("column 'days_since_last_engagement': must be zero or more")
    return LeadFacts(
        source=row.get("source", ""),
        answers={q: row.get(q, "") for q in answers.QUESTIONS},
        engagement=EngagementSummary(
            messages_30d=count("messages_30d"),
            replies_30d=count("replies_30d"),
            opens_30d=count("opens_30d"),
            visits_30d=count("visits_30d"),
            days_since_last=None if quiet is None else min(quiet, MAX_QUIET_DAYS),
        ),
    )
