"""The SQL of one group-commit transaction: lock what a batch touches, then write what it decided.

Locks are taken in one global order — the batch's holds sorted by (tenant, request id), then
every counter it may change sorted by (budget id, period start) — the same order a single Commit,
Release or the sweeper uses, so batches on many replicas queue on each other instead of
deadlocking (a deadlock is still retried by `in_transaction` as a safety net).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from tollgate.budget_ledger.counters import COUNTER_COLUMNS
from tollgate.budget_ledger.model import Counter, HoldStatus, Requester

RequestKey = tuple[str, str]
CounterKey = tuple[int, datetime]

_LOCK_HOLDS = """
    SELECT h.tenant_id, h.request_id, h.api_key_id, h.contact_id, h.amount_micros, h.tokens,
           h.status, h.expires_at
    FROM holds h
    JOIN unnest($1::text[], $2::text[]) AS k(tenant_id, request_id)
      ON h.tenant_id = k.tenant_id AND h.request_id = k.request_id
    ORDER BY h.tenant_id, h.request_id
    FOR UPDATE OF h
"""

_LINKS = """
    SELECT hc.tenant_id, hc.request_id, hc.budget_id, hc.period_start
    FROM hold_counters hc
    JOIN unnest($1::text[], $2::text[]) AS k(tenant_id, request_id)
      ON hc.tenant_id = k.tenant_id AND hc.request_id = k.request_id
"""

# Budgets that apply to a requester r: its tenant's, and its key's and contact's when named.
# (Key and contact budgets never have an empty subject, so an empty id matches nothing.)
_APPLICABLE = """
    b.tenant_id = r.tenant_id
    AND (b.scope_kind = 1
         OR (b.scope_kind = 2 AND b.subject_id = r.api_key_id)
         OR (b.scope_kind = 3 AND b.subject_id = r.contact_id))
"""

_REQUESTERS = "unnest($1::text[], $2::text[], $3::text[]) AS r(tenant_id, api_key_id, contact_id)"

_ENSURE_CURRENT = f"""
    INSERT INTO budget_counters (budget_id, period_start, period_end)
    SELECT DISTINCT b.id, s.start, ledger_period_end(b.period, s.start)
    FROM {_REQUESTERS}
    JOIN budgets b ON {_APPLICABLE}
    CROSS JOIN LATERAL (SELECT ledger_period_start(b.period, now()) AS start) s
    WHERE NOT EXISTS (SELECT 1 FROM budget_counters c
                      WHERE c.budget_id = b.id AND c.period_start = s.start)
    ORDER BY b.id
    ON CONFLICT DO NOTHING
"""

# This period's counters of the requesters' budgets, plus the counters existing holds were
# charged against (the periods current when they were made), locked in the global order.
_LOCK_COUNTERS = f"""
    WITH wanted AS (
      SELECT b.id AS budget_id, ledger_period_start(b.period, now()) AS period_start
      FROM {_REQUESTERS} JOIN budgets b ON {_APPLICABLE}
      UNION
      SELECT * FROM unnest($4::bigint[], $5::timestamptz[])
    )
    SELECT {COUNTER_COLUMNS}, c.period_start = ledger_period_start(b.period, now()) AS current
    FROM wanted w
    JOIN budget_counters c ON c.budget_id = w.budget_id AND c.period_start = w.period_start
    JOIN budgets b ON b.id = c.budget_id
    ORDER BY c.budget_id, c.period_start
    FOR UPDATE OF c
"""

_INSERT_HOLDS = """
    INSERT INTO holds (tenant_id, request_id, api_key_id, contact_id, amount_micros, tokens,
                       status, expires_at, settled_at, charge_on_expiry)
    SELECT n.tenant_id, n.request_id, n.api_key_id, n.contact_id, n.amount_micros, n.tokens,
           n.status, now() + make_interval(secs => n.ttl),
           CASE WHEN n.status = 1 THEN NULL ELSE now() END, n.charge_on_expiry
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[],
                $7::smallint[], $8::float8[], $9::bool[])
      AS n(tenant_id, request_id, api_key_id, contact_id, amount_micros, tokens, status, ttl,
           charge_on_expiry)
    ON CONFLICT (tenant_id, request_id) DO NOTHING
    RETURNING tenant_id, request_id, expires_at
