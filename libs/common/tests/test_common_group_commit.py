"""Group commit: batches form under load, each caller gets its own outcome, a failed batch fails
every caller in it and nobody else, and a caller that gives up does not disturb the batch."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from tollgate.common.group_commit import GroupCommitter


class Recorder:
    def __init__(self, fail_when: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.fail_when = fail_when
        self.gate = asyncio.Event()
        self.gate.set()

    async def settle(self, calls: Sequence[int]) -> list[int]:
        self.batches.append(list(calls))
        await self.gate.wait()
        await asyncio.sleep(0.01)
        if self.fail_when is not None and self.fail_when in calls:
            raise RuntimeError("the batch failed")
        return [call * 10 for call in calls]


async def test_calls_arriving_during_a_batch_share_the_next_one() -> None:
    recorder = Recorder()
    committer = GroupCommitter(recorder.settle, max_batch=100, workers=1)
    try:
        results = await asyncio.gather(*(committer.submit(i) for i in range(50)))
    finally:
        await committer.stop()
    assert results == [i * 10 for i in range(50)]
    assert sorted(call for batch in recorder.batches for call in batch) == list(range(50))
    # The first call went alone; the rest queued while it was in flight.
    assert len(recorder.batches) <= 3


async def test_the_batch_size_is_a_ceiling() -> None:
    recorder = Recorder()
    committer = GroupCommitter(recorder.settle, max_batch=7, workers=2)
    try:
        await asyncio.gather(*(committer.submit(i) for i in range(50)))
    finally:
        await committer.stop()
    assert max(len(batch) for batch in recorder.batches) <= 7


async def test_a_failed_batch_fails_its_callers_only() -> None:
    recorder = Recorder(fail_when=3)
    recorder.gate.clear()
    committer = GroupCommitter(recorder.settle, max_batch=100, workers=1)
    try:
        first = asyncio.create_task(committer.submit(0))
        await asyncio.sleep(0)
        failing = [asyncio.create_task(committer.submit(i)) for i in (1, 2, 3)]
        await asyncio.sleep(0)
        recorder.gate.set()
        assert await first == 0
        for task in failing:
            with pytest.raises(RuntimeError, match="the batch failed"):
                await task
        assert await committer.submit(4) == 40
    finally:
        await committer.stop()


async def test_a_caller_that_gives_up_leaves_the_batch_whole() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    committer = GroupCommitter(recorder.settle, max_batch=100, workers=1)
    try:
        quitter = asyncio.create_task(committer.submit(1))
        stayer = asyncio.create_task(committer.submit(2))
        await asyncio.sleep(0)
        quitter.cancel()
        recorder.gate.set()
        assert await stayer == 20
        assert recorder.batches == [[1, 2]]
    finally:
        await committer.stop()


async def test_calls_submitted_together_share_a_batch_and_each_gets_its_outcome() -> None:
    recorder = Recorder(fail_when=13)
    committer = GroupCommitter(recorder.settle, max_batch=4, workers=1)
    try:
        outcomes = await committer.submit_all([1, 2, 3])
        assert outcomes == [10, 20, 30]
        assert recorder.batches == [[1, 2, 3]]
        # Over the batch size: split, and a failed batch is the outcome of its calls only.
        outcomes = await committer.submit_all([11, 12, 13, 14, 15])
    finally:
        await committer.stop()
    assert recorder.batches[1:] == [[11, 12, 13, 14], [15]]
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes[:4])
    assert outcomes[4] == 150


async def test_a_lingering_call_rides_in_the_next_batch_another_call_starts() -> None:
    recorder = Recorder()
    committer = GroupCommitter(recorder.settle, max_batch=100, workers=1)
    try:
        # A linger far longer than the test: had it gone alone, it would be a batch of its own.
        lingering = asyncio.create_task(committer.submit_lingering(1, linger=60.0))
        await asyncio.sleep(0.01)
        assert recorder.batches == []  # it starts no batch by itself
        assert await committer.submit(2) == 20
        assert await lingering == 10
    finally:
        await committer.stop()
    # Submitted first, it goes first in the batch (a ledger decides a batch in that order).
    assert recorder.batches == [[1, 2]]


async def test_a_lingering_call_queued_behind_later_calls_still_goes_first_in_its_batch() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    committer = GroupCommitter(recorder.settle, max_batch=100, workers=1)
    try:
        busy = asyncio.create_task(committer.submit(0))  # the one worker is held up by it
        await asyncio.sleep(0.01)
        lingering = asyncio.create_task(committer.submit_lingering(1, linger=0.02))
        await asyncio.sleep(0)
        later = asyncio.create_task(committer.submit(2))
        # The linger runs out while the worker is busy: the call joins the queue, behind 2.
        await asyncio.sleep(0.1)
        recorder.gate.set()
        assert [await busy, await lingering, await later] == [0, 10, 20]
    finally:
        await committer.stop()
    # Submitted before 2, it is decided before 2 (a ledger commit before the next reserve).
    assert recorder.batches == [[0], [1, 2]]


async def test_a_lingering_call_alone_is_sent_when_its_linger_has_passed() -> None:
    recorder = Recorder()
    committer = GroupCommitter(recorder.settle, max_batch=100, workers=2)
    try:
        assert await committer.submit_lingering(1, linger=0.01) == 10
        assert await committer.submit_lingering(2, linger=0.01) == 20
    finally:
        await committer.stop()
    assert recorder.batches == [[1], [2]]


async def test_stopping_sends_the_lingering_calls() -> None:
    recorder = Recorder()
    committer = GroupCommitter(recorder.settle, max_batch=100, workers=1)
    lingering = [asyncio.create_task(committer.submit_lingering(i, linger=60.0)) for i in (1, 2)]
    await asyncio.sleep(0)
    await committer.stop()
    assert [await task for task in lingering] == [10, 20]
    assert recorder.batches == [[1, 2]]


async def test_a_call_lingering_across_stop_is_still_settled() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    committer = GroupCommitter(recorder.settle, max_batch=100, workers=1)
    first = asyncio.create_task(committer.submit(1))
    await asyncio.sleep(0)
    stopping = asyncio.create_task(committer.stop())
    await asyncio.sleep(0)
    # Arrives while stop() waits for the batch in flight, and lingers past the stop.
    late = asyncio.create_task(committer.submit_lingering(2, linger=0.05))
    await asyncio.sleep(0)
    recorder.gate.set()
    await stopping
    assert await first == 10
    assert await asyncio.wait_for(late, timeout=10) == 20
    await committer.stop()
