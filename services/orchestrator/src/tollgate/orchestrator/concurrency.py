"""Adaptive concurrency per model: AIMD on 429/529, with a fair FIFO queue that honours deadlines.

The limit is halved when Claude says it is rate-limited or overloaded and grows by one after each
window of `limit` successful calls. Only calls that started after the last decrease may decrease
it again: a burst of 429s answering one overshoot halves the limit once, not once per call.
Waiting callers are served strictly first come, first served; a caller whose deadline passes in
the queue leaves it with DEADLINE_EXCEEDED and never reaches Claude.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass

from opentelemetry import metrics

from tollgate.common.errors import deadline_exceeded

_meter = metrics.get_meter("tollgate")
_limit_gauge = _meter.create_up_down_counter(
    "tollgate_orchestrator_concurrency_limit_changes",
    description="Changes of the AIMD limit per model",
)
_queue_timeouts = _meter.create_counter(
    "tollgate_orchestrator_queue_deadline_exceeded",
    description="Callers whose deadline passed in queue",
)


@dataclass(frozen=True)
class Permit:
    """One admitted call; `epoch` records which limit decrease it was admitted under."""

    epoch: int


class AimdLimiter:
    def __init__(self, model: str, initial: int, floor: int, ceiling: int) -> None:
        self.model = model
        self._floor = max(1, floor)
        self._ceiling = max(self._floor, ceiling)
        self._limit = float(min(max(initial, self._floor), self._ceiling))
        self._in_flight = 0
        self._successes_in_window = 0
        self._epoch = 0
        self._waiters: deque[asyncio.Future[Permit]] = deque()

    @property
    def limit(self) -> int:
        return int(self._limit)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def queued(self) -> int:
        return len(self._waiters)

    async def acquire(self, timeout: float) -> Permit:
        """A slot, in arrival order; DEADLINE_EXCEEDED if none frees up within `timeout`."""
        if not self._waiters and self._in_flight < self.limit:
            return self._admit()
        waiter: asyncio.Future[Permit] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), timeout=max(timeout, 0.0))
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                # Admitted at the very moment we gave up: hand the slot back.
                self._in_flight -= 1
                self._wake()
            else:
                waiter.cancel()
                self._remove(waiter)
            raise

    async def acquire_before(self, timeout: float) -> Permit:
        try:
            return await self.acquire(timeout)
        except TimeoutError:
            _queue_timeouts.add(1, {"model": self.model})
            raise deadline_exceeded(
                f"No capacity for {self.model} became free before the request's deadline."
            ) from None

    def release(self, permit: Permit, *, overloaded: bool, succeeded: bool) -> None:
        self._in_flight -= 1
        if overloaded:
            self._decrease(permit)
        elif succeeded:
            self._increase()
        self._wake()

    def _admit(self) -> Permit:
        self._in_flight += 1
        return Permit(self._epoch)

    def _decrease(self, permit: Permit) -> None:
        if permit.epoch != self._epoch:
            return
        before = self.limit
        self._limit = max(float(self._floor), self._limit / 2)
        self._epoch += 1
        self._successes_in_window = 0
        _limit_gauge.add(self.limit - before, {"model": self.model})

    def _increase(self) -> None:
        self._successes_in_window += 1
        if self._successes_in_window < self.limit:
            return
        self._successes_in_window = 0
        if self._limit < self._ceiling:
            before = self.limit
            self._limit = min(float(self._ceiling), self._limit + 1)
            _limit_gauge.add(self.limit - before, {"model": self.model})

    def _wake(self) -> None:
        while self._waiters and self._in_flight < self.limit:
            waiter = self._waiters.popleft()
            if waiter.done():
                continue
            waiter.set_result(self._admit())

    def _remove(self, waiter: asyncio.Future[Permit]) -> None:
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)


class ConcurrencyLimits:
    """One limiter per model, created on first use."""

    def __init__(self, initial: int, floor: int, ceiling: int) -> None:
        self._initial = initial
        self._floor = floor
        self._ceiling = ceiling
        self._limiters: dict[str, AimdLimiter] = {}

    def for_model(self, model: str) -> AimdLimiter:
        limiter = self._limiters.get(model)
        if limiter is None:
            limiter = AimdLimiter(model, self._initial, self._floor, self._ceiling)
            self._limiters[model] = limiter
        return limiter