"""

_INSERT_LINKS = """
    INSERT INTO hold_counters (tenant_id, request_id, budget_id, period_start)
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[])
"""

_SETTLE_HOLDS = """
    UPDATE holds SET status = s.status, settled_at = now()
    FROM unnest($1::text[], $2::text[], $3::smallint[]) AS s(tenant_id, request_id, status)
    WHERE holds.tenant_id = s.tenant_id AND holds.request_id = s.request_id
"""


class BatchConflict(Exception):
    """Another transaction wrote a row this batch meant to create: roll back and run it again."""


@dataclass(frozen=True)
class StoredHold:
    api_key_id: str
    contact_id: str
    amount_micros: int
    tokens: int
    status: HoldStatus
    expires_at: datetime


@dataclass(frozen=True)
class NewHold:
    requester: Requester
    request_id: str
    amount_micros: int
    tokens: int
    status: HoldStatus
    ttl_seconds: float
    counter_keys: tuple[CounterKey, ...]
    charge_on_expiry: bool = False


async def lock_holds(
    conn: asyncpg.Connection, keys: Sequence[RequestKey]
) -> dict[RequestKey, StoredHold]:
    rows = await conn.fetch(_LOCK_HOLDS, [k[0] for k in keys], [k[1] for k in keys])
    return {
        (row["tenant_id"], row["request_id"]): StoredHold(
            row["api_key_id"],
            row["contact_id"],
            int(row["amount_micros"]),
            int(row["tokens"]),
            HoldStatus(row["status"]),
            row["expires_at"],
        )
        for row in rows
    }


async def links_of(
    conn: asyncpg.Connection, keys: Sequence[RequestKey]
) -> dict[RequestKey, list[CounterKey]]:
    """The counters each existing hold was charged against."""
    links: dict[RequestKey, list[CounterKey]] = {key: [] for key in keys}
    if keys:
        rows = await conn.fetch(_LINKS, [k[0] for k in keys], [k[1] for k in keys])
        for row in rows:
            key = (row["tenant_id"], row["request_id"])
            links[key].append((int(row["budget_id"]), row["period_start"]))
    return links


async def lock_counters(
    conn: asyncpg.Connection, requesters: Sequence[Requester], held: Sequence[CounterKey]
) -> list[tuple[Counter, bool]]:
    """Lock (creating when missing) the requesters' current counters and the `held` ones.

    Each counter comes with whether it is of the current period.
    """
    scopes = (
        [r.tenant_id for r in requesters],
        [r.api_key_id for r in requesters],
        [r.contact_id for r in requesters],
    )
    if requesters:
        await conn.execute(_ENSURE_CURRENT, *scopes)
    ordered = sorted(set(held))
    rows = await conn.fetch(
        _LOCK_COUNTERS, *scopes, [k[0] for k in ordered], [k[1] for k in ordered]
    )
    return [(Counter.from_row(row), bool(row["current"])) for row in rows]


async def insert_holds(
    conn: asyncpg.Connection, holds: Sequence[NewHold]
) -> dict[RequestKey, datetime]:
    """Insert the holds and their counter links; returns each hold's expiry."""
    if not holds:
        return {}
    rows = await conn.fetch(
        _INSERT_HOLDS,
        [h.requester.tenant_id for h in holds],
        [h.request_id for h in holds],
        [h.requester.api_key_id for h in holds],
        [h.requester.contact_id for h in holds],
        [h.amount_micros for h in holds],
        [h.tokens for h in holds],
        [int(h.status) for h in holds],
        [h.ttl_seconds for h in holds],
        [h.charge_on_expiry for h in holds],
    )
    if len(rows) != len(holds):
        # A hold for one of these request ids was made meanwhile by another replica.
        raise BatchConflict("a request id of this batch was held concurrently elsewhere")
    links = [(h.requester.tenant_id, h.request_id, key) for h in holds for key in h.counter_keys]
    if links:
        await conn.execute(
            _INSERT_LINKS,
            [link[0] for link in links],
            [link[1] for link in links],
            [link[2][0] for link in links],
            [link[2][1] for link in links],
        )
    return {(row["tenant_id"], row["request_id"]): row["expires_at"] for row in rows}


async def settle_holds(conn: asyncpg.Connection, settled: dict[RequestKey, HoldStatus]) -> None:
    if settled:
        keys = list(settled)
        await conn.execute(
            _SETTLE_HOLDS,
            [k[0] for k in keys],
            [k[1] for k in keys],
            [int(settled[k]) for k in keys],
        )
