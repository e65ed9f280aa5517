"""ExactBatch over gRPC against a real Redis: each call answered as its unary call would be (the
same keys, results and counts), a bad call refused alone, a lookup that would wait for another
caller's fill sent back unrun, and a batch never larger than its reply can carry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2
from redis.asyncio import Redis

from tollgate.cache.keys import TenantKeys
from tollgate.cache.policy import CachePolicy
from tollgate.v1 import cache_pb2, common_pb2

Stub = Any
RequestFactory = Callable[..., common_pb2.ClaudeRequest]
ResponseFactory = Callable[..., common_pb2.ClaudeResponse]
ContextFactory = Callable[..., common_pb2.RequestContext]
StoreFactory = Callable[..., cache_pb2.ExactStoreRequest]
Call = cache_pb2.ExactCall
Lookup = cache_pb2.ExactLookupRequest
Store = cache_pb2.ExactStoreRequest
Release = cache_pb2.ExactReleaseRequest


async def _batch(cache: Stub, *calls: cache_pb2.ExactCall) -> list[cache_pb2.ExactCallResult]:
    reply = await cache.ExactBatch(cache_pb2.ExactBatchRequest(calls=calls))
    assert len(reply.results) == len(calls)
    return list(reply.results)


async def _stats(cache: Stub, tenant: str = "acme") -> tuple[int, int, int]:
    stats = await cache.ExactStats(cache_pb2.ExactStatsRequest(tenant_id=tenant))
    return stats.hits, stats.misses, stats.entries


def _wait(seconds: int) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=seconds)


async def _take_lease(
    cache: Stub, context: common_pb2.RequestContext, request: common_pb2.ClaudeRequest
) -> cache_pb2.ExactLookupResponse:
    """A unary lookup that misses and takes the fill lease, as another request's would."""
    held: cache_pb2.ExactLookupResponse = await cache.ExactLookup(
        Lookup(context=context, request=request, acquire_fill_lease=True)
    )
    assert held.fill_lease
    return held


async def test_each_call_is_answered_as_its_unary_call_would_be(
    cache: Stub,
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
    answer_store: StoreFactory,
) -> None:
    first, second = make_request("first question"), make_request("second question")
    sampled = make_request("sampled", temperature=1.0)
    unary_key = (await cache.ExactLookup(Lookup(context=context(), request=first))).key
    lookups = await _batch(
        cache,
        Call(lookup=Lookup(context=context(), request=first, acquire_fill_lease=True)),
        Call(lookup=Lookup(context=context(), request=second, acquire_fill_lease=True)),
        Call(lookup=Lookup(context=context(), request=sampled)),
    )
    assert [r.WhichOneof("result") for r in lookups] == ["lookup"] * 3
    a, b, c = (r.lookup for r in lookups)
    assert (a.hit, a.cacheable, a.key) == (False, True, unary_key)
    assert a.fill_lease
    assert b.fill_lease
    assert b.key != a.key
    assert (c.cacheable, c.key) == (False, "")
    assert "temperature" in c.reason

    answer = make_response("The first answer.")
    settled = await _batch(
        cache,
        Call(store=answer_store(a, answer)),
        Call(release=Release(context=context(), key=b.key, fill_lease=b.fill_lease)),
    )
    assert settled[0].store.stored
    assert settled[1].release.released
    again = await _batch(
        cache,
        Call(lookup=Lookup(context=context(), request=first, acquire_fill_lease=True)),
        Call(lookup=Lookup(context=context(), request=second, acquire_fill_lease=True)),
    )
    assert again[0].lookup.hit
    assert again[0].lookup.response == answer
    # The released lease is free again: the next lookup takes it.
    assert again[1].lookup.fill_lease
    assert again[1].lookup.fill_lease != b.fill_lease
    # Counted as the same calls sent alone: one unary miss, 2 + 1 batched misses, one hit.
    assert await _stats(cache) == (1, 4, 1)


async def test_a_bad_call_is_refused_alone_and_its_batch_mates_are_answered(
    cache: Stub,
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
    redis_client: Redis,
    redis_namespace: str,
) -> None:
    held = await _take_lease(cache, context(), make_request("held"))
    request = make_request()
    answer = make_response()
    store = {"context": context(), "key": held.key, "response": answer}
    bad: list[tuple[cache_pb2.ExactCall, str]] = [
        (Call(lookup=Lookup(context=context(""), request=request)), "context.tenant_id"),
        (Call(lookup=Lookup(context=context("t" * 257), request=request)), "context.tenant_id"),
        (
            Call(
                lookup=Lookup(
                    context=context(),
                    request=request,
                    template_variables={f"v{i}": "x" for i in range(65)},
                )
            ),
            "template_variables",
        ),
        (Call(lookup=Lookup(context=context(), request=common_pb2.ClaudeRequest())), "request"),
        (Call(store=Store(**{**store, "key": "not-a-key"})), "key"),
        (Call(store=Store(**store, tags=[f"t{i}" for i in range(33)])), "tags"),
        (Call(store=Store(**store, tags=["x" * 100_000])), "tags"),
        (Call(store=Store(**store, ttl=duration_pb2.Duration(seconds=10**9))), "ttl"),
        (Call(store=Store(**store, fill_lease="forged")), "fill_lease"),
        (Call(release=Release(context=context(), key=held.key)), "fill_lease"),
        (Call(), ""),
    ]
    first, last = (
        Call(lookup=Lookup(context=context(), request=make_request(text), acquire_fill_lease=True))
        for text in ("first", "last")
    )
    results = await _batch(cache, first, *(call for call, _ in bad), last)
    assert results[0].lookup.fill_lease
    assert results[-1].lookup.fill_lease
    for result, (_, field) in zip(results[1:-1], bad, strict=True):
        assert result.WhichOneof("result") == "error", field
        error = result.error
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        assert list(error.fields) == ([field] if field else [])
        assert error.message
        assert "Traceback" not in error.message
    # The refused stores wrote nothing, and the lease is still its holder's.
    keys = TenantKeys(redis_namespace, "acme")
    assert not await redis_client.exists(keys.entry(held.key))
    assert await redis_client.get(keys.lease(held.key)) == held.fill_lease.encode()


