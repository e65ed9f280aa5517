"""The gateway's exact-cache stub (cache_coalescing) against a scripted cache: calls share
ExactBatch RPCs, yet each ends as its unary call would through the gateway's call path."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from tollgate.common.breaker import CircuitBreaker
from tollgate.gateway import dependencies
from tollgate.gateway.cache_coalescing import CoalescedCacheStub
from tollgate.gateway.dependencies import DependencyDown
from tollgate.gateway.routing import BackendRouter, Track
from tollgate.gateway.settings import Settings
from tollgate.v1 import cache_pb2, common_pb2

Result = cache_pb2.ExactCallResult
Answer = Callable[[cache_pb2.ExactCall], Result]


def _hit(call: cache_pb2.ExactCall) -> Result:
    """A hit whose answer names the request's tenant and request id."""
    context = call.lookup.context
    text = common_pb2.ContentBlock(text=common_pb2.TextBlock(text=context.request_id))
    reply = cache_pb2.ExactLookupResponse(
        hit=True, cacheable=True, response=common_pb2.ClaudeResponse(content=[text])
    )
    return Result(lookup=reply)


def _answer(call: cache_pb2.ExactCall) -> Result:
    """A lookup hits (see _hit), a store is stored, a release released."""
    if call.WhichOneof("call") == "store":
        return Result(store=cache_pb2.ExactStoreResponse(stored=True))
    if call.WhichOneof("call") == "release":
        return Result(release=cache_pb2.ExactReleaseResponse(released=True))
    return _hit(call)


class ScriptedCache:
    """ExactBatch answers each call with `answer(call)`; the unary methods answer a hit. Every
    RPC is recorded; `hold` keeps each ExactBatch back until it is set."""

    def __init__(self, answer: Answer = _answer) -> None:
        self.answer = answer
        self.batches: list[list[cache_pb2.ExactCall]] = []
        self.unary: list[tuple[str, float | None]] = []
        self.hold = asyncio.Event()
        self.hold.set()
        self.failure: BaseException | None = None

    async def ExactBatch(
        self, request: cache_pb2.ExactBatchRequest, timeout: float | None = None
    ) -> cache_pb2.ExactBatchResponse:
        self.batches.append(list(request.calls))
        await self.hold.wait()
        if self.failure is not None:
            raise self.failure
        return cache_pb2.ExactBatchResponse(results=[self.answer(c) for c in request.calls])

    async def ExactLookup(self, request: Any, timeout: float | None = None) -> Any:
        self.unary.append(("ExactLookup", timeout))
        return _hit(cache_pb2.ExactCall(lookup=request)).lookup

    async def ExactStore(self, request: Any, timeout: float | None = None) -> Any:
        self.unary.append(("ExactStore", timeout))
        return cache_pb2.ExactStoreResponse(stored=True)

    async def ExactInvalidate(self, request: Any, timeout: float | None = None) -> Any:
        self.unary.append(("ExactInvalidate", timeout))
        return cache_pb2.ExactInvalidateResponse(removed=3)


def _stub(
    cache: ScriptedCache, max_message_bytes: int = 8 << 20, **options: Any
) -> CoalescedCacheStub:
    return CoalescedCacheStub(
        cache,  # type: ignore[arg-type]
        rpc_timeout=5.0,
        max_message_bytes=max_message_bytes,
        **options,
    )


def _track(stub: CoalescedCacheStub, threshold: int = 3) -> Track[Any]:
    breaker = CircuitBreaker(failure_threshold=threshold, open_seconds=60.0)
    return Track("cache", "stable", "test", None, stub, breaker)  # type: ignore[arg-type]


def _lookup(request_id: str, tenant: str = "acme") -> cache_pb2.ExactLookupRequest:
    context = common_pb2.RequestContext(tenant_id=tenant, request_id=request_id)
    return cache_pb2.ExactLookupRequest(context=context)


async def _ask(track: Track[Any], request: Any, timeout: float = 5.0) -> Any:
    return await dependencies.call(track, "ExactLookup", track.stub.ExactLookup, request, timeout)


def _answered_text(reply: cache_pb2.ExactLookupResponse) -> str:
    return reply.response.content[0].text.text


