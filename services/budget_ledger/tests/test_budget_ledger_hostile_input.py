"""Hostile values in every field a caller controls: each is INVALID_ARGUMENT naming the field,
never INTERNAL (which a gateway counts as the ledger failing), and nothing is written.

Protobuf lets a caller send a Timestamp or Duration outside the range protobuf itself defines
(negative nanos, year 10,000) and int64 amounts whose sums overflow Postgres' bigint; before,
`QueryUsage` with `from.nanos = -1` raised an unhandled ValueError.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from tollgate.v1 import budget_ledger_pb2 as pb
from tollgate.v1 import common_pb2

INT64_MAX = 2**63 - 1
HOUR_AHEAD = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())


def _context(**fields: str) -> common_pb2.RequestContext:
    return common_pb2.RequestContext(**{"tenant_id": "acme", "request_id": "req-1", **fields})


def _window(**stamps: Timestamp) -> pb.QueryUsageRequest:
    return pb.QueryUsageRequest(tenant_id="acme", **stamps)  # type: ignore[arg-type]


def _override(**fields: object) -> pb.GrantOverrideRequest:
    values: dict[str, object] = {
        "scope": pb.BudgetScope(kind=pb.SCOPE_KIND_TENANT, tenant_id="acme"),
        "period": pb.BUDGET_PERIOD_DAY,
        "extra_micros": 5,
        "reason": "push",
        "actor": "ops",
        "expires_at": Timestamp(seconds=HOUR_AHEAD),
    }
    values.update(fields)
    return pb.GrantOverrideRequest(override=pb.BudgetOverride(**values))  # type: ignore[arg-type]


def _budget(**fields: object) -> pb.UpsertBudgetRequest:
    values: dict[str, object] = {
        "scope": pb.BudgetScope(kind=pb.SCOPE_KIND_TENANT, tenant_id="acme"),
        "period": pb.BUDGET_PERIOD_DAY,
        "limit_micros": 1_000,
    }
    values.update(fields)
    return pb.UpsertBudgetRequest(budget=pb.Budget(**values), actor="ops")  # type: ignore[arg-type]


def _commit(record: pb.UsageRecord) -> pb.CommitRequest:
    return pb.CommitRequest(context=_context(), actual_micros=1, record=record)


def _reserve(**fields: object) -> pb.ReserveRequest:
    values: dict[str, object] = {"context": _context(), "amount_micros": 5}
    values.update(fields)
    return pb.ReserveRequest(**values)  # type: ignore[arg-type]


# case: (method, request, the field the refusal must name)
HOSTILE = {
    "usage from with negative nanos": (
        "QueryUsage",
        _window(**{"from": Timestamp(nanos=-1)}),
        "from",
    ),
    "usage to with nanos of two seconds": (
        "QueryUsage",
        _window(to=Timestamp(seconds=1, nanos=2_000_000_000)),
        "to",
    ),
    "usage to after year 9999": ("QueryUsage", _window(to=Timestamp(seconds=INT64_MAX)), "to"),
    "usage from before year 1": (
        "QueryUsage",
        _window(**{"from": Timestamp(seconds=-(2**40))}),
        "from",
    ),
    "usage group_by flood": (
        "QueryUsage",
        pb.QueryUsageRequest(tenant_id="acme", group_by=[1] * 1000),
        "group_by",
    ),
    "alerts since with negative nanos": (
        "ListAlerts",
        pb.ListAlertsRequest(tenant_id="acme", since=Timestamp(nanos=-1)),
        "since",
    ),
    "alerts since after year 9999": (
        "ListAlerts",
        pb.ListAlertsRequest(tenant_id="acme", since=Timestamp(seconds=INT64_MAX)),
        "since",
    ),
    "override expiry with negative nanos": (
        "GrantOverride",
        _override(expires_at=Timestamp(seconds=HOUR_AHEAD, nanos=-5)),
        "override.expires_at",
    ),
    "override expiry after year 9999": (
        "GrantOverride",
        _override(expires_at=Timestamp(seconds=INT64_MAX)),
        "override.expires_at",
    ),
    "override of int64 max": (
        "GrantOverride",
        _override(extra_micros=INT64_MAX),
        "override.extra_micros",
    ),
    "hold ttl with nanos against the seconds' sign": (
        "Reserve",
        _reserve(hold_ttl=Duration(seconds=5, nanos=-1)),
        "hold_ttl",
    ),
    "hold ttl with nanos out of range": (
        "Reserve",
        _reserve(hold_ttl=Duration(seconds=0, nanos=2_000_000_000)),
        "hold_ttl",
    ),
    "hold ttl of int64 max seconds": (
        "Reserve",
        _reserve(hold_ttl=Duration(seconds=INT64_MAX)),
        "hold_ttl",
    ),
    "reserve of int64 max": ("Reserve", _reserve(amount_micros=INT64_MAX), "amount_micros"),
    "reserve of int64 max tokens": ("Reserve", _reserve(tokens=INT64_MAX), "tokens"),
    "tenant id with a NUL byte": (
        "Reserve",
        _reserve(context=_context(tenant_id="acme\x00")),
        "context.tenant_id",
    ),
    "request id of 10,000 characters": (
        "Reserve",
        _reserve(context=_context(request_id="r" * 10_000)),
        "context.request_id",
    ),
    "api key id with a newline": (
        "Commit",
        pb.CommitRequest(context=_context(api_key_id="key\n1"), actual_micros=1),
        "context.api_key_id",
    ),
    "contact id of 10,000 characters": (
        "Release",
        pb.ReleaseRequest(context=_context(contact_id="c" * 10_000)),
        "context.contact_id",
    ),
    "commit of int64 max": (
        "Commit",
        pb.CommitRequest(context=_context(), actual_micros=INT64_MAX),
        "actual_micros",
    ),
    "commit of int64 max tokens": (
        "Commit",
        pb.CommitRequest(context=_context(), actual_micros=1, actual_tokens=INT64_MAX),
        "actual_tokens",
    ),
    "record with an unknown task": ("Commit", _commit(pb.UsageRecord(task=99)), "record.task"),
    "record with an unknown cache status": (
        "Commit",
        _commit(pb.UsageRecord(cache_status=99)),
        "record.cache_status",
    ),
    "record with negative usage": (
        "Commit",
        _commit(pb.UsageRecord(usage=common_pb2.Usage(output_tokens=-1))),
        "record.usage.output_tokens",
    ),
    "record with int64 max baseline": (
        "Commit",
        _commit(pb.UsageRecord(baseline_cost_micros=INT64_MAX)),
        "record.baseline_cost_micros",
    ),
    "record with an unknown optimization mode": (
        "Commit",
        _commit(
            pb.UsageRecord(optimizations=[common_pb2.OptimizationReport(optimization="x", mode=9)])
        ),
        "record.optimizations[0].mode",
    ),
    "record with negative savings": (
        "Commit",
        _commit(
            pb.UsageRecord(
                optimizations=[common_pb2.OptimizationReport(optimization="x", micros_saved=-9)]
            )
        ),
        "record.optimizations[0].micros_saved",
    ),
    "record with 1,000 optimizations": (
        "Commit",
        _commit(
            pb.UsageRecord(optimizations=[common_pb2.OptimizationReport(optimization="x")] * 1000)
        ),
        "record.optimizations",
    ),
    "usage record with an unknown task": (
        "RecordUsage",
        pb.RecordUsageRequest(context=_context(), record=pb.UsageRecord(task=99)),
        "record.task",
    ),
    "budget of int64 max": ("UpsertBudget", _budget(limit_micros=INT64_MAX), "budget.limit_micros"),
    "budget of int64 max tokens": (
        "UpsertBudget",
        _budget(limit_tokens=INT64_MAX),
        "budget.limit_tokens",
    ),
    "budget with 1,000 thresholds": (
        "UpsertBudget",
        _budget(alert_thresholds_percent=list(range(1, 1001))),
        "budget.alert_thresholds_percent",
    ),
    "budget with an unknown scope kind": (
        "UpsertBudget",
        _budget(scope=pb.BudgetScope(kind=7, tenant_id="acme")),
        "budget.scope.kind",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_a_hostile_value_is_invalid_argument_naming_the_field(case: str, ledger, db) -> None:
    method, request, field = HOSTILE[case]
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await getattr(ledger.stub, method)(request)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, refused.value.details()
    details = refused.value.details() or ""
    assert field in details, details
    assert "Traceback" not in details
    for table in ("holds", "ledger_entries", "budgets", "budget_overrides", "budget_audit"):
        assert await db.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    # The ledger still serves: a caller's bad value is not a failure of the ledger.
    await ledger.budget(1_000)
    assert (await ledger.reserve("after", 10)).outcome == pb.RESERVE_OUTCOME_RESERVED
