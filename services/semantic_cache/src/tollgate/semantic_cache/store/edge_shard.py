"""One Qdrant Edge shard on a folder of its own, used from one dedicated thread.

Shared by the in-process stores (entries, verdicts): the shard is opened under DATA_DIR (a
temporary folder removed on close when that is empty) and every call runs on the host's single
thread, so the event loop never blocks on disk or scoring and multi-step operations (list ids,
then delete them) see no interleaved writes.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import qdrant_edge as edge

from tollgate.semantic_cache.store.base import TENANT

T = TypeVar("T")

_PAGE = 1_000


class EdgeShardHost:
    def __init__(
        self,
        collection: str,
        data_dir: str,
        config: Any,
        *,
        keyword_fields: Sequence[str],
        integer_fields: Sequence[str],
        thread_name: str,
    ) -> None:
        self._collection = collection
        self._data_dir = data_dir
        self._config = config
        self._keyword_fields = tuple(keyword_fields)
        self._integer_fields = tuple(integer_fields)
        self._thread_name = thread_name
        self._temporary_dir: str | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.shard: Any = None

    @property
    def temporary_folder(self) -> str | None:
        """The temporary folder the shard lives under (None with a DATA_DIR); removed on close."""
        return self._temporary_dir

    async def open(self) -> Path:
        """Open (or create) the shard; returns the folder it lives under."""
        if self._data_dir:
            root = Path(self._data_dir)
        else:
            self._temporary_dir = tempfile.mkdtemp(prefix=f"{self._thread_name}-")
            root = Path(self._temporary_dir)
        if self.shard is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._thread_name)
            self.shard = await self.run(lambda: self._open_shard(root / self._collection))
        return root

    def _open_shard(self, path: Path) -> Any:
        has_segments = path.is_dir() and any(path.iterdir())
        shard = edge.EdgeShard.load(str(path), self._config) if has_segments else None
        if shard is None:
            path.mkdir(parents=True, exist_ok=True)
            shard = edge.EdgeShard.create(str(path), self._config)
        # Creating an index that exists is a no-op, so this also upgrades older shards.
        shard.update(
            edge.UpdateOperation.create_field_index(TENANT, edge.KeywordIndexParams(is_tenant=True))
        )
        for name in self._keyword_fields:
            shard.update(
                edge.UpdateOperation.create_field_index(name, edge.PayloadSchemaType.Keyword)
            )
        for name in self._integer_fields:
            shard.update(
                edge.UpdateOperation.create_field_index(name, edge.PayloadSchemaType.Integer)
            )
        return shard

    async def close(self) -> None:
        shard, self.shard = self.shard, None
        if shard is not None:
            await self.run(lambda: (shard.flush(), shard.close()))
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._temporary_dir is not None:
            shutil.rmtree(self._temporary_dir, ignore_errors=True)
            self._temporary_dir = None

    async def run(self, call: Callable[[], T]) -> T:
        if self._executor is None:
            raise RuntimeError(f"the {self._collection} store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)


def delete_matching(shard: Any, condition: Any) -> int:
    """Delete what matches, counting exactly what was deleted (run it on the shard's thread)."""
    ids: list[Any] = []
    offset = None
    while True:
        records, offset = shard.scroll(
            edge.ScrollRequest(offset=offset, limit=_PAGE, filter=condition, with_payload=False)
        )
        ids.extend(r.id for r in records)
        if offset is None:
            break
    for start in range(0, len(ids), _PAGE):
        shard.update(edge.UpdateOperation.delete_points(ids[start : start + _PAGE]))
    return len(ids)
