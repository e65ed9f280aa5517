"""The SQL of one group-commit transaction: lock what a batch touches, then write what it decided.

Locks are taken in one global order — the batch's holds sorted by (tenant, request id), then
every counter it may change sorted by (budget id, period start) — the same order a single Commit,
Release or the sweeper uses, so batches on many replicas queue on each other instead of
deadlocking (a deadlock is still retried by `in_transaction` as a safety net).

A batch costs four round trips to Postgres besides BEGIN and COMMIT, whatever its size: one
statement reads (and locks) its holds with their counter links and posted entries, one locks its
counters, one writes everything it decided (holds, links, settled holds, entries, counter totals)
and — only when a threshold is newly crossed — one raises alerts. Fewer round trips is most of
what a batch costs the ledger's CPU: each is a send, a wake-up and a reply to parse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from tollgate.budget_ledger import counters, entries
from tollgate.budget_ledger.counters import COUNTER_COLUMNS
from tollgate.budget_ledger.model import Counter, HoldStatus, Requester

RequestKey = tuple[str, str]
CounterKey = tuple[int, datetime]

# The batch's holds, locked in the global order, with the counters each was charged against
# and the entry posted under its request id (an entry may exist without a hold: RecordUsage).
# The lock is taken in a MATERIALIZED step so it is never applied to an outer join's null side.
_READ = """
    WITH keys AS (
      SELECT * FROM unnest($1::text[], $2::text[]) AS k(tenant_id, request_id)
    ), locked AS MATERIALIZED (
      SELECT h.tenant_id, h.request_id, h.api_key_id, h.contact_id, h.amount_micros,
             h.tokens AS hold_tokens, h.status, h.expires_at
      FROM holds h JOIN keys k ON h.tenant_id = k.tenant_id AND h.request_id = k.request_id
      ORDER BY h.tenant_id, h.request_id
      FOR UPDATE OF h
    )
    SELECT k.tenant_id, k.request_id, l.request_id IS NOT NULL AS held, l.api_key_id,
           l.contact_id, l.amount_micros, l.hold_tokens, l.status, l.expires_at,
           ARRAY(SELECT hc.budget_id FROM hold_counters hc
                 WHERE hc.tenant_id = l.tenant_id AND hc.request_id = l.request_id
                 ORDER BY hc.budget_id) AS link_budgets,
           ARRAY(SELECT hc.period_start FROM hold_counters hc
                 WHERE hc.tenant_id = l.tenant_id AND hc.request_id = l.request_id
                 ORDER BY hc.budget_id) AS link_periods,
           e.id, e.kind, e.cost_micros, e.tokens, e.over_hold, e.late, e.charged_on_expiry
    FROM keys k
    LEFT JOIN locked l ON l.tenant_id = k.tenant_id AND l.request_id = k.request_id
    LEFT JOIN ledger_entries e ON e.tenant_id = k.tenant_id AND e.request_id = k.request_id
    WHERE l.request_id IS NOT NULL OR e.id IS NOT NULL
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
# charged against (the periods current when they were made), locked in the global order; and how
# many of those counters do not exist yet. The lock is taken in a MATERIALIZED step so that the
# answer always has a row carrying `missing`, even when nothing was locked (a tenant without
# budgets, or a new period): then no second statement is needed to tell which.
_LOCK_COUNTERS = f"""
    WITH wanted AS (
      SELECT b.id AS budget_id, ledger_period_start(b.period, now()) AS period_start
      FROM {_REQUESTERS} JOIN budgets b ON {_APPLICABLE}
      UNION
      SELECT * FROM unnest($4::bigint[], $5::timestamptz[])
    ), locked AS MATERIALIZED (
      SELECT {COUNTER_COLUMNS},
             c.period_start = ledger_period_start(b.period, now()) AS current
      FROM wanted w
      JOIN budget_counters c ON c.budget_id = w.budget_id AND c.period_start = w.period_start
      JOIN budgets b ON b.id = c.budget_id
      ORDER BY c.budget_id, c.period_start
      FOR UPDATE OF c
    ), absent AS (
      SELECT count(*) AS missing FROM wanted m
      WHERE NOT EXISTS (SELECT 1 FROM budget_counters x
                        WHERE x.budget_id = m.budget_id AND x.period_start = m.period_start)
    )
    SELECT absent.missing, locked.* FROM absent LEFT JOIN locked ON true
    ORDER BY locked.budget_id, locked.period_start
"""


def settle_holds_sql(first: int) -> str:
    """An UPDATE giving holds their final status from the three arrays of `settle_arrays`, bound
    from parameter `first` on: alone (the sweeper), or inside a batch's one write."""
    n = [f"${first + i}" for i in range(3)]
    return f"""
    UPDATE holds SET status = s.status, settled_at = now()
    FROM unnest({n[0]}::text[], {n[1]}::text[], {n[2]}::smallint[])
      AS s(tenant_id, request_id, status)
    WHERE holds.tenant_id = s.tenant_id AND holds.request_id = s.request_id
"""


def settle_arrays(settled: dict[RequestKey, HoldStatus]) -> list[list[object]]:
    """The parameters of `settle_holds_sql`."""
    keys = list(settled)
    return [[k[0] for k in keys], [k[1] for k in keys], [int(settled[k]) for k in keys]]


