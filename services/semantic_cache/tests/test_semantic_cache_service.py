"""The gRPC service, served in-process: the contract the gateway relies on."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2
from qdrant_client import AsyncQdrantClient

from tollgate.semantic_cache.settings import Settings
from tollgate.semantic_cache.store.remote import QdrantVectorStore
from tollgate.v1 import common_pb2
from tollgate.v1 import semantic_cache_pb2 as pb

AUSTIN = "Show me 3-bedroom homes under $500k in Austin"
PARAPHRASE = "Find 3 bed houses in Austin below $500,000"


def store_request(
    requests: Any, question: str, answer: str, **options: Any
) -> pb.SemanticStoreRequest:
    return pb.SemanticStoreRequest(
        context=requests.context(options.pop("tenant", "tenant-a")),
        request=requests.question(question),
        template_version="chat-v3",
        response=requests.answer(answer),
        ttl=options.pop("ttl", duration_pb2.Duration()),
        tags=options.pop("tags", []),
    )


def lookup_request(requests: Any, question: str, **options: Any) -> pb.SemanticLookupRequest:
    return pb.SemanticLookupRequest(
        context=requests.context(options.pop("tenant", "tenant-a"), task=options.pop("task", 1)),
        request=requests.question(question),
        template_version="chat-v3",
        min_similarity=options.pop("min_similarity", 0.0),
    )


@pytest.mark.parametrize("backend", ["edge", "qdrant-local"])
async def test_store_then_a_paraphrase_hits(
    settings: Settings, start_cache: Any, requests: Any, backend: str, static_dimension: int
) -> None:
    store = None
    if backend == "qdrant-local":
        store = QdrantVectorStore(
            AsyncQdrantClient(location=":memory:"), "svc__static", static_dimension
        )
    async with start_cache(settings, store) as cache:
        before = time.time()
        stored = await cache.stub.SemanticStore(
            store_request(requests, AUSTIN, "Here are 4 homes", tags=["market:austin"])
        )
        assert stored.stored
        assert stored.entry_id
        assert stored.reason == ""
        assert stored.expires_at.seconds >= before + settings.default_ttl_seconds - 1

        found = await cache.stub.SemanticLookup(lookup_request(requests, PARAPHRASE))
        assert found.eligible
        assert found.hit
        assert found.response.content[0].text.text == "Here are 4 homes"
        assert found.response.usage.output_tokens == 40
        assert found.matched_question == AUSTIN
        assert found.entry_id == stored.entry_id
        assert found.threshold == pytest.approx(settings.default_threshold)
        assert found.similarity >= found.threshold
        assert found.cached_at.seconds >= int(before)

        stats = await cache.stub.SemanticStats(pb.SemanticStatsRequest(tenant_id="tenant-a"))
        assert (stats.hits, stats.misses, stats.entries, stats.stores) == (1, 0, 1, 1)


async def test_tenants_are_isolated_over_the_wire(
    settings: Settings, start_cache: Any, requests: Any
) -> None:
    async with start_cache(settings) as cache:
        await cache.stub.SemanticStore(store_request(requests, AUSTIN, "A's answer", tenant="a"))
        other = await cache.stub.SemanticLookup(lookup_request(requests, AUSTIN, tenant="b"))
        assert other.eligible
        assert not other.hit
        assert not other.HasField("response")
        stats = await cache.stub.SemanticStats(pb.SemanticStatsRequest(tenant_id="b"))
        assert (stats.misses, stats.entries) == (1, 0)


async def test_a_near_miss_reports_why(settings: Settings, start_cache: Any, requests: Any) -> None:
    async with start_cache(settings) as cache:
        await cache.stub.SemanticStore(store_request(requests, AUSTIN, "under 500k"))
        near = await cache.stub.SemanticLookup(
            lookup_request(requests, "Show me 3-bedroom homes under $500k in Dallas")
        )
        assert not near.hit
        assert near.rejection == "unexplained difference: dallas vs austin"
        assert near.matched_question == AUSTIN
        stats = await cache.stub.SemanticStats(pb.SemanticStatsRequest(tenant_id="tenant-a"))
        assert stats.rejected_near_misses == 1


async def test_thresholds_are_configured_per_task(
    tmp_path: Any, start_cache: Any, requests: Any
) -> None:
    settings = Settings(
        host="127.0.0.1", port=0, data_dir=str(tmp_path), task_thresholds={"report": 0.99}
    )
    async with start_cache(settings) as cache:
        await cache.stub.SemanticStore(store_request(requests, AUSTIN, "a"))
        chat = await cache.stub.SemanticLookup(lookup_request(requests, PARAPHRASE))
        assert chat.hit
        report = await cache.stub.SemanticLookup(
            lookup_request(requests, PARAPHRASE, task=common_pb2.TASK_TYPE_REPORT)
        )
        assert not report.hit
        assert report.threshold == pytest.approx(0.99)


async def test_tool_use_requests_are_not_eligible(
    settings: Settings, start_cache: Any, requests: Any
) -> None:
    async with start_cache(settings) as cache:
        lookup = lookup_request(requests, AUSTIN)
        lookup.request.tools.add(name="search_listings")
        answer = await cache.stub.SemanticLookup(lookup)
        assert not answer.eligible
        assert not answer.hit
        assert "tool use" in answer.ineligible_reason
        store = store_request(requests, AUSTIN, "a")
        store.request.tools.add(name="search_listings")
        stored = await cache.stub.SemanticStore(store)
        assert not stored.stored
        assert "tool use" in stored.reason


async def test_entries_expire_and_the_sweep_purges_them(
    tmp_path: Any, start_cache: Any, requests: Any
) -> None:
    settings = Settings(
        host="127.0.0.1", port=0, data_dir=str(tmp_path), sweep_interval_seconds=0.1
    )
    async with start_cache(settings) as cache:
        ttl = duration_pb2.Duration(seconds=0, nanos=400_000_000)
        await cache.stub.SemanticStore(store_request(requests, AUSTIN, "brief", ttl=ttl))
        await cache.stub.SemanticStore(store_request(requests, "Is 12 Oak St pet-friendly?", "yes"))
        assert (await cache.stub.SemanticLookup(lookup_request(requests, AUSTIN))).hit
        await asyncio.sleep(0.5)
        assert not (await cache.stub.SemanticLookup(lookup_request(requests, AUSTIN))).hit
        for _ in range(50):
            stats = await cache.stub.SemanticStats(pb.SemanticStatsRequest(tenant_id="tenant-a"))
            if stats.entries == 1:
                break
            await asyncio.sleep(0.1)
        assert stats.entries == 1
        assert (
            await cache.stub.SemanticLookup(lookup_request(requests, "Is 12 Oak St pet-friendly?"))
        ).hit


async def test_invalidation_over_the_wire(
    settings: Settings, start_cache: Any, requests: Any
) -> None:
    async with start_cache(settings) as cache:
        await cache.stub.SemanticStore(store_request(requests, AUSTIN, "a", tags=["market:austin"]))
        await cache.stub.SemanticStore(store_request(requests, "Is 12 Oak St pet-friendly?", "b"))
        removed = await cache.stub.SemanticInvalidate(
            pb.SemanticInvalidateRequest(tenant_id="tenant-a", tags=["market:austin"])
        )
        assert removed.removed == 1
        assert not (await cache.stub.SemanticLookup(lookup_request(requests, AUSTIN))).hit
        everything = await cache.stub.SemanticInvalidate(
            pb.SemanticInvalidateRequest(tenant_id="tenant-a")
        )
        assert everything.removed == 1


@pytest.mark.parametrize(
    ("call", "build", "field"),
    [
        (
            "SemanticLookup",
            lambda r: pb.SemanticLookupRequest(request=r.question("hi")),
            "tenant_id",
        ),
        ("SemanticLookup", lambda r: pb.SemanticLookupRequest(context=r.context()), "messages"),
        (
            "SemanticLookup",
            lambda r: pb.SemanticLookupRequest(
                context=r.context(), request=r.question("hi"), min_similarity=1.5
            ),
            "min_similarity",
        ),
        (
            "SemanticStore",
            lambda r: pb.SemanticStoreRequest(context=r.context(), request=r.question("hi")),
            "response is required",
        ),
        (
            "SemanticStore",
            lambda r: pb.SemanticStoreRequest(
                context=r.context(),
                request=r.question("hi"),
                response=r.answer("a"),
                ttl=duration_pb2.Duration(seconds=-5),
            ),
            "ttl must not be negative",
        ),
        (
            "SemanticStore",
            lambda r: pb.SemanticStoreRequest(
                context=r.context(), request=r.question("hi"), response=r.answer("a"), tags=[" "]
            ),
            "tags must not be empty",
        ),
        ("SemanticInvalidate", lambda r: pb.SemanticInvalidateRequest(tags=["x"]), "tenant_id"),
        ("SemanticStats", lambda r: pb.SemanticStatsRequest(), "tenant_id"),
    ],
)
async def test_bad_requests_are_refused_with_a_sentence(
    settings: Settings, start_cache: Any, requests: Any, call: str, build: Any, field: str
) -> None:
    async with start_cache(settings) as cache:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await getattr(cache.stub, call)(build(requests))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in caught.value.details()
        assert "Traceback" not in caught.value.details()


class _UnreachableQdrant(QdrantVectorStore):
    """A Qdrant store whose server is down after start-up."""

    async def open(self) -> None:
        return None


async def test_an_unreachable_qdrant_is_unavailable_not_internal(
    settings: Settings, start_cache: Any, requests: Any, static_dimension: int
) -> None:
    # Port 9 (discard) has no listener here: every request is refused at once.
    client = AsyncQdrantClient(url="http://127.0.0.1:9", timeout=1, check_compatibility=False)
    store = _UnreachableQdrant(client, "down__static", static_dimension)
    async with start_cache(settings, store) as cache:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await cache.stub.SemanticLookup(lookup_request(requests, AUSTIN))
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "treat this as a miss" in caught.value.details()
