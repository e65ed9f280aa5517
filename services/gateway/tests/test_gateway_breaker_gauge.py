"""The breaker gauge reads each breaker when metrics are collected: its state then, with no call
needed to move it, for every track of a router from its start until it closes."""

from __future__ import annotations

from opentelemetry.metrics import CallbackOptions
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import Gauge, InMemoryMetricReader

from tollgate.common.breaker import CircuitBreaker
from tollgate.gateway.metrics import BreakerStates, instruments
from tollgate.gateway.routing import BackendRouter
from tollgate.gateway.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _levels(reader: InMemoryMetricReader) -> dict[tuple[str, str], int]:
    data = reader.get_metrics_data()
    if data is None:  # nothing to report at all
        return {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == "tollgate_gateway_breaker_state":
                    assert isinstance(metric.data, Gauge)
                    return {
                        (str(p.attributes["backend"]), str(p.attributes["track"])): int(p.value)
                        for p in metric.data.data_points
                    }
    return {}


def test_each_collection_reads_the_breaker_as_it_is_then() -> None:
    reader = InMemoryMetricReader()
    states = BreakerStates(MeterProvider(metric_readers=[reader]).get_meter("test"))
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, open_seconds=5.0, clock=clock)
    states.watch("cache", "stable", breaker)
    assert _levels(reader) == {("cache", "stable"): 0}
    breaker.record_failure()
    breaker.record_failure()
    assert _levels(reader) == {("cache", "stable"): 2}
    # Half-open once the open time has passed, though nothing called the backend since.
    clock.now = 6.0
    assert _levels(reader) == {("cache", "stable"): 1}
    # A breaker watched since under the same labels is not forgotten with the old one.
    newer = CircuitBreaker(failure_threshold=2, open_seconds=5.0, clock=clock)
    states.watch("cache", "stable", newer)
    states.forget("cache", "stable", breaker)
    assert _levels(reader) == {("cache", "stable"): 0}
    states.forget("cache", "stable", newer)
    assert _levels(reader) == {}


async def test_a_router_reports_every_track_from_its_start_until_it_closes() -> None:
    states = instruments().breaker_states

    def reported() -> set[tuple[str, str]]:
        return {
            (str(o.attributes["backend"]), str(o.attributes["track"]))  # type: ignore[index]
            for o in states.observe(CallbackOptions())
        }

    router = BackendRouter.connect(Settings(cache_canary_addr="127.0.0.1:1"))
    tracks = {(t.backend, t.name) for b in router.backends.values() for t in b.tracks()}
    assert ("cache", "canary") in tracks
    assert tracks <= reported()
    await router.close()
    assert not tracks & reported()
