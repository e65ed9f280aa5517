"""Reading a billed call to the end, whoever is still listening: the orchestrator's reply to a
Complete, and lead scoring's to a ScoreLead or ScoreLeads with reasoning (leads.py).

Claude bills an answer as it writes it, so a caller who resets a stream (or abandons a Complete)
mid-answer must still pay for what was produced. The orchestrator's reply is read in a task of
its own, kept by the gateway's background work: the caller's side takes items from a queue and
may leave at any time, while the reader goes on to the orchestrator's result and settles the
request at that result's cost (Claude's usage). When no result comes (a refusal, a failure), the
reader calls `fail`, which gives the hold back, or charges what Claude produced when the
stream broke off after Claude began (pipeline.py, broken_stream.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable
from typing import Generic, TypeVar

from tollgate.gateway.background import BackgroundWork

Event = TypeVar("Event")
Result = TypeVar("Result")
Settled = TypeVar("Settled")

_END = object()


class Relay(Generic[Event, Result, Settled]):
    """Items of `upstream` pass through; its `Result` is settled by `settle` (in the reader,
    whether or not the caller is still there) and passed on as what `settle` returned."""

    def __init__(
        self,
        upstream: AsyncGenerator[Event | Result, None],
        result_type: type[Result],
        settle: Callable[[Result], Settled],
        fail: Callable[[], None],
    ) -> None:
        self._upstream = upstream
        self._result_type = result_type
        self._settle = settle
        self._fail = fail
        self._queue: asyncio.Queue[object] = asyncio.Queue()

    def start(self, background: BackgroundWork) -> AsyncGenerator[Event | Settled, None]:
        background.spawn("upstream read", self._read())
        return self._items()

    async def _read(self) -> None:
        settled = False
        try:
            async with contextlib.aclosing(self._upstream):
                async for item in self._upstream:
                    if isinstance(item, self._result_type):
                        settled = True
                        self._queue.put_nowait(self._settle(item))
                    else:
                        self._queue.put_nowait(item)
        except Exception as exc:  # handed to the caller's side, which raises it
            self._queue.put_nowait(exc)
        finally:
            if not settled:
                self._fail()
            self._queue.put_nowait(_END)

    async def _items(self) -> AsyncGenerator[Event | Settled, None]:
        while (item := await self._queue.get()) is not _END:
            if isinstance(item, Exception):
                raise item
            yield item  # type: ignore[misc]
