"""The vector store contract, run against both implementations: the in-process engine
(qdrant-edge) and qdrant-client (in its local mode)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import qdrant_edge as edge
from qdrant_client import models

from tollgate.semantic_cache.eligibility import Scope
from tollgate.semantic_cache.settings import Settings
from tollgate.semantic_cache.store import edge as edge_store
from tollgate.semantic_cache.store import payload, remote
from tollgate.semantic_cache.store.base import (
    PARTITION,
    TENANT,
    VECTOR_NAME,
    CacheEntry,
    SearchQuery,
    VectorStore,
)
from tollgate.semantic_cache.store.edge import EdgeVectorStore
from tollgate.semantic_cache.store.factory import build_store
from tollgate.semantic_cache.store.remote import QdrantVectorStore

NOW = 1_750_000_000_000
SCOPE = Scope("claude-sonnet-4-5", "sys", "chat", "v1", "")
OTHER_SCOPE = Scope("claude-sonnet-4-5", "sys", "chat", "v2", "")


def unit(seed: int, dimension: int = 384) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(dimension).astype(np.float32)
    return vector / np.linalg.norm(vector)


def entry(
    tenant: str = "t1",
    *,
    question: str = "Is 12 Oak St pet-friendly?",
    scope: Scope = SCOPE,
    tags: tuple[str, ...] = (),
    expires_at_ms: int = NOW + 60_000,
    output_tokens: int = 40,
    answer: bytes = b"\x0a\x05msg_1",
    entry_id: str | None = None,
) -> CacheEntry:
    return CacheEntry(
        id=entry_id or str(uuid.uuid4()),
        tenant=tenant,
        scope=scope,
        question=question,
        answer=answer,
        tags=tags,
        created_at_ms=NOW - 1_000,
        expires_at_ms=expires_at_ms,
        input_tokens=120,
        output_tokens=output_tokens,
        cache_read_input_tokens=7,
        cache_creation_input_tokens=3,
        embedding_model="all-minilm-l6-v2-test",
    )


def query(tenant: str = "t1", **overrides: Any) -> SearchQuery:
    options: dict[str, Any] = {
        "tenant": tenant,
        "scope_key": SCOPE.key(),
        "now_ms": NOW,
        "max_output_tokens": 0,
        "limit": 5,
    }
    options.update(overrides)
    return SearchQuery(**options)


async def test_an_entry_comes_back_whole(vector_store: VectorStore) -> None:
    stored = entry(tags=("listing:12-oak", "pets"))
    await vector_store.upsert(stored, unit(1))
    [found] = await vector_store.search(unit(1), query())
    # A search brings everything but the answer; the entry, read on its own, brings it too.
    assert found.entry == dataclasses.replace(stored, answer=b"")
    assert found.similarity == pytest.approx(1.0, abs=1e-4)
    assert await vector_store.entry("t1", stored.id) == stored
    # Never another tenant's, nor an entry that is not there.
    assert await vector_store.entry("t2", stored.id) is None
    assert await vector_store.entry("t1", str(uuid.uuid4())) is None


async def test_results_are_ordered_by_similarity_and_limited(vector_store: VectorStore) -> None:
    target = unit(7)
    for n in range(6):
        # Mixing in more noise makes an entry less similar to the target.
        noisy = target + n * 0.3 * unit(100 + n)
        await vector_store.upsert(entry(question=f"q{n}"), noisy / np.linalg.norm(noisy))
    found = await vector_store.search(target, query(limit=4))
    assert [c.entry.question for c in found] == ["q0", "q1", "q2", "q3"]
    similarities = [c.similarity for c in found]
    assert similarities == sorted(similarities, reverse=True)


async def test_many_entries_are_stored_in_one_call(vector_store: VectorStore) -> None:
    entries = [entry(question=f"q{n}") for n in range(50)]
    vectors = np.stack([unit(200 + n) for n in range(50)])
    await vector_store.upsert_many(entries, vectors)
    assert await vector_store.count("t1", NOW) == 50
    [found] = await vector_store.search(unit(217), query(limit=1))
    assert found.entry.question == "q17"


async def test_tenants_never_see_each_others_entries(vector_store: VectorStore) -> None:
    await vector_store.upsert(entry("t1", question="same question"), unit(2))
    await vector_store.upsert(entry("t2", question="same question"), unit(2))
    found = await vector_store.search(unit(2), query("t1"))
    assert [c.entry.tenant for c in found] == ["t1"]
    assert await vector_store.search(unit(2), query("t3")) == []


async def test_search_is_limited_to_the_scope(vector_store: VectorStore) -> None:
    await vector_store.upsert(entry(scope=OTHER_SCOPE), unit(3))
    assert await vector_store.search(unit(3), query()) == []
    assert len(await vector_store.search(unit(3), query(scope_key=OTHER_SCOPE.key()))) == 1


async def test_expired_entries_are_never_found(vector_store: VectorStore) -> None:
    await vector_store.upsert(entry(expires_at_ms=NOW), unit(4))
    assert await vector_store.search(unit(4), query(now_ms=NOW)) == []
    assert len(await vector_store.search(unit(4), query(now_ms=NOW - 1))) == 1


async def test_answers_longer_than_max_tokens_are_not_found(vector_store: VectorStore) -> None:
    await vector_store.upsert(entry(output_tokens=500), unit(5))
    assert await vector_store.search(unit(5), query(max_output_tokens=499)) == []
    assert len(await vector_store.search(unit(5), query(max_output_tokens=500))) == 1
    assert len(await vector_store.search(unit(5), query(max_output_tokens=0))) == 1


def nearer_to(target: np.ndarray, rank: int, seed: int) -> np.ndarray:
    """A vector whose similarity to `target` falls as `rank` grows."""
    noisy = target + rank * 0.2 * unit(seed)
    return noisy / np.linalg.norm(noisy)


@pytest.mark.parametrize(
    "unfit",
    [{"expires_at_ms": NOW - 1}, {"output_tokens": 900}],
    ids=["expired", "too-long"],
)
async def test_the_nearest_qualifying_entries_are_found_behind_unfit_ones(
    vector_store: VectorStore, unfit: dict[str, int]
) -> None:
    """More unfit entries than the limit rank above the fit ones: the engine's first page
    holds none that qualifies, and the search must still return the fit ones, nearest first."""
    target = unit(90)
    for rank in range(8):
        await vector_store.upsert(
            entry(question=f"unfit {rank}", **unfit), nearer_to(target, rank, 300 + rank)
        )
    for rank in range(8, 11):
        await vector_store.upsert(
            entry(question=f"fit {rank}"), nearer_to(target, rank, 300 + rank)
        )
    found = await vector_store.search(target, query(max_output_tokens=500, limit=5))
    assert [c.entry.question for c in found] == ["fit 8", "fit 9", "fit 10"]


async def test_a_second_search_runs_only_when_a_nearest_entry_does_not_qualify(
    vector_store: VectorStore,
) -> None:
    target = unit(91)
    for rank in range(3):
        await vector_store.upsert(entry(question=f"q{rank}"), nearer_to(target, rank, 400 + rank))
    searches = _count_engine_searches(vector_store)
    assert len(await vector_store.search(target, query(limit=2))) == 2
    assert searches == [1]
    await vector_store.upsert(entry(question="expired", expires_at_ms=NOW - 1), target)
    found = await vector_store.search(target, query(limit=2))
    assert [c.entry.question for c in found] == ["q0", "q1"]
    assert searches == [3]


def _count_engine_searches(store: VectorStore) -> list[int]:
    """Count the store's calls to the engine's search (one shared counter in a list)."""
    calls = [0]
    nearest = store._nearest  # type: ignore[attr-defined]

    async def counted(*args: Any) -> Any:
        calls[0] += 1
        return await nearest(*args)

    store._nearest = counted  # type: ignore[attr-defined]
    return calls


async def test_a_partition_shared_by_two_tenants_never_crosses(
    vector_store: VectorStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were two tenants' partition keys ever equal (a digest collision), a search still
    returns only the asking tenant's entries: each candidate's tenant and scope are checked."""
    for module in (payload, edge_store, remote):
        monkeypatch.setattr(module, "partition_key", lambda tenant, scope_key: "shared")
    target = unit(92)
    await vector_store.upsert(entry("t2", question="theirs"), target)
    await vector_store.upsert(
        entry("t2", question="theirs, other scope", scope=OTHER_SCOPE), target
    )
    await vector_store.upsert(entry("t1", question="mine"), nearer_to(target, 1, 500))
    for limit in (1, 5):
        found = await vector_store.search(target, query("t1", limit=limit))
        assert {c.entry.tenant for c in found} <= {"t1"}
        assert {c.entry.scope.key() for c in found} <= {SCOPE.key()}
    assert await vector_store.search(target, query("t3")) == []


