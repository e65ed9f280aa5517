"""Fleet-wide pacing on a real Redis: the shared bucket under concurrent acquires from several
replicas, what the headers do to it, and a hung Redis costing one timeout. (Redis stopped and
restarted: tests/faults/test_faults_pacing.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
from redis.asyncio import Redis

from tollgate.common.errors import ServiceError
from tollgate.orchestrator.deadline import Deadline
from tollgate.orchestrator.pacing import RedisPacer, calling, pacing_redis
from tollgate.orchestrator.ratelimit_headers import Allowance, RateLimitState

MODEL = "claude-sonnet-5-5"
# A window so long that refill during a test is negligible: counts are exact.
FROZEN_WINDOW = 10.0**7


def requests_state(limit: int, remaining: int, retry_after: float | None = None) -> RateLimitState:
    return RateLimitState(requests=Allowance(limit, remaining), retry_after=retry_after)


@pytest.fixture
async def replicas(
    redis_url: str, redis_namespace: str
) -> AsyncIterator[Callable[..., RedisPacer]]:
    """`replicas(url=..., window_seconds=...)`: a pacer with its own Redis connection, as one
    orchestrator replica has; every one shares the test's key prefix (one organisation)."""
    clients: list[Redis] = []

    def make(url: str = redis_url, **options: Any) -> RedisPacer:
        client = pacing_redis(url, options.get("timeout_seconds", 0.25))
        clients.append(client)
        values: dict[str, Any] = {
            "organisation": "org-1",
            "key_prefix": redis_namespace,
            "timeout_seconds": 0.25,
            "retry_seconds": 0.5,
            **options,
        }
        return RedisPacer(client, **values)

    yield make
    for client in clients:
        await client.aclose()


async def admitted(pacer: RedisPacer, deadline_seconds: float) -> bool:
    try:
        await pacer.admit(MODEL, Deadline(deadline_seconds))
    except ServiceError as error:
        refusal = error
    else:
        return True
    assert refusal.code is grpc.StatusCode.UNAVAILABLE
    assert "rate limit" in refusal.message
    assert refusal.metadata["retry_after_seconds"]
    return False


async def test_an_unknown_limit_is_not_paced(replicas: Callable[..., RedisPacer]) -> None:
    pacer = replicas()
    assert all([await admitted(pacer, 0.0) for _ in range(50)])


async def test_calls_let_through_before_the_limit_was_known_are_charged_when_it_is(
    replicas: Callable[..., RedisPacer],
) -> None:
    fleet = [replicas(window_seconds=FROZEN_WINDOW) for _ in range(2)]
    # Twelve calls go out before any response: the fleet does not know the limit yet.
    assert all([await admitted(fleet[i % 2], 0.0) for i in range(12)])
    # The first response (of one of them) counted only its own call: 20 left by its count, and
    # the 11 still in flight will take theirs, so 9 really.
    await fleet[0].answered(MODEL, requests_state(limit=1000, remaining=20), counted=True)
    assert sum([await admitted(fleet[i % 2], 0.0) for i in range(20)]) == 9


async def test_concurrent_acquires_from_several_replicas_never_overdraw_the_bucket(
    replicas: Callable[..., RedisPacer],
) -> None:
    # A generous Redis timeout: this is about counting, not about a slow machine's fallback.
    fleet = [replicas(window_seconds=FROZEN_WINDOW, timeout_seconds=5.0) for _ in range(4)]
    await fleet[0].answered(MODEL, requests_state(limit=1000, remaining=37), counted=False)
    # 400 acquires at once, 100 per replica, none willing to wait: exactly the 37 there are.
    outcomes = await asyncio.gather(*(admitted(fleet[i % 4], 0.0) for i in range(400)))
    assert sum(outcomes) == 37
    # And nothing is left for anyone.
    assert not await admitted(fleet[3], 0.0)


async def test_waiters_reserve_in_order_and_go_when_their_turn_comes(
    replicas: Callable[..., RedisPacer],
) -> None:
    # 600 per minute: one request every 100 ms. A generous Redis timeout: this is about the
    # order of turns, not about a loaded machine's per-replica fallback (which, at 0.25 s, let
    # all six go at once in a full `make test` on two cores).
    fleet = [replicas(timeout_seconds=5.0) for _ in range(3)]
    await fleet[0].answered(MODEL, requests_state(limit=600, remaining=0), counted=False)
    started = time.monotonic()
    finished: list[float] = []

    async def one(pacer: RedisPacer) -> None:
        assert await admitted(pacer, 5.0)
        finished.append(time.monotonic() - started)

    await asyncio.gather(*(one(fleet[i % 3]) for i in range(6)))
    finished.sort()
    # Six reservations at 100 ms spacing: the last goes about 0.6 s in, none earlier than due.
    for index, at in enumerate(finished):
        assert at >= 0.1 * (index + 1) - 0.02, finished
    assert finished[-1] < 2.0, finished


