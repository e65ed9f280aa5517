"""The AIMD limiter and the circuit breaker on their own: exact state after each event."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from tollgate.common.errors import ServiceError
from tollgate.orchestrator.breaker import BreakerState, CircuitBreaker
from tollgate.orchestrator.concurrency import AimdLimiter


async def test_a_burst_of_overloads_halves_the_limit_once() -> None:
    limiter = AimdLimiter("m", initial=8, floor=1, ceiling=64)
    permits = [await limiter.acquire(1) for _ in range(8)]
    for permit in permits:
        limiter.release(permit, overloaded=True, succeeded=False)
    assert limiter.limit == 4
    # A call admitted after the decrease may decrease again.
    permit = await limiter.acquire(1)
    limiter.release(permit, overloaded=True, succeeded=False)
    assert limiter.limit == 2


async def test_the_limit_never_drops_below_the_floor_nor_grows_past_the_ceiling() -> None:
    limiter = AimdLimiter("m", initial=2, floor=2, ceiling=3)
    limiter.release(await limiter.acquire(1), overloaded=True, succeeded=False)
    assert limiter.limit == 2
    for _ in range(20):
        limiter.release(await limiter.acquire(1), overloaded=False, succeeded=True)
    assert limiter.limit == 3


async def test_one_is_added_after_each_window_of_limit_successes() -> None:
    limiter = AimdLimiter("m", initial=4, floor=1, ceiling=64)
    for _ in range(3):
        limiter.release(await limiter.acquire(1), overloaded=False, succeeded=True)
    assert limiter.limit == 4
    limiter.release(await limiter.acquire(1), overloaded=False, succeeded=True)
    assert limiter.limit == 5


async def test_waiters_are_admitted_first_come_first_served() -> None:
    limiter = AimdLimiter("m", initial=1, floor=1, ceiling=1)
    held = await limiter.acquire(1)
    order: list[int] = []

    async def wait(i: int) -> None:
        permit = await limiter.acquire(5)
        order.append(i)
        limiter.release(permit, overloaded=False, succeeded=True)

    tasks = []
    for i in range(5):
        tasks.append(asyncio.create_task(wait(i)))
        await asyncio.sleep(0)  # each one queues before the next arrives
    assert limiter.queued == 5
    limiter.release(held, overloaded=False, succeeded=True)
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]
    assert limiter.in_flight == 0


async def test_a_waiter_whose_deadline_passes_leaves_the_queue_with_deadline_exceeded() -> None:
    limiter = AimdLimiter("m", initial=1, floor=1, ceiling=1)
    held = await limiter.acquire(1)
    with pytest.raises(ServiceError) as caught:
        await limiter.acquire_before(0.05)
    assert caught.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert limiter.queued == 0
    limiter.release(held, overloaded=False, succeeded=True)
    assert limiter.in_flight == 0
    # The slot it would have taken is still usable.
    permit = await limiter.acquire(0.05)
    assert limiter.in_flight == 1
    limiter.release(permit, overloaded=False, succeeded=True)


async def test_a_cancelled_waiter_does_not_keep_a_slot() -> None:
    limiter = AimdLimiter("m", initial=1, floor=1, ceiling=1)
    held = await limiter.acquire(1)
    waiter = asyncio.create_task(limiter.acquire(5))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    limiter.release(held, overloaded=False, succeeded=True)
    assert (limiter.in_flight, limiter.queued) == (0, 0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_after_the_threshold_and_lets_one_probe_through_later() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, open_seconds=10, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()

    clock.now += 10
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow()  # only one probe at a time
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN

    clock.now += 10
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow()


def test_a_success_resets_the_count_of_consecutive_failures() -> None:
    breaker = CircuitBreaker(failure_threshold=2, open_seconds=10, clock=FakeClock())
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