async def test_points_stored_without_a_partition_are_never_found(
    vector_store: VectorStore,
) -> None:
    """Points of the older payload layout (no partition) match no search."""
    old = entry(question="older layout")
    layout = {k: v for k, v in payload.to_payload(old).items() if k != PARTITION}
    await _upsert_raw(vector_store, old.id, unit(93), layout)
    assert await vector_store.search(unit(93), query()) == []
    assert await vector_store.search(unit(93), query(now_ms=NOW + 10**9)) == []


async def _upsert_raw(
    store: VectorStore, point_id: str, vector: np.ndarray, raw: dict[str, Any]
) -> None:
    values = vector.tolist()
    if isinstance(store, EdgeVectorStore):
        point = edge.Point(point_id, {VECTOR_NAME: values}, raw)
        await store._run(lambda: store._shard.update(edge.UpdateOperation.upsert_points([point])))
        return
    assert isinstance(store, QdrantVectorStore)
    await store._client.upsert(
        store.collection,
        points=[models.PointStruct(id=point_id, vector={VECTOR_NAME: values}, payload=raw)],
    )


async def test_upserting_the_same_id_replaces_the_entry(vector_store: VectorStore) -> None:
    await vector_store.upsert(entry(entry_id="6c1f2f7f-0000-4000-8000-000000000001"), unit(6))
    await vector_store.upsert(
        entry(entry_id="6c1f2f7f-0000-4000-8000-000000000001", answer=b"new"), unit(6)
    )
    found = await vector_store.search(unit(6), query())
    assert [c.entry.id for c in found] == ["6c1f2f7f-0000-4000-8000-000000000001"]
    replaced = await vector_store.entry("t1", "6c1f2f7f-0000-4000-8000-000000000001")
    assert replaced is not None
    assert replaced.answer == b"new"
    assert await vector_store.count("t1", NOW) == 1


