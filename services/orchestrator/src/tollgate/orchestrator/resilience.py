"""One upstream call made resilient: fallback chain, circuit breakers, AIMD slots and retries.

For each model of the chain in turn (the routed model first): skip it if its circuit is open;
otherwise take a slot from its concurrency limiter (queueing fairly, within the deadline), then
room under the fleet-wide rate limit (`pacing.py`; a no-op when pacing is off), and call.
A retryable failure (429, 529, 5xx, connection) is retried on the same model after a backoff that
honours `retry-after`, unless the wait would pass the caller's deadline; a 529 moves straight to
the next model when there is one, because an overloaded model is best left alone. Anything else
(a 400, a bad key) is returned at once, never retried.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anthropic
from opentelemetry import metrics

from tollgate.common.errors import ServiceError, deadline_exceeded, unavailable
from tollgate.common.summed_counter import SummedCounter
from tollgate.orchestrator.breaker import CircuitBreaker, CircuitBreakers
from tollgate.orchestrator.concurrency import AimdLimiter, ConcurrencyLimits, Permit
from tollgate.orchestrator.deadline import Deadline
from tollgate.orchestrator.pacing import Pacer, Unpaced, calling
from tollgate.orchestrator.retry import (
    BackoffPolicy,
    FailureKind,
    classify,
    is_overload,
    is_retryable,
    server_hint,
)
from tollgate.orchestrator.upstream_errors import map_upstream_error

T = TypeVar("T")

_meter = metrics.get_meter("tollgate")
# Summed here and read at collection: added to on every call (summed_counter.py).
_attempts_counter = SummedCounter(
    _meter, "tollgate_upstream_attempts", "Calls to the Anthropic API, by model and outcome"
)
_fallbacks_counter = SummedCounter(
    _meter, "tollgate_upstream_fallbacks", "Generations answered by a fallback model"
)

# Failures that say something about the model's health (a 429 is about our pace, not its health).
_BREAKER_FAILURES = (FailureKind.OVERLOADED, FailureKind.SERVER_ERROR, FailureKind.CONNECTION)

# (model, seconds left before the deadline) → the call's result.
Attempt = Callable[[str, float], Awaitable[T]]


@dataclass
class Lease:
    """The concurrency slot and breaker verdict of a call still in progress (a stream)."""

    limiter: AimdLimiter
    breaker: CircuitBreaker
    permit: Permit
    # The breaker's clock when the attempt went out: a failure of an attempt that was already
    # in flight when another failure counted does not count again.
    started: float | None = field(default=None, init=False)
    _done: bool = field(default=False, init=False)

    def finish(self, failure: BaseException | None) -> None:
        """Give the slot back; a stream that failed after it began counts against the model."""
        if self._done:
            return
        self._done = True
        kind = classify(failure) if isinstance(failure, anthropic.APIError) else None
        self.limiter.release(
            self.permit,
            overloaded=kind is not None and is_overload(kind),
            succeeded=failure is None,
        )
        if failure is None:
            self.breaker.record_success()
        elif kind in _BREAKER_FAILURES:
            self.breaker.record_failure(self.started)
        else:
            self.breaker.record_neutral()


@dataclass
class Outcome(Generic[T]):
    value: T
    model: str
    attempts: int
    # Empty when the first model of the chain answered.
    fallback_reason: str
    lease: Lease


class ResilientCaller:
    def __init__(
        self,
        limits: ConcurrencyLimits,
        breakers: CircuitBreakers,
        backoff: BackoffPolicy,
        max_attempts: int,
        rng: random.Random | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self._pacer: Pacer = pacer or Unpaced()
        self._limits = limits
        self._breakers = breakers
        self._backoff = backoff
        self._max_attempts = max_attempts
        self._rng = rng or random.Random()

    async def call(self, chain: Sequence[str], deadline: Deadline, attempt: Attempt[T]) -> T:
        """A call whose slot is released as soon as it returns (a unary generation)."""
        outcome = await self.call_holding(chain, deadline, attempt)
        outcome.lease.finish(None)
        return outcome.value

    async def call_holding(
        self, chain: Sequence[str], deadline: Deadline, attempt: Attempt[T]
    ) -> Outcome[T]:
        """A call whose slot stays taken until `outcome.lease.finish` (a stream being read)."""
        reasons: list[str] = []
        attempts = 0
        last_failure: anthropic.APIError | None = None
        for index, model in enumerate(chain):
            has_fallback = index < len(chain) - 1
            breaker = self._breakers.for_model(model)
            limiter = self._limits.for_model(model)
            for number in range(1, self._max_attempts + 1):
                if not breaker.allow():
                    reasons.append(f"{model}: circuit open")
                    break
                if deadline.expired():
                    raise deadline_exceeded("The request's deadline passed before Claude answered.")
                try:
                    permit = await limiter.acquire_before(deadline.remaining())
                except BaseException:
                    breaker.record_neutral()
                    raise
                lease = Lease(limiter, breaker, permit)
                try:
                    counted = await self._pacer.admit(model, deadline)
                except BaseException as exc:
                    lease.finish(exc)
                    raise
                attempts += 1
                lease.started = breaker.now()
                try:
                    async with calling(self._pacer, model, counted=counted):
                        value = await attempt(model, deadline.remaining())
                except anthropic.APIError as exc:
                    lease.finish(exc)
                    kind = classify(exc)
                    _attempts_counter.add(1, {"model": model, "outcome": kind.name.lower()})
                    if not is_retryable(kind):
                        raise map_upstream_error(exc) from exc
                    last_failure = exc
                    if kind is FailureKind.OVERLOADED and has_fallback:
                        reasons.append(f"{model} was {kind.value}")
                        break
                    if number == self._max_attempts:
                        reasons.append(f"{model} was {kind.value} after {number} attempts")
                        break
                    delay = self._backoff.delay(number, server_hint(exc), self._rng)
                    if delay >= deadline.remaining():
                        if has_fallback:
                            reasons.append(f"{model} was {kind.value}; no time left to retry")
                            break
                        raise _no_time_to_retry(exc, delay) from exc
                    await asyncio.sleep(delay)
                    continue
                except BaseException as exc:
                    lease.finish(exc)
                    raise
                _attempts_counter.add(1, {"model": model, "outcome": "ok"})
                if index > 0:
                    _fallbacks_counter.add(1, {"model": model})
                return Outcome(value, model, attempts, "; ".join(reasons), lease)
        if last_failure is not None:
            raise map_upstream_error(last_failure) from last_failure
        raise unavailable(
            f"Every model for this request is failing right now ({'; '.join(reasons)}); "
            "try again shortly."
        )


def _no_time_to_retry(exc: anthropic.APIError, delay: float) -> ServiceError:
    error = map_upstream_error(exc)
    error.message = (
        f"{error.message.rstrip('.')}; the next attempt (in {delay:.1f} s) would end past "
        "the request's deadline."
    )
    return error
