"""The cache service over gRPC against a real Redis: hits, misses, TTLs, invalidation, tenant
isolation, the size cap, cacheability and bad input."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2
from redis.asyncio import Redis

from tollgate.cache.keys import TenantKeys
from tollgate.v1 import cache_pb2, common_pb2

Stub = Any
RequestFactory = Callable[..., common_pb2.ClaudeRequest]
ResponseFactory = Callable[..., common_pb2.ClaudeResponse]
ContextFactory = Callable[..., common_pb2.RequestContext]
StoreFactory = Callable[..., cache_pb2.ExactStoreRequest]


async def _lookup(
    cache: Stub,
    context: common_pb2.RequestContext,
    request: common_pb2.ClaudeRequest,
    **fields: Any,
) -> cache_pb2.ExactLookupResponse:
    response: cache_pb2.ExactLookupResponse = await cache.ExactLookup(
        cache_pb2.ExactLookupRequest(context=context, request=request, **fields)
    )
    return response


async def _fill(
    cache: Stub,
    context: common_pb2.RequestContext,
    request: common_pb2.ClaudeRequest,
    response: common_pb2.ClaudeResponse,
    **fields: Any,
) -> str:
    """Look up (taking the lease), then store `response`; returns the key."""
    miss = await _lookup(cache, context, request, acquire_fill_lease=True)
    assert not miss.hit
    stored = await cache.ExactStore(
        cache_pb2.ExactStoreRequest(
            context=context, key=miss.key, response=response, fill_lease=miss.fill_lease, **fields
        )
    )
    assert stored.stored, stored.reason
    return str(miss.key)


async def test_miss_then_store_then_hit(
    cache: Stub,
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
    answer_store: StoreFactory,
) -> None:
    request, answer = make_request(), make_response()
    miss = await _lookup(cache, context(), request, acquire_fill_lease=True)
    assert (miss.hit, miss.cacheable, miss.reason) == (False, True, "")
    assert len(miss.key) == 64
    assert miss.fill_lease
    stored = await cache.ExactStore(answer_store(miss, answer))
    assert stored.stored
    hit = await _lookup(cache, context(), request, acquire_fill_lease=True)
    assert hit.hit
    assert hit.response == answer
    assert hit.key == miss.key
    assert not hit.fill_lease

    stats = await cache.ExactStats(cache_pb2.ExactStatsRequest(tenant_id="acme"))
    assert (stats.hits, stats.misses, stats.entries) == (1, 1, 1)
    assert stats.bytes == answer.ByteSize()


async def test_a_different_request_misses(
    cache: Stub,
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
) -> None:
    await _fill(cache, context(), make_request("Summarise lead 42."), make_response())
    other = await _lookup(cache, context(), make_request("Summarise lead 43."))
    assert not other.hit
    assert other.cacheable


async def test_bookkeeping_fields_do_not_change_the_key(
    cache: Stub,
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
) -> None:
    request = make_request()
    key = await _fill(cache, context(request_id="req_1", contact_id="c1"), request, make_response())
    other_context = context(
        api_key_id="key_2",
        contact_id="c2",
        request_id="req_2",
        conversation_id="conv_2",
        trace_id="0af7651916cd43dd8448eb211c80319c",
    )
    hit = await _lookup(cache, other_context, request)
    assert hit.hit
    assert hit.key == key


async def test_the_task_is_part_of_the_key(
    cache: Stub,
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
) -> None:
    request = make_request()
    await _fill(cache, context(task=common_pb2.TASK_TYPE_CHAT), request, make_response())
    # Unspecified means chat.
    assert (await _lookup(cache, context(), request)).hit
    report = await _lookup(cache, context(task=common_pb2.TASK_TYPE_REPORT), request)
    assert not report.hit
    template = await _lookup(cache, context(), request, template_version="lead-v2")
    assert not template.hit


async def test_an_answer_rendered_for_one_contact_is_never_served_to_another(
    cache: Stub,
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
    answer_store: StoreFactory,
) -> None:
    request = make_request()
    dana = {"template_variables": {"lead_name": "Dana", "email": "dana@example.com"}}
    miss = await _lookup(cache, context(), request, acquire_fill_lease=True, **dana)
    stored = await cache.ExactStore(answer_store(miss, make_response()))
    assert stored.stored
    assert (await _lookup(cache, context(), request, **dana)).hit
    bob = {"template_variables": {"lead_name": "Bob", "email": "bob@example.com"}}
    assert not (await _lookup(cache, context(), request, **bob)).hit
    assert not (await _lookup(cache, context(), request)).hit
    scoped = await _lookup(cache, context(), request, contact_scope="contact-bob", **dana)
    assert not scoped.hit


async def test_oversized_template_variables_are_refused(
    cache: Stub, context: ContextFactory, make_request: RequestFactory
) -> None:
    variables = {f"v{i}": "x" for i in range(65)}
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _lookup(cache, context(), make_request(), template_variables=variables)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_two_tenants_with_byte_identical_requests_never_share_an_entry(
    cache: Stub,
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
    redis_client: Redis,
    redis_namespace: str,
    answer_store: StoreFactory,
) -> None:
    request = make_request()
    key_a = await _fill(cache, context("acme"), request, make_response("Answer for acme."))
    miss_b = await _lookup(cache, context("globex"), request, acquire_fill_lease=True)
    assert not miss_b.hit
    assert miss_b.key != key_a
    # Globex's key, replayed under acme's tenant, does not reach acme's entry either.
    stored = await cache.ExactStore(
        answer_store(miss_b, make_response("Answer for globex."), "globex")
    )
    assert stored.stored
    hit_a = await _lookup(cache, context("acme"), request)
    hit_b = await _lookup(cache, context("globex"), request)
    assert hit_a.response.content[0].text.text == "Answer for acme."
    assert hit_b.response.content[0].text.text == "Answer for globex."

    acme_keys = [k async for k in redis_client.scan_iter(match=f"{redis_namespace}:{{acme}}:*")]
    globex_keys = [k async for k in redis_client.scan_iter(match=f"{redis_namespace}:{{globex}}:*")]
    assert acme_keys
    assert globex_keys
    assert not set(acme_keys) & set(globex_keys)

    removed = await cache.ExactInvalidate(cache_pb2.ExactInvalidateRequest(tenant_id="globex"))
    assert removed.removed == 1
    assert (await _lookup(cache, context("acme"), request)).hit
    assert not (await _lookup(cache, context("globex"), request)).hit


async def test_entries_expire_after_their_ttl(
    cache: Stub,
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
) -> None:
    request = make_request()
    await _fill(
        cache,
        context(),
        request,
        make_response(),
        ttl=duration_pb2.Duration(nanos=300_000_000),
    )
    assert (await _lookup(cache, context(), request)).hit
    await asyncio.sleep(0.5)
    assert not (await _lookup(cache, context(), request)).hit
    stats = await cache.ExactStats(cache_pb2.ExactStatsRequest(tenant_id="acme"))
    assert (stats.entries, stats.bytes) == (0, 0)


async def test_configured_ttl_per_tenant_and_task(
    start_cache: Callable[..., Any],
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
    redis_client: Redis,
    redis_namespace: str,
) -> None:
    cache = await start_cache(
        default_ttl_seconds=3600, ttl_overrides={"acme": {"lead_analysis": 120}}
    )
    lead_context = context(task=common_pb2.TASK_TYPE_LEAD_ANALYSIS)
    lead_key = await _fill(cache, lead_context, make_request(), make_response())
    chat_key = await _fill(cache, context(), make_request(), make_response())
    keys = TenantKeys(redis_namespace, "acme")
    lead_ttl = await redis_client.pttl(keys.entry(lead_key))
    chat_ttl = await redis_client.pttl(keys.entry(chat_key))
    assert 110_000 < lead_ttl <= 120_000
    assert 3_590_000 < chat_ttl <= 3_600_000


async def test_invalidate_a_whole_tenant(
    start_cache: Callable[..., Any],
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
) -> None:
    # A small batch size makes the invalidation take several rounds.
    cache = await start_cache(invalidate_batch_size=2)
    requests = [make_request(f"Question {i}") for i in range(5)]
    for i, request in enumerate(requests):
        await _fill(cache, context(), request, make_response(), tags=[f"lead:{i}"])
    await _fill(cache, context("globex"), requests[0], make_response())

    removed = await cache.ExactInvalidate(cache_pb2.ExactInvalidateRequest(tenant_id="acme"))
    assert removed.removed == 5
    for request in requests:
        assert not (await _lookup(cache, context(), request)).hit
    assert (await _lookup(cache, context("globex"), requests[0])).hit
    stats = await cache.ExactStats(cache_pb2.ExactStatsRequest(tenant_id="acme"))
    assert (stats.entries, stats.bytes) == (0, 0)
    # Invalidating again finds nothing.
    again = await cache.ExactInvalidate(cache_pb2.ExactInvalidateRequest(tenant_id="acme"))
    assert again.removed == 0


async def test_invalidate_by_tag(
    cache: Stub,
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
) -> None:
    only_a, both, only_b, untagged = (make_request(f"Q{i}") for i in range(4))
    await _fill(cache, context(), only_a, make_response(), tags=["lead:1"])
    await _fill(cache, context(), both, make_response(), tags=["lead:1", "report"])
    await _fill(cache, context(), only_b, make_response(), tags=["report"])
    await _fill(cache, context(), untagged, make_response())
    # Another tenant's entry with the same tag stays.
    await _fill(cache, context("globex"), only_a, make_response(), tags=["lead:1"])

    removed = await cache.ExactInvalidate(
        cache_pb2.ExactInvalidateRequest(tenant_id="acme", tags=["lead:1"])
    )
    assert removed.removed == 2
    assert not (await _lookup(cache, context(), only_a)).hit
    assert not (await _lookup(cache, context(), both)).hit
    assert (await _lookup(cache, context(), only_b)).hit
    assert (await _lookup(cache, context(), untagged)).hit
    assert (await _lookup(cache, context("globex"), only_a)).hit

    # "both" went with lead:1, so only one entry is left under "report".
    removed = await cache.ExactInvalidate(
        cache_pb2.ExactInvalidateRequest(tenant_id="acme", tags=["report", "missing"])
    )
    assert removed.removed == 1
    stats = await cache.ExactStats(cache_pb2.ExactStatsRequest(tenant_id="acme"))
    assert stats.entries == 1


async def test_a_restored_entry_loses_its_old_tags(
    cache: Stub,
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
) -> None:
    request = make_request()
    await _fill(cache, context(), request, make_response("first answer"), tags=["old"])
    await _fill_again(cache, context(), request, make_response("second, longer answer"), ["new"])
    removed = await cache.ExactInvalidate(
        cache_pb2.ExactInvalidateRequest(tenant_id="acme", tags=["old"])
    )
    assert removed.removed == 0
    hit = await _lookup(cache, context(), request)
    assert hit.response.content[0].text.text == "second, longer answer"
    stats = await cache.ExactStats(cache_pb2.ExactStatsRequest(tenant_id="acme"))
    assert (stats.entries, stats.bytes) == (1, make_response("second, longer answer").ByteSize())


async def _fill_again(
    cache: Stub,
    context: common_pb2.RequestContext,
    request: common_pb2.ClaudeRequest,
    response: common_pb2.ClaudeResponse,
    tags: list[str],
) -> None:
    key = (await _lookup(cache, context, request)).key
    stored = await cache.ExactStore(
        cache_pb2.ExactStoreRequest(context=context, key=key, response=response, tags=tags)
    )
    assert stored.stored


async def test_answers_over_the_size_cap_are_not_stored(
    start_cache: Callable[..., Any],
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
    redis_client: Redis,
    redis_namespace: str,
    answer_store: StoreFactory,
) -> None:
    cache = await start_cache(max_entry_bytes=200)
    small, large = make_request("small"), make_request("large")
    await _fill(cache, context(), small, make_response("x" * 50))
    miss = await _lookup(cache, context(), large, acquire_fill_lease=True)
    big_answer = make_response("x" * 500)
    refused = await cache.ExactStore(answer_store(miss, big_answer))
    assert not refused.stored
    assert f"{big_answer.ByteSize()} bytes" in refused.reason
    assert "cap of 200" in refused.reason
    assert not await redis_client.exists(TenantKeys(redis_namespace, "acme").entry(miss.key))
    assert not (await _lookup(cache, context(), large)).hit
    assert (await _lookup(cache, context(), small)).hit


async def test_uncacheable_requests_bypass_the_cache(
    cache: Stub,
    context: ContextFactory,
    make_request: RequestFactory,
) -> None:
    hot = await _lookup(cache, context(), make_request(temperature=0.7), acquire_fill_lease=True)
    assert (hot.cacheable, hot.hit, hot.key, hot.fill_lease) == (False, False, "", "")
    assert "temperature" in hot.reason
    tools = await _lookup(cache, context(), make_request(tools=[common_pb2.Tool(name="crm")]))
    assert not tools.cacheable
    assert "tool-use" in tools.reason
    unset = make_request()
    unset.ClearField("temperature")
    assert not (await _lookup(cache, context(), unset)).cacheable
    stats = await cache.ExactStats(cache_pb2.ExactStatsRequest(tenant_id="acme"))
    assert (stats.hits, stats.misses) == (0, 0)


async def test_cacheability_follows_the_settings(
    start_cache: Callable[..., Any],
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
) -> None:
    cache = await start_cache(
        unset_temperature_cacheable=True,
        tool_use_cacheable=True,
        max_tokens_responses_cacheable=True,
        ttl_overrides={"acme": {"report": 0}},
    )
    unset = make_request()
    unset.ClearField("temperature")
    await _fill(cache, context(), unset, make_response())
    assert (await _lookup(cache, context(), unset)).hit
    tool_turn = make_request(tools=[common_pb2.Tool(name="crm")])
    await _fill(
        cache,
        context(),
        tool_turn,
        make_response(
            stop_reason=common_pb2.STOP_REASON_TOOL_USE,
            content=[
                common_pb2.ContentBlock(tool_use=common_pb2.ToolUseBlock(id="toolu_1", name="crm"))
            ],
        ),
    )
    assert (await _lookup(cache, context(), tool_turn)).hit
    cut_off = make_request("long question")
    await _fill(
        cache, context(), cut_off, make_response(stop_reason=common_pb2.STOP_REASON_MAX_TOKENS)
    )
    assert (await _lookup(cache, context(), cut_off)).hit
    report = await _lookup(cache, context(task=common_pb2.TASK_TYPE_REPORT), make_request())
    assert not report.cacheable
    assert "turned off" in report.reason


async def test_answers_cut_off_by_max_tokens_are_not_stored_by_default(
    cache: Stub,
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
) -> None:
    request = make_request()
    miss = await _lookup(cache, context(), request)
    refused = await cache.ExactStore(
        cache_pb2.ExactStoreRequest(
            context=context(),
            key=miss.key,
            response=make_response(stop_reason=common_pb2.STOP_REASON_MAX_TOKENS),
        )
    )
    assert not refused.stored
    assert "max_tokens" in refused.reason
    assert not (await _lookup(cache, context(), request)).hit


async def _expect_invalid(call: Any, request: Any, field: str) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call(request)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = error.value.details() or ""
    assert field in details
    assert "Traceback" not in details
    return details


async def test_bad_lookups_are_refused_with_a_clear_error(
    cache: Stub, context: ContextFactory, make_request: RequestFactory
) -> None:
    request = make_request()
    await _expect_invalid(
        cache.ExactLookup,
        cache_pb2.ExactLookupRequest(context=context(""), request=request),
        "context.tenant_id",
    )
    await _expect_invalid(
        cache.ExactLookup,
        cache_pb2.ExactLookupRequest(context=context(), request=common_pb2.ClaudeRequest()),
        "request.messages",
    )
    broken = make_request()
    broken.messages[0].content.append(common_pb2.ContentBlock())
    await _expect_invalid(
        cache.ExactLookup,
        cache_pb2.ExactLookupRequest(context=context(), request=broken),
        "messages[0].content[1]",
    )
    await _expect_invalid(
        cache.ExactLookup,
        cache_pb2.ExactLookupRequest(
            context=context(), request=request, wait_for_fill=duration_pb2.Duration(seconds=-1)
        ),
        "wait_for_fill",
    )
    await _expect_invalid(
        cache.ExactLookup,
        cache_pb2.ExactLookupRequest(
            context=context(task=99),  # type: ignore[arg-type]
            request=request,
        ),
        "context.task",
    )


async def test_bad_stores_are_refused_and_write_nothing(
    cache: Stub,
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
    redis_client: Redis,
    redis_namespace: str,
) -> None:
    miss = await _lookup(cache, context(), make_request(), acquire_fill_lease=True)
    good = {"context": context(), "key": miss.key, "response": make_response()}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"key": "not-a-key"}, "key"),
        ({"key": miss.key.upper()}, "key"),
        ({"response": None}, "response"),
        ({"tags": ["ok", ""]}, "tags[1]"),
        ({"tags": ["x" * 201]}, "tags[0]"),
        ({"tags": [f"t{i}" for i in range(33)]}, "at most 32"),
        ({"ttl": duration_pb2.Duration(seconds=-5)}, "ttl"),
        ({"ttl": duration_pb2.Duration(seconds=31 * 24 * 3600)}, "ttl"),
        ({"fill_lease": "forged"}, "fill_lease"),
        ({"context": context("")}, "context.tenant_id"),
    ]
    for change, field in cases:
        fields = {**good, **change}
        fields = {k: v for k, v in fields.items() if v is not None}
        await _expect_invalid(cache.ExactStore, cache_pb2.ExactStoreRequest(**fields), field)
    assert not await redis_client.exists(TenantKeys(redis_namespace, "acme").entry(miss.key))
    # The lease is still this caller's: nothing was half-done.
    assert await redis_client.get(TenantKeys(redis_namespace, "acme").lease(miss.key)) == (
        miss.fill_lease.encode()
    )


async def test_bad_admin_calls_are_refused(cache: Stub) -> None:
    await _expect_invalid(
        cache.ExactInvalidate, cache_pb2.ExactInvalidateRequest(tenant_id=""), "tenant_id"
    )
    await _expect_invalid(
        cache.ExactInvalidate,
        cache_pb2.ExactInvalidateRequest(tenant_id="acme", tags=[""]),
        "tags[0]",
    )
    await _expect_invalid(cache.ExactStats, cache_pb2.ExactStatsRequest(), "tenant_id")
    await _expect_invalid(
        cache.ExactRelease,
        cache_pb2.ExactReleaseRequest(
            context=common_pb2.RequestContext(tenant_id="acme"), key="a" * 64
        ),
        "fill_lease",
    )


async def test_without_a_redis_url_the_service_starts_an_embedded_redis(
    start_cache: Callable[..., Any],
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
) -> None:
    cache = await start_cache(redis_url=None)
    request = make_request()
    await _fill(cache, context(), request, make_response())
    assert (await _lookup(cache, context(), request)).hit


async def test_lookups_are_exported_for_the_dashboard(
    cache: Stub,
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
) -> None:
    from prometheus_client import REGISTRY, generate_latest

    request = make_request()
    await _fill(cache, context(), request, make_response())
    assert (await _lookup(cache, context(), request)).hit
    exported = generate_latest(REGISTRY).decode()
    hit_lines = [
        line
        for line in exported.splitlines()
        if line.startswith("tollgate_cache_lookups_total{")
        and 'cache="exact"' in line
        and 'result="hit"' in line
    ]
    assert hit_lines
    assert float(hit_lines[0].rsplit(" ", 1)[1]) >= 1
