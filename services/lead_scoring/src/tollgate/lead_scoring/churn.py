"""Churn risk: how likely the lead is drifting away, from recency and frequency decay.

retention = ½ · recency + ½ · frequency, where
  recency   = 2^(-days since the lead's last touch / recency half-life)
  frequency = A / (A + saturation), A = Σ weight(kind) · 2^(-age / frequency half-life)
and churn risk = 100 · (1 - retention). Outbound messages count for nothing: only what the lead
does shows interest. A lead that never answered is measured from our first contact; a lead with
no contact yet is new, and its churn risk is unavailable rather than read as months of silence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tollgate.lead_scoring.engagement import Event, EventKind

# A visit or a reply says more about intent than an opened email.
EVENT_WEIGHTS: dict[EventKind, float] = {
    EventKind.MESSAGE: 0.0,
    EventKind.REPLY: 1.0,
    EventKind.OPEN: 0.3,
    EventKind.VISIT: 1.5,
}


@dataclass(frozen=True)
class ChurnParameters:
    recency_half_life_days: float = 14.0
    frequency_half_life_days: float = 30.0
    frequency_saturation: float = 4.0


@dataclass(frozen=True)
class ChurnResult:
    available: bool
    # 0..100, higher is worse.
    risk: float
    recency: float
    frequency: float
    decayed_activity: float
    days_since_last: float | None
    days_since_first_contact: float | None = None

    @property
    def explanation(self) -> str:
        if not self.available:
            return "New lead with no contact yet: churn risk starts at the first contact."
        if self.days_since_last is not None:
            quiet = f"they last engaged {_days(self.days_since_last)} ago"
        else:
            quiet = (
                f"no answer since we first reached out {_days(self.days_since_first_contact)} ago"
            )
        return (
            f"Churn risk {self.risk:.0f}/100: {quiet} (recency {self.recency:.2f}, "
            f"recent activity {self.decayed_activity:.1f}, frequency {self.frequency:.2f}); "
            "counts toward the score as 100 - risk."
        )


def _days(days: float | None) -> str:
    if days is None:
        return "some time"
    if days < 1:
        hours = days * 24
        return f"{hours:.0f} hours" if hours >= 1 else "minutes"
    return f"{days:.0f} day{'s' if round(days) != 1 else ''}"


def churn_risk(events: Sequence[Event], params: ChurnParameters) -> ChurnResult:
    """Measured from the lead's last touch, or from our first contact when they never answered;
    a lead with no contact at all is new and has no churn risk yet (unavailable)."""
    touches = [e for e in events if EVENT_WEIGHTS[e.kind] > 0]
    if touches:
        since = min(e.age_days for e in touches)
    elif events:
        since = max(e.age_days for e in events)
    else:
        return ChurnResult(False, 0.0, 0.0, 0.0, 0.0, None)
    recency = 2.0 ** (-since / params.recency_half_life_days)
    activity = sum(
        EVENT_WEIGHTS[e.kind] * 2.0 ** (-e.age_days / params.frequency_half_life_days)
        for e in touches
    )
    frequency = activity / (activity + params.frequency_saturation)
    retention = 0.5 * recency + 0.5 * frequency
    return ChurnResult(
        available=True,
        risk=100.0 * (1.0 - retention),
        recency=recency,
        frequency=frequency,
        decayed_activity=activity,
        days_since_last=since if touches else None,
        days_since_first_contact=None if touches else since,
    )
