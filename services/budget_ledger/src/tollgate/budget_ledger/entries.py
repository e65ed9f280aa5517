"""Immutable ledger entries: one per request, a committed charge or a recorded free request.

The (tenant, request id) key makes posting idempotent: a retried Commit or RecordUsage finds the
entry already there and never posts twice. A trigger refuses any UPDATE or DELETE.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from tollgate.budget_ledger.model import Requester
from tollgate.v1 import budget_ledger_pb2 as pb

# The entry and its optimizations in one statement; no row when the request id already has one.
_INSERT = """
    WITH entry AS (
      INSERT INTO ledger_entries (
        tenant_id, request_id, api_key_id, contact_id, kind, model, task, cache_status,
        held_micros, cost_micros, tokens, baseline_cost_micros, input_tokens, output_tokens,
        cache_read_tokens, cache_write_tokens, over_hold, late, record)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
              $19)
      ON CONFLICT (tenant_id, request_id) DO NOTHING
      RETURNING id
    ), optimizations AS (
      INSERT INTO ledger_entry_optimizations (entry_id, position, optimization, mode, applied,
                                              tokens_saved, micros_saved)
      SELECT entry.id, o.* FROM entry,
        unnest($20::smallint[], $21::text[], $22::smallint[], $23::bool[], $24::bigint[],
               $25::bigint[]) AS o
    )
    SELECT id FROM entry
"""

_FIND = """
    SELECT id, kind, over_hold, late FROM ledger_entries WHERE tenant_id = $1 AND request_id = $2
"""


@dataclass(frozen=True)
class NewEntry:
    requester: Requester
    request_id: str
    kind: str
    held_micros: int
    cost_micros: int
    tokens: int
    record: pb.UsageRecord
    over_hold: bool = False
    late: bool = False


@dataclass(frozen=True)
class PostedEntry:
    id: int
    kind: str
    over_hold: bool
    late: bool

    @property
    def public_id(self) -> str:
        return entry_id(self.id)


def entry_id(value: int) -> str:
    return f"le_{value}"


async def post(conn: asyncpg.Connection, entry: NewEntry) -> int | None:
    """Insert the entry and its optimizations; None when the request id already has an entry."""
    record = entry.record
    usage = record.usage
    # Without a baseline the request saved nothing: its baseline is what it cost.
    baseline = record.baseline_cost_micros or entry.cost_micros
    optimizations = list(record.optimizations)
    new_id = await conn.fetchval(
        _INSERT,
        entry.requester.tenant_id,
        entry.request_id,
        entry.requester.api_key_id,
        entry.requester.contact_id,
        entry.kind,
        record.model,
        int(record.task),
        int(record.cache_status),
        entry.held_micros,
        entry.cost_micros,
        entry.tokens,
        baseline,
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_input_tokens,
        usage.cache_creation_input_tokens,
        entry.over_hold,
        entry.late,
        record.SerializeToString(),
        list(range(len(optimizations))),
        [o.optimization for o in optimizations],
        [int(o.mode) for o in optimizations],
        [o.applied for o in optimizations],
        [o.tokens_saved for o in optimizations],
        [o.micros_saved for o in optimizations],
    )
    if new_id is None:
        return None
    return int(new_id)


async def find(conn: asyncpg.Connection, tenant_id: str, request_id: str) -> PostedEntry | None:
    row = await conn.fetchrow(_FIND, tenant_id, request_id)
    if row is None:
        return None
    return PostedEntry(int(row["id"]), row["kind"], row["over_hold"], row["late"])
