"""Settles holds that outlived their expiry (the caller crashed, or never came back).

An ordinary hold is released. A hold reserved with `charge_on_expiry` (a Message Batch, whose
answers are bought whether or not anyone reads them) is charged its amount instead: the sweeper
posts its ledger entry (`charged_on_expiry`) and moves the amount from held to spent, so a batch
whose results are never read still costs its tenant what it held, even if every gateway
restarted meanwhile. A Commit of that request id arriving later is answered as already charged.

Every replica runs one. `FOR UPDATE SKIP LOCKED` hands each expired hold to exactly one sweeper
and skips holds a Commit or Release is settling right now, so replicas never double-settle and
never wait on each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from tollgate.budget_ledger import batch_store, entries
from tollgate.budget_ledger import counters as counter_store
from tollgate.budget_ledger.alerts import AlertRaiser, RaisedAlerts
from tollgate.budget_ledger.batch_store import RequestKey
from tollgate.budget_ledger.database import Database, in_transaction
from tollgate.budget_ledger.metrics import ledger_metrics
from tollgate.budget_ledger.model import HoldStatus, Requester
from tollgate.v1 import budget_ledger_pb2, common_pb2

log = logging.getLogger("tollgate.budget_ledger.sweeper")

_CLAIM_EXPIRED = """
    SELECT tenant_id, request_id, api_key_id, contact_id, amount_micros, tokens, charge_on_expiry
    FROM holds
    WHERE status = 1 AND expires_at < now()
    ORDER BY expires_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
"""


async def _charge(conn: asyncpg.Connection, holds: Sequence[asyncpg.Record]) -> set[RequestKey]:
    """Post each hold's amount as its charge; returns the holds charged.

    A request id that already has an entry (recorded as free usage) is not charged again: its
    hold is released like any other.
    """
    posted = await entries.post_many(
        conn,
        [
            entries.NewEntry(
                requester=Requester(h["tenant_id"], h["api_key_id"], h["contact_id"]),
                request_id=h["request_id"],
                kind="commit",
                held_micros=int(h["amount_micros"]),
                cost_micros=int(h["amount_micros"]),
                tokens=int(h["tokens"]),
                record=budget_ledger_pb2.UsageRecord(
                    cost=common_pb2.Cost(total_micros=int(h["amount_micros"])),
                    baseline_cost_micros=int(h["amount_micros"]),
                ),
                charged_on_expiry=True,
            )
            for h in holds
        ],
    )
    return set(posted)


async def sweep_once(database: Database, batch_size: int, alerts: AlertRaiser | None = None) -> int:
    """Settle up to `batch_size` expired holds in one transaction; returns how many.

    With `alerts`, the thresholds the charges carry spending past are raised like a Commit's.
    """
    # The holds charged (with their amounts) by the transaction that committed.
    charged: dict[RequestKey, int] = {}
    raised = RaisedAlerts([], [])

    async def work(conn: asyncpg.Connection) -> int:
        nonlocal raised
        # A retried transaction starts again.
        raised = RaisedAlerts([], [])
        charged.clear()
        holds = await conn.fetch(_CLAIM_EXPIRED, batch_size)
        if not holds:
            return 0
        amounts = {(h["tenant_id"], h["request_id"]): h for h in holds}
        posted = await _charge(conn, [h for h in holds if h["charge_on_expiry"]])
        charged.update({key: int(amounts[key]["amount_micros"]) for key in posted})
        deltas: dict[tuple[int, datetime], tuple[int, int, int, int]] = defaultdict(
            lambda: (0, 0, 0, 0)
        )
        for hold_key, counter_keys in (await batch_store.links_of(conn, list(amounts))).items():
            micros = int(amounts[hold_key]["amount_micros"])
            tokens = int(amounts[hold_key]["tokens"])
            spent, spent_tokens = (micros, tokens) if hold_key in charged else (0, 0)
            for key in counter_keys:
                old = deltas[key]
                deltas[key] = (
                    old[0] + spent,
                    old[1] - micros,
                    old[2] + spent_tokens,
                    old[3] - tokens,
                )
        # Lock in the global counter order before touching them (see counters.py).
        await counter_store.lock_keys(conn, deltas.keys())
        await counter_store.apply_per_counter_deltas(conn, dict(deltas))
        spent_on = [key for key, delta in deltas.items() if delta[0]]
        if alerts is not None and spent_on:
            # The counters as this transaction left them (already locked by it).
            updated = await counter_store.lock_keys(conn, spent_on)
            raised = await alerts.raise_crossed(conn, updated)
        await batch_store.settle_holds(
            conn,
            {
                key: HoldStatus.COMMITTED if key in charged else HoldStatus.EXPIRED
                for key in amounts
            },
        )
        return len(holds)

    settled = await in_transaction(database.pool, work)
    if alerts is not None:
        alerts.remember(raised)
    if charged:
        metrics = ledger_metrics()
        metrics.holds_charged_on_expiry.add(len(charged))
        metrics.committed_micros.add(sum(charged.values()), {})
    return settled


class Sweeper:
    """Runs `sweep_once` every interval (and at once again while batches come back full)."""

    def __init__(
        self,
        database: Database,
        interval_seconds: float,
        batch_size: int,
        alerts: AlertRaiser | None = None,
    ) -> None:
        self._database = database
        self._alerts = alerts
        self._interval = interval_seconds
        self._batch_size = batch_size
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="budget-ledger-sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                released = await sweep_once(self._database, self._batch_size, self._alerts)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database may be briefly away; the next round retries.
                log.exception("sweeping expired holds failed")
                released = 0
            if released:
                ledger_metrics().holds_expired.add(released)
                log.info("settled expired holds", extra={"holds": released})
            if released < self._batch_size:
                await asyncio.sleep(self._interval)
