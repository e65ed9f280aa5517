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


def _reserve(context, micros: int) -> pb.LedgerCall:  # type: ignore[no-untyped-def]
    return pb.LedgerCall(reserve=pb.ReserveRequest(context=context, amount_micros=micros))


def _commit(context, micros: int) -> pb.LedgerCall:  # type: ignore[no-untyped-def]
    return pb.LedgerCall(commit=pb.CommitRequest(context=context, actual_micros=micros))


def _code(result: pb.LedgerCallResult) -> grpc.StatusCode | None:
    if result.WhichOneof("result") != "error":
        return None
    return next(c for c in grpc.StatusCode if c.value[0] == result.error.code)


async def test_a_request_id_replayed_inside_one_settle_is_held_and_charged_once(ledger, db) -> None:
    """One Settle (one group commit) carrying the same request id again and again: a retry,
    a changed amount, a second answer under the id, and a reserve after its commit."""
    await ledger.budget(10_000)
    same = ledger.context("same")
    calls = [
        _reserve(same, 4_000),
        _reserve(same, 4_000),  # a retry: the same hold
        _reserve(same, 9_000),  # another amount under a live hold
        _commit(same, 3_000),
        _commit(same, 3_000),  # a retry of the commit
        _commit(same, 8_000),  # a second charge under the id
        _reserve(same, 4_000),  # after its commit
        _reserve(ledger.context("same", api_key="other-key"), 4_000),  # another key's id
    ]
    results = (await ledger.stub.Settle(pb.SettleRequest(calls=calls))).results
    assert results[0].reserve.outcome == pb.RESERVE_OUTCOME_RESERVED
    assert results[1].reserve.outcome == pb.RESERVE_OUTCOME_ALREADY_HELD
    assert _code(results[2]) == grpc.StatusCode.ALREADY_EXISTS
    assert (results[3].commit.replayed, results[3].commit.held_micros) == (False, 4_000)
    assert results[4].commit.replayed
    assert results[4].commit.entry_id == results[3].commit.entry_id
    assert _code(results[5]) == grpc.StatusCode.ALREADY_EXISTS
    assert results[6].reserve.outcome == pb.RESERVE_OUTCOME_ALREADY_COMMITTED
    assert _code(results[7]) == grpc.StatusCode.PERMISSION_DENIED
    assert tuple(await db.fetchrow(_TOTALS)) == (3_000, 0)
    assert await db.fetchval("SELECT count(*) FROM ledger_entries") == 1
    assert await db.fetchval("SELECT count(*) FROM holds") == 1


async def test_tenants_mixed_in_one_settle_never_touch_each_others_budgets(ledger, db) -> None:
    """Three tenants in one group commit, one of them full, sharing request ids: each call is
    decided against its own tenant's budget and holds, nothing leaks across."""
    for tenant, limit in (("t-full", 1_000), ("t-roomy", 100_000), ("t-none", 0)):
        await ledger.budget(limit, tenant=tenant)
    calls = []
    for i in range(30):
        tenant = ("t-full", "t-roomy", "t-none")[i % 3]
        calls.append(_reserve(ledger.context(f"r-{i // 3}", tenant=tenant), 600))
    for i in range(10):
        calls.append(_commit(ledger.context(f"r-{i}", tenant="t-roomy"), 500))
    results = (await ledger.stub.Settle(pb.SettleRequest(calls=calls))).results
    full, roomy, none = results[0:30:3], results[1:30:3], results[2:30:3]
    # The full tenant fits one 600 hold of its 1,000; the tenant with a zero budget fits none.
    assert [r.WhichOneof("result") for r in full] == ["reserve"] + ["error"] * 9
    assert all(r.reserve.outcome == pb.RESERVE_OUTCOME_RESERVED for r in roomy)
    assert all(_code(r) == grpc.StatusCode.RESOURCE_EXHAUSTED for r in none)
    assert {r.error.metadata["tenant_id"] for r in (*full[1:], *none)} == {"t-full", "t-none"}
    assert all(r.commit.held_micros == 600 for r in results[30:])
    # The same request ids in the other tenants were never seen as this tenant's.
    assert all(not r.commit.late for r in results[30:])
    rows = await db.fetch(
        "SELECT b.tenant_id, c.spent_micros, c.held_micros FROM budget_counters c "
        "JOIN budgets b ON b.id = c.budget_id ORDER BY b.tenant_id"
    )
    assert [tuple(r) for r in rows] == [
        ("t-full", 0, 600),
        ("t-none", 0, 0),
        ("t-roomy", 5_000, 0),
    ]


