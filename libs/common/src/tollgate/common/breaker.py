"""A circuit breaker for one dependency (a store, a backend deployment, a model).

Closed: calls pass; `failure_threshold` failures in a row open it. Open: calls are refused at
once for `open_seconds`, so callers skip the dependency (or fall back) instead of each waiting
out its own timeout. Then half-open: one probe call passes; its success closes the circuit, its
failure opens it again. A probe that never reports (its caller was cancelled) frees the slot
after another `open_seconds`, so a lost probe cannot keep the circuit shut forever.

With `overlapping_failures_count=False`, failures are evidence in a row, not calls: a failure
counts only when its call started after the last failure that counted, so calls that were in
flight together when the dependency had one slow moment count once. A breaker in front of a
dependency whose outage refuses or degrades requests (the gateway's ledger, orchestrator and
lead-scoring tracks, the orchestrator's models) opens on a dependency that keeps failing, not on
one blip seen by many callers at once.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int,
        open_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        overlapping_failures_count: bool = True,
    ) -> None:
        self._threshold = failure_threshold
        self._open_seconds = open_seconds
        self._clock = clock
        self._overlapping_failures_count = overlapping_failures_count
        # When the last failure that counted was recorded (None after a success).
        self._last_counted: float | None = None
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_started: float | None = None

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at < self._open_seconds:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    @property
    def is_open(self) -> bool:
        """True while calls are being refused or probed (not closed)."""
        return self._opened_at is not None

    def allow(self) -> bool:
        """True when a call may go to the dependency now."""
        if self._opened_at is None:
            return True
        now = self._clock()
        if now - self._opened_at < self._open_seconds:
            return False
        probing = self._probe_started is not None and now - self._probe_started < self._open_seconds
        if probing:
            return False
        self._probe_started = now
        return True

    def now(self) -> float:
        """The breaker's clock: a caller notes it when its call starts (`record_failure`)."""
        return self._clock()

    def record_success(self) -> None:
        self._failures = 0
        self._last_counted = None
        self._opened_at = None
        self._probe_started = None

    def record_failure(self, started_at: float | None = None) -> None:
        """A failed call; `started_at` (the breaker's `now()` when it started) lets a breaker
        that does not count overlapping failures tell a new failure from one in flight beside
        the last that counted."""
        probe = self._probe_started is not None
        self._probe_started = None
        overlapping = (
            not self._overlapping_failures_count
            and started_at is not None
            and self._last_counted is not None
            and started_at < self._last_counted
        )
        if overlapping and not probe:
            return
        self._failures += 1
        self._last_counted = self._clock()
        if probe or self._failures >= self._threshold:
            self._opened_at = self._last_counted

    def record_neutral(self) -> None:
        """An outcome that says nothing about the dependency's health (e.g. a 400): free the
        probe slot without closing or opening the circuit."""
        self._probe_started = None
