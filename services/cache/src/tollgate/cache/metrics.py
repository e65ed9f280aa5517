"""The cache service's own metrics (exported with the rest on the Prometheus endpoint)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from opentelemetry import metrics

from tollgate.common.summed_counter import SummedCounter
from tollgate.common.telemetry import seconds_histogram


@dataclass(frozen=True)
class CacheInstruments:
    # cache: exact; result: hit, miss, bypass, degraded. Added to on every lookup and store:
    # summed here and read at collection (SummedCounter), not the SDK's per-call work.
    lookups: SummedCounter
    # outcome: stored, rejected, invalidated, failed
    stores: SummedCounter
    # operation: lookup, store, release, invalidate, stats
    redis_failures: metrics.Counter
    # outcome: hit, lease, timeout, uncacheable, degraded
    fill_wait: metrics.Histogram


@cache
def instruments() -> CacheInstruments:
    meter = metrics.get_meter("tollgate")
    return CacheInstruments(
        lookups=SummedCounter(
            meter, "tollgate_cache_lookups", description="Cache lookups, by cache and result"
        ),
        stores=SummedCounter(
            meter, "tollgate_cache_stores", description="Exact-cache stores, by outcome"
        ),
        redis_failures=meter.create_counter(
            "tollgate_cache_redis_failures",
            description="Redis calls that failed or timed out (the caller saw a miss or a skip)",
        ),
        fill_wait=seconds_histogram(
            meter,
            "tollgate_cache_fill_wait_seconds",
            "Time lookups waited for another caller's fill, by outcome",
        ),
    )
