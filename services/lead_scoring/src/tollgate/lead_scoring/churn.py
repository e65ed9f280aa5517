"""Churn risk: how likely the lead is drifting away, from recency and frequency decay.

retention = ½ · recency + ½ · frequency, where
  recency   = 2^(-days since the lead's last touch / recency half-life)
  frequency = A / (A + saturation), A = Σ weight(kind) · 2^(-age / frequency half-life)
and churn risk = 100 · (1 - retention). Outbound messages count for nothing: only what the lead
does shows interest. A lead that never engaged is measured from when it was created.
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

    @property
    def explanation(self) -> str:
        if not self.available:
            return "No engagement events and no creation date: churn risk unknown."
        quiet = (
            f"last touch {self.days_since_last:.1f} days ago"
            if self.days_since_last is not None
            else "never engaged"
        )
        return (
            f"Churn risk {self.risk:.1f}/100: {quiet} (recency {self.recency:.2f}), "
            f"decayed activity {self.decayed_activity:.2f} (frequency {self.frequency:.2f}); "
            "counts toward the score as 100 - risk."
        )


def churn_risk(
    events: Sequence[Event], lead_age_days: float | None, params: ChurnParameters
) -> ChurnResult:
    touches = [e for e in events if EVENT_WEIGHTS[e.kind] > 0]
    if touches:
        since = min(e.age_days for e in touches)
    elif lead_age_days is not None:
        since = lead_age_days
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
    )
