"""A background loop that calls one function every few seconds until stopped: how the gateway
follows files a ConfigMap or Secret volume updates in place (flags, overrides, API keys) and the
ledger's managed-key changes, and how a caller of the orchestrator follows its template versions
(template_versions.py). The function may be a coroutine function."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Callable

log = logging.getLogger("tollgate.polling")


class Polling:
    def __init__(self, tick: Callable[[], object], seconds: float) -> None:
        self._tick = tick
        self._seconds = seconds
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        # Reading the content each time (not watching mtimes) follows ConfigMap and Secret
        # volumes, which swap a symlink rather than rewrite the file.
        while True:
            await asyncio.sleep(self._seconds)
            try:
                result = self._tick()
                if inspect.isawaitable(result):
                    await result
            except Exception:  # a surprise must not end the polling for good
                log.exception("a polling round failed")