async def test_invalidation_by_tag_touches_only_that_tenant(vector_store: VectorStore) -> None:
    await vector_store.upsert(entry("t1", question="a", tags=("listing:1",)), unit(10))
    await vector_store.upsert(entry("t1", question="b", tags=("listing:2", "pets")), unit(11))
    await vector_store.upsert(entry("t1", question="c", tags=()), unit(12))
    await vector_store.upsert(entry("t2", question="a", tags=("listing:1",)), unit(10))
    assert await vector_store.delete("t1", ["listing:1", "pets"]) == 2
    assert await vector_store.count("t1", NOW) == 1
    assert await vector_store.count("t2", NOW) == 1
    assert await vector_store.delete("t1", ["nothing-has-this"]) == 0


async def test_invalidation_without_tags_empties_the_tenant(vector_store: VectorStore) -> None:
    for n in range(3):
        await vector_store.upsert(entry("t1", question=f"q{n}"), unit(20 + n))
    await vector_store.upsert(entry("t2"), unit(30))
    assert await vector_store.delete("t1", []) == 3
    assert await vector_store.count("t1", NOW) == 0
    assert await vector_store.count("t2", NOW) == 1


async def test_purge_removes_only_expired_entries(vector_store: VectorStore) -> None:
    await vector_store.upsert(entry("t1", question="old", expires_at_ms=NOW - 1), unit(40))
    await vector_store.upsert(entry("t2", question="old", expires_at_ms=NOW), unit(41))
    await vector_store.upsert(entry("t1", question="fresh", expires_at_ms=NOW + 1), unit(42))
    assert await vector_store.purge_expired(NOW) == 2
    assert await vector_store.purge_expired(NOW) == 0
    found = await vector_store.search(unit(42), query(now_ms=NOW - 10))
    assert [c.entry.question for c in found] == ["fresh"]
    await vector_store.maintain()
    assert await vector_store.count("t1", NOW) == 1


async def test_count_is_of_live_entries(vector_store: VectorStore) -> None:
    await vector_store.upsert(entry(question="live"), unit(50))
    await vector_store.upsert(entry(question="gone", expires_at_ms=NOW - 5), unit(51))
    assert await vector_store.count("t1", NOW) == 1
    assert await vector_store.count("t1", NOW - 10) == 2


async def test_size_counts_every_entry_of_the_tenant(vector_store: VectorStore) -> None:
    # A store answers with the tenant's size after it: what its entry limit is checked by.
    live = entry(question="live", tags=("a",))
    assert await vector_store.upsert(live, unit(52)) == 1
    assert await vector_store.upsert(entry(question="gone", expires_at_ms=NOW - 5), unit(53)) == 2
    assert await vector_store.upsert(entry("t2"), unit(54)) == 1
    # The same entry again replaces itself.
    assert await vector_store.upsert(live, unit(55)) == 2
    assert await vector_store.size("t1") == 2
    assert await vector_store.size("t3") == 0
    await vector_store.delete("t1", ["a"])
    assert await vector_store.size("t1") == 1


