"""Attacks across tenants and contacts (issue 17, findings 5 and 7): an answer rendered for one
contact is never served to another; a tenant's admin acts on its own tenant only; a keys file
with loosely typed fields does not load."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.conftest import (
    ADMIN_KEY,
    API_KEY,
    OTHER_TENANT_KEY,
    TENANT_ADMIN_KEY,
    FullSuite,
    both_modes,
)
from tests.security.conftest import set_tenant_budget, upstream_cost_micros
from tollgate.common.auth import KeysFileError, hash_api_key
from tollgate.gateway.service import build_service
from tollgate.gateway.settings import Settings
from tollgate.v1 import budget_ledger_pb2, common_pb2, gateway_pb2

EXACT = common_pb2.CACHE_STATUS_EXACT


@both_modes
async def test_f5_an_answer_built_from_one_contacts_data_is_not_served_to_another(
    full_suite: FullSuite, ask: Any, read_usage: Any
) -> None:
    request = ask("Write the follow-up e-mail about the offer.")
    async with full_suite.client(API_KEY) as acme:
        dana = await acme.complete(
            **request,
            contact_id="contact-dana",
            template_variables={"company": "Dana Reyes <dana@example.com>, offer $410,000"},
        )
        await full_suite.settled()
        bob = await acme.complete(
            **request,
            contact_id="contact-bob",
            template_variables={"company": "Bob Chen <bob@example.com>, offer $385,000"},
        )
    assert bob.account.cache_status != EXACT
    assert full_suite.upstream_calls() == 2
    costs = dana.account.cost.total_micros + bob.account.cost.total_micros
    assert await read_usage(full_suite, "acme") == (2, costs)


def _tenant_budget(tenant: str, limit: int) -> budget_ledger_pb2.Budget:
    return budget_ledger_pb2.Budget(
        scope=budget_ledger_pb2.BudgetScope(
            kind=budget_ledger_pb2.SCOPE_KIND_TENANT, tenant_id=tenant
        ),
        period=budget_ledger_pb2.BUDGET_PERIOD_MONTH,
        limit_micros=limit,
    )


_OTHER_TENANT_CALLS = [
    ("GetUsageReport", gateway_pb2.GetUsageReportRequest(tenant_id="globex")),
    ("GetBudgets", gateway_pb2.GetBudgetsRequest(tenant_id="globex")),
    ("SetBudget", gateway_pb2.SetBudgetRequest(budget=_tenant_budget("globex", 10**12))),
    (
        "CreateBudgetOverride",
        gateway_pb2.CreateBudgetOverrideRequest(
            override=budget_ledger_pb2.BudgetOverride(
                scope=_tenant_budget("globex", 0).scope,
                period=budget_ledger_pb2.BUDGET_PERIOD_MONTH,
                extra_micros=10**9,
                reason="attack",
            )
        ),
    ),
    ("GetEffectiveConfig", gateway_pb2.GetEffectiveConfigRequest(tenant_id="globex")),
    ("InvalidateCache", gateway_pb2.InvalidateCacheRequest(tenant_id="globex")),
]


@both_modes
async def test_f7_a_tenant_admin_cannot_act_on_another_tenant(
    full_suite: FullSuite, ask: Any, read_usage: Any
) -> None:
    await set_tenant_budget(full_suite, "globex", 50_000)
    async with full_suite.client(TENANT_ADMIN_KEY) as acme_admin:
        for call, message in _OTHER_TENANT_CALLS:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await getattr(acme_admin.stub, call)(message, metadata=acme_admin.metadata)
            assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED, call
            assert "another tenant" in (caught.value.details() or ""), call
        # Its own tenant it administers, with the tenant left empty or named.
        await acme_admin.stub.SetBudget(
            gateway_pb2.SetBudgetRequest(budget=_tenant_budget("", 70_000)),
            metadata=acme_admin.metadata,
        )
        own = await acme_admin.stub.GetBudgets(
            gateway_pb2.GetBudgetsRequest(), metadata=acme_admin.metadata
        )
    assert [s.budget.limit_micros for s in own.states] == [70_000]
    assert {s.budget.scope.tenant_id for s in own.states} == {"acme"}
    # globex's budget is the operator's 50,000 µ$, untouched, and nothing was spent.
    async with full_suite.client(ADMIN_KEY) as operator:
        states = await operator.stub.GetBudgets(
            gateway_pb2.GetBudgetsRequest(tenant_id="globex"), metadata=operator.metadata
        )
    assert [s.budget.limit_micros for s in states.states] == [50_000]
    assert [s.override_micros for s in states.states] == [0]
    assert await read_usage(full_suite, "globex") == (0, 0)
    assert upstream_cost_micros(full_suite) == 0


@both_modes
async def test_f7_an_empty_tenant_id_means_the_callers_own_tenant_for_alerts(
    full_suite: FullSuite, ask: Any, read_usage: Any
) -> None:
    # It used to reach the ledger as "every tenant's alerts".
    # A threshold every 3 percent (the ledger takes 32 at most): answers soon cross new ones, so
    # an alert follows within an answer or two of the watches being live.
    budget = _tenant_budget("globex", 100_000)
    budget.alert_thresholds_percent.extend(range(1, 97, 3))
    async with full_suite.client(ADMIN_KEY) as operator:
        await operator.stub.SetBudget(
            gateway_pb2.SetBudgetRequest(budget=budget), metadata=operator.metadata
        )
    seen_by_acme: list[str] = []

    async with (
        full_suite.client(TENANT_ADMIN_KEY) as acme_admin,
        full_suite.client(ADMIN_KEY) as operator,
    ):
        acme_watch = acme_admin.stub.WatchBudgetAlerts(
            gateway_pb2.WatchBudgetAlertsRequest(), metadata=acme_admin.metadata
        )
        globex_watch = operator.stub.WatchBudgetAlerts(
            gateway_pb2.WatchBudgetAlertsRequest(tenant_id="globex"), metadata=operator.metadata
        )

        async def collect() -> None:
            async for item in acme_watch:
                seen_by_acme.append(item.alert.scope.tenant_id)

        collecting = asyncio.create_task(collect())
        spent = 0
        answers = 0
        next_alert = asyncio.ensure_future(globex_watch.read())
        async with full_suite.client(OTHER_TENANT_KEY) as globex:
            while not next_alert.done() and answers < 10:
                answer = await globex.complete(**ask(f"Draft weekly summary {answers}."))
                spent += answer.account.cost.total_micros
                answers += 1
                await asyncio.wait([next_alert], timeout=2)
        # The operator sees globex's alerts: they were raised ...
        assert next_alert.done()
        assert next_alert.result().alert.scope.tenant_id == "globex"
        # ... and acme's admin, watching with the tenant left empty, saw nothing of it.
        acme_watch.cancel()
        globex_watch.cancel()
        with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
            await collecting
    assert seen_by_acme == []
    assert await read_usage(full_suite, "globex") == (answers, spent)


@pytest.mark.parametrize("admin", ['"false"', '"true"', "1", "yes please"])
async def test_f7_a_loosely_typed_admin_field_stops_the_gateway_from_starting(
    tmp_path: Path, admin: str
) -> None:
    keys = tmp_path / "keys.yaml"
    keys.write_text(
        f"keys:\n  - {{id: a, tenant: acme, sha256: {hash_api_key('k')}, admin: {admin}}}\n"
    )
    with pytest.raises(KeysFileError, match="'admin' must be true or false"):
        await build_service(Settings(host="127.0.0.1", port=0, api_keys_file=str(keys)))
