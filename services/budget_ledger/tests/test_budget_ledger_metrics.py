"""The ledger's counters: what each settled call adds, whether it came alone or in a Settle,
exported as cumulative sums per label set."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from tollgate.budget_ledger import ledger as ledger_module
from tollgate.budget_ledger.metrics import build_ledger_metrics
from tollgate.v1 import budget_ledger_pb2 as pb


@pytest.fixture
def reader(monkeypatch: pytest.MonkeyPatch) -> InMemoryMetricReader:
    reader = InMemoryMetricReader()
    built = build_ledger_metrics(MeterProvider(metric_readers=[reader]).get_meter("test"))
    monkeypatch.setattr(ledger_module, "ledger_metrics", lambda: built)
    return reader


def _sums(reader: InMemoryMetricReader) -> dict[str, dict[Any, int]]:
    data = reader.get_metrics_data()
    assert data is not None
    return {
        metric.name: {
            tuple(sorted(point.attributes.items())): point.value
            for point in metric.data.data_points
        }
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name != "tollgate_budget_batch_calls"
    }


def _reserve(ledger: Any, request_id: str, micros: int) -> pb.LedgerCall:
    return pb.LedgerCall(
        reserve=pb.ReserveRequest(context=ledger.context(request_id), amount_micros=micros)
    )


def _commit(ledger: Any, request_id: str, micros: int) -> pb.LedgerCall:
    return pb.LedgerCall(
        commit=pb.CommitRequest(context=ledger.context(request_id), actual_micros=micros)
    )


async def test_every_settled_call_is_counted_once_by_its_outcome(ledger, reader) -> None:
    await ledger.budget(5_000)
    calls = [
        _reserve(ledger, "a", 3_000),  # granted
        _reserve(ledger, "b", 3_000),  # denied: 2,000 left
        _commit(ledger, "a", 2_500),
        _reserve(ledger, "a", 3_000),  # replayed (already committed)
        _commit(ledger, "a", 2_500),  # replayed: not posted again
        _commit(ledger, "x", 400),  # no hold: over the hold
    ]
    await ledger.stub.Settle(pb.SettleRequest(calls=calls))
    # Calls sent alone go through the same counting.
    await ledger.reserve("c", 1_000)
    await ledger.commit("c", 1_200)  # above its hold
    assert _sums(reader) == {
        "tollgate_budget_reservations": {
            (("outcome", "granted"),): 2,
            (("outcome", "denied"),): 1,
            (("outcome", "replayed"),): 1,
        },
        "tollgate_budget_reserved_micros": {(): 4_000},
        "tollgate_budget_committed_micros": {(): 2_500 + 400 + 1_200},
        # The commit with no hold at all is late; c's came while its hold was live.
        "tollgate_budget_over_hold_commits": {(("late", "true"),): 1, (("late", "false"),): 1},
    }
