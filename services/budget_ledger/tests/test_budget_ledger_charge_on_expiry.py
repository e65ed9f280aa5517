"""Holds charged, not released, when they expire: a Message Batch nobody reads still costs its
tenant exactly what it held, once, however many sweepers race and whenever the results are read."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration

from tollgate.budget_ledger.database import Database
from tollgate.budget_ledger.service import build_service
from tollgate.budget_ledger.sweeper import sweep_once
from tollgate.common.testing import serving
from tollgate.v1 import budget_ledger_pb2 as pb
from tollgate.v1 import budget_ledger_pb2_grpc

from .conftest import LedgerClient

_EXPIRING = Duration(nanos=1_000_000)


async def _reserve(ledger, request_id: str, micros: int, *, charge: bool, **scopes: str) -> None:
    reply = await ledger.stub.Reserve(
        pb.ReserveRequest(
            context=ledger.context(request_id, **scopes),
            amount_micros=micros,
            tokens=micros // 10,
            hold_ttl=_EXPIRING,
            charge_on_expiry=charge,
        )
    )
    assert reply.outcome == pb.RESERVE_OUTCOME_RESERVED


async def _settled(db, request_ids: list[str]) -> list[int]:
    for _ in range(100):
        statuses = await db.fetch(
            "SELECT status FROM holds WHERE request_id = ANY($1) ORDER BY request_id", request_ids
        )
        if all(row["status"] != 1 for row in statuses):
            return [row["status"] for row in statuses]
        await asyncio.sleep(0.05)
    raise AssertionError("the sweeper never settled the holds")


async def test_an_expired_charge_hold_is_charged_and_an_ordinary_one_released(ledger, db) -> None:
    await ledger.budget(1_000_000)
    await ledger.budget(1_000_000, kind=pb.SCOPE_KIND_API_KEY, subject="key-1")
    await _reserve(ledger, "batch-1", 7_000, charge=True, api_key="key-1")
    await _reserve(ledger, "message-1", 3_000, charge=False, api_key="key-1")

    assert await _settled(db, ["batch-1", "message-1"]) == [
        pb.HOLD_STATUS_COMMITTED,
        pb.HOLD_STATUS_EXPIRED,
    ]
    for state in await ledger.states():
        assert (state.spent_micros, state.held_micros) == (7_000, 0)
        assert (state.spent_tokens, state.held_tokens) == (700, 0)
    entry = await db.fetchrow(
        "SELECT kind, cost_micros, held_micros, tokens, api_key_id, charged_on_expiry, late "
        "FROM ledger_entries WHERE request_id = 'batch-1'"
    )
    assert dict(entry) == {
        "kind": "commit",
        "cost_micros": 7_000,
        "held_micros": 7_000,
        "tokens": 700,
        "api_key_id": "key-1",
        "charged_on_expiry": True,
        "late": False,
    }
    assert await db.fetchval("SELECT count(*) FROM ledger_entries") == 1


async def test_a_commit_after_the_charge_is_answered_and_charges_nothing_more(ledger, db) -> None:
    await ledger.budget(1_000_000)
    await _reserve(ledger, "batch-1", 7_000, charge=True)
    await _settled(db, ["batch-1"])

    # The results are read at last: the actual cost (lower, or higher) arrives after the charge.
    for actual in (5_000, 9_000, 5_000):
        reply = await ledger.commit("batch-1", actual)
        assert reply.replayed
    (state,) = await ledger.states()
    assert (state.spent_micros, state.held_micros) == (7_000, 0)
    assert await db.fetchval("SELECT count(*) FROM ledger_entries") == 1


async def test_a_batch_read_before_expiry_is_charged_its_actual_cost_once(ledger, db) -> None:
    await ledger.budget(1_000_000)
    reply = await ledger.stub.Reserve(
        pb.ReserveRequest(
            context=ledger.context("batch-1"),
            amount_micros=7_000,
            hold_ttl=Duration(seconds=1),
            charge_on_expiry=True,
        )
    )
    assert reply.outcome == pb.RESERVE_OUTCOME_RESERVED
    first = await ledger.commit("batch-1", 4_200)
    again = await ledger.commit("batch-1", 4_200)
    assert (first.replayed, again.replayed, again.entry_id) == (False, True, first.entry_id)
    await asyncio.sleep(1.5)  # past the expiry: the sweeper must leave the committed hold alone
    (state,) = await ledger.states()
    assert (state.spent_micros, state.held_micros) == (4_200, 0)
    assert await db.fetchval("SELECT count(*) FROM ledger_entries") == 1
    # A second, different answer under the id is still refused: only the expiry charge absorbs.
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await ledger.commit("batch-1", 9_999)
    assert refused.value.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_sweepers_on_many_replicas_charge_each_hold_once(ledger, ledger_settings, db) -> None:
    await ledger.budget(10_000_000)
    await ledger.budget(10_000_000, kind=pb.SCOPE_KIND_CONTACT, subject="lead-1")
    amounts = [1_000 + i for i in range(60)]
    for i, amount in enumerate(amounts):
        await _reserve(ledger, f"batch-{i}", amount, charge=i % 2 == 0, contact="lead-1")
    await asyncio.sleep(0.05)
    replicas = [Database(ledger_settings) for _ in range(2)]
    for replica in replicas:
        await replica.open()
    try:
        settled = await asyncio.gather(*(sweep_once(r, 7) for r in replicas for _ in range(6)))
    finally:
        for replica in replicas:
            await replica.close()
    # Two replicas plus the in-process ledger's own sweeper: none settles a hold twice.
    assert sum(settled) <= 60
    await _settled(db, [f"batch-{i}" for i in range(60)])
    charged = sum(amount for i, amount in enumerate(amounts) if i % 2 == 0)
    for state in await ledger.states():
        assert (state.spent_micros, state.held_micros) == (charged, 0)
        assert (state.spent_tokens, state.held_tokens) == (sum(a // 10 for a in amounts[::2]), 0)
    assert await db.fetchval("SELECT count(*) FROM ledger_entries") == 30
    assert await db.fetchval("SELECT sum(cost_micros) FROM ledger_entries") == charged


async def test_a_commit_racing_the_sweeper_charges_once(ledger, ledger_settings, db) -> None:
    await ledger.budget(10_000_000)
    for i in range(40):
        await _reserve(ledger, f"batch-{i}", 5_000, charge=True)
    await asyncio.sleep(0.05)
    replica = Database(ledger_settings)
    await replica.open()
    try:
        await asyncio.gather(
            sweep_once(replica, 40),
            *(ledger.commit(f"batch-{i}", 1_000) for i in range(40)),
        )
    finally:
        await replica.close()
    await _settled(db, [f"batch-{i}" for i in range(40)])
    # Each id is either committed at its actual cost or charged its hold; never both.
    rows = await db.fetch("SELECT cost_micros, charged_on_expiry FROM ledger_entries")
    assert len(rows) == 40
    assert all(r["cost_micros"] == (5_000 if r["charged_on_expiry"] else 1_000) for r in rows)
    (state,) = await ledger.states()
    assert state.held_micros == 0
    assert state.spent_micros == sum(r["cost_micros"] for r in rows)


async def test_a_charge_on_expiry_raises_the_alerts_it_crosses_once(ledger, db) -> None:
    await ledger.budget(10_000, thresholds=(50, 80, 100))
    await _reserve(ledger, "batch-1", 6_000, charge=True)
    await _reserve(ledger, "message-1", 3_000, charge=False)  # released: spends nothing
    await _settled(db, ["batch-1", "message-1"])
    for _ in range(50):
        alerts = await db.fetch("SELECT threshold_percent, spent_micros FROM budget_alerts")
        if alerts:
            break
        await asyncio.sleep(0.05)
    assert [(a["threshold_percent"], a["spent_micros"]) for a in alerts] == [(50, 6_000)]


async def test_a_commit_that_waited_for_the_sweepers_charge_is_answered_as_charged(
    settings_for, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group commit reads its holds, entries included, in one statement whose snapshot predates
    its wait for a hold's lock. A Commit that waited while the sweeper charged the hold must still
    see the charge's entry (and that it was charged on expiry): it is answered as already charged,
    never refused as a second answer under the request id, and posts nothing."""
    from tollgate.budget_ledger import sweeper as sweeper_module

    claimed, proceed = asyncio.Event(), asyncio.Event()

    async def paused(pool, work):  # type: ignore[no-untyped-def]
        # The sweeper's transaction, held open after its work until the test lets it commit.
        async with pool.acquire() as conn, conn.transaction():
            settled = await work(conn)
            if settled:
                claimed.set()
                await proceed.wait()
        return settled

    monkeypatch.setattr(sweeper_module, "in_transaction", paused)
    # The served ledger's own sweeper stays out of the way; the test runs the one that charges.
    settings = settings_for(sweep_interval_seconds=3600)
    async with (
        serving(await build_service(settings), settings) as running,
        grpc.aio.insecure_channel(running.address) as channel,
    ):
        ledger = LedgerClient(budget_ledger_pb2_grpc.BudgetLedgerServiceStub(channel))
        await ledger.budget(1_000_000)
        await _reserve(ledger, "batch-1", 7_000, charge=True)
        await asyncio.sleep(0.05)
        replica = Database(settings)
        await replica.open()
        try:
            sweep = asyncio.create_task(sweep_once(replica, 10))
            await asyncio.wait_for(claimed.wait(), 10)
            commit = asyncio.create_task(ledger.commit("batch-1", 4_000))
            for _ in range(200):
                waiting = await db.fetchval(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                if waiting:
                    break
                await asyncio.sleep(0.01)
            assert waiting, "the Commit never waited for the sweeper's lock on the hold"
            assert not commit.done()
            proceed.set()
            assert await sweep == 1
            reply = await asyncio.wait_for(commit, 10)
        finally:
            proceed.set()
            await replica.close()
        charged = await db.fetchrow(
            "SELECT id, cost_micros, charged_on_expiry FROM ledger_entries "
            "WHERE request_id = 'batch-1'"
        )
        assert (charged["cost_micros"], charged["charged_on_expiry"]) == (7_000, True)
        assert reply.replayed
        assert reply.entry_id == f"le_{charged['id']}"
        assert await db.fetchval("SELECT count(*) FROM ledger_entries") == 1
        (state,) = await ledger.states()
        assert (state.spent_micros, state.held_micros) == (7_000, 0)
