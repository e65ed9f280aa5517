"""Group commit: calls that arrive while a batch is in flight share the next batch.

A fixed number of workers each take every call waiting (up to a batch size) and hand them to
one function that handles them together — the budget ledger settles a batch in one database
transaction, its client sends a batch as one `Settle` RPC. At one caller a batch is one call and
nothing waits; under load the queue fills while a batch is in flight, so the fixed cost of a
batch (round trips, a durable commit, the wait for a hot row's lock, an RPC) is shared by all
the calls in it instead of paid by each.

Work off the critical path can linger (`submit_lingering`): such a call starts no batch of its
own while another call comes within its linger time, and rides in that call's batch instead, so
at a steady load it costs no batch of its own (the gateway's exact-cache stores ride with the
next request's lookup, its ledger commits with the next request's reserve).

A batch holds its calls in the order they were submitted, lingering or not, so a `settle` that
decides calls in order (the ledger) sees a commit before a reserve sent after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

CallT = TypeVar("CallT")
OutcomeT = TypeVar("OutcomeT")
# A submitted call: its submission number, the call, and the future its outcome goes to.
_Pending = tuple[int, CallT, "asyncio.Future[OutcomeT]"]


class GroupCommitter(Generic[CallT, OutcomeT]):
    """Runs `settle(batch)` for batches of submitted calls; each caller gets its own outcome.

    `settle` returns one outcome per call, in order. If it raises, every call of the batch gets
    that exception (nothing of the batch was written: it is one transaction).
    """

    def __init__(
        self,
        settle: Callable[[Sequence[CallT]], Awaitable[Sequence[OutcomeT]]],
        *,
        max_batch: int,
        workers: int,
    ) -> None:
        self._settle = settle
        self._max_batch = max_batch
        self._workers = workers
        self._queue: asyncio.Queue[_Pending[CallT, OutcomeT]] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        # Lingering calls: taken into the next batch a worker starts, or queued by the timer.
        self._lingering: deque[_Pending[CallT, OutcomeT]] = deque()
        self._linger_timer: asyncio.TimerHandle | None = None
        self._submitted = itertools.count()

    async def submit(self, call: CallT) -> OutcomeT:
        # A caller that gives up leaves its call in the batch: the batch is settled whole, and
        # the abandoned outcome is dropped (a retry of the call replays it).
        return await self._enqueue(call)

    async def submit_all(self, calls: Sequence[CallT]) -> list[OutcomeT | BaseException]:
        """Submit calls at once, so they share a batch (up to the batch size); each call's
        outcome, or the exception its batch failed with, in order."""
        futures = [self._enqueue(call) for call in calls]
        return await asyncio.gather(*futures, return_exceptions=True)

    def _enqueue(self, call: CallT) -> asyncio.Future[OutcomeT]:
        """Queue a call for the next batch; its future gets the call's outcome."""
        if self._queue is None:
            self._start()
        assert self._queue is not None
        future: asyncio.Future[OutcomeT] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((next(self._submitted), call, future))
        return future

    async def submit_lingering(self, call: CallT, linger: float) -> OutcomeT:
        """Submit a call that may wait up to `linger` seconds for company: it goes in the next
        batch another call starts, and starts one itself only when `linger` has passed."""
        if self._queue is None:
            self._start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[OutcomeT] = loop.create_future()
        self._lingering.append((next(self._submitted), call, future))
        # One timer, set by the oldest lingering call: none waits longer than its linger.
        if self._linger_timer is None:
            self._linger_timer = loop.call_later(linger, self._queue_lingering)
        return await future

    def _queue_lingering(self) -> None:
        """The lingering calls, still unsent, go in the queue for the next free worker."""
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None
        if self._queue is None:  # a call that lingered across stop(): serve it all the same
            self._start()
        assert self._queue is not None
        while self._lingering:
            self._queue.put_nowait(self._lingering.popleft())

    def _start(self) -> None:
        self._queue = asyncio.Queue()
        self._tasks = [
            asyncio.create_task(self._work(), name=f"group-commit-{i}")
            for i in range(self._workers)
        ]

    async def stop(self) -> None:
        """Settle what is queued (lingering calls too), then stop the workers."""
        if self._queue is not None:
            self._queue_lingering()
            await self._queue.join()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self._queue = None

    async def _work(self) -> None:
        assert self._queue is not None
        queue = self._queue
        lingering = self._lingering
        while True:
            queued_calls = [await queue.get()]
            while len(queued_calls) < self._max_batch and not queue.empty():
                queued_calls.append(queue.get_nowait())
            queued = len(queued_calls)
            # The queued calls take the batch's room first (they hold a caller up); the
            # lingering calls ride in what is left. In submission order: a lingering call whose
            # linger ran out while every worker was busy waited in the queue behind later calls.
            riding: list[_Pending[CallT, OutcomeT]] = []
            while queued + len(riding) < self._max_batch and lingering:
                riding.append(lingering.popleft())
            batch = sorted(riding + queued_calls, key=_submission)
            if not lingering and self._linger_timer is not None:
                self._linger_timer.cancel()
                self._linger_timer = None
            try:
                await self._run(batch)
            finally:
                for _ in range(queued):
                    queue.task_done()

    async def _run(self, batch: list[_Pending[CallT, OutcomeT]]) -> None:
        try:
            outcomes = await self._settle([call for _, call, _ in batch])
        except asyncio.CancelledError:
            for _, _, future in batch:
                if not future.done():
                    future.cancel()
            raise
        except Exception as exc:  # handed to every caller of the batch
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, _, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)


def _submission(pending: _Pending[CallT, OutcomeT]) -> int:
    return pending[0]
