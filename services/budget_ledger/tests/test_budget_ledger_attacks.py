"""Attacks on the hold life cycle, on a real Postgres: reused request ids, another key's holds,
costs above the hold, storms at the budget edge, and crashes in the middle of a group commit.
Every test ends by checking the budget's exact totals against the ledger's entries."""

from __future__ import annotations

import asyncio
import signal

import asyncpg
import grpc
import pytest

from tollgate.budget_ledger import batch_store
from tollgate.budget_ledger.alerts import AlertRaiser
from tollgate.budget_ledger.database import Database
from tollgate.budget_ledger.ledger import Ledger
from tollgate.budget_ledger.model import Requester, ReserveOutcome
from tollgate.budget_ledger.validation import CommitInput, ReserveInput
from tollgate.common.errors import ServiceError
from tollgate.v1 import budget_ledger_pb2 as pb
from tollgate.v1 import budget_ledger_pb2_grpc

_TOTALS = """
    SELECT COALESCE(sum(c.spent_micros), 0) AS spent, COALESCE(sum(c.held_micros), 0) AS held
    FROM budget_counters c JOIN budgets b ON b.id = c.budget_id
    WHERE b.scope_kind = 1 AND b.period = 1
"""
_POSTED = "SELECT COALESCE(sum(cost_micros), 0) FROM ledger_entries"


async def totals(db: asyncpg.Connection) -> tuple[int, int]:
    row = await db.fetchrow(_TOTALS)
    assert row is not None
    return int(row["spent"]), int(row["held"])


async def test_50_concurrent_reserves_under_one_request_id_hold_once(
    ledger, start_processes, db
) -> None:
    """Finding: 50 requests sharing a request id each looked like a fresh success."""
    await ledger.budget(5_000)
    (other,) = await start_processes(1)
    async with grpc.aio.insecure_channel(other.address) as channel:
        stubs = [ledger.stub, budget_ledger_pb2_grpc.BudgetLedgerServiceStub(channel)]
        context = ledger.context("shared-id", api_key="key-1")
        replies = await asyncio.gather(
            *(
                stubs[i % 2].Reserve(pb.ReserveRequest(context=context, amount_micros=1_000))
                for i in range(50)
            )
        )
        outcomes = [r.outcome for r in replies]
        assert outcomes.count(pb.RESERVE_OUTCOME_RESERVED) == 1
        assert outcomes.count(pb.RESERVE_OUTCOME_ALREADY_HELD) == 49
        assert all(r.replayed for r in replies if r.outcome != pb.RESERVE_OUTCOME_RESERVED)
        assert await totals(db) == (0, 1_000)

        # A caller that ignores the outcome and commits a different answer under the id each
        # time: one charge is posted, every other one is refused, never taken as a retry.
        costs = [900 + i for i in range(50)]
        results = await asyncio.gather(
            *(
                stubs[i % 2].Commit(pb.CommitRequest(context=context, actual_micros=cost))
                for i, cost in enumerate(costs)
            ),
            return_exceptions=True,
        )
    posted = [r for r in results if isinstance(r, pb.CommitResponse) and not r.replayed]
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(posted) == 1
    assert len(refused) == 49
    assert {e.code() for e in refused} == {grpc.StatusCode.ALREADY_EXISTS}
    assert await db.fetchval("SELECT count(*) FROM ledger_entries") == 1
    spent, held = await totals(db)
    assert (spent, held) == (await db.fetchval(_POSTED), 0)
    # And the id stays used: a later Reserve under it is never fresh.
    again = await ledger.reserve("shared-id", 1_000, api_key="key-1")
    assert again.outcome == pb.RESERVE_OUTCOME_ALREADY_COMMITTED


async def test_a_settled_request_id_is_never_reserved_again(ledger, db) -> None:
    await ledger.budget(10_000)
    await ledger.reserve("done", 1_000)
    await ledger.commit("done", 800)
    committed = await ledger.reserve("done", 1_000)
    assert (committed.outcome, committed.status) == (
        pb.RESERVE_OUTCOME_ALREADY_COMMITTED,
        pb.HOLD_STATUS_COMMITTED,
    )
    await ledger.reserve("dropped", 1_000)
    await ledger.release("dropped")
    released = await ledger.reserve("dropped", 1_000)
    assert released.outcome == pb.RESERVE_OUTCOME_ALREADY_RELEASED
    # A retry of a commit (same cost) replays; the totals moved once.
    assert (await ledger.commit("done", 800)).replayed
    assert await totals(db) == (800, 0)
    assert await db.fetchval(_POSTED) == 800


