"""A background loop that calls one function every few seconds until stopped: how the gateway
follows files a ConfigMap or Secret volume updates in place (flags, overrides, API keys)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable


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
            self._tick()
