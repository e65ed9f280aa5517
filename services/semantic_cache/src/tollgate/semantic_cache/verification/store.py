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

import asyncio
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import qdrant_edge as edge
from qdrant_client import AsyncQdrantClient, models

from tollgate.semantic_cache.store.base import StoreUnavailable

T = TypeVar("T")

_VECTOR = "none"
_NAMESPACE = uuid.UUID("0d6f3a52-5d0e-4b8c-9a57-2f5e7f0b18c4")
TENANT, TASK, AGREED, CREATED_AT = "tenant", "task", "agreed", "created_at"


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
        self._collection = collection
        self._data_dir = data_dir
        self._temporary_dir: str | None = None
        self._shard: Any = None
        self._executor: ThreadPoolExecutor | None = None

    async def open(self) -> None:
        if self._shard is not None:
            return
        if self._data_dir:
            root = Path(self._data_dir)
        else:
            self._temporary_dir = tempfile.mkdtemp(prefix="tollgate-verdicts-")
            root = Path(self._temporary_dir)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qdrant-verdicts")
        self._shard = await self._run(lambda: _open_edge_shard(root / self._collection))

    async def close(self) -> None:
        shard, self._shard = self._shard, None
        if shard is not None:
            await self._run(lambda: (shard.flush(), shard.close()))
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._temporary_dir is not None:
            shutil.rmtree(self._temporary_dir, ignore_errors=True)
            self._temporary_dir = None

    async def record(self, verdict: Verdict) -> bool:
        def write() -> bool:
            known = edge.Filter(must=[edge.HasIdCondition({verdict.id})])
            if self._shard.count(edge.CountRequest(filter=known)):
                return False
            point = edge.Point(verdict.id, {_VECTOR: [1.0]}, verdict.payload())
            self._shard.update(edge.UpdateOperation.upsert_points([point]))
            return True

        return await self._run(write)

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
            return int(self._shard.count(edge.CountRequest(filter=matching)))

        return await self._run(lambda: Tally(count(1), count(0)))

    async def purge(self, before_ms: int) -> int:
        def delete() -> int:
            old = edge.Filter(
                must=[edge.FieldCondition(CREATED_AT, range=edge.RangeFloat(lt=float(before_ms)))]
            )
            ids: list[Any] = []
            offset = None
            while True:
                records, offset = self._shard.scroll(
                    edge.ScrollRequest(offset=offset, limit=1000, filter=old, with_payload=False)
                )
                ids.extend(r.id for r in records)
                if offset is None:
                    break
            if ids:
                self._shard.update(edge.UpdateOperation.delete_points(ids))
            return len(ids)

        return await self._run(delete)

    async def _run(self, call: Callable[[], T]) -> T:
        if self._executor is None:
            raise RuntimeError("the verdict store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)


def _open_edge_shard(path: Path) -> Any:
    config = edge.EdgeConfig(
        vectors={_VECTOR: edge.EdgeVectorParams(size=1, distance=edge.Distance.Dot)}
    )
    has_segments = path.is_dir() and any(path.iterdir())
    shard = edge.EdgeShard.load(str(path), config) if has_segments else None
    if shard is None:
        path.mkdir(parents=True, exist_ok=True)
        shard = edge.EdgeShard.create(str(path), config)
    shard.update(
        edge.UpdateOperation.create_field_index(TENANT, edge.KeywordIndexParams(is_tenant=True))
    )
    shard.update(edge.UpdateOperation.create_field_index(TASK, edge.PayloadSchemaType.Keyword))
    for name in (AGREED, CREATED_AT):
        shard.update(edge.UpdateOperation.create_field_index(name, edge.PayloadSchemaType.Integer))
    return shard


class QdrantVerdictStore:
    """Verdicts on a Qdrant server, shared by every replica."""

    def __init__(self, client: AsyncQdrantClient, collection: str) -> None:
        self._client = client
        self._collection = collection

    async def open(self) -> None:
        if not await self._call(self._client.collection_exists(self._collection)):
            try:
                await self._call(
                    self._client.create_collection(
                        self._collection,
                        vectors_config={
                            _VECTOR: models.VectorParams(size=1, distance=models.Distance.DOT)
                        },
                    )
                )
            except StoreUnavailable:
                # Another replica may have created it meanwhile.
                if not await self._call(self._client.collection_exists(self._collection)):
                    raise
        schema: list[tuple[str, Any]] = [
            (
                TENANT,
                models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True),
            ),
            (TASK, models.PayloadSchemaType.KEYWORD),
            (AGREED, models.PayloadSchemaType.INTEGER),
            (CREATED_AT, models.PayloadSchemaType.INTEGER),
        ]
        with warnings.catch_warnings():
            # The client's local mode (tests) warns that it ignores indexes; servers use them.
            warnings.filterwarnings("ignore", message="Payload indexes have no effect")
            for name, field_schema in schema:
                await self._call(
                    self._client.create_payload_index(
                        self._collection, name, field_schema=field_schema, wait=True
                    )
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
        try:
            return await call
        except Exception as exc:
            raise StoreUnavailable(f"Qdrant request failed: {exc}") from exc
