"""Single flight over gRPC against a real Redis: one lease per key across replicas, waiters get
the stored answer, dead holders are replaced, given-back leases pass on, invalidation wins."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc
import pytest

from tollgate.common.durations import duration
from tollgate.v1 import cache_pb2, common_pb2

Stub = Any
RequestFactory = Callable[..., common_pb2.ClaudeRequest]
ResponseFactory = Callable[..., common_pb2.ClaudeResponse]
ContextFactory = Callable[..., common_pb2.RequestContext]
StoreFactory = Callable[..., cache_pb2.ExactStoreRequest]


def _lookup_request(
    context: common_pb2.RequestContext,
    request: common_pb2.ClaudeRequest,
    *,
    acquire: bool = True,
    wait: float = 0.0,
) -> cache_pb2.ExactLookupRequest:
    return cache_pb2.ExactLookupRequest(
        context=context,
        request=request,
        acquire_fill_lease=acquire,
        wait_for_fill=duration(wait),
    )


async def _holder_and_waiters(
    cache: Stub,
    context: common_pb2.RequestContext,
    request: common_pb2.ClaudeRequest,
    count: int,
) -> tuple[cache_pb2.ExactLookupResponse, list[asyncio.Future[Any]]]:
    """One lookup that takes the fill lease, then `count` lookups waiting for its answer (given
    time to reach the cache and start waiting)."""
    holder = await cache.ExactLookup(_lookup_request(context, request))
    waiters = [
        asyncio.ensure_future(cache.ExactLookup(_lookup_request(context, request, wait=20.0)))
        for _ in range(count)
    ]
    await asyncio.sleep(0.1)
    return holder, waiters


async def test_fifty_concurrent_identical_lookups_give_one_lease_and_one_answer(
    start_cache: Callable[..., Any],
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
    answer_store: StoreFactory,
) -> None:
    # Two replicas sharing one Redis, as behind a load balancer.
    replicas = [await start_cache(), await start_cache()]
    request = make_request()
    calls = [
        asyncio.ensure_future(
            replicas[i % 2].ExactLookup(
                _lookup_request(context(request_id=f"req_{i}"), request, wait=20.0)
            )
        )
        for i in range(50)
    ]
    # Only the lease holder answers before the entry is stored; everyone else waits for it.
    done, pending = await asyncio.wait(calls, return_when=asyncio.FIRST_COMPLETED)
    assert len(done) == 1
    holder = done.pop().result()
    assert holder.fill_lease
    assert not holder.hit
    await asyncio.sleep(0.2)
    assert all(not call.done() for call in pending)

    answer = make_response("The one upstream answer.")
    stored = await replicas[0].ExactStore(answer_store(holder, answer))
    assert stored.stored
    waiters = await asyncio.gather(*pending)
    assert len(waiters) == 49
    assert all(w.hit for w in waiters)
    assert all(w.response == answer for w in waiters)
    assert not any(w.fill_lease for w in waiters)

    stats = await replicas[1].ExactStats(cache_pb2.ExactStatsRequest(tenant_id="acme"))
    assert (stats.hits, stats.misses, stats.entries) == (49, 1, 1)


async def test_a_holder_that_never_stores_is_replaced_after_the_lease_timeout(
    start_cache: Callable[..., Any],
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
    answer_store: StoreFactory,
) -> None:
    cache = await start_cache(lease_timeout_seconds=0.4)
    request = make_request()
    dead = await cache.ExactLookup(_lookup_request(context(), request))
    assert dead.fill_lease
    # The waiter keeps looking while the lease is held, then takes it over once it runs out.
    successor = await cache.ExactLookup(_lookup_request(context(), request, wait=10.0))
    assert successor.fill_lease
    assert successor.fill_lease != dead.fill_lease
    assert not successor.hit

    answer = make_response()
    stored = await cache.ExactStore(answer_store(successor, answer))
    assert stored.stored
    # The first holder, back late, may still store the (same) answer; it no longer holds
    # anything to give back.
    late = await cache.ExactStore(answer_store(dead, answer))
    assert late.stored
    assert (await cache.ExactLookup(_lookup_request(context(), request))).hit


async def test_a_waiter_that_does_not_take_leases_times_out_as_a_miss(
    start_cache: Callable[..., Any],
    context: ContextFactory,
    make_request: RequestFactory,
) -> None:
    cache = await start_cache()
    request = make_request()
    holder = await cache.ExactLookup(_lookup_request(context(), request))
    assert holder.fill_lease
    waiter = await cache.ExactLookup(_lookup_request(context(), request, acquire=False, wait=0.3))
    assert (waiter.hit, waiter.fill_lease, waiter.cacheable) == (False, "", True)
    assert "did not come in time" in waiter.reason
    impatient = await cache.ExactLookup(_lookup_request(context(), request, wait=0.0))
    assert (impatient.hit, impatient.fill_lease) == (False, "")
    assert "another caller" in impatient.reason
    stats = await cache.ExactStats(cache_pb2.ExactStatsRequest(tenant_id="acme"))
    assert (stats.hits, stats.misses) == (0, 3)


async def test_a_wait_is_bounded_by_the_calls_own_deadline(
    start_cache: Callable[..., Any],
    context: ContextFactory,
    make_request: RequestFactory,
) -> None:
    cache = await start_cache(lookup_timeout_seconds=0.1)
    request = make_request()
    await cache.ExactLookup(_lookup_request(context(), request))
    # Asked to wait 30 s on a call with a 1 s deadline: the service answers in time, as a miss.
    waiter = await cache.ExactLookup(_lookup_request(context(), request, wait=30.0), timeout=1.0)
    assert not waiter.hit
    assert not waiter.fill_lease


async def test_a_released_lease_passes_to_a_waiter_at_once(
    cache: Stub,
    context: ContextFactory,
    make_request: RequestFactory,
) -> None:
    request = make_request()
    holder = await cache.ExactLookup(_lookup_request(context(), request))
    waiter = asyncio.ensure_future(
        cache.ExactLookup(_lookup_request(context(), request, wait=20.0))
    )
    await asyncio.sleep(0.1)
    assert not waiter.done()
    released = await cache.ExactRelease(
        cache_pb2.ExactReleaseRequest(
            context=context(), key=holder.key, fill_lease=holder.fill_lease
        )
    )
    assert released.released
    # The default lease timeout is a minute; the waiter does not wait for it.
    successor = await asyncio.wait_for(waiter, timeout=10.0)
    assert successor.fill_lease
    assert successor.fill_lease != holder.fill_lease
    # Giving back a lease twice, or one that moved on, does nothing.
    again = await cache.ExactRelease(
        cache_pb2.ExactReleaseRequest(
            context=context(), key=holder.key, fill_lease=holder.fill_lease
        )
    )
    assert not again.released


async def test_waiters_go_upstream_at_once_when_the_answer_is_not_cacheable(
    cache: Stub,
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
    answer_store: StoreFactory,
) -> None:
    holder, waiters = await _holder_and_waiters(cache, context(), make_request(), 5)
    refused = await cache.ExactStore(
        answer_store(holder, make_response(stop_reason=common_pb2.STOP_REASON_MAX_TOKENS))
    )
    assert not refused.stored
    answers = await asyncio.wait_for(asyncio.gather(*waiters), timeout=10.0)
    for answer in answers:
        assert (answer.hit, answer.fill_lease, answer.cacheable) == (False, "", True)
        assert "not cacheable" in answer.reason


async def test_waiters_go_upstream_at_once_when_the_store_is_refused_as_invalid(
    cache: Stub,
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
    answer_store: StoreFactory,
) -> None:
    """A store the cache refuses outright (here: more tags than an entry may carry) still gives
    its fill lease back: the same request would be refused again, so waiters must not sit out
    the lease's timeout."""
    holder, waiters = await _holder_and_waiters(cache, context(), make_request(), 3)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await cache.ExactStore(
            answer_store(holder, make_response(), tags=[f"tag-{index}" for index in range(100)])
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "at most" in (refused.value.details() or "")
    answers = await asyncio.wait_for(asyncio.gather(*waiters), timeout=10.0)
    for answer in answers:
        assert (answer.hit, answer.fill_lease) == (False, "")


async def test_an_answer_computed_across_an_invalidation_is_not_stored(
    cache: Stub,
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
    answer_store: StoreFactory,
) -> None:
    tenant_wide, tagged, other_tag = make_request("A"), make_request("B"), make_request("C")
    holders = {
        name: await cache.ExactLookup(_lookup_request(context(), request))
        for name, request in (("tenant", tenant_wide), ("tag", tagged), ("other", other_tag))
    }
    await cache.ExactInvalidate(cache_pb2.ExactInvalidateRequest(tenant_id="acme", tags=["x"]))

    def store(name: str, tags: list[str]) -> Any:
        return cache.ExactStore(answer_store(holders[name], make_response(), tags=tags))

    stale = await store("tag", ["x"])
    assert not stale.stored
    assert "invalidated" in stale.reason
    unaffected = await store("other", ["y"])
    assert unaffected.stored

    await cache.ExactInvalidate(cache_pb2.ExactInvalidateRequest(tenant_id="acme"))
    assert not (await store("tenant", [])).stored
    assert not (await cache.ExactLookup(_lookup_request(context(), tenant_wide))).hit
    # A fill that starts after the invalidation stores normally.
    fresh = await cache.ExactLookup(_lookup_request(context(), tagged))
    assert fresh.fill_lease
    stored = await cache.ExactStore(answer_store(fresh, make_response(), tags=["x"]))
    assert stored.stored
