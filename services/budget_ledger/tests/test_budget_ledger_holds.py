"""Reserve, commit and release against a real Postgres: exact totals, idempotent by request id."""

from __future__ import annotations

import grpc
import pytest

from tollgate.v1 import budget_ledger_pb2 as pb


def held(states: list[pb.BudgetState], kind: int = pb.SCOPE_KIND_TENANT) -> tuple[int, int]:
    state = next(s for s in states if s.budget.scope.kind == kind)
    return state.spent_micros, state.held_micros


async def test_commit_posts_the_actual_and_releases_the_rest(ledger, db) -> None:
    await ledger.budget(10_000)
    reserved = await ledger.reserve("req-1", 4_000)
    assert reserved.hold_id == "req-1"
    assert reserved.status == pb.HOLD_STATUS_HELD
    assert not reserved.replayed
    assert held(list(reserved.states)) == (0, 4_000)
    assert reserved.states[0].remaining_micros == 6_000

    committed = await ledger.commit("req-1", 3_000)
    assert committed.entry_id.startswith("le_")
    assert not committed.over_hold
    assert not committed.late
    assert held(list(committed.states)) == (3_000, 0)
    assert held(await ledger.states()) == (3_000, 0)

    entry = await db.fetchrow("SELECT * FROM ledger_entries WHERE request_id = 'req-1'")
    assert (entry["held_micros"], entry["cost_micros"], entry["kind"]) == (4_000, 3_000, "commit")
    status = await db.fetchval("SELECT status FROM holds WHERE request_id = 'req-1'")
    assert status == pb.HOLD_STATUS_COMMITTED


async def test_reserve_is_idempotent_by_request_id(ledger) -> None:
    await ledger.budget(5_000)
    first = await ledger.reserve("req-1", 4_000)
    # The budget is now too full for another 4,000, but a retry of the same request must not fail.
    again = await ledger.reserve("req-1", 4_000)
    assert again.replayed
    assert again.hold_id == first.hold_id
    assert again.expires_at == first.expires_at
    assert again.status == pb.HOLD_STATUS_HELD
    assert held(await ledger.states()) == (0, 4_000)

    with pytest.raises(grpc.aio.AioRpcError) as changed:
        await ledger.reserve("req-1", 1_000)
    assert changed.value.code() == grpc.StatusCode.ALREADY_EXISTS

    await ledger.commit("req-1", 2_000)
    after_commit = await ledger.reserve("req-1", 4_000)
    assert after_commit.replayed
    assert after_commit.status == pb.HOLD_STATUS_COMMITTED
    assert held(await ledger.states()) == (2_000, 0)


async def test_a_retried_commit_never_posts_twice(ledger, db) -> None:
    await ledger.budget(10_000)
    await ledger.reserve("req-1", 4_000)
    first = await ledger.commit("req-1", 3_500)
    second = await ledger.commit("req-1", 3_500)
    assert second.replayed
    assert not first.replayed
    assert second.entry_id == first.entry_id
    assert held(list(second.states)) == (3_500, 0)
    assert held(await ledger.states()) == (3_500, 0)
    assert await db.fetchval("SELECT count(*) FROM ledger_entries") == 1


async def test_release_is_idempotent_and_returns_the_hold(ledger) -> None:
    await ledger.budget(10_000)
    await ledger.reserve("req-1", 4_000)
    first = await ledger.release("req-1")
    assert (first.released, first.status) == (True, pb.HOLD_STATUS_RELEASED)
    again = await ledger.release("req-1")
    assert (again.released, again.status) == (True, pb.HOLD_STATUS_RELEASED)
    assert held(await ledger.states()) == (0, 0)

    unknown = await ledger.release("never-reserved")
    assert (unknown.released, unknown.status) == (False, pb.HOLD_STATUS_UNSPECIFIED)

    await ledger.reserve("req-2", 1_000)
    await ledger.commit("req-2", 900)
    committed = await ledger.release("req-2")
    assert (committed.released, committed.status) == (False, pb.HOLD_STATUS_COMMITTED)
    assert held(await ledger.states()) == (900, 0)


