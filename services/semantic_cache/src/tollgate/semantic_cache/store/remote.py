"""The vector store on a Qdrant server, through qdrant-client's AsyncQdrantClient.

Used whenever TOLLGATE_SEMANTIC_CACHE_QDRANT_URL is set. The collection is created on first use
(several replicas may race to create it; losing the race is fine) with payload indexes on every
filtered field, the tenant marked as the tenant key so the server co-locates each tenant's points.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from qdrant_client import AsyncQdrantClient, models

from tollgate.semantic_cache.store.base import (
    ANSWER,
    CREATED_AT,
    EXPIRES_AT,
    INTEGER_FIELDS,
    KEYWORD_FIELDS,
    OUTPUT_TOKENS,
    PARTITION,
    TAGS,
    TENANT,
    VECTOR_NAME,
    CacheEntry,
    Candidate,
    SearchQuery,
    StoreUnavailable,
)
from tollgate.semantic_cache.store.payload import from_payload, tenants_entry, to_payload
from tollgate.semantic_cache.store.search import nearest_qualifying, partition_key

log = logging.getLogger("tollgate.semantic_cache.store")

T = TypeVar("T")

_PAGE = 1_000


class QdrantVectorStore:
    def __init__(self, client: AsyncQdrantClient, collection: str, dimension: int) -> None:
        self._client = client
        self._collection = collection
        self._dimension = dimension

    @property
    def collection(self) -> str:
        return self._collection

    async def open(self) -> None:
        await ensure_collection(
            self._client,
            self._collection,
            {
                VECTOR_NAME: models.VectorParams(
                    size=self._dimension, distance=models.Distance.COSINE
                )
            },
            index_schema(KEYWORD_FIELDS, INTEGER_FIELDS),
        )
        log.info("vector store open", extra={"engine": "qdrant", "collection": self._collection})

    async def close(self) -> None:
        await self._client.close()

    async def upsert(self, entry: CacheEntry, vector: npt.NDArray[np.float32]) -> int:
        await self.upsert_many([entry], np.asarray(vector, dtype=np.float32).reshape(1, -1))
        return await self.size(entry.tenant)

    async def upsert_many(
        self, entries: Sequence[CacheEntry], vectors: npt.NDArray[np.float32]
    ) -> None:
        points = [
            models.PointStruct(
                id=entry.id, vector={VECTOR_NAME: _as_list(row)}, payload=to_payload(entry)
            )
            for entry, row in zip(entries, vectors, strict=True)
        ]
        await self._call(self._client.upsert(self._collection, points=points, wait=True))

    async def search(self, vector: npt.NDArray[np.float32], query: SearchQuery) -> list[Candidate]:
        # The same shape as the in-process store (see store/search.py).
        return await nearest_qualifying(
            query, lambda every_condition: self._nearest(vector, query, every_condition)
        )

    async def _nearest(
        self, vector: npt.NDArray[np.float32], query: SearchQuery, every_condition: bool
    ) -> list[Candidate]:
        response = await self._call(
            self._client.query_points(
                self._collection,
                query=_as_list(vector),
                using=VECTOR_NAME,
                query_filter=_search_filter(query, every_condition),
                limit=query.limit,
                with_payload=models.PayloadSelectorExclude(exclude=[ANSWER]),
            )
        )
        return [
            Candidate(from_payload(p.id, p.payload or {}), float(p.score)) for p in response.points
        ]

    async def entry(self, tenant: str, entry_id: str) -> CacheEntry | None:
        records = await self._call(
            self._client.retrieve(
                self._collection, ids=[entry_id], with_payload=True, with_vectors=False
            )
        )
        return tenants_entry(tenant, ((r.id, r.payload) for r in records))

    async def delete(self, tenant: str, tags: Sequence[str]) -> int:
        must: list[models.Condition] = [_of_tenant(tenant)]
        if tags:
            must.append(models.FieldCondition(key=TAGS, match=models.MatchAny(any=list(tags))))
        return await self._delete_matching(models.Filter(must=must))

    async def purge_expired(self, now_ms: int) -> int:
        expired = models.Filter(
            must=[models.FieldCondition(key=EXPIRES_AT, range=models.Range(lte=now_ms))]
        )
        return await self._delete_matching(expired)

    async def _delete_matching(self, condition: models.Filter) -> int:
        """Delete page by page what matches, returning how many points were deleted."""
        removed = 0
        while True:
            records, _ = await self._call(
                self._client.scroll(
                    self._collection,
                    scroll_filter=condition,
                    limit=_PAGE,
                    with_payload=False,
                    with_vectors=False,
                )
            )
            if not records:
                return removed
            await self._call(
                self._client.delete(
                    self._collection,
                    points_selector=models.PointIdsList(points=[r.id for r in records]),
                    wait=True,
                )
            )
            removed += len(records)

    async def count(self, tenant: str, now_ms: int) -> int:
        live = models.FieldCondition(key=EXPIRES_AT, range=models.Range(gt=now_ms))
        return await self._count(_of_tenant(tenant), live)

    async def size(self, tenant: str) -> int:
        return await self._count(_of_tenant(tenant))

    async def _count(self, *must: models.Condition) -> int:
        matching = models.Filter(must=list(must))
        result = await self._call(
            self._client.count(self._collection, count_filter=matching, exact=True)
        )
        return int(result.count)

    async def evict_oldest(self, tenant: str, count: int) -> int:
        if count <= 0:
            return 0
        records, _ = await self._call(
            self._client.scroll(
                self._collection,
                scroll_filter=models.Filter(must=[_of_tenant(tenant)]),
                limit=count,
                order_by=models.OrderBy(key=CREATED_AT),
                with_payload=False,
                with_vectors=False,
            )
        )
        if records:
            await self._call(
                self._client.delete(
                    self._collection,
                    points_selector=models.PointIdsList(points=[r.id for r in records]),
                    wait=True,
                )
            )
        return len(records)

    async def maintain(self) -> None:
        # The server compacts and indexes on its own.
        return None

    async def _call(self, call: Awaitable[T]) -> T:
        return await qdrant_call(call)


async def qdrant_call(call: Awaitable[T]) -> T:
    """Await a client call; any failure is StoreUnavailable (a miss to callers, never INTERNAL)."""
    try:
        return await call
    except Exception as exc:
        raise StoreUnavailable(f"Qdrant request failed: {exc}") from exc


def index_schema(keyword: Sequence[str], integer: Sequence[str]) -> list[tuple[str, Any]]:
    """Payload indexes: the tenant as the tenant key, then keyword and integer fields."""
    tenant_index = models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True)
    schema: list[tuple[str, Any]] = [(TENANT, tenant_index)]
    schema += [(name, models.PayloadSchemaType.KEYWORD) for name in keyword]
    schema += [(name, models.PayloadSchemaType.INTEGER) for name in integer]
    return schema


async def ensure_collection(
    client: AsyncQdrantClient,
    collection: str,
    vectors: dict[str, models.VectorParams],
    schema: list[tuple[str, Any]],
) -> None:
    """Create the collection unless it exists, then its payload indexes (both idempotent)."""
    if not await qdrant_call(client.collection_exists(collection)):
        try:
            await qdrant_call(client.create_collection(collection, vectors_config=vectors))
        except StoreUnavailable:
            # Another replica may have created it meanwhile; anything else is a failure.
            if not await qdrant_call(client.collection_exists(collection)):
                raise
    with warnings.catch_warnings():
        # The client's local mode (tests) warns that it ignores indexes; servers use them.
        warnings.filterwarnings("ignore", message="Payload indexes have no effect")
        for name, field_schema in schema:
            await qdrant_call(
                client.create_payload_index(collection, name, field_schema=field_schema, wait=True)
            )


def _as_list(vector: npt.NDArray[np.float32]) -> list[float]:
    values: list[float] = np.asarray(vector, dtype=np.float32).ravel().tolist()
    return values


def _of_partition(query: SearchQuery) -> models.FieldCondition:
    """The query's tenant and scope, as one keyword condition."""
    key = partition_key(query.tenant, query.scope_key)
    return models.FieldCondition(key=PARTITION, match=models.MatchValue(value=key))


def _search_filter(query: SearchQuery, every_condition: bool) -> models.Filter:
    """The partition; with `every_condition`, also not expired and no longer than the request's
    max_tokens."""
    must: list[models.Condition] = [_of_partition(query)]
    if not every_condition:
        return models.Filter(must=must)
    must.append(models.FieldCondition(key=EXPIRES_AT, range=models.Range(gt=query.now_ms)))
    if query.max_output_tokens > 0:
        must.append(
            models.FieldCondition(
                key=OUTPUT_TOKENS, range=models.Range(lte=query.max_output_tokens)
            )
        )
    return models.Filter(must=must)


def _of_tenant(tenant: str) -> models.FieldCondition:
    """The condition that scopes deletes, counts and evictions to one tenant's points (a search
    is scoped by its partition, which includes the tenant, and by the check of every candidate)."""
    return models.FieldCondition(key=TENANT, match=models.MatchValue(value=tenant))
