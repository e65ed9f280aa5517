"""The gateway's exact-cache stub (tollgate.gateway.cache_coalescing) against a real cache, through
the gateway's own call path (dependencies.call: breaker, deadline): identical concurrent requests
still call upstream once when their lookups travel in ExactBatch RPCs, and hostile calls in the
same batches are refused alone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import duration_pb2

from tollgate.common.breaker import CircuitBreaker
from tollgate.gateway import dependencies
from tollgate.gateway.cache_coalescing import CoalescedCacheStub
from tollgate.gateway.routing import Track
from tollgate.v1 import cache_pb2, common_pb2

Stub = Any
RequestFactory = Callable[..., common_pb2.ClaudeRequest]
ResponseFactory = Callable[..., common_pb2.ClaudeResponse]
ContextFactory = Callable[..., common_pb2.RequestContext]

# The cache's own deadline (generous: the cache, its Redis calls and every caller share this
# test's one event loop), and how long a lookup may wait for another request's fill.
CACHE_TIMEOUT = 5.0
WAIT_FOR_FILL = 10


class CountingStub:
    """The cache stub, keeping every ExactBatch's calls and counting unary lookups."""

    def __init__(self, stub: Stub) -> None:
        self._stub = stub
        self.batches: list[list[cache_pb2.ExactCall]] = []
        self.unary_lookups = 0

    def __getattr__(self, method: str) -> Any:
        return getattr(self._stub, method)

    async def ExactBatch(self, request: Any, timeout: float | None = None) -> Any:
        self.batches.append(list(request.calls))
        return await self._stub.ExactBatch(request, timeout=timeout)

    async def ExactLookup(self, request: Any, timeout: float | None = None) -> Any:
        self.unary_lookups += 1
        return await self._stub.ExactLookup(request, timeout=timeout)


def _track(stub: CoalescedCacheStub) -> Track[Any]:
    breaker = CircuitBreaker(failure_threshold=3, open_seconds=60.0)
    return Track("cache", "stable", "test", None, stub, breaker)  # type: ignore[arg-type]


async def test_identical_concurrent_requests_call_upstream_once_and_bad_calls_fail_alone(
    cache: Stub,
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
) -> None:
    counting = CountingStub(cache)
    stub = CoalescedCacheStub(counting, rpc_timeout=CACHE_TIMEOUT, max_message_bytes=8 << 20)
    track = _track(stub)
    question = make_request("Which documents does a pre-approval need?")
    upstream: dict[str, int] = {"acme": 0, "globex": 0}

    async def complete(tenant: str, i: int) -> common_pb2.ClaudeResponse:
        """What the gateway's exact-cache step does for one request, with Claude as a sleep."""
        lookup = cache_pb2.ExactLookupRequest(
            context=context(tenant, request_id=f"{tenant}-{i}"),
            request=question,
            acquire_fill_lease=True,
            wait_for_fill=duration_pb2.Duration(seconds=WAIT_FOR_FILL),
        )
        reply = await dependencies.call(
            track, "ExactLookup", track.stub.ExactLookup, lookup, CACHE_TIMEOUT + WAIT_FOR_FILL
        )
        if reply.hit:
            return reply.response  # type: ignore[no-any-return]
        assert reply.fill_lease, reply.reason
        upstream[tenant] += 1
        await asyncio.sleep(0.3)
        answer = make_response(f"The answer for {tenant}.")
        store = cache_pb2.ExactStoreRequest(
            context=lookup.context, key=reply.key, response=answer, fill_lease=reply.fill_lease
        )
        stored = await dependencies.call(
            track, "ExactStore", track.stub.ExactStore, store, CACHE_TIMEOUT
        )
        assert stored.stored, stored.reason
        return answer

    async def hostile(i: int) -> grpc.aio.AioRpcError:
        """A lookup without a tenant, or a store of a forged key: refused, never answered."""
        call: Any
        if i % 2:
            request: Any = cache_pb2.ExactLookupRequest(context=context(""), request=question)
            call = track.stub.ExactLookup
        else:
            request = cache_pb2.ExactStoreRequest(
                context=context(), key="f" * 63, response=make_response("poisoned")
            )
            call = track.stub.ExactStore
        try:
            await dependencies.call(track, "hostile", call, request, CACHE_TIMEOUT)
        except grpc.aio.AioRpcError as refused:
            return refused
        raise AssertionError("a hostile call was answered")

    try:
        answers, refusals = await asyncio.gather(
            asyncio.gather(*(complete(("acme", "globex")[i % 2], i) for i in range(60))),
            asyncio.gather(*(hostile(i) for i in range(10))),
        )
    finally:
        await stub.aclose()

    # One upstream call per tenant; every request got its own tenant's answer.
    assert upstream == {"acme": 1, "globex": 1}
    for i, answer in enumerate(answers):
        assert answer.content[0].text.text == f"The answer for {('acme', 'globex')[i % 2]}."
    # Each hostile call got its own INVALID_ARGUMENT; the breaker saw no failure of the cache.
    assert {r.code() for r in refusals} == {grpc.StatusCode.INVALID_ARGUMENT}
    assert not track.breaker.is_open
    # They shared batches with the honest lookups, which went through the batched path: the
    # waiters were sent back and waited alone, as unary lookups.
    mixed = [
        batch
        for batch in counting.batches
        if any(c.lookup.context.tenant_id == "" and c.HasField("lookup") for c in batch)
        and any(c.lookup.context.tenant_id == "acme" for c in batch)
    ]
    assert mixed
    assert len(counting.batches) < 60 + 10 + 2
    assert 0 < counting.unary_lookups < 60
    stats = await cache.ExactStats(cache_pb2.ExactStatsRequest(tenant_id="acme"))
    assert (stats.hits, stats.misses, stats.entries) == (29, 1, 1)
