"""Budgets, overrides and their audit trail; bad input refused before anything is written."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from tollgate.v1 import budget_ledger_pb2 as pb
from tollgate.v1 import common_pb2


def stamp(value: datetime) -> Timestamp:
    result = Timestamp()
    result.FromDatetime(value)
    return result


def override(extra: int, expires_in: timedelta, **fields: object) -> pb.BudgetOverride:
    values: dict[str, object] = {
        "scope": pb.BudgetScope(kind=pb.SCOPE_KIND_TENANT, tenant_id="acme"),
        "period": pb.BUDGET_PERIOD_DAY,
        "extra_micros": extra,
        "reason": "quarter-end lead push",
        "actor": "cfo@acme.test",
        "expires_at": stamp(datetime.now(UTC) + expires_in),
    }
    values.update(fields)
    return pb.BudgetOverride(**values)  # type: ignore[arg-type]


async def test_an_override_raises_the_limit_until_it_expires_and_is_audited(ledger, db) -> None:
    await ledger.budget(1_000)
    await ledger.reserve("req-1", 1_000)
    with pytest.raises(grpc.aio.AioRpcError) as full:
        await ledger.reserve("req-2", 500)
    assert full.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

    granted = await ledger.stub.GrantOverride(
        pb.GrantOverrideRequest(override=override(500, timedelta(seconds=1.5)))
    )
    assert granted.override.id.startswith("ov_")
    assert granted.override.HasField("created_at")
    await ledger.reserve("req-2", 500)
    state = (await ledger.states())[0]
    assert (state.override_micros, state.held_micros, state.remaining_micros) == (500, 1_500, 0)

    await ledger.release("req-2")
    await asyncio.sleep(1.6)  # the override lapses
    state = (await ledger.states())[0]
    assert (state.override_micros, state.remaining_micros) == (0, 0)
    with pytest.raises(grpc.aio.AioRpcError) as lapsed:
        await ledger.reserve("req-3", 500)
    assert lapsed.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

    audit = await db.fetch("SELECT action, actor, reason, after FROM budget_audit ORDER BY id")
    assert [row["action"] for row in audit] == ["budget_created", "override_granted"]
    granted_row = audit[1]
    assert (granted_row["actor"], granted_row["reason"]) == (
        "cfo@acme.test",
        "quarter-end lead push",
    )
    after = json.loads(granted_row["after"])
    assert (after["extra_micros"], after["override_id"]) == (500, granted.override.id)


async def test_budget_changes_are_audited_with_before_and_after(ledger, db) -> None:
    created = await ledger.budget(5_000, kind=pb.SCOPE_KIND_API_KEY, subject="key-1")
    assert created.remaining_micros == 5_000
    updated = await ledger.budget(
        8_000, kind=pb.SCOPE_KIND_API_KEY, subject="key-1", thresholds=(90,)
    )
    assert updated.budget.limit_micros == 8_000
    assert list(updated.budget.alert_thresholds_percent) == [90]
    rows = await db.fetch("SELECT action, actor, before, after FROM budget_audit ORDER BY id")
    assert [r["action"] for r in rows] == ["budget_created", "budget_updated"]
    assert json.loads(rows[1]["before"])["limit_micros"] == 5_000
    assert json.loads(rows[1]["after"])["limit_micros"] == 8_000
    assert rows[1]["actor"] == "finance@acme.test"
    assert await db.fetchval("SELECT count(*) FROM budgets") == 1


async def test_an_override_needs_an_existing_budget(ledger) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await ledger.stub.GrantOverride(
            pb.GrantOverrideRequest(override=override(500, timedelta(hours=1)))
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert "UpsertBudget" in (missing.value.details() or "")


def _context(**fields: str) -> common_pb2.RequestContext:
    values = {"tenant_id": "acme", "request_id": "req-1", **fields}
    return common_pb2.RequestContext(**values)


def _budget(**fields: object) -> pb.Budget:
    values: dict[str, object] = {
        "scope": pb.BudgetScope(kind=pb.SCOPE_KIND_TENANT, tenant_id="acme"),
        "period": pb.BUDGET_PERIOD_DAY,
        "limit_micros": 1_000,
    }
    values.update(fields)
    return pb.Budget(**values)  # type: ignore[arg-type]


BAD_CALLS = {
    "negative amount": ("Reserve", pb.ReserveRequest(context=_context(), amount_micros=-5)),
    "zero amount": ("Reserve", pb.ReserveRequest(context=_context(), amount_micros=0)),
    "negative tokens": (
        "Reserve",
        pb.ReserveRequest(context=_context(), amount_micros=5, tokens=-1),
    ),
    "missing tenant": (
        "Reserve",
        pb.ReserveRequest(context=_context(tenant_id=""), amount_micros=5),
    ),
    "missing request id": (
        "Reserve",
        pb.ReserveRequest(context=_context(request_id=""), amount_micros=5),
    ),
    "negative ttl": (
        "Reserve",
        pb.ReserveRequest(context=_context(), amount_micros=5, hold_ttl=Duration(seconds=-1)),
    ),
    "ttl too long": (
        "Reserve",
        pb.ReserveRequest(context=_context(), amount_micros=5, hold_ttl=Duration(seconds=10**6)),
    ),
    "negative actual": ("Commit", pb.CommitRequest(context=_context(), actual_micros=-1)),
    "commit without tenant": (
        "Commit",
        pb.CommitRequest(context=_context(tenant_id=""), actual_micros=1),
    ),
    "release without request id": (
        "Release",
        pb.ReleaseRequest(context=_context(request_id="")),
    ),
    "unknown period": (
        "UpsertBudget",
        pb.UpsertBudgetRequest(budget=_budget(period=9), actor="ops"),
    ),
    "unspecified period": (
        "UpsertBudget",
        pb.UpsertBudgetRequest(budget=_budget(period=0), actor="ops"),
    ),
    "negative limit": (
        "UpsertBudget",
        pb.UpsertBudgetRequest(budget=_budget(limit_micros=-1), actor="ops"),
    ),
    "threshold zero": (
        "UpsertBudget",
        pb.UpsertBudgetRequest(budget=_budget(alert_thresholds_percent=[0]), actor="ops"),
    ),
    "key scope without key": (
        "UpsertBudget",
        pb.UpsertBudgetRequest(
            budget=_budget(scope=pb.BudgetScope(kind=pb.SCOPE_KIND_API_KEY, tenant_id="acme")),
            actor="ops",
        ),
    ),
    "budget without actor": ("UpsertBudget", pb.UpsertBudgetRequest(budget=_budget())),
    "override without reason": (
        "GrantOverride",
        pb.GrantOverrideRequest(override=override(5, timedelta(hours=1), reason="")),
    ),
    "override already expired": (
        "GrantOverride",
        pb.GrantOverrideRequest(override=override(5, timedelta(hours=-1))),
    ),
    "negative override": (
        "GrantOverride",
        pb.GrantOverrideRequest(override=override(-5, timedelta(hours=1))),
    ),
    "paid usage record": (
        "RecordUsage",
        pb.RecordUsageRequest(
            context=_context(), record=pb.UsageRecord(cost=common_pb2.Cost(total_micros=10))
        ),
    ),
    "states without tenant": ("ListBudgetStates", pb.ListBudgetStatesRequest()),
    "usage window reversed": (
        "QueryUsage",
        pb.QueryUsageRequest(
            tenant_id="acme",
            **{
                "from": stamp(datetime.now(UTC)),
                "to": stamp(datetime.now(UTC) - timedelta(days=1)),
            },
        ),
    ),
    "unknown dimension": (
        "QueryUsage",
        pb.QueryUsageRequest(tenant_id="acme", group_by=[42]),
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
async def test_bad_input_is_refused_and_nothing_is_written(case: str, ledger, db) -> None:
    method, request = BAD_CALLS[case]
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await getattr(ledger.stub, method)(request)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = refused.value.details() or ""
    assert details.endswith(".")
    assert "Traceback" not in details
    for table in ("holds", "ledger_entries", "budgets", "budget_overrides", "budget_audit"):
        assert await db.fetchval(f"SELECT count(*) FROM {table}") == 0, table
