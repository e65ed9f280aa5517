"""Usage and savings: recording free requests, and reports grouped by any set of dimensions.

Savings are measured per request against its baseline (what the original request would have cost
sent straight to Claude), and per optimization from the OptimizationReports stored with each
entry. Shadow-mode reports are counted apart: they say what would have been saved, not what was.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from tollgate.budget_ledger import entries
from tollgate.budget_ledger.database import Database, in_transaction
from tollgate.budget_ledger.model import Requester
from tollgate.budget_ledger.validation import UsageQuery
from tollgate.v1 import budget_ledger_pb2 as pb
from tollgate.v1 import common_pb2

MAX_REPORT_ROWS = 10_000

# Dimension → (name in UsageRow.group, SQL expression over ledger_entries e). Only these
# fixed expressions are ever spliced into SQL; every value is a bind parameter.
DIMENSIONS: dict[int, tuple[str, str]] = {
    pb.USAGE_DIMENSION_API_KEY: ("api_key", "e.api_key_id"),
    pb.USAGE_DIMENSION_CONTACT: ("contact", "e.contact_id"),
    pb.USAGE_DIMENSION_MODEL: ("model", "e.model"),
    pb.USAGE_DIMENSION_TASK: ("task", "e.task::text"),
    pb.USAGE_DIMENSION_CACHE_STATUS: ("cache_status", "e.cache_status::text"),
    pb.USAGE_DIMENSION_DAY: (
        "day",
        "to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    ),
    pb.USAGE_DIMENSION_HOUR: (
        "hour",
        "to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:00\"Z\"')",
    ),
    pb.USAGE_DIMENSION_MINUTE: (
        "minute",
        "to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI\"Z\"')",
    ),
}

_MEASURES = """
    count(*) AS requests,
    COALESCE(sum(e.input_tokens + e.cache_read_tokens + e.cache_write_tokens), 0)::bigint
      AS input_tokens,
    COALESCE(sum(e.output_tokens), 0)::bigint AS output_tokens,
    COALESCE(sum(e.cost_micros), 0)::bigint AS cost_micros,
    COALESCE(sum(e.baseline_cost_micros), 0)::bigint AS baseline_cost_micros
"""

_WINDOW = "e.tenant_id = $1 AND e.created_at >= $2 AND e.created_at < $3"

_SAVINGS = f"""
    SELECT o.optimization,
           count(*) FILTER (WHERE o.applied AND o.mode <> 2) AS requests_applied,
           COALESCE(sum(o.tokens_saved) FILTER (WHERE o.applied AND o.mode <> 2), 0)::bigint
             AS tokens_saved,
           COALESCE(sum(o.micros_saved) FILTER (WHERE o.applied AND o.mode <> 2), 0)::bigint
             AS micros_saved,
           count(*) FILTER (WHERE o.applied AND o.mode = 2) AS shadow_requests,
           COALESCE(sum(o.micros_saved) FILTER (WHERE o.applied AND o.mode = 2), 0)::bigint
             AS shadow_micros_saved
    FROM ledger_entry_optimizations o JOIN ledger_entries e ON e.id = o.entry_id
    WHERE {_WINDOW}
    GROUP BY o.optimization
    ORDER BY micros_saved DESC, o.optimization
"""

_ENUM_LABELS: dict[str, dict[int, str]] = {
    "task": {
        value: name.removeprefix("TASK_TYPE_").lower()
        for name, value in common_pb2.TaskType.items()
    },
    "cache_status": {
        value: name.removeprefix("CACHE_STATUS_").lower()
        for name, value in common_pb2.CacheStatus.items()
    },
}


@dataclass
class UsageTotals:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_micros: int = 0
    baseline_cost_micros: int = 0

    @property
    def saved_micros(self) -> int:
        return self.baseline_cost_micros - self.cost_micros


@dataclass
class UsageReportData:
    rows: list[tuple[dict[str, str], UsageTotals]]
    totals: UsageTotals
    savings: list[pb.OptimizationSavings] = field(default_factory=list)
    truncated: bool = False


class UsageBook:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def record(self, requester: Requester, request_id: str, record: pb.UsageRecord) -> str:
        """Post a zero-cost entry (a cache hit); idempotent by request id."""

        async def work(conn: asyncpg.Connection) -> str:
            new_id = await entries.post(
                conn,
                entries.NewEntry(
                    requester=requester,
                    request_id=request_id,
                    kind="usage",
                    held_micros=0,
                    cost_micros=0,
                    tokens=0,
                    record=record,
                ),
            )
            if new_id is not None:
                return entries.entry_id(new_id)
            posted = await entries.find(conn, requester.tenant_id, request_id)
            assert posted is not None  # the conflicting row is committed and visible
            return posted.public_id

        return await in_transaction(self._database.pool, work)

    async def report(self, query: UsageQuery) -> UsageReportData:
        names = [DIMENSIONS[d][0] for d in query.group_by]
        expressions = [DIMENSIONS[d][1] for d in query.group_by]
        window = (query.tenant_id, query.start, query.end)
        async with (
            self._database.pool.acquire() as conn,
            conn.transaction(readonly=True, isolation="repeatable_read"),
        ):
            # One snapshot, so the rows, totals and savings add up to each other.
            totals_row = await conn.fetchrow(
                f"SELECT {_MEASURES} FROM ledger_entries e WHERE {_WINDOW}", *window
            )
            assert totals_row is not None  # an aggregate without GROUP BY returns one row
            rows: list[tuple[dict[str, str], UsageTotals]] = []
            truncated = False
            if names:
                columns = ", ".join(f"{expr} AS g{i}" for i, expr in enumerate(expressions))
                ordinals = ", ".join(str(i + 1) for i in range(len(names)))
                fetched = await conn.fetch(
                    f"SELECT {columns}, {_MEASURES} FROM ledger_entries e WHERE {_WINDOW} "
                    f"GROUP BY {ordinals} ORDER BY {ordinals} LIMIT {MAX_REPORT_ROWS + 1}",
                    *window,
                )
                truncated = len(fetched) > MAX_REPORT_ROWS
                for row in fetched[:MAX_REPORT_ROWS]:
                    group = {name: _label(name, row[f"g{i}"]) for i, name in enumerate(names)}
                    rows.append((group, _totals(row)))
            savings = [
                pb.OptimizationSavings(
                    optimization=row["optimization"],
                    requests_applied=int(row["requests_applied"]),
                    tokens_saved=int(row["tokens_saved"]),
                    micros_saved=int(row["micros_saved"]),
                    shadow_requests=int(row["shadow_requests"]),
                    shadow_micros_saved=int(row["shadow_micros_saved"]),
                )
                for row in await conn.fetch(_SAVINGS, *window)
            ]
        return UsageReportData(rows, _totals(totals_row), savings, truncated)


def _label(name: str, value: str) -> str:
    labels = _ENUM_LABELS.get(name)
    if labels is None:
        return value
    return labels.get(int(value), value)


def _totals(row: asyncpg.Record) -> UsageTotals:
    return UsageTotals(
        requests=int(row["requests"]),
        input_tokens=int(row["input_tokens"]),
        output_tokens=int(row["output_tokens"]),
        cost_micros=int(row["cost_micros"]),
        baseline_cost_micros=int(row["baseline_cost_micros"]),
    )
