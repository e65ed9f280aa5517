"""Alerts at thresholds: stored once, and streamed to subscribers on any replica within 1 s."""

from __future__ import annotations

import asyncio

import grpc

from tollgate.budget_ledger.service import build_service
from tollgate.common.testing import serving
from tollgate.v1 import budget_ledger_pb2 as pb
from tollgate.v1 import budget_ledger_pb2_grpc


async def spend(ledger, request_id: str, micros: int) -> None:
    await ledger.reserve(request_id, micros)
    await ledger.commit(request_id, micros)


async def test_an_alert_reaches_a_subscriber_on_another_replica_within_1s(
    ledger, ledger_settings
) -> None:
    await ledger.budget(10_000, thresholds=(50, 80, 100))
    await spend(ledger, "req-1", 4_000)  # 40 %: no alert yet
    other_replica = await build_service(ledger_settings)
    async with (
        serving(other_replica, ledger_settings) as running,
        grpc.aio.insecure_channel(running.address) as channel,
    ):
        stub = budget_ledger_pb2_grpc.BudgetLedgerServiceStub(channel)
        stream = stub.StreamAlerts(pb.StreamAlertsRequest(tenant_id="acme"))
        await stream.initial_metadata()  # the subscription is live

        await ledger.reserve("req-2", 1_500)
        committed = ledger.commit("req-2", 1_500)  # 55 %: crosses 50
        first, _ = await asyncio.wait_for(asyncio.gather(stream.read(), committed), 1.0)
        assert first.alert.threshold_percent == 50
        assert first.alert.spent_micros == 5_500
        assert first.alert.limit_micros == 10_000
        assert first.alert.scope.tenant_id == "acme"
        assert first.alert.period == pb.BUDGET_PERIOD_DAY

        await ledger.reserve("req-3", 4_500)
        await ledger.commit("req-3", 5_000)  # 105 % (above its hold): crosses 80 and 100
        crossed = [
            (await asyncio.wait_for(stream.read(), 1.0)).alert.threshold_percent for _ in range(2)
        ]
        assert sorted(crossed) == [80, 100]
        stream.cancel()


async def test_each_threshold_alerts_once_per_period(ledger) -> None:
    await ledger.budget(10_000, thresholds=(50, 80))
    for i in range(6):
        await spend(ledger, f"req-{i}", 1_500)  # 15 % .. 90 %
    listed = await ledger.stub.ListAlerts(pb.ListAlertsRequest(tenant_id="acme"))
    assert [(a.threshold_percent, a.spent_micros) for a in listed.alerts] == [
        (50, 6_000),
        (80, 9_000),
    ]
    assert all(a.id.startswith("al_") for a in listed.alerts)


async def test_a_lowered_limit_raises_the_alerts_it_implies(ledger) -> None:
    await ledger.budget(10_000, thresholds=(50, 80))
    await spend(ledger, "req-1", 6_000)
    await ledger.budget(7_000, thresholds=(50, 80))  # 6,000 of 7,000 is past 80 %
    listed = await ledger.stub.ListAlerts(pb.ListAlertsRequest(tenant_id="acme"))
    assert sorted(a.threshold_percent for a in listed.alerts) == [50, 80]


async def test_subscribers_only_see_their_tenant(ledger) -> None:
    await ledger.budget(1_000, thresholds=(100,))
    await ledger.budget(1_000, thresholds=(100,), tenant="globex")
    mine = ledger.stub.StreamAlerts(pb.StreamAlertsRequest(tenant_id="globex"))
    everyone = ledger.stub.StreamAlerts(pb.StreamAlertsRequest())
    await mine.initial_metadata()
    await everyone.initial_metadata()
    await spend(ledger, "req-1", 1_000)  # acme reaches 100 %
    seen = await asyncio.wait_for(everyone.read(), 1.0)
    assert seen.alert.scope.tenant_id == "acme"
    pending = asyncio.ensure_future(mine.read())
    await asyncio.sleep(0.3)
    assert not pending.done()  # acme's alert never reaches a globex subscriber
    await ledger.stub.Reserve(
        pb.ReserveRequest(context=ledger.context("g-1", tenant="globex"), amount_micros=1_000)
    )
    await ledger.stub.Commit(
        pb.CommitRequest(context=ledger.context("g-1", tenant="globex"), actual_micros=1_000)
    )
    theirs = await asyncio.wait_for(pending, 1.0)
    assert theirs.alert.scope.tenant_id == "globex"
    mine.cancel()
    everyone.cancel()
