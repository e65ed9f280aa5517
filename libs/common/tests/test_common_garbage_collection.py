"""The collector tuning a service process applies once it is built (tollgate.common.server)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from tollgate.common.server import YOUNG_COLLECTION_THRESHOLD, tune_garbage_collection


@pytest.fixture
def collector_restored() -> Iterator[None]:
    threshold = gc.get_threshold()
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


@pytest.mark.usefixtures("collector_restored")
def test_what_start_up_built_leaves_the_collectors_reach() -> None:
    built_at_start_up = [[index] for index in range(10_000)]
    assert gc.get_freeze_count() == 0
    tune_garbage_collection()
    # Every container alive at start-up is in the permanent generation, never traversed again.
    assert gc.get_freeze_count() >= len(built_at_start_up)


@pytest.mark.usefixtures("collector_restored")
def test_young_objects_are_collected_less_often_and_the_older_generations_as_before() -> None:
    _, middle, old = gc.get_threshold()
    tune_garbage_collection()
    assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, middle, old)
    # Several times Python's default of 700 new containers pass without a young collection.
    gc.collect()
    collections = gc.get_stats()[0]["collections"]
    kept = [[index] for index in range(YOUNG_COLLECTION_THRESHOLD // 2)]
    assert gc.get_stats()[0]["collections"] == collections
    assert gc.get_count()[0] >= len(kept)
