"""The exact cache through the gateway: hits cost nothing, streams replay, identical concurrent
requests call Claude once, and a Redis outage never becomes an error."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import OTHER_TENANT_KEY, FullSuite, both_modes, running_full_suite
from tollgate.common.stores import EmbeddedStores
from tollgate.emulator import EmulatorServer
from tollgate.v1 import common_pb2

REQUEST = {
    "model": "claude-sonnet-5-5",
    "system": "You are the assistant of a real-estate CRM.",
    "messages": [{"role": "user", "content": "What documents do I need for pre-approval?"}],
    "max_tokens": 120,
    "temperature": 0.0,
}


def _report(account: common_pb2.Account, key: str) -> common_pb2.OptimizationReport:
    return next(r for r in account.optimizations if r.optimization == key)


@both_modes
async def test_a_repeated_request_is_answered_from_the_cache_for_free(
    full_suite: FullSuite,
) -> None:
    async with full_suite.client() as client:
        first = await client.complete(**REQUEST)
        second = await client.complete(**REQUEST)
    assert first.account.cache_status == common_pb2.CACHE_STATUS_MISS
    assert second.account.cache_status == common_pb2.CACHE_STATUS_EXACT
    assert second.text == first.text
    assert full_suite.upstream_calls() == 1
    assert second.account.cost.total_micros == 0
    # The saving is what the answer cost without any prompt caching.
    assert second.account.saved_micros == second.account.baseline_cost_micros > 0
    assert _report(second.account, "exact_cache").applied
    assert _report(second.account, "exact_cache").micros_saved == second.account.saved_micros


@both_modes
async def test_a_streamed_request_gets_the_cached_answer_as_a_stream(full_suite: FullSuite) -> None:
    async with full_suite.client() as client:
        first = await client.complete(**REQUEST)
        stream = client.stream(**REQUEST)
        kinds = []
        text = []
        async for event in stream:
            kinds.append(event.WhichOneof("event"))
            if event.WhichOneof("event") == "content_block_delta":
                text.append(event.content_block_delta.text)
    assert "".join(text) == first.text
    assert kinds[0] == "message_start"
    assert kinds[-1] == "message_stop"
    assert stream.account is not None
    assert stream.account.cache_status == common_pb2.CACHE_STATUS_EXACT
    assert full_suite.upstream_calls() == 1


@both_modes
async def test_two_tenants_with_identical_requests_never_share(full_suite: FullSuite) -> None:
    async with full_suite.client() as acme, full_suite.client(OTHER_TENANT_KEY) as globex:
        await acme.complete(**REQUEST)
        other = await globex.complete(**REQUEST)
    assert other.account.cache_status == common_pb2.CACHE_STATUS_MISS
    assert full_suite.upstream_calls() == 2


@both_modes
async def test_fifty_identical_concurrent_requests_call_claude_once(full_suite: FullSuite) -> None:
    full_suite.emulator.config.latency.ttft_ms = 300
    async with full_suite.client() as client:
        results = await asyncio.gather(*(client.complete(**REQUEST) for _ in range(50)))
    assert full_suite.upstream_calls() == 1
    assert len({r.text for r in results}) == 1
    statuses = [r.account.cache_status for r in results]
    assert statuses.count(common_pb2.CACHE_STATUS_MISS) == 1
    assert statuses.count(common_pb2.CACHE_STATUS_EXACT) == 49


async def test_redis_stopped_mid_run_still_answers(
    emulator: EmulatorServer, tmp_path: Path, postgres_dsn: str
) -> None:
    from tests.conftest import ALL_ON

    stores = EmbeddedStores(workdir=tmp_path / "redis")
    try:
        redis_url = stores.redis_url()
        async with (
            running_full_suite(
                emulator, tmp_path, redis_url, "outage", postgres_dsn, ALL_ON
            ) as suite,
            suite.client() as client,
        ):
            await client.complete(**REQUEST)
            hit = await client.complete(**REQUEST)
            assert hit.account.cache_status == common_pb2.CACHE_STATUS_EXACT
            stores.close()
            answers = [await client.complete(**REQUEST) for _ in range(3)]
            assert all(a.text == hit.text for a in answers)
            assert all(a.account.cache_status != common_pb2.CACHE_STATUS_EXACT for a in answers)
            assert suite.upstream_calls() == 4
    finally:
        stores.close()
