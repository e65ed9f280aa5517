"""The emulator's notion of time for expiring things (prompt-cache TTLs).

Tests must be able to jump past a 5-minute or 1-hour TTL without sleeping, so
every expiry decision reads this clock instead of the system clock directly.
Latency pacing deliberately does not use it: a delay has to be real to be felt
by a client.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Clock:
    """Monotonic seconds from a time source plus an offset that tests can advance."""

    def __init__(self, source: Callable[[], float] = time.monotonic) -> None:
        self._source = source
        self._offset = 0.0

    def now(self) -> float:
        return self._source() + self._offset

    def advance(self, seconds: float) -> None:
        """Move time forward, e.g. ``clock.advance(301)`` to expire a 5-minute entry."""
        if seconds < 0:
            raise ValueError("a clock only moves forward")
        self._offset += seconds


class ManualClock(Clock):
    """A clock that stands still until advanced: fully deterministic expiry."""

    def __init__(self, start: float = 0.0) -> None:
        super().__init__(source=lambda: start)
