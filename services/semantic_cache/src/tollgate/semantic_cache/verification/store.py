"""Where verdicts live: the same Qdrant the cache uses, in a collection of their own.

Why Qdrant and not a counter in memory: the verdicts must outlive a replica's restart and be
shared by every replica, and Qdrant is the one store this service already has (a server when
QDRANT_URL is set; the in-process engine under DATA_DIR otherwise, which survives a restart when
DATA_DIR is a volume). Qdrant has no atomic increment, so verdicts are not counters: each one is
a point of its own, its id derived from (tenant, request_id) so a retried report overwrites
itself instead of counting twice, and the counts are exact filtered counts. Replicas never
read-modify-write anything, so they cannot lose each other's updates.

Points carry a one-dimensional constant vector: the engine requires a vector, nothing searches it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import qdrant_edge as edge
from qdrant_client import AsyncQdrantClient, models

from tollgate.semantic_cache.store.base import TENANT
from tollgate.semantic_cache.store.edge_shard import EdgeShardHost, delete_matching
from tollgate.semantic_cache.store.remote import ensure_collection, index_schema, qdrant_call

T = TypeVar("T")

_VECTOR = "none"
_NAMESPACE = uuid.UUID("0d6f3a52-5d0e-4b8c-9a57-2f5e7f0b18c4")
TASK, AGREED, CREATED_AT = "task", "agreed", "created_at"


@dataclass(frozen=True)
class Verdict:
    tenant: str
    task: str
    request_id: str
    entry_id: str
    agreed: bool
    shadow: bool
    disagreement: str
    answer_similarity: float
    created_at_ms: int

    @property
    def id(self) -> str:
        return verdict_id(self.tenant, self.request_id)

    def payload(self) -> dict[str, Any]:
        return {
            TENANT: self.tenant,
            TASK: self.task,
            AGREED: int(self.agreed),
            CREATED_AT: self.created_at_ms,
            "request_id": self.request_id,
            "entry_id": self.entry_id,
            "shadow": self.shadow,
            "disagreement": self.disagreement,
            "answer_similarity": self.answer_similarity,
        }


def verdict_id(tenant: str, request_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{tenant}\x1f{request_id}"))


@dataclass(frozen=True)
class Tally:
    agreements: int
    disagreements: int


class VerdictStore(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def record(self, verdict: Verdict) -> bool:
        """Keep `verdict`; False when its (tenant, request_id) was already recorded."""
        ...

    async def tally(self, tenant: str, task: str, since_ms: int) -> Tally: ...

    async def purge(self, before_ms: int) -> int:
        """Drop verdicts older than `before_ms` (outside every measurement window)."""
        ...


class EdgeVerdictStore:
    """Verdicts in a Qdrant Edge shard under `data_dir` (a temporary folder when empty)."""

    def __init__(self, collection: str, data_dir: str = "") -> None:
        self._host = EdgeShardHost(
            collection,
            data_dir,
            edge.EdgeConfig(
                vectors={_VECTOR: edge.EdgeVectorParams(size=1, distance=edge.Distance.Dot)}
            ),
            keyword_fields=(TASK,),
            integer_fields=(AGREED, CREATED_AT),
            thread_name="qdrant-verdicts",
        )

    async def open(self) -> None:
        await self._host.open()

    async def close(self) -> None:
        await self._host.close()

    async def record(self, verdict: Verdict) -> bool:
        def write() -> bool:
            shard = self._host.shard
            known = edge.Filter(must=[edge.HasIdCondition({verdict.id})])
            if shard.count(edge.CountRequest(filter=known)):
                return False
            point = edge.Point(verdict.id, {_VECTOR: [1.0]}, verdict.payload())
            shard.update(edge.UpdateOperation.upsert_points([point]))
            return True

        return await self._host.run(write)

    async def tally(self, tenant: str, task: str, since_ms: int) -> Tally:
        def count(agreed: int) -> int:
            matching = edge.Filter(
                must=[
                    edge.FieldCondition(TENANT, match=edge.MatchValue(tenant)),
                    edge.FieldCondition(TASK, match=edge.MatchValue(task)),
                    edge.FieldCondition(AGREED, match=edge.MatchValue(agreed)),
                    edge.FieldCondition(CREATED_AT, range=edge.RangeFloat(gte=float(since_ms))),
                ]
            )
            return int(self._host.shard.count(edge.CountRequest(filter=matching)))

        return await self._host.run(lambda: Tally(count(1), count(0)))

    async def purge(self, before_ms: int) -> int:
        old = edge.Filter(
            must=[edge.FieldCondition(CREATED_AT, range=edge.RangeFloat(lt=float(before_ms)))]
        )
        return await self._host.run(lambda: delete_matching(self._host.shard, old))


class QdrantVerdictStore:
    """Verdicts on a Qdrant server, shared by every replica."""

    def __init__(self, client: AsyncQdrantClient, collection: str) -> None:
        self._client = client
        self._collection = collection

    async def open(self) -> None:
        await ensure_collection(
            self._client,
            self._collection,
            {_VECTOR: models.VectorParams(size=1, distance=models.Distance.DOT)},
            index_schema((TASK,), (AGREED, CREATED_AT)),
        )

    async def close(self) -> None:
        await self._client.close()

    async def record(self, verdict: Verdict) -> bool:
        known = models.Filter(must=[models.HasIdCondition(has_id=[verdict.id])])
        found = await self._call(
            self._client.count(self._collection, count_filter=known, exact=True)
        )
        if found.count:
            return False
        point = models.PointStruct(
            id=verdict.id, vector={_VECTOR: [1.0]}, payload=verdict.payload()
        )
        await self._call(self._client.upsert(self._collection, points=[point], wait=True))
        return True

    async def tally(self, tenant: str, task: str, since_ms: int) -> Tally:
        async def count(agreed: int) -> int:
            matching = models.Filter(
                must=[
                    models.FieldCondition(key=TENANT, match=models.MatchValue(value=tenant)),
                    models.FieldCondition(key=TASK, match=models.MatchValue(value=task)),
                    models.FieldCondition(key=AGREED, match=models.MatchValue(value=agreed)),
                    models.FieldCondition(key=CREATED_AT, range=models.Range(gte=since_ms)),
                ]
            )
            result = await self._call(
                self._client.count(self._collection, count_filter=matching, exact=True)
            )
            return int(result.count)

        return Tally(await count(1), await count(0))

    async def purge(self, before_ms: int) -> int:
        old = models.Filter(
            must=[models.FieldCondition(key=CREATED_AT, range=models.Range(lt=before_ms))]
        )
        found = await self._call(self._client.count(self._collection, count_filter=old, exact=True))
        if found.count:
            await self._call(
                self._client.delete(
                    self._collection, points_selector=models.FilterSelector(filter=old), wait=True
                )
            )
        return int(found.count)

    async def _call(self, call: Awaitable[T]) -> T:
        return await qdrant_call(call)
