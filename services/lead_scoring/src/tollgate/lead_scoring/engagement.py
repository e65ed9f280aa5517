"""Engagement events reduced to what the scores use: ages, counts in a recent window."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

SECONDS_PER_DAY = 86_400.0
# Window of the counts the conversion model reads.
RECENT_WINDOW_DAYS = 30.0
# Days since last engagement are capped here: beyond it a lead is simply gone quiet.
MAX_QUIET_DAYS = 90.0


class EventKind(StrEnum):
    MESSAGE = "message"  # we wrote to the lead
    REPLY = "reply"  # the lead wrote back
    OPEN = "open"  # the lead opened an email or a listing
    VISIT = "visit"  # the lead visited the site or a property


@dataclass(frozen=True)
class Event:
    kind: EventKind
    # Days before the moment of scoring (never negative).
    age_days: float


@dataclass(frozen=True)
class EngagementSummary:
    messages_30d: int = 0
    replies_30d: int = 0
    opens_30d: int = 0
    visits_30d: int = 0
    # None when there has never been any engagement.
    days_since_last: float | None = None

    @property
    def quiet_days(self) -> float:
        if self.days_since_last is None:
            return MAX_QUIET_DAYS
        return min(self.days_since_last, MAX_QUIET_DAYS)


def summarise(events: Iterable[Event]) -> EngagementSummary:
    counts = dict.fromkeys(EventKind, 0)
    last: float | None = None
    for event in events:
        if event.age_days <= RECENT_WINDOW_DAYS:
            counts[event.kind] += 1
        # Our own outbound messages say nothing about the lead's interest.
        if event.kind is not EventKind.MESSAGE and (last is None or event.age_days < last):
            last = event.age_days
    return EngagementSummary(
        messages_30d=counts[EventKind.MESSAGE],
        replies_30d=counts[EventKind.REPLY],
        opens_30d=counts[EventKind.OPEN],
        visits_30d=counts[EventKind.VISIT],
        days_since_last=last,
    )
