"""Summed counters export what the SDK's own counters would: a cumulative,
monotonic sum per attribute set, whatever order the attributes were given in."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, Sum

from tollgate.common.summed_counter import SummedCounter


def _points(reader: InMemoryMetricReader, name: str) -> tuple[Sum, dict[Any, int]]:
    data = reader.get_metrics_data()
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    assert isinstance(metric.data, Sum)
                    points = {
                        frozenset(point.attributes.items()): point.value
                        for point in metric.data.data_points
                    }
                    return metric.data, points
    raise AssertionError(f"{name} not exported")


def test_sums_per_attribute_set_cumulatively() -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("test")
    counter = SummedCounter(meter, "tollgate_test_calls", "calls")
    ok = {"backend": "cache", "code": "OK"}
    for _ in range(3):
        counter.add(1, ok)
    counter.add(2, {"code": "OK", "backend": "cache"})  # the same set, built the other way round
    counter.add(5, {"backend": "cache", "code": "UNAVAILABLE"})
    counter.add(-4, ok)  # a counter never goes down
    data, points = _points(reader, "tollgate_test_calls")
    assert data.is_monotonic
    assert points == {
        frozenset(ok.items()): 5,
        frozenset({"backend": "cache", "code": "UNAVAILABLE"}.items()): 5,
    }
    counter.add(1, ok)
    _, again = _points(reader, "tollgate_test_calls")
    assert again[frozenset(ok.items())] == 6  # cumulative: the total so far, not the increase