async def test_a_lone_call_is_sent_at_once_and_concurrent_calls_share_a_batch() -> None:
    cache = ScriptedCache()
    stub = _stub(cache)
    track = _track(stub)
    try:
        alone = await _ask(track, _lookup("alone"))
        assert _answered_text(alone) == "alone"
        assert [len(b) for b in cache.batches] == [1]

        cache.hold.clear()
        first = asyncio.create_task(_ask(track, _lookup("first")))
        await asyncio.sleep(0.01)  # the first batch is in flight; the next calls queue
        rest = [asyncio.create_task(_ask(track, _lookup(f"r{i}"))) for i in range(20)]
        await asyncio.sleep(0.01)
        cache.hold.set()
        replies = await asyncio.gather(first, *rest)
    finally:
        await stub.aclose()
    # Each caller got its own answer, not a batch-mate's.
    assert [_answered_text(r) for r in replies] == ["first", *(f"r{i}" for i in range(20))]
    assert len(cache.batches) < 1 + 21
    assert sum(len(b) for b in cache.batches) == 22
    assert cache.unary == []


async def test_a_store_rides_in_the_next_lookups_batch_and_alone_waits_only_its_linger() -> None:
    cache = ScriptedCache()
    # A linger far longer than the test: a store that went alone would hang it.
    stub = _stub(cache, linger=60.0)
    store = cache_pb2.ExactStoreRequest(key="k", fill_lease="1-a")
    try:
        stored = asyncio.create_task(stub.ExactStore(store, timeout=120.0))
        await asyncio.sleep(0.01)
        assert cache.batches == []  # background work starts no RPC of its own
        assert _answered_text(await stub.ExactLookup(_lookup("next"), timeout=5.0)) == "next"
        assert (await stored).stored
    finally:
        await stub.aclose()
    # The store waited longest, so it goes first in the batch.
    assert [[c.WhichOneof("call") for c in batch] for batch in cache.batches] == [
        ["store", "lookup"]
    ]

    quick = _stub(ScriptedCache())  # the default linger: a lone store still goes
    try:
        assert (await quick.ExactStore(store, timeout=5.0)).stored
    finally:
        await quick.aclose()


async def test_a_refused_call_raises_its_own_unary_error_and_its_batch_mates_are_answered() -> None:
    def answer(call: cache_pb2.ExactCall) -> Result:
        if call.lookup.context.tenant_id:
            return _hit(call)
        error = cache_pb2.ExactCallError(
            code=grpc.StatusCode.INVALID_ARGUMENT.value[0],
            message="context.tenant_id is required: every entry belongs to a tenant.",
            fields=["context.tenant_id"],
        )
        return Result(error=error)

    cache = ScriptedCache(answer)
    stub = _stub(cache)
    track = _track(stub, threshold=1)
    cache.hold.clear()
    calls = [_ask(track, _lookup(f"ok-{i}")) for i in range(3)]
    calls.insert(1, _ask(track, _lookup("bad", tenant="")))
    pending = asyncio.gather(*calls, return_exceptions=True)
    await asyncio.sleep(0.01)
    cache.hold.set()
    try:
        outcomes = await pending
    finally:
        await stub.aclose()
    refused = outcomes.pop(1)
    assert [_answered_text(o) for o in outcomes] == ["ok-0", "ok-1", "ok-2"]  # type: ignore[union-attr]
    # The unary call's error: its code, its sentence, its google.rpc.BadRequest field.
    assert isinstance(refused, grpc.aio.AioRpcError)
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "tenant" in (refused.details() or "")
    (details,) = [v for k, v in refused.trailing_metadata() or () if k.endswith("-bin")]
    bad_request = error_details_pb2.BadRequest()
    assert status_pb2.Status.FromString(details).details[0].Unpack(bad_request)
    assert [v.field for v in bad_request.field_violations] == ["context.tenant_id"]
    # A caller's own mistake never counts against the cache's breaker.
    assert not track.breaker.is_open


async def test_a_call_sent_back_by_the_batch_is_asked_alone_within_its_own_deadline() -> None:
    def answer(call: cache_pb2.ExactCall) -> Result:
        if call.lookup.context.request_id == "waits":
            return Result(send_alone=cache_pb2.ExactSendAlone(reason="would wait"))
        return _hit(call)

    cache = ScriptedCache(answer)
    stub = _stub(cache)
    track = _track(stub)
    try:
        waits, other = await asyncio.gather(
            _ask(track, _lookup("waits"), timeout=30.0), _ask(track, _lookup("other"))
        )
    finally:
        await stub.aclose()
    assert _answered_text(waits) == "waits"
    assert _answered_text(other) == "other"
    # Only the sent-back lookup went alone, with what was left of its 30 s.
    ((method, timeout),) = cache.unary
    assert method == "ExactLookup"
    assert timeout is not None
    assert 0 < timeout < 30.0


