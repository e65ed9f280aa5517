"""Single flight through the gateway's batched exact-cache calls (issue 22): the lookups and stores
of concurrent requests travel together in ExactBatch RPCs, yet identical requests still call
Claude once per tenant, and a request whose store the cache refuses does not fail the stores of
the requests batched with it."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import API_KEY, OTHER_TENANT_KEY, FullSuite
from tollgate.common.testing import metric_total
from tollgate.v1 import common_pb2

EXACT = common_pb2.CACHE_STATUS_EXACT
MISS = common_pb2.CACHE_STATUS_MISS


def _served(method: str) -> float:
    """How many `method` RPCs the cache service has answered (any status)."""
    name = f"/tollgate.v1.CacheService/{method}"
    return metric_total("tollgate_rpc_requests_total", service="cache", method=name)


def _stores(code: str) -> float:
    """How many exact-cache stores the gateway made that ended with `code`."""
    return metric_total(
        "tollgate_gateway_backend_calls_total", backend="cache", method="ExactStore", code=code
    )


async def test_identical_requests_through_batched_cache_calls_call_claude_once_per_tenant(
    full_suite: FullSuite, ask: Any
) -> None:
    full_suite.emulator.config.latency.ttft_ms = 300
    request = ask("Which documents does a pre-approval need?")
    # The gateway takes 64 tags; the cache stores at most 32 per entry and refuses the store.
    over_tagged = [
        ask(f"Summarise listing {i}.", tags=[f"t{n}" for n in range(40)]) for i in range(6)
    ]
    batches, lone_lookups, lone_stores = (
        _served(m) for m in ("ExactBatch", "ExactLookup", "ExactStore")
    )
    stored, refused = _stores("OK"), _stores("INVALID_ARGUMENT")
    async with full_suite.client(API_KEY) as acme, full_suite.client(OTHER_TENANT_KEY) as globex:
        honest = await asyncio.gather(
            *(acme.complete(**request) for _ in range(25)),
            *(globex.complete(**request) for _ in range(25)),
            *(acme.complete(**r) for r in over_tagged),
        )
        await full_suite.settled()
        # One Claude call per tenant for the identical requests, one per over-tagged request.
        assert full_suite.upstream_calls() == 2 + len(over_tagged)
        again = await acme.complete(**request)

    for tenant in (honest[:25], honest[25:50]):
        statuses = [reply.account.cache_status for reply in tenant]
        assert statuses.count(MISS) == 1
        assert statuses.count(EXACT) == 24
        assert len({reply.text for reply in tenant}) == 1
    # Every over-tagged request was answered; only its own store was refused, alone.
    assert all(reply.text for reply in honest[50:])
    assert _stores("INVALID_ARGUMENT") - refused == len(over_tagged)
    assert _stores("OK") - stored == 2
    assert again.account.cache_status == EXACT
    # The lookups and stores went in batches; lookups that waited for the fill went alone.
    assert _served("ExactBatch") > batches
    assert _served("ExactStore") == lone_stores
    assert _served("ExactLookup") > lone_lookups
