"""Background sweep: purges expired entries (and verdicts past the precision window) and lets
the store compact now and then.

Expired entries are already invisible to lookups (every search checks expires_at); the sweep
reclaims their space, and keeps searches on their fast path, which an expired entry among the
nearest ones sends to a second search (store/search.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from tollgate.semantic_cache.cache import SemanticCache
from tollgate.semantic_cache.verification.precision import PrecisionMonitor

log = logging.getLogger("tollgate.semantic_cache.sweeper")


class Sweeper:
    def __init__(
        self,
        cache: SemanticCache,
        interval_seconds: float,
        precision: PrecisionMonitor | None = None,
    ) -> None:
        self._cache = cache
        self._precision = precision
        self._interval = interval_seconds
        self._task: asyncio.Task[None] | None = None
        self.purged_total = 0

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="semantic-cache-sweeper")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def sweep_once(self) -> int:
        purged = await self._cache.purge_expired()
        self.purged_total += purged
        if purged:
            log.info("expired entries purged", extra={"purged": purged})
        await self._cache.vector_store.maintain()
        if self._precision is not None:
            # Verdicts past the measurement window no longer count; reclaim their space.
            await self._precision.purge()
        return purged

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.sweep_once()
            except Exception:
                # A failed sweep is retried at the next interval; lookups never see expired
                # entries either way.
                log.exception("sweep failed")
