"""The RPC duration histogram gets every duration, held or not, and holds only a bounded number."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from tollgate.common import telemetry


class _Histogram:
    """Records what the SDK histogram would be handed."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def record(self, amount: float, attributes: Any = None, context: Any = None) -> None:
        self.values.append(amount)


def _series(
    exported: bool, monkeypatch: pytest.MonkeyPatch
) -> tuple[telemetry.RpcSeries, telemetry.HeldValues, Any]:
    monkeypatch.setattr(telemetry, "spans_exported", lambda: exported)
    histogram = _Histogram()
    durations = telemetry.HeldValues(histogram, {"method": "m"})  # type: ignore[arg-type]
    return telemetry.RpcSeries(durations), durations, histogram


def test_held_durations_never_exceed_the_limit_and_all_reach_the_histogram(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    series, held, histogram = _series(False, monkeypatch)
    durations = [i / 1000 for i in range(telemetry.HeldValues.PENDING_LIMIT * 2 + 7)]
    for seconds in durations:
        series.record(grpc.StatusCode.OK, seconds)
    # Two full batches went without any collection; the last 7 wait for one.
    assert histogram.values == durations[: telemetry.HeldValues.PENDING_LIMIT * 2]
    held.flush()
    assert histogram.values == durations
    assert series.counts == {grpc.StatusCode.OK: len(durations)}


def test_while_spans_are_exported_each_duration_is_recorded_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    series, _, histogram = _series(True, monkeypatch)
    series.record(grpc.StatusCode.INTERNAL, 0.25)
    assert histogram.values == [0.25]


def test_a_held_histogram_is_complete_when_the_counter_that_flushes_it_is_collected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader

    from tollgate.common.summed_counter import SummedCounter

    monkeypatch.setattr(telemetry, "spans_exported", lambda: False)
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("test")
    held = telemetry.HeldHistogram(meter.create_histogram("calls_seconds"))
    calls = SummedCounter(meter, "calls", "calls", before_observe=held.flush)
    series = held.series({"method": "m"})
    for _ in range(5):  # far fewer than a batch: all still held
        series.record(0.01)
        calls.add(1, {"method": "m"})
    assert held.series({"method": "m"}) is series
    data = reader.get_metrics_data()
    assert data is not None
    points = [
        point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "calls_seconds"
        for point in metric.data.data_points
    ]
    assert [p.count for p in points if isinstance(p, HistogramDataPoint)] == [5]