async def test_calls_under_another_tenant_never_reach_the_owners_entry_or_lease(
    cache: Stub,
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
    redis_client: Redis,
    redis_namespace: str,
    answer_store: StoreFactory,
) -> None:
    request = make_request()
    held = await _take_lease(cache, context(), request)
    forged = answer_store(held, make_response("poisoned"), "globex")
    honest = answer_store(held, make_response())
    steal = Release(context=context("globex"), key=held.key, fill_lease=held.fill_lease)
    results = await _batch(cache, Call(store=forged), Call(release=steal))
    assert not results[1].release.released
    lease = TenantKeys(redis_namespace, "acme").lease(held.key)
    assert await redis_client.get(lease) == held.fill_lease.encode()
    assert not (await cache.ExactLookup(Lookup(context=context(), request=request))).hit

    (stored,) = await _batch(cache, Call(store=honest))
    assert stored.store.stored
    hit = await cache.ExactLookup(Lookup(context=context(), request=request))
    assert hit.hit
    assert hit.response == make_response()
    assert not (await cache.ExactLookup(Lookup(context=context("globex"), request=request))).hit


async def test_a_lookup_that_would_wait_is_sent_back_without_waiting_or_counting(
    cache: Stub,
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
    answer_store: StoreFactory,
) -> None:
    request = make_request()
    holder = await _take_lease(cache, context(), request)
    waiting = Lookup(
        context=context(), request=request, acquire_fill_lease=True, wait_for_fill=_wait(30)
    )
    results = await _batch(
        cache,
        Call(lookup=waiting),
        # Not asked to wait: a miss without a lease, counted, exactly as alone.
        Call(lookup=Lookup(context=context(), request=request, acquire_fill_lease=True)),
        Call(lookup=Lookup(context=context(), request=make_request("other"))),
    )
    assert results[0].WhichOneof("result") == "send_alone"
    assert "ExactLookup" in results[0].send_alone.reason
    assert results[1].lookup.reason.startswith("an identical request is being answered")
    assert not results[2].lookup.hit
    assert await _stats(cache) == (0, 3, 0)

    # Sent alone, it waits for the holder's answer as a unary lookup always did.
    await cache.ExactStore(answer_store(holder, make_response()))
    alone = await cache.ExactLookup(waiting)
    assert alone.hit
    assert await _stats(cache) == (1, 3, 1)


async def test_lookups_past_the_room_of_the_reply_are_sent_back_unrun(
    start_cache: Callable[..., Any],
    context: ContextFactory,
    make_request: RequestFactory,
) -> None:
    # Room for the answers of two lookups: 1,000 calls' own results plus two entries of 1 KiB.
    cache = await start_cache(max_entry_bytes=1024, max_message_bytes=256_000 + 2 * 2048)
    lookups = [Call(lookup=Lookup(context=context(), request=make_request(f"q{i}"))) for i in "abc"]
    results = await _batch(cache, *lookups)
    assert [r.WhichOneof("result") for r in results] == ["lookup", "lookup", "send_alone"]
    assert "room" in results[2].send_alone.reason
    assert await _stats(cache) == (0, 2, 0)


async def test_more_calls_than_a_batch_may_carry_are_refused_whole(
    cache: Stub, context: ContextFactory, make_request: RequestFactory
) -> None:
    call = Call(lookup=Lookup(context=context(), request=make_request()))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await cache.ExactBatch(cache_pb2.ExactBatchRequest(calls=[call] * 1001))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "at most 1000" in (refused.value.details() or "")
    assert await _stats(cache) == (0, 0, 0)


async def test_an_unexpected_failure_of_one_call_is_that_calls_alone(
    cache: Stub,
    context: ContextFactory,
    make_request: RequestFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    verdict = CachePolicy.request_verdict

    def fragile(self: CachePolicy, request: Any, tenant_id: str, *args: Any) -> Any:
        if tenant_id == "boom":
            raise RuntimeError("a bug the cache did not expect")
        return verdict(self, request, tenant_id, *args)

    monkeypatch.setattr(CachePolicy, "request_verdict", fragile)
    request = make_request()
    results = await _batch(
        cache,
        Call(lookup=Lookup(context=context("boom"), request=request)),
        Call(lookup=Lookup(context=context(), request=request, acquire_fill_lease=True)),
    )
    error = results[0].error
    assert error.code == grpc.StatusCode.INTERNAL.value[0]
    assert "quote reference" in error.message
    assert "a bug" not in error.message
    assert results[1].lookup.fill_lease
