"""SemanticBatch, and the gateway's semantic-cache stub (tollgate.gateway.semantic_coalescing)
against a real semantic cache through the gateway's own call path (dependencies.call: breaker,
deadline): concurrent lookups and stores share RPCs, every call gets exactly its unary answer
(its own tenant's, or its own refusal), a store rides in the next lookup's RPC, and a batch never
carries more lookups than its reply has room for."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import pytest

from tollgate.common.breaker import CircuitBreaker
from tollgate.gateway import dependencies
from tollgate.gateway.batching_stub import LINGER_SECONDS
from tollgate.gateway.routing import Track
from tollgate.gateway.semantic_coalescing import CoalescedSemanticStub
from tollgate.semantic_cache.settings import Settings
from tollgate.v1 import semantic_cache_pb2 as pb

TIMEOUT = 5.0
AUSTIN = "Show me 3-bedroom homes under $500k in Austin"
PARAPHRASE = "Find 3 bed houses in Austin below $500,000"
DENVER = "What is the median days on market for condos in Denver"
DENVER_PARAPHRASE = "Median days on market for Denver condos?"


class CountingStub:
    """The semantic cache's stub, keeping every SemanticBatch's calls and counting unary
    lookups."""

    def __init__(self, stub: Any) -> None:
        self._stub = stub
        self.batches: list[list[str]] = []
        self.tenants: list[set[str]] = []
        self.unary_lookups = 0

    def __getattr__(self, method: str) -> Any:
        return getattr(self._stub, method)

    async def SemanticBatch(self, request: Any, timeout: float | None = None) -> Any:
        self.batches.append([call.WhichOneof("call") for call in request.calls])
        self.tenants.append(
            {getattr(call, call.WhichOneof("call")).context.tenant_id for call in request.calls}
        )
        return await self._stub.SemanticBatch(request, timeout=timeout)

    async def SemanticLookup(self, request: Any, timeout: float | None = None) -> Any:
        self.unary_lookups += 1
        return await self._stub.SemanticLookup(request, timeout=timeout)


def _track(stub: CoalescedSemanticStub) -> Track[Any]:
    breaker = CircuitBreaker(failure_threshold=3, open_seconds=60.0)
    return Track("semantic_cache", "stable", "test", None, stub, breaker)  # type: ignore[arg-type]


def _store(requests: Any, tenant: str, question: str, answer: str) -> pb.SemanticStoreRequest:
    return pb.SemanticStoreRequest(
        context=requests.context(tenant),
        request=requests.question(question),
        response=requests.answer(answer),
    )


def _lookup(requests: Any, tenant: str, question: str) -> pb.SemanticLookupRequest:
    return pb.SemanticLookupRequest(
        context=requests.context(tenant), request=requests.question(question)
    )


async def _call(track: Track[Any], method: str, request: Any) -> Any:
    return await dependencies.call(track, method, getattr(track.stub, method), request, TIMEOUT)


@asynccontextmanager
async def _gateway_stub(
    cache: Any, settings: Settings, linger: float = LINGER_SECONDS
) -> AsyncIterator[tuple[CountingStub, Track[Any]]]:
    """The gateway's semantic-cache stub over `cache`, counting what it sends, as a track of
    the gateway's call path; closed (its queued calls sent) on exit."""
    counting = CountingStub(cache.stub)
    stub = CoalescedSemanticStub(
        counting, rpc_timeout=TIMEOUT, max_message_bytes=settings.max_message_bytes, linger=linger
    )
    try:
        yield counting, _track(stub)
    finally:
        await stub.aclose()


async def test_concurrent_calls_share_batches_and_each_gets_its_own_tenants_answer(
    settings: Settings, start_cache: Any, requests: Any
) -> None:
    tenants = [f"tenant-{i}" for i in range(4)]
    async with start_cache(settings) as cache, _gateway_stub(cache, settings) as (counting, track):
        # Each tenant stores the same two questions with answers of its own.
        stored = await asyncio.gather(
            *(
                _call(track, "SemanticStore", _store(requests, tenant, q, f"{tenant}: {a}"))
                for tenant in tenants
                for q, a in ((AUSTIN, "4 homes"), (DENVER, "38 days"))
            )
        )
        assert all(s.stored for s in stored), [s.reason for s in stored]

        async def hostile(i: int) -> grpc.aio.AioRpcError:
            """A lookup without a tenant, or a store without an answer: refused alone."""
            if i % 2:
                request: Any = _lookup(requests, "", PARAPHRASE)
                method = "SemanticLookup"
            else:
                request = pb.SemanticStoreRequest(
                    context=requests.context("tenant-0"), request=requests.question(AUSTIN)
                )
                method = "SemanticStore"
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await _call(track, method, request)
            return refused.value

        asked = [(t, q) for t in tenants for q in (PARAPHRASE, DENVER_PARAPHRASE)] * 3
        found, refusals = await asyncio.gather(
            asyncio.gather(
                *(_call(track, "SemanticLookup", _lookup(requests, t, q)) for t, q in asked)
            ),
            asyncio.gather(*(hostile(i) for i in range(6))),
        )

    for (tenant, question), reply in zip(asked, found, strict=True):
        assert reply.hit, (tenant, question, reply.rejection)
        expected = "4 homes" if question == PARAPHRASE else "38 days"
        assert reply.response.content[0].text.text == f"{tenant}: {expected}"
    for refused in refusals:
        assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert refused.details()
    # The callers' own mistakes never count against the breaker.
    assert not track.breaker.is_open
    # The calls travelled together, tenants mixed in one RPC, and no lookup was sent alone.
    assert len(counting.batches) < len(stored) + len(asked) + len(refusals)
    assert max(len(tenants_of_batch) for tenants_of_batch in counting.tenants) > 1
    assert counting.unary_lookups == 0