# Everything a batch decided, in one statement: new holds, their counter links (only for the
# holds actually inserted), settled holds, entries with their optimizations, and one update per
# counter. A hold or entry another transaction wrote meanwhile inserts nothing and returns no row,
# which the caller turns into BatchConflict (the whole statement is then rolled back).
_WRITE = f"""
    WITH new_holds AS (
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
    ), links AS (
      INSERT INTO hold_counters (tenant_id, request_id, budget_id, period_start)
      SELECT l.tenant_id, l.request_id, l.budget_id, l.period_start
      FROM unnest($10::text[], $11::text[], $12::bigint[], $13::timestamptz[])
        AS l(tenant_id, request_id, budget_id, period_start)
      JOIN new_holds n ON n.tenant_id = l.tenant_id AND n.request_id = l.request_id
    ), settled AS ({settle_holds_sql(14)}), totals AS ({counters.apply_deltas_sql(17)}),
    {entries.insert_entries_ctes(23)}
    SELECT tenant_id, request_id, expires_at, NULL::bigint AS entry_id FROM new_holds
    UNION ALL
    SELECT tenant_id, request_id, NULL, id FROM entry
"""

_SETTLE_HOLDS = settle_holds_sql(1)


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


@dataclass
class StoredBatch:
    """What the database holds for a batch's request ids, the holds locked."""

    holds: dict[RequestKey, StoredHold] = field(default_factory=dict)
    # The counters each stored hold was charged against.
    links: dict[RequestKey, list[CounterKey]] = field(default_factory=dict)
    posted: dict[RequestKey, entries.PostedEntry] = field(default_factory=dict)


async def read_batch(conn: asyncpg.Connection, keys: Sequence[RequestKey]) -> StoredBatch:
    """Lock the holds of `keys` (sorted) and read their links and posted entries."""
    stored = StoredBatch()
    rows = await conn.fetch(_READ, [k[0] for k in keys], [k[1] for k in keys])
    for row in rows:
        key = (row["tenant_id"], row["request_id"])
        if row["held"]:
            stored.holds[key] = StoredHold(
                row["api_key_id"],
                row["contact_id"],
                int(row["amount_micros"]),
                int(row["hold_tokens"]),
                HoldStatus(row["status"]),
                row["expires_at"],
            )
            stored.links[key] = list(zip(row["link_budgets"], row["link_periods"], strict=True))
        if row["id"] is not None:
            stored.posted[key] = entries.posted_from_row(row)
    # The statement's snapshot predates the wait for a hold's lock: a hold that the lock's
    # previous owner committed shows committed, but the entry that owner posted with it is not
    # in that snapshot. Read those entries again (a new statement sees every commit so far).
    # The previous owner may be the sweeper charging the hold on expiry: its entry says so.
    unseen = sorted(
        key
        for key, hold in stored.holds.items()
        if hold.status is HoldStatus.COMMITTED and key not in stored.posted
    )
    if unseen:
        stored.posted.update(await entries.find_many(conn, unseen))
    return stored


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

    Each counter comes with whether it is of the current period. A period's counter is created
    by the first batch of the period that needs it, so nearly always one statement does.
    """
    scopes = (
        [r.tenant_id for r in requesters],
        [r.api_key_id for r in requesters],
        [r.contact_id for r in requesters],
    )
    ordered = sorted(set(held))
    held_arrays = ([k[0] for k in ordered], [k[1] for k in ordered])
    rows = await conn.fetch(_LOCK_COUNTERS, *scopes, *held_arrays)
    if rows[0]["missing"]:
        # A counter of this period does not exist yet: create it and lock again (the locks
        # already taken are kept; they are the same rows).
        await conn.execute(_ENSURE_CURRENT, *scopes)
        rows = await conn.fetch(_LOCK_COUNTERS, *scopes, *held_arrays)
    return [
        (Counter.from_row(row), bool(row["current"]))
        for row in rows
        if row["budget_id"] is not None
    ]


@dataclass(frozen=True)
class Written:
    """What the database assigned to a batch's new rows."""

    expiries: dict[RequestKey, datetime]
    entry_ids: dict[RequestKey, int]


async def write_batch(
    conn: asyncpg.Connection,
    holds: Sequence[NewHold],
    settled: dict[RequestKey, HoldStatus],
    new_entries: Sequence[entries.NewEntry],
    deltas: counters.CounterDeltas,
) -> Written:
    """Write a batch's decisions in one statement.

    Raises BatchConflict when another transaction wrote one of its holds or entries meanwhile.
    """
    if not (holds or settled or new_entries or deltas):
        return Written({}, {})
    links = [(h.requester.tenant_id, h.request_id, key) for h in holds for key in h.counter_keys]
    rows = await conn.fetch(
        _WRITE,
        [h.requester.tenant_id for h in holds],
        [h.request_id for h in holds],
        [h.requester.api_key_id for h in holds],
        [h.requester.contact_id for h in holds],
        [h.amount_micros for h in holds],
        [h.tokens for h in holds],
        [int(h.status) for h in holds],
        [h.ttl_seconds for h in holds],
        [h.charge_on_expiry for h in holds],
        [link[0] for link in links],
        [link[1] for link in links],
        [link[2][0] for link in links],
        [link[2][1] for link in links],
        *settle_arrays(settled),
        *counters.delta_arrays(deltas),
        *entries.entry_arrays(new_entries),
    )
    written = Written({}, {})
    for row in rows:
        key = (row["tenant_id"], row["request_id"])
        if row["entry_id"] is None:
            written.expiries[key] = row["expires_at"]
        else:
            written.entry_ids[key] = int(row["entry_id"])
    if len(written.expiries) != len(holds):
        # A hold for one of these request ids was made meanwhile by another replica.
        raise BatchConflict("a request id of this batch was held concurrently elsewhere")
    if len(written.entry_ids) != len(new_entries):
        # RecordUsage posted one of these request ids meanwhile.
        raise BatchConflict("a request id of this batch was recorded concurrently elsewhere")
    return written


async def settle_holds(conn: asyncpg.Connection, settled: dict[RequestKey, HoldStatus]) -> None:
    if settled:
        await conn.execute(_SETTLE_HOLDS, *settle_arrays(settled))
