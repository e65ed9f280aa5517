"""Circuit breakers per model: stop sending work to a model that keeps failing.

Failures are overload, 5xx and unreachable; a 429 is not a failure here (rate limits belong to
the concurrency limiter). The breaker itself is the shared one (tollgate.common.breaker).
"""

from __future__ import annotations

from tollgate.common.breaker import BreakerState, CircuitBreaker

__all__ = ["BreakerState", "CircuitBreaker", "CircuitBreakers"]


class CircuitBreakers:
    def __init__(self, threshold: int, open_seconds: float) -> None:
        self._threshold = threshold
        self._open_seconds = open_seconds
        self._breakers: dict[str, CircuitBreaker] = {}

    def for_model(self, model: str) -> CircuitBreaker:
        breaker = self._breakers.get(model)
        if breaker is None:
            # Attempts in flight together when the model had one bad moment count once: an open
            # circuit sends every request to the fallback (or refuses it) for `open_seconds`.
            breaker = CircuitBreaker(
                self._threshold, self._open_seconds, overlapping_failures_count=False
            )
            self._breakers[model] = breaker
        return breaker
