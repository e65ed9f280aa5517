"""Tenant isolation matrix: for every store (exact cache, semantic cache, ledger, reports), tenant
B can neither read, nor spend, nor see tenant A's data — with identical requests and guessed ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.conftest import ADMIN_KEY, API_KEY, OTHER_TENANT_KEY, FullSuite, Suite, both_modes
from tollgate.client import TollgateError
from tollgate.common.channels import open_channel
from tollgate.common.testing import serving
from tollgate.v1 import (
    budget_ledger_pb2,
    cache_pb2,
    cache_pb2_grpc,
    common_pb2,
    gateway_pb2,
    semantic_cache_pb2,
    semantic_cache_pb2_grpc,
)

EXACT = common_pb2.CACHE_STATUS_EXACT


@both_modes
async def test_exact_cache_identical_request_from_another_tenant_is_a_miss(
    full_suite: FullSuite, ask: Any
) -> None:
    request = ask("What is the asking price of 12 Elm Street?")
    async with full_suite.client(API_KEY) as acme:
        first = await acme.complete(**request)
        await full_suite.settled()
        again = await acme.complete(**request)
    async with full_suite.client(OTHER_TENANT_KEY) as globex:
        other = await globex.complete(**request)
    assert first.account.cache_status != EXACT
    assert again.account.cache_status == EXACT  # the cache works: acme is served from it
    assert other.account.cache_status != EXACT  # ... and globex is not served acme's answer
    assert full_suite.upstream_calls() == 2


@both_modes
async def test_exact_cache_invalidation_by_one_tenant_leaves_the_other_intact(
    full_suite: FullSuite, ask: Any
) -> None:
    request = ask("Which schools are near 4 Oak Lane?", tags=["listing-4"])
    async with full_suite.client(API_KEY) as acme:
        await acme.complete(**request)
        await full_suite.settled()
    # The cache service itself, as the gateway calls it for globex's admin invalidation.
    channel = open_channel(full_suite.servers["cache"].address)
    try:
        reply = await cache_pb2_grpc.CacheServiceStub(channel).ExactInvalidate(
            cache_pb2.ExactInvalidateRequest(tenant_id="globex", tags=["listing-4"])
        )
    finally:
        await channel.close()
    assert reply.removed == 0
    async with full_suite.client(API_KEY) as acme:
        assert (await acme.complete(**request)).account.cache_status == EXACT


@both_modes
async def test_ledger_a_tenant_cannot_spend_another_tenants_budget(
    full_suite: FullSuite, ask: Any, read_usage: Any
) -> None:
    async with full_suite.client(ADMIN_KEY) as admin:
        budget = budget_ledger_pb2.Budget(
            scope=budget_ledger_pb2.BudgetScope(
                kind=budget_ledger_pb2.SCOPE_KIND_TENANT, tenant_id="acme"
            ),
            period=budget_ledger_pb2.BUDGET_PERIOD_MONTH,
            limit_micros=100,
        )
        await admin.stub.SetBudget(
            gateway_pb2.SetBudgetRequest(budget=budget), metadata=admin.metadata
        )
    async with full_suite.client(API_KEY) as acme:
        with pytest.raises(TollgateError) as caught:
            await acme.complete(**ask("Draft a follow-up e-mail."))
    assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    # globex is not held to acme's budget, and its spending is not charged to acme.
    async with full_suite.client(OTHER_TENANT_KEY) as globex:
        answer = await globex.complete(**ask("Draft a follow-up e-mail."))
    assert answer.account.cost.total_micros > 0
    assert await read_usage(full_suite, "acme") == (0, 0)
    assert await read_usage(full_suite, "globex") == (1, answer.account.cost.total_micros)


@both_modes
async def test_ledger_a_guessed_request_id_neither_reuses_nor_moves_a_charge(
    full_suite: FullSuite, ask: Any, read_usage: Any
) -> None:
    async with full_suite.client(API_KEY) as acme:
        mine = await acme.complete(**ask("Summarise the lead.", request_id="req-shared-1"))
    # globex presents acme's request id (idempotency key) with another question.
    async with full_suite.client(OTHER_TENANT_KEY) as globex:
        theirs = await globex.complete(**ask("Summarise my lead.", request_id="req-shared-1"))
    assert theirs.account.cache_status != EXACT
    assert full_suite.upstream_calls() == 2
    assert await read_usage(full_suite, "acme") == (1, mine.account.cost.total_micros)
    assert await read_usage(full_suite, "globex") == (1, theirs.account.cost.total_micros)


@pytest.mark.parametrize(
    ("call", "request_message"),
    [
        ("GetUsageReport", gateway_pb2.GetUsageReportRequest(tenant_id="acme")),
        ("GetBudgets", gateway_pb2.GetBudgetsRequest(tenant_id="acme")),
        ("GetBudgets", gateway_pb2.GetBudgetsRequest()),
        ("InvalidateCache", gateway_pb2.InvalidateCacheRequest(tenant_id="acme")),
        ("GetEffectiveConfig", gateway_pb2.GetEffectiveConfigRequest(tenant_id="acme")),
        (
            "SetBudget",
            gateway_pb2.SetBudgetRequest(
                budget=budget_ledger_pb2.Budget(
                    scope=budget_ledger_pb2.BudgetScope(
                        kind=budget_ledger_pb2.SCOPE_KIND_TENANT, tenant_id="globex"
                    ),
                    period=budget_ledger_pb2.BUDGET_PERIOD_MONTH,
                    limit_micros=10**12,
                )
            ),
        ),
    ],
)
async def test_reports_and_admin_calls_refuse_another_tenant_or_a_non_admin_key(
    suite: Suite, call: str, request_message: Any
) -> None:
    async with suite.client(OTHER_TENANT_KEY) as globex:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await getattr(globex.stub, call)(request_message, metadata=globex.metadata)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


@both_modes
async def test_reports_show_a_tenant_only_its_own_usage(full_suite: FullSuite, ask: Any) -> None:
    async with full_suite.client(API_KEY) as acme:
        await acme.complete(**ask("Acme's private question."))
    await full_suite.settled()
    async with full_suite.client(OTHER_TENANT_KEY) as globex:
        reply = await globex.stub.GetUsageReport(
            gateway_pb2.GetUsageReportRequest(), metadata=globex.metadata
        )
    assert reply.report.tenant_id == "globex"
    assert reply.report.totals.requests == 0
    assert reply.report.totals.cost_micros == 0


async def test_semantic_cache_answers_only_the_tenant_that_stored(tmp_path: Path) -> None:
    from tollgate.semantic_cache.service import build_service
    from tollgate.semantic_cache.settings import Settings

    settings = Settings(host="127.0.0.1", port=0, data_dir=str(tmp_path / "vectors"))
    request = common_pb2.ClaudeRequest(
        model="claude-sonnet-5-5",
        max_tokens=500,
        messages=[
            common_pb2.Message(
                role=common_pb2.ROLE_USER,
                content=[
                    common_pb2.ContentBlock(
                        text=common_pb2.TextBlock(text="What are the HOA fees at 9 Pine Court?")
                    )
                ],
            )
        ],
    )
    answer = common_pb2.ClaudeResponse(
        model="claude-sonnet-5-5",
        stop_reason=common_pb2.STOP_REASON_END_TURN,
        content=[common_pb2.ContentBlock(text=common_pb2.TextBlock(text="$310 a month."))],
    )

    def context(tenant: str) -> common_pb2.RequestContext:
        return common_pb2.RequestContext(
            tenant_id=tenant, request_id=f"r-{tenant}", task=common_pb2.TASK_TYPE_CHAT
        )

    async with serving(await build_service(settings), settings) as server:
        channel = grpc.aio.insecure_channel(server.address)
        stub = semantic_cache_pb2_grpc.SemanticCacheServiceStub(channel)
        try:
            await stub.SemanticStore(
                semantic_cache_pb2.SemanticStoreRequest(
                    context=context("acme"), request=request, response=answer
                )
            )
            own = await stub.SemanticLookup(
                semantic_cache_pb2.SemanticLookupRequest(context=context("acme"), request=request)
            )
            other = await stub.SemanticLookup(
                semantic_cache_pb2.SemanticLookupRequest(context=context("globex"), request=request)
            )
            removed = await stub.SemanticInvalidate(
                semantic_cache_pb2.SemanticInvalidateRequest(tenant_id="globex")
            )
        finally:
            await channel.close()
    assert own.hit
    assert own.response.content[0].text.text == "$310 a month."
    assert not other.hit
    assert other.matched_question == ""  # not even the closest question of another tenant
    assert removed.removed == 0
