"""A circuit breaker per model: stop sending work to a model that keeps failing.

Closed: calls pass; `threshold` consecutive upstream failures (overload, 5xx, unreachable) open
it. Open: calls are refused at once, so the fallback chain moves on without waiting. After
`open_seconds` it is half-open: one probe call passes; its success closes the circuit, its
failure opens it again. A 429 is not a failure here: rate limits belong to the concurrency limiter.
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
        threshold: int,
        open_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = threshold
        self._open_seconds = open_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self._open_seconds:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self) -> bool:
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probe_in_flight:
            self._probe_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probe_in_flight = False

    def record_failure(self) -> None:
        self._failures += 1
        if self._probe_in_flight or self._failures >= self._threshold:
            self._opened_at = self._clock()
        self._probe_in_flight = False

    def record_neutral(self) -> None:
        """An outcome that says nothing about the model's health (e.g. a 400): free the probe."""
        self._probe_in_flight = False


class CircuitBreakers:
    def __init__(self, threshold: int, open_seconds: float) -> None:
        self._threshold = threshold
        self._open_seconds = open_seconds
        self._breakers: dict[str, CircuitBreaker] = {}

    def for_model(self, model: str) -> CircuitBreaker:
        breaker = self._breakers.get(model)
        if breaker is None:
            breaker = CircuitBreaker(self._threshold, self._open_seconds)
            self._breakers[model] = breaker
        return breaker