async def test_a_release_racing_its_reserve_never_leaves_a_hold(ledger, db) -> None:
    """A caller that stopped waiting for its Reserve releases the id while the Reserve may still
    be on its way. 200 ids, each Reserve and Release sent at once, in both orders: whichever the
    ledger settles first (in one batch, in two, or in two concurrent transactions), no hold is
    left held for nobody to settle."""
    await ledger.budget(10**9)
    calls = []
    for index in range(200):
        request_id = f"race-{index}"
        pair = [ledger.reserve(request_id, 1_000), ledger.release(request_id)]
        calls += pair if index % 2 else pair[::-1]
    await asyncio.gather(*calls)
    held_now = "SELECT count(*) FROM holds WHERE status = $1"
    assert await db.fetchval(held_now, pb.HOLD_STATUS_HELD) == 0
    assert await db.fetchval("SELECT count(*) FROM holds") == 200
    (state,) = await ledger.states()
    assert (state.spent_micros, state.held_micros) == (0, 0)


async def test_a_hold_can_only_be_used_by_the_key_that_made_it(ledger, db) -> None:
    """Finding: another key of the same tenant could release (or commit) someone's live hold."""
    await ledger.budget(10_000)
    made = await ledger.reserve("req-a", 3_000, api_key="key-a")
    assert made.outcome == pb.RESERVE_OUTCOME_RESERVED
    for attempt in (
        ledger.release("req-a", api_key="key-b"),
        ledger.commit("req-a", 1, api_key="key-b"),
        ledger.reserve("req-a", 3_000, api_key="key-b"),
        ledger.release("req-a"),  # no key at all is another key too
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await attempt
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "another API key" in (refused.value.details() or "")
    hold = await db.fetchrow("SELECT status, amount_micros, api_key_id FROM holds")
    assert tuple(hold) == (pb.HOLD_STATUS_HELD, 3_000, "key-a")
    assert await totals(db) == (0, 3_000)
    assert await db.fetchval("SELECT count(*) FROM ledger_entries") == 0
    # The owner settles it as usual.
    await ledger.commit("req-a", 2_500, api_key="key-a")
    assert await totals(db) == (2_500, 0)


async def test_a_cost_above_the_hold_is_recorded_in_full_and_stops_further_holds(
    ledger, db, details_of
) -> None:
    await ledger.budget(10_000)
    await ledger.reserve("estimate-too-low", 4_000)
    reply = await ledger.commit("estimate-too-low", 12_345)
    assert (reply.over_hold, reply.held_micros, reply.late) == (True, 4_000, False)
    assert await totals(db) == (12_345, 0)
    state = (await ledger.states())[0]
    assert (state.spent_micros, state.remaining_micros) == (12_345, 0)
    with pytest.raises(grpc.aio.AioRpcError) as full:
        await ledger.reserve("next", 1)
    assert full.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert details_of(full.value)["remaining_micros"] == "0"
    assert await db.fetchval("SELECT over_hold FROM ledger_entries") is True


async def test_256_callers_at_the_budget_edge_never_pass_it(start_processes, ledger, db) -> None:
    """Reserves and commits (some above their hold) race on two replicas and the in-process
    one; whatever the interleaving, holds are granted only while they fit."""
    limit = 50_000
    await ledger.budget(limit)
    processes = await start_processes(2)
    channels = [grpc.aio.insecure_channel(p.address) for p in processes]
    stubs = [ledger.stub] + [budget_ledger_pb2_grpc.BudgetLedgerServiceStub(c) for c in channels]
    seen: list[int] = []
    stop = asyncio.Event()

    async def watch() -> None:
        while not stop.is_set():
            spent, held = await totals(db)
            seen.append(spent + held)
            await asyncio.sleep(0.005)

    refusals: list[grpc.StatusCode] = []

    async def caller(i: int) -> tuple[int, int]:
        stub = stubs[i % len(stubs)]
        context = ledger.context(f"edge-{i}")
        try:
            await stub.Reserve(pb.ReserveRequest(context=context, amount_micros=1_000))
        except grpc.aio.AioRpcError as error:
            refusals.append(error.code())
            return 0, 0
        actual = 1_000 if i % 3 else 700
        await stub.Commit(pb.CommitRequest(context=context, actual_micros=actual))
        return 1, actual

    watcher = asyncio.create_task(watch())
    try:
        results = await asyncio.gather(*(caller(i) for i in range(256)))
    finally:
        stop.set()
        await watcher
        for channel in channels:
            await channel.close()
    assert set(refusals) == {grpc.StatusCode.RESOURCE_EXHAUSTED}
    granted = sum(g for g, _ in results)
    committed = sum(a for _, a in results)
    assert max(seen) <= limit
    spent, held = await totals(db)
    assert held == 0
    assert spent == committed == await db.fetchval(_POSTED)
    assert spent <= limit
    # Refusals happen only once a hold no longer fits: every hold is 1,000 and no commit is
    # above its hold, so at least limit / 1,000 holds were granted before any refusal.
    assert limit // 1_000 <= granted < 256


async def test_a_connection_dropped_mid_batch_loses_and_doubles_nothing(
    ledger_settings, ledger, db, monkeypatch
) -> None:
    """The database connection dies after the batch wrote everything (holds, entries, counters)
    but before it committed: the whole batch rolls back, every caller is told UNAVAILABLE, and
    retries post each charge exactly once."""
    await ledger.budget(10**9)
    database = Database(ledger_settings)
    await database.open()
    own = Ledger(database, AlertRaiser(), max_batch=64, workers=1)
    real_write = batch_store.write_batch
    drops = {"left": 1}

    async def write_then_drop(conn, *decided):  # type: ignore[no-untyped-def]
        written = await real_write(conn, *decided)
        if drops["left"] and written.entry_ids:
            drops["left"] -= 1
            await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return written

    monkeypatch.setattr(batch_store, "write_batch", write_then_drop)
    who = Requester("acme", "", "")
    record = pb.UsageRecord()
    ids = [f"drop-{i}" for i in range(40)]
    try:
        await asyncio.gather(*(own.reserve(ReserveInput(who, i, 1_000, 0, 300.0)) for i in ids))

        async def commit(request_id: str) -> grpc.StatusCode:
            call = CommitInput(who, request_id, 777, 0, record)
            try:
                await own.commit(call)
            except ServiceError as error:
                await own.commit(call)  # the caller's retry
                return error.code
            return grpc.StatusCode.OK

        outcomes = await asyncio.gather(*(commit(i) for i in ids))
    finally:
        await own.stop()
        await database.close()
    # The drop really hit a batch, and its callers were told to retry.
    assert grpc.StatusCode.UNAVAILABLE in outcomes
    assert set(outcomes) <= {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE}
    assert await db.fetchval("SELECT count(*) FROM ledger_entries") == len(ids)
    assert await totals(db) == (777 * len(ids), 0)
    assert await db.fetchval(_POSTED) == 777 * len(ids)


async def test_a_ledger_killed_mid_storm_loses_and_doubles_nothing(
    start_processes, ledger, db
) -> None:
    """SIGKILL a replica while 64 callers run reserve + commit pairs through it; each caller
    then retries its pair on a surviving replica. Every charge is posted exactly once."""
    await ledger.budget(10**9)
    (victim,) = await start_processes(1)
    killed = asyncio.Event()

    async def pair(stub: budget_ledger_pb2_grpc.BudgetLedgerServiceStub, request_id: str) -> None:
        context = ledger.context(request_id)
        reply = await stub.Reserve(pb.ReserveRequest(context=context, amount_micros=1_000))
        assert reply.outcome in (
            pb.RESERVE_OUTCOME_RESERVED,
            pb.RESERVE_OUTCOME_ALREADY_HELD,
            pb.RESERVE_OUTCOME_ALREADY_COMMITTED,
        )
        await stub.Commit(pb.CommitRequest(context=context, actual_micros=900))

    async def caller(stub: budget_ledger_pb2_grpc.BudgetLedgerServiceStub, n: int) -> int:
        done = 0
        for k in range(1_000):
            request_id = f"kill-{n}-{k}"
            try:
                await pair(stub, request_id)
            except grpc.aio.AioRpcError:
                await pair(ledger.stub, request_id)  # the retry, on a surviving replica
                return done + 1
            done += 1
        return done

    async def kill_soon() -> None:
        await asyncio.sleep(1.0)
        victim.process.send_signal(signal.SIGKILL)
        killed.set()

    async with grpc.aio.insecure_channel(victim.address) as channel:
        stub = budget_ledger_pb2_grpc.BudgetLedgerServiceStub(channel)
        killer = asyncio.create_task(kill_soon())
        pairs = await asyncio.gather(*(caller(stub, n) for n in range(64)))
        await killer
    assert killed.is_set()
    assert await db.fetchval("SELECT count(*) FROM ledger_entries") == sum(pairs)
    assert await totals(db) == (900 * sum(pairs), 0)
    assert await db.fetchval("SELECT count(*) FROM holds WHERE status = 1") == 0


async def test_a_call_that_breaks_its_batch_fails_alone(
    ledger_settings, ledger, db, poisoned_batches
) -> None:
    """A call the ledger cannot handle (any unexpected error) fails only its own caller: the
    callers that shared its batch are settled one by one and never see its error."""
    await ledger.budget(10**6)
    database = Database(ledger_settings)
    await database.open()
    own = Ledger(database, AlertRaiser(), max_batch=64, workers=1)
    who = Requester("acme", "", "")
    try:
        results = await asyncio.gather(
            *(own.reserve(ReserveInput(who, f"fine-{i}", 100, 0, 300.0)) for i in range(20)),
            own.reserve(ReserveInput(who, poisoned_batches, 100, 0, 300.0)),
            return_exceptions=True,
        )
    finally:
        await own.stop()
        await database.close()
    assert isinstance(results[-1], RuntimeError)
    assert [r.outcome for r in results[:-1]] == [ReserveOutcome.RESERVED] * 20  # type: ignore[union-attr]
    assert await totals(db) == (0, 2_000)


def test_outcomes_match_the_protocol() -> None:
    assert {o.value for o in ReserveOutcome} == set(pb.ReserveOutcome.values()) - {0}