async def test_a_store_rides_first_in_the_next_lookups_rpc(
    settings: Settings, start_cache: Any, requests: Any
) -> None:
    # A linger longer than the test: the store can only go with the lookup.
    async with (
        start_cache(settings) as cache,
        _gateway_stub(cache, settings, linger=60) as (counting, track),
    ):
        store = asyncio.create_task(
            _call(track, "SemanticStore", _store(requests, "acme", AUSTIN, "4 homes"))
        )
        await asyncio.sleep(0.2)
        assert counting.batches == []  # the store waits for a lookup
        await _call(track, "SemanticLookup", _lookup(requests, "acme", DENVER))
        stored = await store
        # The batch's calls ran concurrently; once it answered, the store is there.
        found = await _call(track, "SemanticLookup", _lookup(requests, "acme", PARAPHRASE))
    assert counting.batches == [["store", "lookup"], ["lookup"]]
    assert stored.stored
    assert found.hit
    assert found.response.content[0].text.text == "4 homes"


async def test_a_batch_runs_only_the_lookups_its_reply_has_room_for(
    settings: Settings, start_cache: Any, requests: Any
) -> None:
    # Beside the reply's reserve for 1,000 calls, room for two lookups with 2 KiB entries (each
    # may need an entry and a rejection quoting both questions: about 7.7 kB).
    settings = settings.model_copy(
        update={"max_entry_bytes": 2048, "max_message_bytes": 256_000 + 16_000}
    )
    async with start_cache(settings) as cache:
        assert (await cache.stub.SemanticStore(_store(requests, "acme", AUSTIN, "4 homes"))).stored
        batch = pb.SemanticBatchRequest(
            calls=[pb.SemanticCall(lookup=_lookup(requests, "acme", PARAPHRASE)) for _ in range(5)]
        )
        reply = await cache.stub.SemanticBatch(batch)
        kinds = [result.WhichOneof("result") for result in reply.results]
        assert kinds == ["lookup", "lookup", "send_alone", "send_alone", "send_alone"]
        assert all(result.lookup.hit for result in reply.results[:2])
        # What was sent back was not run: only two lookups were counted.
        stats = await cache.stub.SemanticStats(pb.SemanticStatsRequest(tenant_id="acme"))
        assert stats.hits == 2

        # Through the gateway's stub every one is answered: the rest alone.
        async with _gateway_stub(cache, settings) as (counting, track):
            found = await asyncio.gather(
                *(
                    _call(track, "SemanticLookup", _lookup(requests, "acme", PARAPHRASE))
                    for _ in range(8)
                )
            )
    assert all(reply.hit for reply in found)
    assert sum(len(batch) for batch in counting.batches) == 8
    assert counting.unary_lookups == 8 - sum(min(2, len(batch)) for batch in counting.batches)


async def test_an_entry_larger_than_the_limit_is_neither_stored_nor_served(
    settings: Settings, start_cache: Any, requests: Any
) -> None:
    large = "The listing in full. " * 300  # about 6 KB
    async with start_cache(settings.model_copy(update={"max_entry_bytes": 4096})) as cache:
        refused = await cache.stub.SemanticStore(_store(requests, "acme", AUSTIN, large))
        assert not refused.stored
        assert "a cached entry may be at most 4096" in refused.reason
    # Stored under a larger limit, then the service restarts with a smaller one on the same data.
    async with start_cache(settings.model_copy(update={"max_entry_bytes": 64 * 1024})) as cache:
        assert (await cache.stub.SemanticStore(_store(requests, "acme", AUSTIN, large))).stored
        assert (await cache.stub.SemanticLookup(_lookup(requests, "acme", PARAPHRASE))).hit
    async with start_cache(settings.model_copy(update={"max_entry_bytes": 4096})) as cache:
        found = await cache.stub.SemanticLookup(_lookup(requests, "acme", PARAPHRASE))
        assert not found.hit
        assert not found.HasField("response")


async def test_a_batch_of_too_many_calls_is_refused_whole(
    settings: Settings, start_cache: Any, requests: Any
) -> None:
    async with start_cache(settings) as cache:
        call = pb.SemanticCall(lookup=_lookup(requests, "acme", PARAPHRASE))
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await cache.stub.SemanticBatch(pb.SemanticBatchRequest(calls=[call] * 1001))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "at most 1000 calls" in (refused.value.details() or "")
        empty = await cache.stub.SemanticBatch(pb.SemanticBatchRequest(calls=[pb.SemanticCall()]))
        assert empty.results[0].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        assert "names no call" in empty.results[0].error.message


async def test_the_gateways_batches_fit_the_room_the_defaults_give(
    settings: Settings, start_cache: Any, requests: Any
) -> None:
    """With the default entry and message limits a batch runs as many lookups as the gateway's
    stub ever puts in one RPC, so none is sent back to go alone."""
    async with start_cache(settings) as cache:
        calls = [pb.SemanticCall(lookup=_lookup(requests, "acme", PARAPHRASE)) for _ in range(12)]
        reply = await cache.stub.SemanticBatch(pb.SemanticBatchRequest(calls=calls))
    kinds = [result.WhichOneof("result") for result in reply.results]
    assert kinds.count("lookup") == CoalescedSemanticStub.calls_per_rpc
    assert kinds.count("send_alone") == 12 - CoalescedSemanticStub.calls_per_rpc
