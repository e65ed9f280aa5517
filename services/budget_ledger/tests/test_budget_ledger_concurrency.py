"""Exactness across processes and crashes: the must-show cases of the ledger, on a real Postgres."""

from __future__ import annotations

import asyncio
import signal

import grpc
from google.protobuf.duration_pb2 import Duration

from tollgate.budget_ledger.database import Database
from tollgate.budget_ledger.sweeper import sweep_once
from tollgate.v1 import budget_ledger_pb2 as pb
from tollgate.v1 import budget_ledger_pb2_grpc

HOLD = 1_000
FITS = 37
CALLS = 200

_USE = "SELECT COALESCE(sum(spent_micros + held_micros), 0) FROM budget_counters"


async def test_200_reservations_over_4_processes_grant_exactly_what_fits(
    start_processes, ledger, db
) -> None:
    processes = await start_processes(4)
    limit = FITS * HOLD
    await ledger.budget(limit)
    channels = [grpc.aio.insecure_channel(p.address) for p in processes]
    stubs = [budget_ledger_pb2_grpc.BudgetLedgerServiceStub(c) for c in channels]
    observed: list[int] = []
    refusals: list[grpc.StatusCode] = []
    done = asyncio.Event()

    async def watch_the_counter() -> None:
        # Sample spent + held while the storm runs: it must never pass the limit.
        while not done.is_set():
            observed.append(int(await db.fetchval(_USE)))
            await asyncio.sleep(0.002)

    async def one(i: int) -> bool:
        stub = stubs[i % len(stubs)]
        context = ledger.context(f"storm-{i}", api_key=f"key-{i % 3}")
        try:
            await stub.Reserve(pb.ReserveRequest(context=context, amount_micros=HOLD))
        except grpc.aio.AioRpcError as error:
            refusals.append(error.code())
            return False
        if i % 2:
            # Half of the winners settle at once (in full, so the budget stays exactly full).
            await stubs[(i + 1) % len(stubs)].Commit(
                pb.CommitRequest(context=context, actual_micros=HOLD)
            )
        return True

    watcher = asyncio.create_task(watch_the_counter())
    try:
        outcomes = await asyncio.gather(*(one(i) for i in range(CALLS)))
    finally:
        done.set()
        await watcher
        for channel in channels:
            await channel.close()

    assert sum(outcomes) == FITS
    assert refusals == [grpc.StatusCode.RESOURCE_EXHAUSTED] * (CALLS - FITS)
    assert observed
    assert max(observed) <= limit
    state = (await ledger.states())[0]
    assert state.spent_micros + state.held_micros == limit
    assert await db.fetchval("SELECT count(*) FROM holds") == FITS
    committed = await db.fetchval("SELECT count(*) FROM ledger_entries")
    assert state.spent_micros == committed * HOLD


async def test_a_killed_ledger_leaves_a_hold_the_sweeper_releases(
    start_processes, ledger, db
) -> None:
    (victim,) = await start_processes(1, TOLLGATE_BUDGET_LEDGER_SWEEP_INTERVAL_SECONDS="60")
    await ledger.budget(10_000)
    async with grpc.aio.insecure_channel(victim.address) as channel:
        stub = budget_ledger_pb2_grpc.BudgetLedgerServiceStub(channel)
        await stub.Reserve(
            pb.ReserveRequest(
                context=ledger.context("req-crash"),
                amount_micros=6_000,
                hold_ttl=Duration(seconds=1),
            )
        )
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait(timeout=10)
    assert (await ledger.states())[0].held_micros == 6_000

    # The surviving replica (the in-process `ledger`, sweeping every 0.2 s) releases it.
    for _ in range(100):
        if await db.fetchval("SELECT status FROM holds") == pb.HOLD_STATUS_EXPIRED:
            break
        await asyncio.sleep(0.1)
    state = (await ledger.states())[0]
    assert (state.spent_micros, state.held_micros) == (0, 0)
    assert await db.fetchval("SELECT status FROM holds") == pb.HOLD_STATUS_EXPIRED

    # The caller retries its commit (twice, as after a lost reply): posted once, and flagged.
    first = await ledger.commit("req-crash", 4_200)
    second = await ledger.commit("req-crash", 4_200)
    assert first.late
    assert first.over_hold
    assert not first.replayed
    assert second.replayed
    assert second.entry_id == first.entry_id
    state = (await ledger.states())[0]
    assert (state.spent_micros, state.held_micros) == (4_200, 0)
    assert await db.fetchval("SELECT count(*) FROM ledger_entries") == 1


async def test_sweepers_on_many_replicas_release_each_hold_once(
    ledger, ledger_settings, db
) -> None:
    await ledger.budget(1_000_000)
    await ledger.budget(1_000_000, kind=pb.SCOPE_KIND_CONTACT, subject="lead-1")
    for i in range(60):
        await ledger.stub.Reserve(
            pb.ReserveRequest(
                context=ledger.context(f"req-{i}", contact="lead-1"),
                amount_micros=100 + i,
                hold_ttl=Duration(nanos=1_000_000),
            )
        )
    await asyncio.sleep(0.05)
    replicas = [Database(ledger_settings) for _ in range(3)]
    for replica in replicas:
        await replica.open()
    try:
        released = await asyncio.gather(*(sweep_once(r, 25) for r in replicas for _ in range(3)))
    finally:
        for replica in replicas:
            await replica.close()
    # The in-process ledger's own sweeper may have taken some too; none twice.
    assert sum(released) <= 60
    for _ in range(50):
        if await db.fetchval("SELECT count(*) FROM holds WHERE status = 1") == 0:
            break
        await asyncio.sleep(0.1)
    assert await db.fetchval("SELECT count(*) FROM holds WHERE status = 4") == 60
    assert [(s.held_micros, s.spent_micros) for s in await ledger.states()] == [(0, 0), (0, 0)]
