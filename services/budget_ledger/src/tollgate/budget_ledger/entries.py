"""Immutable ledger entries: one per request, a committed charge or a recorded free request.

The (tenant, request id) key makes posting idempotent: a retried Commit or RecordUsage finds the
entry already there and never posts twice. A trigger refuses any UPDATE or DELETE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from tollgate.budget_ledger.model import Requester
from tollgate.v1 import budget_ledger_pb2 as pb

ENTRY_PARAMETERS = 28


def insert_entries_ctes(first: int) -> str:
    """Two WITH items, `entry` (RETURNING id, tenant_id, request_id) and `optimizations`, that
    insert the entries and their optimizations from the `ENTRY_PARAMETERS` arrays of
    `entry_arrays`, bound from parameter `first` on. A request id that already has an entry
    inserts nothing and returns no row."""
    n = [f"${first + i}" for i in range(ENTRY_PARAMETERS)]
    return f"""
    entry AS (
      INSERT INTO ledger_entries (
        tenant_id, request_id, api_key_id, contact_id, kind, model, task, cache_status,
        held_micros, cost_micros, tokens, baseline_cost_micros, input_tokens, output_tokens,
        cache_read_tokens, cache_write_tokens, over_hold, late, record, charged_on_expiry)
      SELECT * FROM unnest({n[0]}::text[], {n[1]}::text[], {n[2]}::text[], {n[3]}::text[],
                           {n[4]}::text[], {n[5]}::text[], {n[6]}::smallint[],
                           {n[7]}::smallint[], {n[8]}::bigint[], {n[9]}::bigint[],
                           {n[10]}::bigint[], {n[11]}::bigint[], {n[12]}::bigint[],
                           {n[13]}::bigint[], {n[14]}::bigint[], {n[15]}::bigint[],
                           {n[16]}::bool[], {n[17]}::bool[], {n[18]}::bytea[], {n[19]}::bool[])
      ON CONFLICT (tenant_id, request_id) DO NOTHING
      RETURNING id, tenant_id, request_id
    ), optimizations AS (
      INSERT INTO ledger_entry_optimizations (entry_id, position, optimization, mode, applied,
                                              tokens_saved, micros_saved)
      SELECT entry.id, o.position, o.optimization, o.mode, o.applied, o.tokens_saved,
             o.micros_saved
      FROM entry JOIN unnest({n[20]}::text[], {n[21]}::text[], {n[22]}::smallint[],
                             {n[23]}::text[], {n[24]}::smallint[], {n[25]}::bool[],
                             {n[26]}::bigint[], {n[27]}::bigint[])
        AS o(tenant_id, request_id, position, optimization, mode, applied, tokens_saved,
             micros_saved)
        ON o.tenant_id = entry.tenant_id AND o.request_id = entry.request_id
    )"""


# Entries and their optimizations in one statement.
_INSERT = f"WITH {insert_entries_ctes(1)} SELECT id, tenant_id, request_id FROM entry"

_FIND = """
    SELECT id, tenant_id, request_id, kind, cost_micros, tokens, over_hold, late,
           charged_on_expiry
    FROM ledger_entries WHERE tenant_id = $1 AND request_id = $2
"""

_FIND_MANY = """
    SELECT e.id, e.tenant_id, e.request_id, e.kind, e.cost_micros, e.tokens, e.over_hold, e.late,
           e.charged_on_expiry
    FROM ledger_entries e
    JOIN unnest($1::text[], $2::text[]) AS k(tenant_id, request_id)
      ON e.tenant_id = k.tenant_id AND e.request_id = k.request_id
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
    # Posted by the sweeper: the hold's amount, charged when it expired unsettled.
    charged_on_expiry: bool = False


@dataclass(frozen=True)
class PostedEntry:
    id: int
    kind: str
    cost_micros: int
    tokens: int
    over_hold: bool
    late: bool
    charged_on_expiry: bool = False

    @property
    def public_id(self) -> str:
        return entry_id(self.id)


def entry_id(value: int) -> str:
    return f"le_{value}"


async def post(conn: asyncpg.Connection, entry: NewEntry) -> int | None:
    """Insert the entry and its optimizations; None when the request id already has an entry."""
    posted = await post_many(conn, [entry])
    return posted.get((entry.requester.tenant_id, entry.request_id))


async def post_many(
    conn: asyncpg.Connection, new: Sequence[NewEntry]
) -> dict[tuple[str, str], int]:
    """Insert entries in one statement; returns the id of each (tenant, request id) inserted.

    A request id that already has an entry is skipped and absent from the answer.
    """
    if not new:
        return {}
    rows = await conn.fetch(_INSERT, *entry_arrays(new))
    return {(row["tenant_id"], row["request_id"]): int(row["id"]) for row in rows}


def entry_arrays(new: Sequence[NewEntry]) -> list[list[object]]:
    """The parameters of `insert_entries_ctes`: one array per column, entries then
    optimizations."""
    columns: list[list[object]] = [[] for _ in range(20)]
    optimizations: list[list[object]] = [[] for _ in range(8)]
    for entry in new:
        record = entry.record
        usage = record.usage
        # Without a baseline the request saved nothing: its baseline is what it cost.
        baseline = record.baseline_cost_micros or entry.cost_micros
        who = entry.requester
        values = (
            who.tenant_id,
            entry.request_id,
            who.api_key_id,
            who.contact_id,
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
            entry.charged_on_expiry,
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
        for position, report in enumerate(record.optimizations):
            row = (
                who.tenant_id,
                entry.request_id,
                position,
                report.optimization,
                int(report.mode),
                report.applied,
                report.tokens_saved,
                report.micros_saved,
            )
            for column, value in zip(optimizations, row, strict=True):
                column.append(value)
    return [*columns, *optimizations]


async def find(conn: asyncpg.Connection, tenant_id: str, request_id: str) -> PostedEntry | None:
    row = await conn.fetchrow(_FIND, tenant_id, request_id)
    return None if row is None else posted_from_row(row)


async def find_many(
    conn: asyncpg.Connection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], PostedEntry]:
    """The entries already posted for these (tenant, request id) keys."""
    if not keys:
        return {}
    rows = await conn.fetch(_FIND_MANY, [k[0] for k in keys], [k[1] for k in keys])
    return {(row["tenant_id"], row["request_id"]): posted_from_row(row) for row in rows}


def posted_from_row(row: asyncpg.Record) -> PostedEntry:
    """From a row with the columns id, kind, cost_micros, tokens, over_hold, late and
    charged_on_expiry."""
    return PostedEntry(
        int(row["id"]),
        row["kind"],
        int(row["cost_micros"]),
        int(row["tokens"]),
        row["over_hold"],
        row["late"],
        row["charged_on_expiry"],
    )
