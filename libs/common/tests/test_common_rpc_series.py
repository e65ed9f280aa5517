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


def _series(exported: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[telemetry.RpcSeries, Any]:
    monkeypatch.setattr(telemetry, "spans_exported", lambda: exported)
    histogram = _Histogram()
    return telemetry.RpcSeries(histogram, {"method": "m"}), histogram  # type: ignore[arg-type]


def test_held_durations_never_exceed_the_limit_and_all_reach_the_histogram(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    series, histogram = _series(False, monkeypatch)
    durations = [i / 1000 for i in range(telemetry.RpcSeries.PENDING_LIMIT * 2 + 7)]
    for seconds in durations:
        series.record(grpc.StatusCode.OK, seconds)
    # Two full batches went without any collection; the last 7 wait for one.
    assert histogram.values == durations[: telemetry.RpcSeries.PENDING_LIMIT * 2]
    series.flush()
    assert histogram.values == durations
    assert series.counts == {grpc.StatusCode.OK: len(durations)}


def test_while_spans_are_exported_each_duration_is_recorded_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    series, histogram = _series(True, monkeypatch)
    series.record(grpc.StatusCode.INTERNAL, 0.25)
    assert histogram.values == [0.25]