async def test_in_process_size_stays_exact_through_every_change(tmp_path: Path) -> None:
    """The in-process size is the tenant index's count, not a scan: it must equal an exact
    count after replacements (of another tenant's point too), evictions, invalidations,
    purges, compaction and a restart."""
    store = EdgeVectorStore("c__m__8", 8, str(tmp_path))
    await store.open()
    rng = np.random.default_rng(3)
    ids: list[str] = []

    async def assert_exact() -> None:
        for tenant in ("t1", "t2"):
            exact = await store._run(lambda t=tenant: _exact_count(store, t))
            assert await store.size(tenant) == exact

    try:
        for step in range(400):
            tenant = "t1" if rng.random() < 0.6 else "t2"
            roll = rng.random()
            if roll < 0.65 or not ids:
                reuse = ids and rng.random() < 0.25
                point = str(rng.choice(ids)) if reuse else str(uuid.uuid4())
                expires = NOW - 1 if step % 7 == 0 else NOW + 60_000
                tags = ("a",) if step % 3 == 0 else ()
                await store.upsert(
                    entry(tenant, entry_id=point, expires_at_ms=expires, tags=tags), unit(step, 8)
                )
                ids.append(point)
            elif roll < 0.8:
                await store.evict_oldest(tenant, int(rng.integers(1, 4)))
            elif roll < 0.88:
                await store.delete(tenant, ["a"])
            elif roll < 0.95:
                await store.purge_expired(NOW)
            else:
                await store._run(lambda: store._shard.optimize())
            await assert_exact()
        await store.close()
        store = EdgeVectorStore("c__m__8", 8, str(tmp_path))
        await store.open()
        await assert_exact()
    finally:
        await store.close()


def _exact_count(store: EdgeVectorStore, tenant: str) -> int:
    every = edge.Filter(must=[edge.FieldCondition(TENANT, match=edge.MatchValue(tenant))])
    return int(store._shard.count(edge.CountRequest(exact=True, filter=every)))


async def test_in_process_entries_survive_a_restart(tmp_path: Path) -> None:
    store = EdgeVectorStore("c__m__384", 384, str(tmp_path))
    await store.open()
    await store.upsert(entry(question="kept"), unit(60))
    await store.close()
    reopened = EdgeVectorStore("c__m__384", 384, str(tmp_path))
    await reopened.open()
    try:
        [found] = await reopened.search(unit(60), query())
        assert found.entry.question == "kept"
    finally:
        await reopened.close()


async def test_without_a_data_dir_the_in_process_store_cleans_up() -> None:
    store = EdgeVectorStore("c__m__384", 384, "")
    await store.open()
    folder = store.temporary_folder
    assert folder is not None
    assert await asyncio.to_thread(os.path.isdir, folder)
    await store.close()
    assert not await asyncio.to_thread(os.path.exists, folder)


async def test_in_process_compaction_runs_after_enough_deletions(tmp_path: Path) -> None:
    store = EdgeVectorStore("c__m__384", 384, str(tmp_path), compact_after_deletes=3)
    await store.open()
    try:
        for n in range(5):
            await store.upsert(entry(question=f"q{n}", expires_at_ms=NOW - 1), unit(70 + n))
        await store.upsert(entry(question="live"), unit(80))
        assert await store.purge_expired(NOW) == 5
        await store.maintain()
        assert store._deleted_since_compaction == 0
        [found] = await store.search(unit(80), query())
        assert found.entry.question == "live"
    finally:
        await store.close()


def test_a_qdrant_url_selects_the_qdrant_client_store() -> None:
    remote = build_store(Settings(qdrant_url="http://qdrant:6333"), "m", 384)
    assert isinstance(remote, QdrantVectorStore)
    assert remote.collection == "tollgate_semantic__m__384__v2"
    local = build_store(Settings(), "m", 384)
    assert isinstance(local, EdgeVectorStore)


async def test_an_in_process_collection_of_the_older_layout_is_left_unused(tmp_path: Path) -> None:
    """Entries stored before the payload layout changed live in a collection of the older name:
    the store opens a new one beside it and never reads them."""
    older = EdgeVectorStore("tollgate_semantic__m__384", 384, str(tmp_path))
    await older.open()
    await older.upsert(entry(question="stored before the upgrade"), unit(94))
    await older.close()
    store = build_store(Settings(data_dir=str(tmp_path)), "m", 384)
    await store.open()
    try:
        assert await store.search(unit(94), query()) == []
        assert await store.size("t1") == 0
    finally:
        await store.close()
    assert (tmp_path / "tollgate_semantic__m__384").is_dir()
