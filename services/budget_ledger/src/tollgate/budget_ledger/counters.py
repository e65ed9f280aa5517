"""Locking budget counters and moving their totals.

Every transaction that changes counters locks them with SELECT ... FOR UPDATE in one global order
(budget id, then period start). Two transactions touching overlapping scopes therefore queue on
the first counter they share instead of deadlocking, and each sees the other's committed totals
before deciding: that is what makes "fits every scope at once" exact across replicas.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import asyncpg

from tollgate.budget_ledger.model import Counter

COUNTER_COLUMNS = """
    b.id AS budget_id, b.tenant_id, b.scope_kind, b.subject_id, b.period, b.limit_micros,
    b.limit_tokens, b.alert_thresholds_percent,
    c.period_start, c.period_end, c.spent_micros, c.held_micros, c.spent_tokens, c.held_tokens,
    COALESCE((SELECT sum(o.extra_micros) FROM budget_overrides o
              WHERE o.budget_id = b.id AND o.expires_at > now()), 0)::bigint AS override_micros
"""

_LOCK_KEYS = f"""
    SELECT {COUNTER_COLUMNS}
    FROM unnest($1::bigint[], $2::timestamptz[]) AS k(budget_id, period_start)
    JOIN budget_counters c ON c.budget_id = k.budget_id AND c.period_start = k.period_start
    JOIN budgets b ON b.id = c.budget_id
    ORDER BY c.budget_id, c.period_start
    FOR UPDATE OF c
"""

CounterDeltas = dict[tuple[int, datetime], tuple[int, int, int, int]]


def apply_deltas_sql(first: int) -> str:
    """An UPDATE adding to each counter its (spent µ$, held µ$, spent tokens, held tokens) from
    the six arrays of `delta_arrays`, bound from parameter `first` on: alone, or as a WITH item
    of a larger statement (batch_store's one write per batch)."""
    n = [f"${first + i}" for i in range(6)]
    return f"""
    UPDATE budget_counters c
    SET spent_micros = c.spent_micros + d.spent_micros,
        held_micros = c.held_micros + d.held_micros,
        spent_tokens = c.spent_tokens + d.spent_tokens,
        held_tokens = c.held_tokens + d.held_tokens
    FROM unnest({n[0]}::bigint[], {n[1]}::timestamptz[], {n[2]}::bigint[], {n[3]}::bigint[],
                {n[4]}::bigint[], {n[5]}::bigint[])
      AS d(budget_id, period_start, spent_micros, held_micros, spent_tokens, held_tokens)
    WHERE c.budget_id = d.budget_id AND c.period_start = d.period_start
"""


def delta_arrays(deltas: CounterDeltas) -> list[list[object]]:
    """The parameters of `apply_deltas_sql`: counter keys (in the global order) and deltas."""
    keys = sorted(deltas)
    columns: list[list[object]] = [[k[0] for k in keys], [k[1] for k in keys]]
    columns.extend([deltas[k][i] for k in keys] for i in range(4))
    return columns


_APPLY_DELTAS = apply_deltas_sql(1)


async def lock_keys(
    conn: asyncpg.Connection, keys: Iterable[tuple[int, datetime]]
) -> list[Counter]:
    ordered = sorted(set(keys))
    rows = await conn.fetch(_LOCK_KEYS, [k[0] for k in ordered], [k[1] for k in ordered])
    return [Counter.from_row(row) for row in rows]


async def apply_per_counter_deltas(conn: asyncpg.Connection, deltas: CounterDeltas) -> None:
    """Add (spent µ$, held µ$, spent tokens, held tokens) to each keyed counter (locked already)."""
    if deltas:
        await conn.execute(_APPLY_DELTAS, *delta_arrays(deltas))
