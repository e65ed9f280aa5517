"""Histogram buckets in the unit each histogram records (the SDK's defaults suit milliseconds,
and put every latency in seconds into the first bucket or two)."""

from __future__ import annotations

from opentelemetry import metrics
from prometheus_client import REGISTRY

from tests.conftest import FullSuite
from tollgate.common.telemetry import SECONDS_BUCKETS, configure_telemetry, seconds_histogram


def _buckets(name: str, **labels: str) -> dict[float, float]:
    """Cumulative bucket counts of one Prometheus histogram series, by upper bound."""
    counts: dict[float, float] = {}
    for family in REGISTRY.collect():
        for sample in family.samples:
            if sample.name != f"{name}_bucket":
                continue
            if any(sample.labels.get(k) != v for k, v in labels.items()):
                continue
            counts[float(sample.labels["le"])] = sample.value
    return counts


def test_a_known_latency_lands_in_its_bucket() -> None:
    configure_telemetry("tests")
    histogram = seconds_histogram(
        metrics.get_meter("tests"), "tollgate_test_known_latency_seconds", "a test latency"
    )
    histogram.record(0.03, {"case": "known"})
    buckets = _buckets("tollgate_test_known_latency_seconds", case="known")
    assert sorted(b for b in buckets if b != float("inf")) == list(SECONDS_BUCKETS)
    assert buckets[0.025] == 0
    assert buckets[0.05] == 1
    assert buckets[float("inf")] == 1


async def test_a_slow_completion_is_not_in_the_fastest_buckets(full_suite: FullSuite) -> None:
    labels = {"method": "/tollgate.v1.GatewayService/Complete"}
    before = _buckets("tollgate_rpc_duration_seconds", **labels)
    full_suite.emulator.config.latency.ttft_ms = 300
    async with full_suite.client() as client:
        await client.complete(
            messages=[{"role": "user", "content": "Is the garage detached?"}], max_tokens=16
        )
    after = _buckets("tollgate_rpc_duration_seconds", **labels)

    def added(bound: float) -> float:
        return after.get(bound, 0) - before.get(bound, 0)

    # 300 ms upstream: above the 0.25 s bound, inside the last.
    assert added(0.25) == 0
    assert added(float("inf")) == 1
    assert added(120.0) == 1
