"""Rate limits per tenant and per API key, shared through Redis: limits hold across limiter
instances (gateway replicas), a refusal carries a retry hint and consumes nothing, other tenants
and keys are unaffected, and a Redis outage lets requests through."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.conftest import ALL_ON, API_KEY, OTHER_TENANT_KEY, running_full_suite
from tollgate.client import TollgateError
from tollgate.common.errors import ServiceError
from tollgate.emulator import EmulatorServer
from tollgate.gateway.rate_limit import RateLimiter, RateLimits

# The middle of a minute window, so a test never straddles two windows.
NOW = 1_800_000_030.0


def limiter(
    redis_url: str, prefix: str, limits: RateLimits, **overrides: RateLimits
) -> RateLimiter:
    return RateLimiter(redis_url, limits, dict(overrides), key_prefix=prefix)


async def refused(
    rate_limiter: RateLimiter, tenant: str, key: str, tokens: int, key_limits: Any = None
) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        await rate_limiter.admit(tenant, key, tokens, now=NOW, key_limits=key_limits)
    assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    return caught.value


async def test_requests_per_key_are_shared_across_replicas(
    redis_url: str, redis_namespace: str
) -> None:
    limits = RateLimits(key_requests_per_minute=3)
    replica_a = limiter(redis_url, redis_namespace, limits)
    replica_b = limiter(redis_url, redis_namespace, limits)
    try:
        for replica in (replica_a, replica_b, replica_a):
            await replica.admit("acme", "acme-app", 10, now=NOW)
        error = await refused(replica_b, "acme", "acme-app", 10)
        assert error.metadata["limit_scope"] == "key"
        assert error.metadata["limit_kind"] == "requests_per_minute"
        # 30 s into the window: the next one opens in 30 s.
        assert error.metadata["retry_after_seconds"] == "30"
        assert "Retry in 30 seconds" in error.message
        # Another key of the same tenant, and another tenant, still pass.
        await replica_a.admit("acme", "acme-batch", 10, now=NOW)
        await replica_a.admit("globex", "acme-app", 10, now=NOW)
        # The next window starts from zero.
        await replica_b.admit("acme", "acme-app", 10, now=NOW + 60)
    finally:
        await replica_a.close()
        await replica_b.close()


async def test_tenant_tokens_per_minute_count_every_key_and_refusals_cost_nothing(
    redis_url: str, redis_namespace: str
) -> None:
    rate_limiter = limiter(redis_url, redis_namespace, RateLimits(tenant_tokens_per_minute=1000))
    try:
        await rate_limiter.admit("acme", "key-1", 600, now=NOW)
        error = await refused(rate_limiter, "acme", "key-2", 500)
        assert error.metadata["limit_scope"] == "tenant"
        assert error.metadata["limit_kind"] == "tokens_per_minute"
        assert error.metadata["limit"] == "1000"
        # The refused 500 were not counted: 400 more still fit exactly.
        await rate_limiter.admit("acme", "key-2", 400, now=NOW)
        await refused(rate_limiter, "acme", "key-1", 1)
    finally:
        await rate_limiter.close()


async def test_a_request_larger_than_the_token_limit_gets_no_false_retry_hint(
    redis_url: str, redis_namespace: str
) -> None:
    rate_limiter = limiter(redis_url, redis_namespace, RateLimits(key_tokens_per_minute=100))
    try:
        error = await refused(rate_limiter, "acme", "acme-app", 101)
        assert "retry_after_seconds" not in error.metadata
        assert "lower max_tokens" in error.message
    finally:
        await rate_limiter.close()


async def test_tenant_overrides_replace_the_defaults(redis_url: str, redis_namespace: str) -> None:
    rate_limiter = limiter(
        redis_url,
        redis_namespace,
        RateLimits(tenant_requests_per_minute=1),
        acme=RateLimits(tenant_requests_per_minute=3),
    )
    try:
        for _ in range(3):
            await rate_limiter.admit("acme", "k", 1, now=NOW)
        await refused(rate_limiter, "acme", "k", 1)
        await rate_limiter.admit("globex", "k", 1, now=NOW)
        await refused(rate_limiter, "globex", "k", 1)
    finally:
        await rate_limiter.close()


async def test_redis_down_fails_open_with_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    rate_limiter = RateLimiter(
        "redis://127.0.0.1:1/0", RateLimits(key_requests_per_minute=1), {}, timeout_seconds=0.2
    )
    try:
        with caplog.at_level(logging.WARNING, logger="tollgate.gateway.rate_limit"):
            for _ in range(3):
                await rate_limiter.admit("acme", "acme-app", 1, now=NOW)
        assert any("fail open" in r.getMessage() for r in caplog.records)
    finally:
        await rate_limiter.close()


async def test_the_gateway_refuses_past_the_key_limit_with_a_retry_hint(
    emulator: EmulatorServer,
    tmp_path: Path,
    redis_url: str,
    redis_namespace: str,
    postgres_dsn: str,
) -> None:
    async with running_full_suite(
        emulator,
        tmp_path,
        redis_url,
        redis_namespace,
        postgres_dsn,
        ALL_ON,
        rate_limit_redis_url=redis_url,
        rate_limit_key_prefix=f"{redis_namespace}:rl",
        rate_limits=RateLimits(key_requests_per_minute=2),
    ) as suite:
        # Start well inside a minute window so the three requests share one.
        into_window = time.time() % 60
        if into_window > 50:
            await asyncio.sleep(60.5 - into_window)
        outcomes: list[Any] = []
        async with suite.client() as client:
            for index in range(3):
                try:
                    outcomes.append(await client.complete(**_ask(f"question {index}")))
                except TollgateError as exc:
                    outcomes.append(exc)
        upstream = suite.upstream_calls()
        async with suite.client(OTHER_TENANT_KEY) as other:
            await other.complete(**_ask("another tenant is not limited by acme's key"))
    assert not isinstance(outcomes[0], TollgateError)
    assert not isinstance(outcomes[1], TollgateError)
    error = outcomes[2]
    assert isinstance(error, TollgateError)
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert 1 <= int(error.metadata["retry_after_seconds"]) <= 60
    assert error.metadata["limit_scope"] == "key"
    # The refused request never reached Claude.
    assert upstream == 2
    assert API_KEY not in error.message


def _ask(text: str) -> dict[str, Any]:
    return {
        "model": "claude-sonnet-5-5",
        "messages": [{"role": "user", "content": text}],
        "max_tokens": 1000,
        "temperature": 0.0,
    }


async def test_a_managed_keys_own_limits_apply_where_stricter(
    redis_url: str, redis_namespace: str
) -> None:
    from tollgate.common.auth import KeyLimits

    # No limit configured at all: the key's own limit alone.
    unconfigured = limiter(redis_url, f"{redis_namespace}:a", RateLimits())
    own = KeyLimits(requests_per_minute=2, tokens_per_minute=1000)
    try:
        for _ in range(2):
            await unconfigured.admit("acme", "key_1", 10, now=NOW, key_limits=own)
        error = await refused(unconfigured, "acme", "key_1", 10, own)
        assert error.metadata["limit"] == "2"
        # A single request above the key's tokens per minute.
        too_big = await refused(unconfigured, "acme", "key_2", 1001, own)
        assert too_big.metadata["limit_kind"] == "tokens_per_minute"
    finally:
        await unconfigured.close()
    # A configured per-key limit stricter than the key's own still holds: a tenant admin cannot
    # lift a key above what the operator configured.
    configured = limiter(redis_url, f"{redis_namespace}:b", RateLimits(key_requests_per_minute=1))
    generous = KeyLimits(requests_per_minute=100)
    try:
        await configured.admit("acme", "key_3", 10, now=NOW, key_limits=generous)
        error = await refused(configured, "acme", "key_3", 10, generous)
        assert error.metadata["limit"] == "1"
    finally:
        await configured.close()