async def test_a_wait_past_the_deadline_is_refused_at_once_and_reserves_nothing(
    replicas: Callable[..., RedisPacer],
) -> None:
    pacer = replicas(window_seconds=FROZEN_WINDOW)
    await pacer.answered(MODEL, requests_state(limit=1000, remaining=1), counted=False)
    started = time.monotonic()
    assert await admitted(pacer, 0.0)
    assert not await admitted(pacer, 30.0)  # the next one is days away
    assert time.monotonic() - started < 1.0
    assert not await admitted(pacer, 30.0)


async def test_headers_only_lower_the_level_and_a_429_empties_it_until_retry_after(
    replicas: Callable[..., RedisPacer],
) -> None:
    pacer = replicas(window_seconds=FROZEN_WINDOW)
    await pacer.answered(MODEL, requests_state(limit=1000, remaining=5), counted=False)
    # An older response reporting more room does not give room back.
    await pacer.answered(MODEL, requests_state(limit=1000, remaining=900), counted=False)
    assert sum([await admitted(pacer, 0.0) for _ in range(10)]) == 5
    fresh = replicas()
    await fresh.answered(
        MODEL, requests_state(limit=600, remaining=600, retry_after=0.5), counted=False
    )
    # 600/min refills one every 100 ms; the 429 said "not for 0.5 s".
    assert not await admitted(fresh, 0.3)
    started = time.monotonic()
    assert await admitted(fresh, 2.0)
    assert time.monotonic() - started >= 0.25


async def test_buckets_are_per_model_and_per_organisation(
    replicas: Callable[..., RedisPacer],
) -> None:
    ours = replicas(window_seconds=FROZEN_WINDOW)
    theirs = replicas(window_seconds=FROZEN_WINDOW, organisation="org-2")
    await ours.answered(MODEL, requests_state(limit=1000, remaining=0), counted=False)
    assert not await admitted(ours, 0.0)
    assert await admitted(ours, 0.0) is False
    other_model = "claude-haiku-5-5"
    await ours.admit(other_model, Deadline(0.0))  # unknown there: not paced
    assert await admitted(theirs, 0.0)


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """A server that accepts connections and never answers: a hung Redis."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        for writer in held:
            writer.transport.abort()
        server.close()


async def test_a_hung_redis_costs_one_timeout_then_nothing(
    replicas: Callable[..., RedisPacer],
) -> None:
    async with silent_server() as port:
        pacer = replicas(url=f"redis://127.0.0.1:{port}/0", timeout_seconds=0.2)
        started = time.monotonic()
        assert await admitted(pacer, 10.0)
        first = time.monotonic() - started
        assert first < 1.0
        started = time.monotonic()
        assert all([await admitted(pacer, 10.0) for _ in range(20)])
        assert time.monotonic() - started < 0.2


async def test_a_turn_that_leaves_no_time_for_the_call_is_refused(
    replicas: Callable[..., RedisPacer],
) -> None:
    # 600 per minute and empty: the next turn is 100 ms away.
    pacer = replicas(call_reserve_seconds=0.5)
    await pacer.answered(MODEL, requests_state(limit=600, remaining=0), counted=False)
    # Waiting 0.1 s of a 0.55 s deadline would leave 0.45 s for the call: refused.
    assert not await admitted(pacer, 0.55)
    assert await admitted(pacer, 2.0)


async def test_remaining_is_read_less_the_calls_still_in_flight(
    replicas: Callable[..., RedisPacer], redis_url: str
) -> None:
    pacer = replicas(window_seconds=FROZEN_WINDOW)
    await pacer.answered(MODEL, requests_state(limit=1000, remaining=20), counted=False)
    assert all([await admitted(pacer, 0.0) for _ in range(10)])
    # The first of the ten answers: the server had 15 left when it counted that one, and
    # nine more are on their way to it. 15 - 9 = 6, below our own 10.
    await pacer.answered(MODEL, requests_state(limit=1000, remaining=15), counted=True)
    assert sum([await admitted(pacer, 0.0) for _ in range(10)]) == 6
    # Calls that end without an answer leave the in-flight count too, never below zero.
    async with Redis.from_url(redis_url, decode_responses=True) as direct:
        assert await direct.hget(pacer.key(MODEL), "inflight") == "15"
        for _ in range(16):
            await pacer.landed(MODEL)
        assert await direct.hget(pacer.key(MODEL), "inflight") == "0"


async def test_a_counted_call_that_fails_before_sending_leaves_the_in_flight_count(
    replicas: Callable[..., RedisPacer], redis_url: str
) -> None:
    pacer = replicas(window_seconds=FROZEN_WINDOW)
    await pacer.answered(MODEL, requests_state(limit=1000, remaining=20), counted=False)
    counted = await pacer.admit(MODEL, Deadline(1.0))
    assert counted
    with contextlib.suppress(RuntimeError):
        async with calling(pacer, MODEL, counted=counted):
            raise RuntimeError("the request could not even be built")
    async with Redis.from_url(redis_url, decode_responses=True) as direct:
        assert await direct.hget(pacer.key(MODEL), "inflight") == "0"