async def test_a_release_before_its_reserve_keeps_the_reserve_from_holding(ledger, db) -> None:
    """A caller that stopped waiting for its Reserve releases the id; the Reserve, still on its
    way, must not make a hold afterwards (nobody would settle it). A late Commit of the id is
    still posted against this period's budget."""
    await ledger.budget(10_000)
    early = await ledger.release("req-1")
    assert (early.released, early.status) == (False, pb.HOLD_STATUS_UNSPECIFIED)
    late_reserve = await ledger.reserve("req-1", 4_000)
    assert late_reserve.outcome == pb.RESERVE_OUTCOME_ALREADY_RELEASED
    assert held(await ledger.states()) == (0, 0)
    # Released again, the id answers as the first time: it never held.
    again = await ledger.release("req-1")
    assert (again.released, again.status) == (False, pb.HOLD_STATUS_UNSPECIFIED)
    assert await db.fetchval("SELECT status FROM holds WHERE request_id = 'req-1'") == (
        pb.HOLD_STATUS_RELEASED
    )
    charged = await ledger.commit("req-1", 2_500)
    assert charged.late
    assert held(await ledger.states()) == (2_500, 0)


async def test_a_hold_made_before_any_budget_commits_without_touching_a_later_one(
    ledger,
) -> None:
    """A hold charged against no counter (its tenant had no budget yet) commits against none,
    even after a budget was created meanwhile: that budget never held its amount."""
    await ledger.reserve("early", 4_000)
    await ledger.budget(10_000)
    committed = await ledger.commit("early", 3_000)
    assert not committed.late
    assert held(await ledger.states()) == (0, 0)


async def test_a_commit_after_release_is_still_posted_and_flagged(ledger) -> None:
    await ledger.budget(10_000)
    await ledger.reserve("req-1", 4_000)
    await ledger.release("req-1")
    late = await ledger.commit("req-1", 2_500)
    assert late.late
    assert late.over_hold
    assert held(await ledger.states()) == (2_500, 0)


async def test_a_commit_without_any_hold_is_posted_against_the_scopes(ledger) -> None:
    await ledger.budget(10_000)
    await ledger.budget(5_000, kind=pb.SCOPE_KIND_API_KEY, subject="key-1")
    late = await ledger.commit("unreserved", 700, api_key="key-1")
    assert late.late
    assert late.over_hold
    assert {(s.budget.scope.kind, s.spent_micros) for s in late.states} == {
        (pb.SCOPE_KIND_TENANT, 700),
        (pb.SCOPE_KIND_API_KEY, 700),
    }
    replay = await ledger.commit("unreserved", 700, api_key="key-1")
    assert replay.replayed
    assert replay.entry_id == late.entry_id
    assert held(await ledger.states()) == (700, 0)


async def test_an_actual_above_the_hold_is_posted_and_flagged(ledger, db) -> None:
    await ledger.budget(10_000)
    await ledger.reserve("req-1", 1_000)
    committed = await ledger.commit("req-1", 1_600)
    assert committed.over_hold
    assert not committed.late
    assert held(list(committed.states)) == (1_600, 0)
    assert await db.fetchval("SELECT over_hold FROM ledger_entries") is True


