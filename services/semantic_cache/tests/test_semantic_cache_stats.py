"""The semantic cache's metrics are the process's: every cache's lookups, stores and similarities
are in them when they are read, though similarities are held between collections."""

from __future__ import annotations

from tollgate.common.telemetry import configure_telemetry
from tollgate.common.testing import metric_total
from tollgate.semantic_cache.stats import CacheStats, Outcome


def test_two_caches_lookups_and_similarities_are_all_counted_when_read() -> None:
    configure_telemetry("semantic-cache")
    before_lookups = metric_total("tollgate_semantic_lookups_total", outcome="miss", task="report")
    before_similarities = metric_total("tollgate_semantic_similarity_count")
    before_stores = metric_total("tollgate_semantic_stores_total", stored="true")
    first, second = CacheStats(), CacheStats()
    for stats in (first, second, first):
        stats.record_lookup("tenant-a", "report", Outcome.MISS)
        stats.record_similarity(0.5)
        stats.record_store("tenant-a", stored=True)
    assert metric_total("tollgate_semantic_lookups_total", outcome="miss", task="report") == (
        before_lookups + 3
    )
    # Far fewer than a batch: held until the collection that just ran flushed them.
    assert metric_total("tollgate_semantic_similarity_count") == before_similarities + 3
    assert metric_total("tollgate_semantic_stores_total", stored="true") == before_stores + 3
    # Each cache still keeps its own tenants' counters.
    assert first.snapshot("tenant-a").misses == 2
    assert second.snapshot("tenant-a").misses == 1
