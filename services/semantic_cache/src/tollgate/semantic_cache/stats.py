"""Lookup and store counters: per tenant for SemanticStats, and as Prometheus metrics."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cache

from opentelemetry import metrics

from tollgate.common.lru import LruCache
from tollgate.common.summed_counter import SummedCounter
from tollgate.common.telemetry import SIMILARITY_BUCKETS, HeldHistogram, HeldValues


class Outcome(Enum):
    HIT = "hit"
    MISS = "miss"
    # A miss whose closest candidates were similar enough but refused by the guard.
    REJECTED = "rejected"
    INELIGIBLE = "ineligible"
    # A match not served because the tenant's cache for the task is in shadow.
    SHADOW_HIT = "shadow_hit"


@dataclass
class TenantCounters:
    hits: int = 0
    misses: int = 0
    rejected_near_misses: int = 0
    ineligible: int = 0
    stores: int = 0
    shadow_hits: int = 0
    evicted: int = 0


@dataclass(frozen=True)
class _Instruments:
    # Added to on every lookup and store: summed here and read at collection (SummedCounter),
    # the similarities held and handed over in batches, flushed by the lookups' collection.
    lookups: SummedCounter
    stores: SummedCounter
    evictions: metrics.Counter
    similarity: HeldValues


@cache
def _instruments() -> _Instruments:
    """The process's semantic-cache metrics, shared by every CacheStats (one per cache)."""
    meter = metrics.get_meter("tollgate")
    similarity = HeldHistogram(
        meter.create_histogram(
            "tollgate_semantic_similarity",
            description="Similarity of the closest cached question, per lookup that had one",
            explicit_bucket_boundaries_advisory=SIMILARITY_BUCKETS,
        )
    )
    return _Instruments(
        lookups=SummedCounter(
            meter,
            "tollgate_semantic_lookups",
            description="Semantic cache lookups by outcome and task",
            before_observe=similarity.flush,
        ),
        stores=SummedCounter(
            meter, "tollgate_semantic_stores", description="Semantic cache stores by result"
        ),
        evictions=meter.create_counter(
            "tollgate_semantic_evictions",
            description="Entries evicted to keep tenants within their entry limit",
        ),
        similarity=similarity.series({}),
    )


class CacheStats:
    """This replica's counters since it started; the busiest `max_tenants` tenants are kept."""

    def __init__(self, max_tenants: int = 100_000) -> None:
        self._tenants: LruCache[str, TenantCounters] = LruCache(max_tenants)
        instruments = _instruments()
        self._lookups = instruments.lookups
        self._stores = instruments.stores
        self._evictions = instruments.evictions
        self._similarity = instruments.similarity

    def counters(self, tenant: str) -> TenantCounters:
        found = self._tenants.get(tenant)
        if found is None:
            found = TenantCounters()
            self._tenants.put(tenant, found)
        return found

    def snapshot(self, tenant: str) -> TenantCounters:
        found = self._tenants.get(tenant)
        return TenantCounters(**vars(found)) if found else TenantCounters()

    def record_lookup(self, tenant: str, task: str, outcome: Outcome) -> None:
        counters = self.counters(tenant)
        if outcome is Outcome.HIT:
            counters.hits += 1
        elif outcome is Outcome.INELIGIBLE:
            counters.ineligible += 1
        elif outcome is Outcome.SHADOW_HIT:
            counters.shadow_hits += 1
        else:
            counters.misses += 1
            if outcome is Outcome.REJECTED:
                counters.rejected_near_misses += 1
        self._lookups.add(1, {"outcome": outcome.value, "task": task})

    def record_similarity(self, similarity: float) -> None:
        self._similarity.record(similarity)

    def record_evictions(self, tenant: str, evicted: int) -> None:
        self.counters(tenant).evicted += evicted
        self._evictions.add(evicted)

    def record_store(self, tenant: str, stored: bool) -> None:
        if stored:
            self.counters(tenant).stores += 1
        self._stores.add(1, {"stored": str(stored).lower()})
