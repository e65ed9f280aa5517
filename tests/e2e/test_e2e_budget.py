"""Budgets through the gateway: a request that does not fit is refused with the budget state, a
cache hit holds nothing, and the ledger ends exact."""

from __future__ import annotations

import copy
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import grpc
import pytest

from tests.conftest import ADMIN_KEY, ALL_ON, API_KEY, FullSuite, both_modes, set_tenant_budget
from tollgate.client import TollgateError
from tollgate.v1 import budget_ledger_pb2, common_pb2, gateway_pb2

REQUEST = {
    "model": "claude-sonnet-5-5",
    "messages": [{"role": "user", "content": "Summarise this lead's needs in one line."}],
    # Large enough that answers end on their own: cut-off answers are not cached.
    "max_tokens": 1000,
    "temperature": 0.0,
}


async def _set_tenant_budget(suite: FullSuite, limit_micros: int) -> None:
    async with suite.client(ADMIN_KEY) as admin:
        await set_tenant_budget(admin, "acme", limit_micros)


async def _states(suite: FullSuite) -> list[budget_ledger_pb2.BudgetState]:
    async with suite.client(ADMIN_KEY) as admin:
        reply = await admin.stub.GetBudgets(
            gateway_pb2.GetBudgetsRequest(tenant_id="acme"), metadata=admin.metadata
        )
    return list(reply.states)


async def _settled(suite: FullSuite) -> budget_ledger_pb2.BudgetState:
    await suite.settled()
    state = (await _states(suite))[0]
    assert state.held_micros == 0, "a hold was left open after every commit landed"
    return state


@both_modes
async def test_a_request_that_does_not_fit_is_refused_with_the_budget_state(
    full_suite: FullSuite,
) -> None:
    await _set_tenant_budget(full_suite, 100)  # 100 micro-dollars: less than any request
    async with full_suite.client() as client:
        with pytest.raises(TollgateError) as caught:
            await client.complete(**REQUEST)
    assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert caught.value.metadata["limit_micros"] == "100"
    assert "remaining_micros" in caught.value.metadata
    assert full_suite.upstream_calls() == 0


@both_modes
async def test_commits_equal_the_cost_of_answers_and_hits_hold_nothing(
    full_suite: FullSuite,
) -> None:
    await _set_tenant_budget(full_suite, 10_000_000)
    async with full_suite.client() as client:
        answers = [
            await client.complete(**{**REQUEST, "messages": [{"role": "user", "content": q}]})
            for q in ("Budget?", "Timeline?", "Budget?")
        ]
    state = await _settled(full_suite)
    charged = sum(a.account.cost.total_micros for a in answers)
    assert answers[2].account.cache_status == common_pb2.CACHE_STATUS_EXACT
    assert answers[2].account.cost.total_micros == 0
    assert state.spent_micros == charged > 0
    assert answers[1].account.budget.remaining_micros < 10_000_000


@both_modes
async def test_holds_fit_a_ledger_whose_longest_hold_was_lowered(
    start_suite: Callable[..., AbstractAsyncContextManager[FullSuite]],
) -> None:
    """The ledger refuses a hold_ttl past its MAX_HOLD_TTL_SECONDS. With answers allowed 20
    minutes, the gateway would ask for a hold of about 23; told the ledger's 10, it asks no more
    (the hold may then expire before a 20-minute answer's commit, and is charged in full)."""
    async with start_suite(
        ALL_ON,
        ledger_overrides={"max_hold_ttl_seconds": 600},
        orchestrator_timeout_seconds=1200,
        budget_ledger_max_hold_ttl_seconds=600,
    ) as suite:
        await _set_tenant_budget(suite, 10_000_000)
        async with suite.client() as client:
            answer = await client.complete(**REQUEST)
        state = await _settled(suite)
    assert answer.account.budget.remaining_micros < 10_000_000  # held before Claude was asked
    assert state.spent_micros == answer.account.cost.total_micros > 0


@both_modes
async def test_a_ledger_configured_apart_is_an_operators_error_not_the_callers(
    start_suite: Callable[..., AbstractAsyncContextManager[FullSuite]],
) -> None:
    """The ledger's longest hold lowered, the gateway not told: the ledger refuses the hold's
    length, which the caller did not choose. The caller hears INTERNAL, with what an operator
    must mend, not INVALID_ARGUMENT about a field it never sent; nothing reaches Claude."""
    async with start_suite(
        ALL_ON, ledger_overrides={"max_hold_ttl_seconds": 600}, orchestrator_timeout_seconds=1200
    ) as suite:
        await _set_tenant_budget(suite, 10_000_000)
        async with suite.client() as client:
            with pytest.raises(TollgateError) as caught:
                await client.complete(**REQUEST)
        assert suite.upstream_calls() == 0
    assert caught.value.code == grpc.StatusCode.INTERNAL
    assert "BUDGET_LEDGER_MAX_HOLD_TTL_SECONDS" in caught.value.message
    assert "hold_ttl may be at most 600 seconds" in caught.value.message


async def test_budgets_in_shadow_mode_answer_through_a_ledger_configured_apart(
    start_suite: Callable[..., AbstractAsyncContextManager[FullSuite]],
) -> None:
    """Shadow mode only measures: the same misconfiguration is reported on the request (and
    logged), and the request is answered."""
    flags = copy.deepcopy(ALL_ON)
    flags["flags"]["budget_enforcement"]["mode"] = "shadow"
    async with start_suite(
        flags, ledger_overrides={"max_hold_ttl_seconds": 600}, orchestrator_timeout_seconds=1200
    ) as suite:
        await _set_tenant_budget(suite, 10_000_000)
        async with suite.client() as client:
            answer = await client.complete(**REQUEST)
    report = next(r for r in answer.account.optimizations if r.optimization == "budget_enforcement")
    assert not report.applied
    assert "hold_ttl may be at most 600 seconds" in report.detail


async def test_non_admin_keys_cannot_administer_budgets(full_suite: FullSuite) -> None:
    async with full_suite.client(API_KEY) as client:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.stub.GetBudgets(
                gateway_pb2.GetBudgetsRequest(tenant_id="acme"), metadata=client.metadata
            )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
