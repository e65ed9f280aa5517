"""Lead reasoning through the gateway: refused out loud when the tenant's flag is off, and a
batch the budget cannot fully cover is scored anyway, with reasoning for the leads it covers and
a per-lead reason for the others."""

from __future__ import annotations

import asyncio
import copy

import grpc
import pytest

from tests.conftest import ADMIN_KEY, ALL_ON, FullSuite, qualified_lead
from tollgate.common.pricing import PriceTable
from tollgate.v1 import budget_ledger_pb2, gateway_pb2


async def test_reasoning_asked_for_with_the_flag_off_is_refused_explicitly(
    full_suite: FullSuite,
) -> None:
    flags = copy.deepcopy(ALL_ON)
    flags["flags"]["lead_reasoning"]["enabled"] = False
    full_suite.write_flags(flags)
    request = gateway_pb2.ScoreLeadRequest(lead=qualified_lead("lead-1"), with_reasoning=True)
    async with full_suite.client() as client:
        # The gateway polls its flags file every 0.2 s here; until it reloads, calls still
        # reason (and reach Claude).
        for _ in range(50):
            try:
                await client.stub.ScoreLead(request, metadata=client.metadata)
            except grpc.aio.AioRpcError as refused:
                error = refused
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("with_reasoning was accepted with the lead_reasoning flag off")
        calls = full_suite.upstream_calls()
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "with_reasoning is not enabled for this tenant" in (error.details() or "")
        # Without reasoning the same lead is scored.
        plain = await client.stub.ScoreLead(
            gateway_pb2.ScoreLeadRequest(lead=qualified_lead("lead-1")), metadata=client.metadata
        )
    assert plain.score.lead_id == "lead-1"
    assert full_suite.upstream_calls() == calls  # neither call reached Claude


async def test_a_batch_beyond_the_budget_reasons_for_the_leads_it_covers(
    full_suite: FullSuite,
) -> None:
    settings = full_suite.gateway_settings
    per_lead = PriceTable.load().max_cost(
        settings.lead_reasoning_model,
        settings.lead_reasoning_max_input_tokens,
        settings.lead_reasoning_max_output_tokens,
    )
    budget = budget_ledger_pb2.Budget(
        scope=budget_ledger_pb2.BudgetScope(
            kind=budget_ledger_pb2.SCOPE_KIND_TENANT, tenant_id="acme"
        ),
        period=budget_ledger_pb2.BUDGET_PERIOD_MONTH,
        limit_micros=per_lead * 2 + per_lead // 2,  # two and a half leads' worth
    )
    async with full_suite.client(ADMIN_KEY) as admin:
        await admin.stub.SetBudget(
            gateway_pb2.SetBudgetRequest(budget=budget), metadata=admin.metadata
        )
    leads = [qualified_lead(f"lead-{i}") for i in range(5)]
    async with full_suite.client() as client:
        items = [
            item
            async for item in client.stub.ScoreLeads(
                gateway_pb2.ScoreLeadsRequest(leads=leads, with_reasoning=True),
                metadata=client.metadata,
            )
        ]
    await full_suite.settled()
    scores = {item.index: item.score for item in items}
    assert sorted(scores) == [0, 1, 2, 3, 4]
    reasoned = sorted(i for i, s in scores.items() if not s.reasoning_skipped)
    assert reasoned == [0, 1]
    for index in (2, 3, 4):
        assert scores[index].reasoning_skipped.startswith(
            "the budget covers Claude's reasoning for 2 of 5 leads"
        )
        assert not scores[index].HasField("reasoning")
    assert full_suite.upstream_calls() == 2
