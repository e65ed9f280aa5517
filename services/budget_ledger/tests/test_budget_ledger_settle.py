"""Settle: many calls in one RPC, each answered as if sent alone; and the client that coalesces
the calls of concurrent requests into Settle RPCs."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from tollgate.common.errors import ServiceError
from tollgate.common.ledger_client import CoalescingLedgerClient
from tollgate.v1 import budget_ledger_pb2 as pb

_TOTALS = "SELECT spent_micros, held_micros FROM budget_counters"


async def test_each_call_of_a_settle_gets_its_own_answer_in_order(ledger, db) -> None:
    await ledger.budget(5_000)
    calls = [
        pb.LedgerCall(reserve=pb.ReserveRequest(context=ledger.context("a"), amount_micros=3_000)),
        pb.LedgerCall(reserve=pb.ReserveRequest(context=ledger.context("b"), amount_micros=3_000)),
        pb.LedgerCall(commit=pb.CommitRequest(context=ledger.context("a"), actual_micros=2_500)),
        pb.LedgerCall(reserve=pb.ReserveRequest(context=ledger.context("c"), amount_micros=2_500)),
        pb.LedgerCall(release=pb.ReleaseRequest(context=ledger.context("c"))),
        pb.LedgerCall(reserve=pb.ReserveRequest(context=ledger.context("a"), amount_micros=3_000)),
        pb.LedgerCall(reserve=pb.ReserveRequest(context=ledger.context(""), amount_micros=1)),
        pb.LedgerCall(),
    ]
    reply = await ledger.stub.Settle(pb.SettleRequest(calls=calls))
    kinds = [r.WhichOneof("result") for r in reply.results]
    assert kinds == [
        "reserve", "error", "commit", "reserve", "release", "reserve", "error", "error",
    ]  # fmt: skip
    results = reply.results
    assert results[0].reserve.outcome == pb.RESERVE_OUTCOME_RESERVED
    # b did not fit while a held 3,000; once a committed 2,500, c's 2,500 did.
    assert results[1].error.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    assert results[1].error.reason == "BUDGET_EXHAUSTED"
    assert results[1].error.metadata["remaining_micros"] == "2000"
    assert (results[2].commit.over_hold, results[2].commit.held_micros) == (False, 3_000)
    assert results[3].reserve.outcome == pb.RESERVE_OUTCOME_RESERVED
    assert results[4].release.status == pb.HOLD_STATUS_RELEASED
    assert results[5].reserve.outcome == pb.RESERVE_OUTCOME_ALREADY_COMMITTED
    for index in (6, 7):
        assert results[index].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "calls[7]" in results[7].error.message
    assert tuple(await db.fetchrow(_TOTALS)) == (2_500, 0)


async def test_a_settle_of_too_many_calls_is_refused_whole(ledger, db) -> None:
    call = pb.LedgerCall(reserve=pb.ReserveRequest(context=ledger.context("x"), amount_micros=1))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await ledger.stub.Settle(pb.SettleRequest(calls=[call] * 1001))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert await db.fetchval("SELECT count(*) FROM holds") == 0


class CountingStub:
    """The ledger stub, counting Settle RPCs."""

    def __init__(self, stub) -> None:  # type: ignore[no-untyped-def]
        self._stub = stub
        self.settles = 0

    async def Settle(self, request, timeout=None):  # type: ignore[no-untyped-def]
        self.settles += 1
        return await self._stub.Settle(request, timeout=timeout)


async def test_the_coalescing_client_shares_rpcs_and_stays_exact(ledger, db) -> None:
    await ledger.budget(1_000_000)
    stub = CountingStub(ledger.stub)
    client = CoalescingLedgerClient(stub)  # type: ignore[arg-type]

    async def pair(i: int) -> int:
        context = ledger.context(f"pair-{i}")
        reserved = await client.reserve(pb.ReserveRequest(context=context, amount_micros=1_000))
        assert reserved.outcome == pb.RESERVE_OUTCOME_RESERVED
        await client.commit(pb.CommitRequest(context=context, actual_micros=100 + i))
        return 100 + i

    try:
        committed = sum(await asyncio.gather(*(pair(i) for i in range(64))))
        # A refusal comes back as the error a unary call would raise, budget state included.
        with pytest.raises(ServiceError) as full:
            await client.reserve(
                pb.ReserveRequest(context=ledger.context("huge"), amount_micros=10**7)
            )
    finally:
        await client.close()
    assert full.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert full.value.reason == "BUDGET_EXHAUSTED"
    assert 2 <= stub.settles < 128
    assert tuple(await db.fetchrow(_TOTALS)) == (committed, 0)
    assert await db.fetchval("SELECT sum(cost_micros) FROM ledger_entries") == committed


async def test_one_request_id_coalesced_50_times_holds_once(ledger, db) -> None:
    await ledger.budget(5_000)
    client = CoalescingLedgerClient(ledger.stub)
    request = pb.ReserveRequest(context=ledger.context("same"), amount_micros=1_000)
    try:
        replies = await asyncio.gather(*(client.reserve(request) for _ in range(50)))
    finally:
        await client.close()
    outcomes = [r.outcome for r in replies]
    assert outcomes.count(pb.RESERVE_OUTCOME_RESERVED) == 1
    assert outcomes.count(pb.RESERVE_OUTCOME_ALREADY_HELD) == 49
    assert tuple(await db.fetchrow(_TOTALS)) == (0, 1_000)
