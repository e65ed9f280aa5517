"""Engagement events reduced to what the scores use: ages, counts in a recent window.

The lead's own messages in the conversation arrive here as replies (see lead_input), so a lead
who answered every question in chat a minute ago is engaged, not silent.
"""

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
    # Days since the lead last did something (reply, open, visit); None if never.
    days_since_last: float | None = None
    # Days since the first contact of any kind, ours included; None when there was none.
    days_since_first_contact: float | None = None

    @property
    def contacted(self) -> bool:
        return self.days_since_first_contact is not None

    @property
    def quiet_days(self) -> float:
        """Days the lead has been silent: since their last touch, else since we first reached
        out; 0 for a lead with no contact yet (new, not silent)."""
        if self.days_since_last is not None:
            return min(self.days_since_last, MAX_QUIET_DAYS)
        if self.days_since_first_contact is not None:
            return min(self.days_since_first_contact, MAX_QUIET_DAYS)
        return 0.0


def summarise(events: Iterable[Event]) -> EngagementSummary:
    counts = dict.fromkeys(EventKind, 0)
    last: float | None = None
    first: float | None = None
    for event in events:
        if event.age_days <= RECENT_WINDOW_DAYS:
            counts[event.kind] += 1
        if first is None or event.age_days > first:
            first = event.age_days
        # Our own outbound messages say nothing about the lead's interest.
        if event.kind is not EventKind.MESSAGE and (last is None or event.age_days < last):
            last = event.age_days
    return EngagementSummary(
        messages_30d=counts[EventKind.MESSAGE],
        replies_30d=counts[EventKind.REPLY],
        opens_30d=counts[EventKind.OPEN],
        visits_30d=counts[EventKind.VISIT],
        days_since_last=last,
        days_since_first_contact=first,
    )
