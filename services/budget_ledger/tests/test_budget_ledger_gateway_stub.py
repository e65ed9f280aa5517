"""The gateway's ledger stub (tollgate.gateway.ledger_coalescing) against a real ledger, through
the gateway's own call path (dependencies.call: breaker, deadline): concurrent requests' calls
share Settle RPCs, and each still behaves as the unary call it replaces."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from tollgate.common.breaker import CircuitBreaker
from tollgate.gateway import dependencies
from tollgate.gateway.dependencies import DependencyDown
from tollgate.gateway.ledger_coalescing import CoalescedLedgerStub
from tollgate.gateway.routing import Track
from tollgate.v1 import budget_ledger_pb2 as pb
from tollgate.v1 import budget_ledger_pb2_grpc

from .conftest import free_port

_TOTALS = "SELECT spent_micros, held_micros FROM budget_counters"


class CountingStub:
    """The ledger stub, counting Settle RPCs; `delay` holds each Settle back that long."""

    def __init__(self, stub: budget_ledger_pb2_grpc.BudgetLedgerServiceStub) -> None:
        self._stub = stub
        self.settles = 0
        self.delay = 0.0

    def __getattr__(self, method: str) -> Any:
        return getattr(self._stub, method)

    async def Settle(self, request: pb.SettleRequest, timeout: float | None = None) -> Any:
        self.settles += 1
        await asyncio.sleep(self.delay)
        return await self._stub.Settle(request, timeout=timeout)


def _track(stub: Any, threshold: int = 3, overlapping_failures_count: bool = True) -> Track[Any]:
    breaker = CircuitBreaker(
        failure_threshold=threshold,
        open_seconds=60.0,
        overlapping_failures_count=overlapping_failures_count,
    )
    return Track("budget_ledger", "stable", "test", None, stub, breaker)  # type: ignore[arg-type]


async def _reserve(track: Track[Any], context: Any, micros: int, timeout: float = 5.0) -> Any:
    request = pb.ReserveRequest(context=context, amount_micros=micros)
    return await dependencies.call(track, "Reserve", track.stub.Reserve, request, timeout)


async def _commit(track: Track[Any], context: Any, micros: int) -> Any:
    request = pb.CommitRequest(context=context, actual_micros=micros)
    return await dependencies.call(track, "Commit", track.stub.Commit, request, 5.0)


async def test_concurrent_requests_share_rpcs_and_each_keeps_its_own_answer(ledger, db) -> None:
    await ledger.budget(200_000)
    counting = CountingStub(ledger.stub)
    stub = CoalescedLedgerStub(counting, rpc_timeout=5.0)  # type: ignore[arg-type]
    track = _track(stub)

    async def pair(i: int) -> int:
        context = ledger.context(f"pair-{i}", api_key="key-1")
        reply = await _reserve(track, context, 2_000)
        assert reply.outcome == pb.RESERVE_OUTCOME_RESERVED
        await _commit(track, context, 1_000 + i)
        return 1_000 + i

    async def refused(context: Any, micros: int) -> grpc.aio.AioRpcError:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _reserve(track, context, micros)
        return caught.value

    await ledger.reserve("owned", 1_000, api_key="key-1")
    try:
        results = await asyncio.gather(
            *(pair(i) for i in range(64)),
            refused(ledger.context("too-big", api_key="key-1"), 10**9),
            refused(ledger.context("owned", api_key="key-2"), 1_000),
        )
    finally:
        await stub.aclose()
    committed = sum(results[:64])  # type: ignore[arg-type]
    too_big, not_yours = results[64], results[65]
    # Each refusal is the unary call's: its code, its sentence, the budget state as ErrorInfo.
    assert isinstance(too_big, grpc.aio.AioRpcError)
    code, message, metadata = dependencies.status_of(too_big)
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "budget" in message
    assert metadata["requested_micros"] == str(10**9)
    assert isinstance(not_yours, grpc.aio.AioRpcError)
    assert not_yours.code() == grpc.StatusCode.PERMISSION_DENIED
    # The callers' own mistakes never count against the ledger's breaker.
    assert not track.breaker.is_open
    assert counting.settles < 64
    assert tuple(await db.fetchrow(_TOTALS)) == (committed, 1_000)


async def test_a_call_whose_deadline_passes_fails_alone_as_a_dependency_failure(ledger, db) -> None:
    await ledger.budget(100_000)
    counting = CountingStub(ledger.stub)
    stub = CoalescedLedgerStub(counting, rpc_timeout=5.0)  # type: ignore[arg-type]
    track = _track(stub)
    counting.delay = 0.3
    try:
        patient, hasty = await asyncio.gather(
            _reserve(track, ledger.context("patient"), 1_000, timeout=5.0),
            _reserve(track, ledger.context("hasty"), 1_000, timeout=0.05),
            return_exceptions=True,
        )
    finally:
        await stub.aclose()
    assert patient.outcome == pb.RESERVE_OUTCOME_RESERVED  # type: ignore[union-attr]
    assert isinstance(hasty, DependencyDown)
    assert hasty.error is not None
    assert hasty.error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # The call was still settled with its RPC (as a unary call past its deadline may be): its
    # hold exists, and a retry under its request id is told so instead of holding twice.
    again = pb.ReserveRequest(context=ledger.context("hasty"), amount_micros=1_000)
    assert (await ledger.stub.Reserve(again)).outcome == pb.RESERVE_OUTCOME_ALREADY_HELD
    assert tuple(await db.fetchrow(_TOTALS)) == (0, 2_000)


async def test_a_ledger_that_is_down_fails_every_call_and_opens_the_breaker() -> None:
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    async with grpc.aio.insecure_channel(address) as channel:
        stub = CoalescedLedgerStub(
            budget_ledger_pb2_grpc.BudgetLedgerServiceStub(channel), rpc_timeout=2.0
        )
        track = _track(stub, threshold=3)
        context = pb.ReserveRequest().context
        context.tenant_id = "acme"
        try:
            outcomes = await asyncio.gather(
                *(_reserve(track, context, 1_000) for _ in range(10)), return_exceptions=True
            )
            # Once open, the breaker refuses without sending anything.
            with pytest.raises(DependencyDown, match="circuit open"):
                await _reserve(track, context, 1_000)
        finally:
            await stub.aclose()
    assert all(isinstance(o, DependencyDown) for o in outcomes)
    codes = {o.error.code() for o in outcomes if isinstance(o, DependencyDown) and o.error}
    assert codes == {grpc.StatusCode.UNAVAILABLE}
    # Each caller got its own exception object (they are raised in separate tasks).
    assert len({id(o) for o in outcomes}) == len(outcomes)
    assert track.breaker.is_open


async def test_a_commit_rides_first_in_the_next_reserves_settle(ledger, db) -> None:
    # Room for one hold of 2,000 and a commit of 1,000 beside it, not for two holds.
    await ledger.budget(3_000)
    counting = CountingStub(ledger.stub)
    # A linger far longer than the test: a commit sent alone would hang it.
    stub = CoalescedLedgerStub(counting, rpc_timeout=5.0, commit_linger=60.0)  # type: ignore[arg-type]
    track = _track(stub)
    first, second = ledger.context("first"), ledger.context("second")
    try:
        await _reserve(track, first, 2_000)
        commit = asyncio.create_task(_commit(track, first, 1_000))
        await asyncio.sleep(0.05)
        assert counting.settles == 1  # the commit waits for company
        # Settled after the commit it carries, the reserve sees the first hold's unused 1,000
        # back; settled before it, the reserve would be refused (4,000 held of 3,000).
        reply = await _reserve(track, second, 2_000)
        assert reply.outcome == pb.RESERVE_OUTCOME_RESERVED
        assert (await commit).entry_id
    finally:
        await stub.aclose()
    assert counting.settles == 2
    assert tuple(await db.fetchrow(_TOTALS)) == (1_000, 2_000)


async def test_a_lone_commit_goes_when_its_linger_has_passed(ledger, db) -> None:
    await ledger.budget(100_000)
    counting = CountingStub(ledger.stub)
    stub = CoalescedLedgerStub(counting, rpc_timeout=5.0, commit_linger=0.02)  # type: ignore[arg-type]
    track = _track(stub)
    context = ledger.context("alone")
    try:
        await _reserve(track, context, 2_000)
        # Nothing else comes: the commit is sent by itself once its linger has passed.
        await asyncio.wait_for(_commit(track, context, 1_500), timeout=2.0)
        assert tuple(await db.fetchrow(_TOTALS)) == (1_500, 0)
    finally:
        await stub.aclose()
    assert counting.settles == 2


@pytest.mark.parametrize("overlapping_failures_count", [False, True], ids=["gateway's", "counting"])
async def test_one_slow_moment_seen_by_many_callers_does_not_open_the_ledgers_circuit(
    ledger, overlapping_failures_count: bool
) -> None:
    """Ten governed requests in flight when the ledger stalls past their deadline: each fails,
    but they are one piece of evidence. The gateway's ledger breaker (overlapping failures not
    counted) stays closed and the next request is served once the ledger answers again; a breaker
    counting every call would have refused every governed request for its open time."""
    await ledger.budget(10**9)
    counting = CountingStub(ledger.stub)
    stub = CoalescedLedgerStub(counting, rpc_timeout=5.0)  # type: ignore[arg-type]
    track = _track(stub, threshold=3, overlapping_failures_count=overlapping_failures_count)
    counting.delay = 1.0
    try:
        stalled = await asyncio.gather(
            *(_reserve(track, ledger.context(f"stalled-{i}"), 1_000, 0.3) for i in range(10)),
            return_exceptions=True,
        )
        counting.delay = 0.0
        assert all(isinstance(o, DependencyDown) for o in stalled)
        assert {o.error.code() for o in stalled if isinstance(o, DependencyDown) and o.error} == {
            grpc.StatusCode.DEADLINE_EXCEEDED
        }
        if overlapping_failures_count:
            assert track.breaker.is_open
            return
        assert not track.breaker.is_open
        after = await _reserve(track, ledger.context("after"), 1_000)
        assert after.outcome == pb.RESERVE_OUTCOME_RESERVED
        # A ledger that keeps failing still opens it: three failures one after another.
        counting.delay = 1.0
        for i in range(3):
            with pytest.raises(DependencyDown):
                await _reserve(track, ledger.context(f"again-{i}"), 1_000, 0.2)
        assert track.breaker.is_open
    finally:
        counting.delay = 0.0
        await stub.aclose()
