"""Work done after the answer is sent (ledger commits, cache stores), kept until it finishes.

A commit must never be lost: shutdown waits for pending work, and commits retry because the
ledger makes them idempotent by request id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from tollgate.gateway.metrics import instruments

log = logging.getLogger("tollgate.gateway.background")


class BackgroundWork:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, name: str, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._finished(name, done))

    def _finished(self, name: str, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            instruments().background_failures.add(1, {"kind": name})
            log.error("background %s failed: %s", name, task.exception())

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for pending work, and for the work it spawns (a finished read spawns a commit),
        up to `timeout` seconds in all."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._tasks:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            await asyncio.wait(list(self._tasks), timeout=left)

    @property
    def pending(self) -> int:
        return len(self._tasks)


def longest_retries_seconds(tries: int, first_delay: float, attempt_seconds: float) -> float:
    """The longest `with_retries` takes: `tries` attempts of at most `attempt_seconds` each, and
    the doubling delays between them."""
    return tries * attempt_seconds + first_delay * (2 ** (tries - 1) - 1)


async def with_retries(
    attempt: Callable[[], Awaitable[Any]],
    *,
    retry_on: tuple[type[Exception], ...],
    tries: int = 5,
    first_delay: float = 0.1,
) -> Any:
    """Retry an idempotent call on the failures a retry can cure, with doubling delays; any
    other failure (the request itself was refused) ends it at once."""
    delay = first_delay
    for number in range(1, tries + 1):
        try:
            return await attempt()
        except retry_on:
            if number == tries:
                raise
            await asyncio.sleep(delay)
            delay *= 2
    return None
