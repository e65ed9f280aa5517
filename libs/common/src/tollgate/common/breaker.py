"""A circuit breaker for a dependency (a store, a backend service, a model).

When a dependency is down or slow, every call would otherwise wait out its own timeout. After a
run of failures the breaker opens and calls fail at once for a short while; then one call at a
time gets through again, and the first success closes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int,
        open_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = failure_threshold
        self._open_seconds = open_seconds
        self._clock = clock
        self._failures = 0
        self._open_until = 0.0

    @property
    def is_open(self) -> bool:
        return self._failures >= self._threshold

    def allow(self) -> bool:
        """True when a call may go to the dependency now."""
        if self._failures < self._threshold:
            return True
        now = self._clock()
        if now < self._open_until:
            return False
        # Half open: this call probes; the others keep failing fast until it reports.
        self._open_until = now + self._open_seconds
        return True

    def record_success(self) -> None:
        self._failures = 0
        self._open_until = 0.0

    def record_failure(self) -> None:
        self._failures += 1
        # Once tripped, the failure count stays at the threshold: a single failed probe after
        # the open period opens the breaker again.
        if self._failures >= self._threshold:
            self._failures = self._threshold
            self._open_until = self._clock() + self._open_seconds
