"""Fixtures of the cache service's tests: the service running in-process against a real Redis,
request and response builders, and a direct Redis client to look behind the service."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
from redis.asyncio import Redis

from tollgate.cache.service import build_service
from tollgate.cache.settings import Settings
from tollgate.common.testing import serving
from tollgate.v1 import cache_pb2, cache_pb2_grpc, common_pb2

CacheStub = cache_pb2_grpc.CacheServiceStub


def text_block(text: str) -> common_pb2.ContentBlock:
    return common_pb2.ContentBlock(text=common_pb2.TextBlock(text=text))


@pytest.fixture
def make_request() -> Callable[..., common_pb2.ClaudeRequest]:
    """A cacheable request (temperature 0) asking `text`; keyword arguments set other fields."""

    def build(
        text: str = "Summarise lead 42 in one line.", **fields: Any
    ) -> common_pb2.ClaudeRequest:
        fields.setdefault("temperature", 0.0)
        return common_pb2.ClaudeRequest(
            model=fields.pop("model", "claude-sonnet-4-5"),
            max_tokens=fields.pop("max_tokens", 256),
            system=fields.pop("system", [text_block("You are a real-estate assistant.")]),
            messages=fields.pop(
                "messages",
                [common_pb2.Message(role=common_pb2.ROLE_USER, content=[text_block(text)])],
            ),
            **fields,
        )

    return build


@pytest.fixture
def make_response() -> Callable[..., common_pb2.ClaudeResponse]:
    def build(
        text: str = "Hot lead: pre-approved, viewing booked.",
        stop_reason: int = common_pb2.STOP_REASON_END_TURN,
        **fields: Any,
    ) -> common_pb2.ClaudeResponse:
        return common_pb2.ClaudeResponse(
            id=fields.pop("id", "msg_01"),
            model=fields.pop("model", "claude-sonnet-4-5"),
            content=fields.pop("content", [text_block(text)]),
            stop_reason=stop_reason,  # type: ignore[arg-type]
            usage=fields.pop("usage", common_pb2.Usage(input_tokens=120, output_tokens=14)),
            **fields,
        )

    return build


@pytest.fixture
def context() -> Callable[..., common_pb2.RequestContext]:
    def build(tenant_id: str = "acme", **fields: Any) -> common_pb2.RequestContext:
        return common_pb2.RequestContext(tenant_id=tenant_id, **fields)

    return build


@pytest.fixture
def answer_store(
    context: Callable[..., common_pb2.RequestContext],
) -> Callable[..., cache_pb2.ExactStoreRequest]:
    """The ExactStoreRequest answering `held` (a lookup that took the fill lease) with `response`:
    `held`'s key and lease, under `tenant`'s context; keyword arguments set or override other
    fields."""

    def build(
        held: cache_pb2.ExactLookupResponse,
        response: common_pb2.ClaudeResponse,
        tenant: str = "acme",
        **fields: Any,
    ) -> cache_pb2.ExactStoreRequest:
        values: dict[str, Any] = {
            "context": context(tenant),
            "key": held.key,
            "fill_lease": held.fill_lease,
            "response": response,
        }
        values.update(fields)
        return cache_pb2.ExactStoreRequest(**values)

    return build


@pytest.fixture
def cache_settings(
    redis_url: str, redis_namespace: str, redis_client: Redis
) -> Callable[..., Settings]:
    """Settings for a service on a free port, against the test Redis, in this test's namespace
    (whose keys `redis_client` removes afterwards)."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": 0,
            "redis_url": redis_url,
            "key_prefix": redis_namespace,
            # Generous Redis budgets: these tests check behaviour, and a loaded test machine must
            # not turn a slow round trip into a "degraded" miss. Degradation tests set their own.
            "lookup_timeout_seconds": 2.0,
            "write_timeout_seconds": 2.0,
        }
        values.update(overrides)
        return Settings(**values)

    return build


@pytest.fixture
async def start_cache(
    cache_settings: Callable[..., Settings],
) -> AsyncIterator[Callable[..., Any]]:
    """`await start_cache(**settings)` runs one more cache service replica and returns its stub."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(**overrides: Any) -> CacheStub:
            settings = cache_settings(**overrides)
            service = await build_service(settings)
            running = await stack.enter_async_context(serving(service, settings))
            channel = await stack.enter_async_context(grpc.aio.insecure_channel(running.address))
            return CacheStub(channel)

        yield start


@pytest.fixture
async def cache(start_cache: Callable[..., Any]) -> CacheStub:
    """The cache service with default settings."""
    stub: CacheStub = await start_cache()
    return stub


@pytest.fixture
async def redis_client(redis_url: str, redis_namespace: str) -> AsyncIterator[Redis]:
    """A direct client to the test Redis; removes this test's keys afterwards."""
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            keys = [key async for key in client.scan_iter(match=f"{redis_namespace}:*")]
            if keys:
                await client.delete(*keys)
        await client.aclose()