async def test_a_call_too_large_for_a_share_of_a_batch_goes_alone() -> None:
    cache = ScriptedCache()
    # 24 calls a batch in half of 24 KiB: a call over 512 bytes goes alone.
    stub = _stub(cache, max_message_bytes=24 * 1024)
    track = _track(stub)
    big = cache_pb2.ExactStoreRequest(
        context=common_pb2.RequestContext(tenant_id="acme"), tags=["x" * 600]
    )
    try:
        stored = await dependencies.call(track, "ExactStore", track.stub.ExactStore, big, 5.0)
        small = await _ask(track, _lookup("small"))
    finally:
        await stub.aclose()
    assert stored.stored
    assert _answered_text(small) == "small"
    assert [m for m, _ in cache.unary] == ["ExactStore"]
    assert len(cache.batches) == 1


async def test_a_failed_rpc_fails_every_call_it_carried_each_with_its_own_error() -> None:
    cache = ScriptedCache()
    cache.failure = grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "connection refused"
    )
    stub = _stub(cache)
    track = _track(stub, threshold=3)
    try:
        outcomes = await asyncio.gather(
            *(_ask(track, _lookup(f"r{i}")) for i in range(6)), return_exceptions=True
        )
        with pytest.raises(DependencyDown, match="circuit open"):
            await _ask(track, _lookup("after"))
    finally:
        await stub.aclose()
    assert all(isinstance(o, DependencyDown) for o in outcomes)
    codes = {o.error.code() for o in outcomes if isinstance(o, DependencyDown) and o.error}
    assert codes == {grpc.StatusCode.UNAVAILABLE}
    assert len({id(o.error) for o in outcomes if isinstance(o, DependencyDown)}) == 6
    assert track.breaker.is_open


async def test_a_reply_with_a_missing_result_is_a_failure_of_the_rpc() -> None:
    cache = ScriptedCache()
    stub = _stub(cache)

    async def short(request: Any, timeout: float | None = None) -> Any:
        return cache_pb2.ExactBatchResponse(results=[])

    cache.ExactBatch = short  # type: ignore[method-assign]
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ExactLookup(_lookup("r"), timeout=5.0)
    finally:
        await stub.aclose()
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "answered 0 of 1" in (caught.value.details() or "")


async def test_a_call_whose_deadline_passes_fails_alone() -> None:
    cache = ScriptedCache()
    stub = _stub(cache)
    track = _track(stub)
    cache.hold.clear()
    patient = asyncio.create_task(_ask(track, _lookup("patient"), timeout=5.0))
    hasty = asyncio.create_task(_ask(track, _lookup("hasty"), timeout=0.05))
    try:
        with pytest.raises(DependencyDown) as late:
            await hasty
        cache.hold.set()
        assert _answered_text(await patient) == "patient"
    finally:
        await stub.aclose()
    assert late.value.error is not None
    assert late.value.error.code() == grpc.StatusCode.DEADLINE_EXCEEDED


async def test_calls_queued_when_the_stub_closes_are_sent() -> None:
    cache = ScriptedCache()
    stub = _stub(cache)
    cache.hold.clear()
    # Stores that give fill leases back: dropping them would leave the leases to run out.
    stores = [
        asyncio.create_task(
            stub.ExactStore(cache_pb2.ExactStoreRequest(key=f"k{i}", fill_lease="1-a"), timeout=5)
        )
        for i in range(5)
    ]
    await asyncio.sleep(0.01)
    closing = asyncio.create_task(stub.aclose())
    await asyncio.sleep(0.01)
    assert not closing.done()  # it waits for the queued calls to be sent
    cache.hold.set()
    await closing
    assert all(reply.stored for reply in await asyncio.gather(*stores))
    sent = [call.store.key for batch in cache.batches for call in batch]
    assert sorted(sent) == [f"k{i}" for i in range(5)]


async def test_every_cache_track_coalesces_its_lookups_stores_and_releases() -> None:
    """Lookups, stores and releases of every cache deployment (stable and canary) go through
    its own coalescing stub, so a batch never mixes tracks; invalidation and stats stay unary."""
    router = BackendRouter.connect(Settings(cache_canary_addr="127.0.0.1:3"))
    try:
        tracks = router.backends["cache"].tracks()
        assert len(tracks) == 2
        assert all(isinstance(track.stub, CoalescedCacheStub) for track in tracks)
        assert tracks[0].stub is not tracks[1].stub
        for track in tracks:
            assert track.stub.ExactLookup.__self__ is track.stub
            assert isinstance(track.stub.ExactInvalidate, grpc.aio.UnaryUnaryMultiCallable)
            assert isinstance(track.stub.ExactStats, grpc.aio.UnaryUnaryMultiCallable)
    finally:
        await router.close()
