"""Reading and locking budget counters.

Every transaction that changes counters locks them with SELECT ... FOR UPDATE in one global order
(budget id, then period start). Two transactions touching overlapping scopes therefore queue on
the first counter they share instead of deadlocking, and each sees the other's committed totals
before deciding: that is what makes "fits every scope at once" exact across replicas.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import asyncpg

from tollgate.budget_ledger.model import Counter, Requester

# Budgets that apply to a request: its tenant's, and its key's and contact's when named.
# (Key and contact budgets never have an empty subject, so an empty $2/$3 matches nothing.)
_APPLICABLE = """
    b.tenant_id = $1
    AND (b.scope_kind = 1
         OR (b.scope_kind = 2 AND b.subject_id = $2)
         OR (b.scope_kind = 3 AND b.subject_id = $3))
"""

COUNTER_COLUMNS = """
    b.id AS budget_id, b.tenant_id, b.scope_kind, b.subject_id, b.period, b.limit_micros,
    b.limit_tokens, b.alert_thresholds_percent,
    c.period_start, c.period_end, c.spent_micros, c.held_micros, c.spent_tokens, c.held_tokens,
    COALESCE((SELECT sum(o.extra_micros) FROM budget_overrides o
              WHERE o.budget_id = b.id AND o.expires_at > now()), 0)::bigint AS override_micros
"""

_ENSURE_CURRENT = f"""
    INSERT INTO budget_counters (budget_id, period_start, period_end)
    SELECT b.id, s.start, ledger_period_end(b.period, s.start)
    FROM budgets b CROSS JOIN LATERAL (SELECT ledger_period_start(b.period, now()) AS start) s
    WHERE {_APPLICABLE}
      AND NOT EXISTS (SELECT 1 FROM budget_counters c
                      WHERE c.budget_id = b.id AND c.period_start = s.start)
    ORDER BY b.id
    ON CONFLICT DO NOTHING
"""

_LOCK_CURRENT = f"""
    SELECT {COUNTER_COLUMNS}
    FROM budgets b
    JOIN budget_counters c
      ON c.budget_id = b.id AND c.period_start = ledger_period_start(b.period, now())
    WHERE {_APPLICABLE}
    ORDER BY c.budget_id, c.period_start
    FOR UPDATE OF c
"""

_LOCK_OF_HOLD = f"""
    SELECT {COUNTER_COLUMNS}
    FROM hold_counters hc
    JOIN budget_counters c ON c.budget_id = hc.budget_id AND c.period_start = hc.period_start
    JOIN budgets b ON b.id = c.budget_id
    WHERE hc.tenant_id = $1 AND hc.request_id = $2
    ORDER BY c.budget_id, c.period_start
    FOR UPDATE OF c
"""

_LOCK_KEYS = f"""
    SELECT {COUNTER_COLUMNS}
    FROM unnest($1::bigint[], $2::timestamptz[]) AS k(budget_id, period_start)
    JOIN budget_counters c ON c.budget_id = k.budget_id AND c.period_start = k.period_start
    JOIN budgets b ON b.id = c.budget_id
    ORDER BY c.budget_id, c.period_start
    FOR UPDATE OF c
"""

_APPLY_DELTAS = """
    UPDATE budget_counters c
    SET spent_micros = c.spent_micros + d.spent_micros,
        held_micros = c.held_micros + d.held_micros,
        spent_tokens = c.spent_tokens + d.spent_tokens,
        held_tokens = c.held_tokens + d.held_tokens
    FROM unnest($1::bigint[], $2::timestamptz[], $3::bigint[], $4::bigint[], $5::bigint[],
                $6::bigint[]) AS d(budget_id, period_start, spent_micros, held_micros,
                                   spent_tokens, held_tokens)
    WHERE c.budget_id = d.budget_id AND c.period_start = d.period_start
"""


async def lock_current(conn: asyncpg.Connection, requester: Requester) -> list[Counter]:
    """Lock (creating when missing) this period's counter of each budget the request is under."""
    args = (requester.tenant_id, requester.api_key_id, requester.contact_id)
    await conn.execute(_ENSURE_CURRENT, *args)
    return [Counter.from_row(row) for row in await conn.fetch(_LOCK_CURRENT, *args)]


async def lock_of_hold(conn: asyncpg.Connection, tenant_id: str, request_id: str) -> list[Counter]:
    """Lock the counters a hold was charged against (the periods current when it was made)."""
    rows = await conn.fetch(_LOCK_OF_HOLD, tenant_id, request_id)
    return [Counter.from_row(row) for row in rows]


async def lock_keys(
    conn: asyncpg.Connection, keys: Iterable[tuple[int, datetime]]
) -> list[Counter]:
    ordered = sorted(set(keys))
    rows = await conn.fetch(_LOCK_KEYS, [k[0] for k in ordered], [k[1] for k in ordered])
    return [Counter.from_row(row) for row in rows]


async def apply_deltas(
    conn: asyncpg.Connection,
    counters: Sequence[Counter],
    *,
    spent_micros: int = 0,
    held_micros: int = 0,
    spent_tokens: int = 0,
    held_tokens: int = 0,
) -> None:
    """Add the same deltas to every counter (locked by the caller) and to the in-memory copies."""
    if not counters:
        return
    n = len(counters)
    await conn.execute(
        _APPLY_DELTAS,
        [c.budget_id for c in counters],
        [c.period_start for c in counters],
        [spent_micros] * n,
        [held_micros] * n,
        [spent_tokens] * n,
        [held_tokens] * n,
    )
    for counter in counters:
        counter.spent_micros += spent_micros
        counter.held_micros += held_micros
        counter.spent_tokens += spent_tokens
        counter.held_tokens += held_tokens


async def apply_per_counter_deltas(
    conn: asyncpg.Connection, deltas: dict[tuple[int, datetime], tuple[int, int, int, int]]
) -> None:
    """Add (spent µ$, held µ$, spent tokens, held tokens) to each keyed counter (locked already)."""
    if not deltas:
        return
    keys = sorted(deltas)
    await conn.execute(
        _APPLY_DELTAS,
        [k[0] for k in keys],
        [k[1] for k in keys],
        [deltas[k][0] for k in keys],
        [deltas[k][1] for k in keys],
        [deltas[k][2] for k in keys],
        [deltas[k][3] for k in keys],
    )
