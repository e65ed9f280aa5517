"""Releases holds that outlived their expiry (the caller crashed, or never came back).

Every replica runs one. `FOR UPDATE SKIP LOCKED` hands each expired hold to exactly one sweeper
and skips holds a Commit or Release is settling right now, so replicas never double-release and
never wait on each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from datetime import datetime

import asyncpg

from tollgate.budget_ledger import batch_store
from tollgate.budget_ledger import counters as counter_store
from tollgate.budget_ledger.database import Database, in_transaction
from tollgate.budget_ledger.metrics import ledger_metrics
from tollgate.budget_ledger.model import HoldStatus

log = logging.getLogger("tollgate.budget_ledger.sweeper")

_CLAIM_EXPIRED = """
    SELECT tenant_id, request_id, amount_micros, tokens FROM holds
    WHERE status = 1 AND expires_at < now()
    ORDER BY expires_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
"""


async def sweep_once(database: Database, batch_size: int) -> int:
    """Release up to `batch_size` expired holds in one transaction; returns how many."""

    async def work(conn: asyncpg.Connection) -> int:
        holds = await conn.fetch(_CLAIM_EXPIRED, batch_size)
        if not holds:
            return 0
        amounts = {(h["tenant_id"], h["request_id"]): h for h in holds}
        deltas: dict[tuple[int, datetime], tuple[int, int, int, int]] = defaultdict(
            lambda: (0, 0, 0, 0)
        )
        for hold_key, counter_keys in (await batch_store.links_of(conn, list(amounts))).items():
            hold = amounts[hold_key]
            for key in counter_keys:
                spent, held, spent_tokens, held_tokens = deltas[key]
                deltas[key] = (
                    spent,
                    held - int(hold["amount_micros"]),
                    spent_tokens,
                    held_tokens - int(hold["tokens"]),
                )
        # Lock in the global counter order before touching them (see counters.py).
        await counter_store.lock_keys(conn, deltas.keys())
        await counter_store.apply_per_counter_deltas(conn, dict(deltas))
        await batch_store.settle_holds(conn, dict.fromkeys(amounts, HoldStatus.EXPIRED))
        return len(holds)

    return await in_transaction(database.pool, work)


class Sweeper:
    """Runs `sweep_once` every interval (and at once again while batches come back full)."""

    def __init__(self, database: Database, interval_seconds: float, batch_size: int) -> None:
        self._database = database
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
                released = await sweep_once(self._database, self._batch_size)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database may be briefly away; the next round retries.
                log.exception("sweeping expired holds failed")
                released = 0
            if released:
                ledger_metrics().holds_expired.add(released)
                log.info("released expired holds", extra={"holds": released})
            if released < self._batch_size:
                await asyncio.sleep(self._interval)