async def test_invalid_calls_in_a_settle_fail_alone_and_write_nothing(ledger, db) -> None:
    """Hostile items mixed into one Settle each get their own INVALID_ARGUMENT; the valid
    calls around them are settled and written as if the bad ones were not there."""
    await ledger.budget(100_000)
    bad_contexts = [
        ledger.context("ctl\x01id"),
        ledger.context("x" * 300),
        ledger.context("no-tenant", tenant=""),
    ]
    calls = [
        _reserve(ledger.context("good-1"), 1_000),
        *(_reserve(context, 1_000) for context in bad_contexts),
        _reserve(ledger.context("negative"), -5),
        _reserve(ledger.context("huge"), 10**16),
        _commit(ledger.context("good-1"), -1),
        pb.LedgerCall(),
        _commit(ledger.context("good-1"), 700),
        _reserve(ledger.context("good-2"), 2_000),
    ]
    results = (await ledger.stub.Settle(pb.SettleRequest(calls=calls))).results
    codes = [_code(r) for r in results]
    assert codes == [None] + [grpc.StatusCode.INVALID_ARGUMENT] * 7 + [None, None]
    assert all(r.error.message for r in results[1:8])
    # Each names the field it refuses, as the unary call's google.rpc.BadRequest would.
    assert [list(r.error.fields) for r in results[1:8]] == [
        ["context.request_id"],
        ["context.request_id"],
        ["context.tenant_id"],
        ["amount_micros"],
        ["amount_micros"],
        ["actual_micros"],
        ["calls[7]"],
    ]
    assert results[8].commit.held_micros == 1_000
    assert results[9].reserve.outcome == pb.RESERVE_OUTCOME_RESERVED
    assert tuple(await db.fetchrow(_TOTALS)) == (700, 2_000)
    assert await db.fetchval("SELECT count(*) FROM holds") == 2


async def test_a_call_that_breaks_its_group_fails_alone_in_a_settle(
    ledger, db, poisoned_batches
) -> None:
    """An unexpected failure of one call (a bug, not a refusal) comes back as that call's own
    INTERNAL error with a reference, never a stack trace; the rest of its Settle is settled."""
    await ledger.budget(100_000)
    calls = [_reserve(ledger.context(f"fine-{i}"), 100) for i in range(10)]
    calls.insert(5, _reserve(ledger.context(poisoned_batches), 100))
    results = (await ledger.stub.Settle(pb.SettleRequest(calls=calls))).results
    assert _code(results[5]) == grpc.StatusCode.INTERNAL
    assert "reference" in results[5].error.message
    assert "Traceback" not in results[5].error.message
    others = [r for i, r in enumerate(results) if i != 5]
    assert all(r.reserve.outcome == pb.RESERVE_OUTCOME_RESERVED for r in others)
    assert tuple(await db.fetchrow(_TOTALS)) == (0, 1_000)


async def test_the_first_batch_of_a_new_period_creates_its_counter_and_settles_the_last(
    ledger, db
) -> None:
    """A day ends with a hold still open: its commit lands in yesterday's counter, and the same
    batch's new reservation in today's, which that batch creates."""
    await ledger.budget(5_000)
    await ledger.reserve("yesterday", 3_000)
    # Move the day's counter (and the hold's link to it) one day back, as if midnight passed.
    async with db.transaction():
        await db.execute(
            "INSERT INTO budget_counters (budget_id, period_start, period_end, spent_micros,"
            " held_micros, spent_tokens, held_tokens)"
            " SELECT budget_id, period_start - interval '1 day', period_end - interval '1 day',"
            " spent_micros, held_micros, spent_tokens, held_tokens FROM budget_counters"
        )
        await db.execute("UPDATE hold_counters SET period_start = period_start - interval '1 day'")
        await db.execute(
            "DELETE FROM budget_counters c WHERE NOT EXISTS (SELECT 1 FROM hold_counters h"
            " WHERE h.budget_id = c.budget_id AND h.period_start = c.period_start)"
        )
    commit = pb.CommitRequest(context=ledger.context("yesterday"), actual_micros=2_000)
    # Today's whole budget fits: yesterday's spending is not today's.
    reserve = pb.ReserveRequest(context=ledger.context("today"), amount_micros=5_000)
    calls = [pb.LedgerCall(commit=commit), pb.LedgerCall(reserve=reserve)]
    reply = await ledger.stub.Settle(pb.SettleRequest(calls=calls))
    assert [r.WhichOneof("result") for r in reply.results] == ["commit", "reserve"]
    assert reply.results[1].reserve.outcome == pb.RESERVE_OUTCOME_RESERVED
    rows = await db.fetch(
        "SELECT spent_micros, held_micros FROM budget_counters ORDER BY period_start"
    )
    assert [tuple(r) for r in rows] == [(2_000, 0), (0, 5_000)]
    links = await db.fetch(
        "SELECT h.request_id, h.period_start = c.period_start AS today FROM hold_counters h"
        " CROSS JOIN (SELECT max(period_start) AS period_start FROM budget_counters) c"
        " ORDER BY h.request_id"
    )
    assert [tuple(r) for r in links] == [("today", True), ("yesterday", False)]