async def test_reserve_must_fit_every_scope_at_once(ledger, db, details_of) -> None:
    await ledger.budget(100_000)
    await ledger.budget(5_000, kind=pb.SCOPE_KIND_API_KEY, subject="key-1")
    await ledger.budget(3_000, kind=pb.SCOPE_KIND_CONTACT, subject="lead-7")

    await ledger.reserve("req-1", 2_000, api_key="key-1", contact="lead-7")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await ledger.reserve("req-2", 2_000, api_key="key-1", contact="lead-7")
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "contact 'lead-7'" in (refused.value.details() or "")
    info = details_of(refused.value)
    assert info["scope_kind"] == "contact"
    assert info["subject_id"] == "lead-7"
    assert (info["limit_micros"], info["held_micros"], info["remaining_micros"]) == (
        "3000",
        "2000",
        "1000",
    )
    assert info["requested_micros"] == "2000"

    # Nothing of the refused request was held on the scopes it did fit.
    states = await ledger.states()
    assert {(s.budget.scope.kind, s.held_micros) for s in states} == {
        (pb.SCOPE_KIND_TENANT, 2_000),
        (pb.SCOPE_KIND_API_KEY, 2_000),
        (pb.SCOPE_KIND_CONTACT, 2_000),
    }
    assert await db.fetchval("SELECT count(*) FROM holds") == 1

    # Another contact of the same key has no budget of its own: only tenant and key apply.
    await ledger.reserve("req-3", 2_500, api_key="key-1", contact="lead-8")
    with pytest.raises(grpc.aio.AioRpcError) as key_full:
        await ledger.reserve("req-4", 600, api_key="key-1", contact="lead-9")
    assert details_of(key_full.value)["scope_kind"] == "api_key"


async def test_every_period_is_charged(ledger) -> None:
    await ledger.budget(10_000, period=pb.BUDGET_PERIOD_DAY)
    await ledger.budget(50_000, period=pb.BUDGET_PERIOD_MONTH)
    await ledger.budget(60_000, period=pb.BUDGET_PERIOD_TOTAL)
    reserved = await ledger.reserve("req-1", 4_000)
    assert sorted((s.budget.period, s.held_micros) for s in reserved.states) == [
        (pb.BUDGET_PERIOD_DAY, 4_000),
        (pb.BUDGET_PERIOD_MONTH, 4_000),
        (pb.BUDGET_PERIOD_TOTAL, 4_000),
    ]
    total = next(s for s in reserved.states if s.budget.period == pb.BUDGET_PERIOD_TOTAL)
    assert not total.HasField("period_end")
    day = next(s for s in reserved.states if s.budget.period == pb.BUDGET_PERIOD_DAY)
    assert day.period_end.seconds - day.period_start.seconds == 86_400
    assert day.period_start.seconds % 86_400 == 0  # midnight UTC


async def test_token_limits_are_enforced_too(ledger, details_of) -> None:
    await ledger.budget(1_000_000, limit_tokens=1_000)
    await ledger.reserve("req-1", 100, tokens=600)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await ledger.reserve("req-2", 100, tokens=600)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "token budget" in (refused.value.details() or "")
    assert details_of(refused.value)["held_tokens"] == "600"
    committed = await ledger.commit("req-1", 90, tokens=550)
    state = committed.states[0]
    assert (state.spent_tokens, state.held_tokens) == (550, 0)
    await ledger.reserve("req-2", 100, tokens=450)


async def test_requests_without_any_budget_are_held_and_posted(ledger, db) -> None:
    reserved = await ledger.reserve("req-1", 4_000)
    assert reserved.status == pb.HOLD_STATUS_HELD
    assert list(reserved.states) == []
    committed = await ledger.commit("req-1", 3_000)
    assert not committed.over_hold
    assert await db.fetchval("SELECT cost_micros FROM ledger_entries") == 3_000


async def test_tenants_never_share_budgets(ledger) -> None:
    await ledger.budget(1_000)
    await ledger.budget(1_000, tenant="globex")
    await ledger.reserve("req-1", 1_000)
    other = await ledger.stub.Reserve(
        pb.ReserveRequest(context=ledger.context("req-1", tenant="globex"), amount_micros=1_000)
    )
    assert not other.replayed  # same request id, other tenant: its own hold
    assert [s.held_micros for s in await ledger.states("globex")] == [1_000]
