"""Fixtures of the end-to-end tests of the gateway's HTTP door."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import ADMIN_KEY, ALL_ON, FullSuite, running_full_suite
from tollgate.emulator import EmulatorServer
from tollgate.v1 import budget_ledger_pb2, gateway_pb2


@pytest.fixture
async def door(
    emulator: EmulatorServer,
    tmp_path: Path,
    redis_url: str,
    redis_namespace: str,
    postgres_dsn: str,
) -> AsyncIterator[tuple[FullSuite, str]]:
    async with running_full_suite(
        emulator,
        tmp_path,
        redis_url,
        redis_namespace,
        postgres_dsn,
        ALL_ON,
        http_enabled=True,
        http_port=0,
    ) as suite:
        yield suite, suite.http_url


async def set_tenant_budget(suite: FullSuite, limit_micros: int) -> None:
    async with suite.client(ADMIN_KEY) as admin:
        budget = budget_ledger_pb2.Budget(
            scope=budget_ledger_pb2.BudgetScope(
                kind=budget_ledger_pb2.SCOPE_KIND_TENANT, tenant_id="acme"
            ),
            period=budget_ledger_pb2.BUDGET_PERIOD_MONTH,
            limit_micros=limit_micros,
        )
        await admin.stub.SetBudget(
            gateway_pb2.SetBudgetRequest(budget=budget), metadata=admin.metadata
        )
