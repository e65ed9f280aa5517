"""Async front end to an embedder: micro-batching, an LRU cache, and a thread of its own.

Concurrent lookups each need one embedding. Running the model once per request wastes most of
its time on per-call overhead, so requests that arrive within a short window are grouped into one
model call. The model runs on a single dedicated thread: onnxruntime releases the GIL, so the
event loop keeps serving while it computes, and one call at a time keeps its intra-op threads
from fighting over the same cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from opentelemetry import metrics

from tollgate.common.lru import LruCache
from tollgate.common.telemetry import COUNT_BUCKETS, seconds_histogram
from tollgate.semantic_cache.embedding.model import Embedder, Vectors

log = logging.getLogger("tollgate.semantic_cache.embedding")

Vector = npt.NDArray[np.float32]


@dataclass
class _Pending:
    text: str
    future: asyncio.Future[Vector]


@dataclass
class BatchingStats:
    model_calls: int = 0
    texts_embedded: int = 0
    largest_batch: int = 0


class BatchingEmbedder:
    """Embeds texts for many concurrent callers, batching and caching on their behalf."""

    def __init__(
        self,
        embedder: Embedder,
        *,
        max_batch: int = 32,
        max_wait_ms: float = 2.0,
        cache_size: int = 10_000,
    ) -> None:
        self._embedder = embedder
        self._max_batch = max_batch
        self._max_wait = max_wait_ms / 1000
        self._cache: LruCache[str, Vector] = LruCache(cache_size)
        # Token counts by text: a store counts the question its lookup counted moments before,
        # and tokenizing costs more than the rest of deciding eligibility (~70 us a question).
        self._token_counts: LruCache[str, int] = LruCache(cache_size)
        # The same text asked for twice before its batch runs is embedded once.
        self._in_flight: dict[str, asyncio.Future[Vector]] = {}
        self._queue: asyncio.Queue[_Pending] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.stats = BatchingStats()
        meter = metrics.get_meter("tollgate")
        self._batch_size = meter.create_histogram(
            "tollgate_semantic_embedding_batch_size",
            description="Texts per model call",
            explicit_bucket_boundaries_advisory=COUNT_BUCKETS,
        )
        self._model_seconds = seconds_histogram(
            meter, "tollgate_semantic_embedding_seconds", "Time per model call"
        )

    @property
    def model_name(self) -> str:
        return self._embedder.name

    @property
    def dimension(self) -> int:
        return self._embedder.dimension

    @property
    def cache(self) -> LruCache[str, Vector]:
        return self._cache

    def count_tokens(self, text: str) -> int:
        count = self._token_counts.get(text)
        if count is None:
            count = self._embedder.count_tokens(text)
            self._token_counts.put(text, count)
        return count

    async def start(self) -> None:
        if self._worker is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedder")
        self._queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._run(), name="embedding-batcher")

    async def stop(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        if self._queue is not None:
            while not self._queue.empty():
                pending = self._queue.get_nowait()
                if not pending.future.done():
                    pending.future.set_exception(RuntimeError("embedder stopped"))
        self._in_flight.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def embed(self, text: str) -> Vector:
        """The embedding of `text` (a read-only float32 vector)."""
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        joined = self._in_flight.get(text)
        if joined is not None:
            return await asyncio.shield(joined)
        await self.start()
        assert self._queue is not None
        future: asyncio.Future[Vector] = asyncio.get_running_loop().create_future()
        self._in_flight[text] = future
        self._queue.put_nowait(_Pending(text, future))
        # Shielded: a cancelled caller must not cancel the result other callers share.
        return await asyncio.shield(future)

    async def embed_many(self, texts: Sequence[str]) -> list[Vector]:
        return list(await asyncio.gather(*(self.embed(t) for t in texts)))

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            deadline = time.monotonic() + self._max_wait
            while len(batch) < self._max_batch:
                if self._queue.empty():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                    except TimeoutError:
                        break
                else:
                    batch.append(self._queue.get_nowait())
            try:
                await self._embed_batch(batch)
            except asyncio.CancelledError:
                # Stopping mid-batch: its callers get an error instead of waiting forever.
                self._fail(batch, RuntimeError("embedder stopped"))
                raise

    def _fail(self, batch: list[_Pending], error: BaseException) -> None:
        for pending in batch:
            self._in_flight.pop(pending.text, None)
            if not pending.future.done():
                pending.future.set_exception(error)

    async def _embed_batch(self, batch: list[_Pending]) -> None:
        texts = [p.text for p in batch]
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            vectors: Vectors = await loop.run_in_executor(
                self._executor, self._embedder.embed, texts
            )
        except Exception as exc:
            log.exception("embedding failed", extra={"batch": len(batch)})
            self._fail(batch, exc)
            return
        self._model_seconds.record(time.perf_counter() - started)
        self._batch_size.record(len(batch))
        self.stats.model_calls += 1
        self.stats.texts_embedded += len(batch)
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
        for pending, row in zip(batch, vectors, strict=True):
            vector = row.copy()
            vector.setflags(write=False)
            self._cache.put(pending.text, vector)
            self._in_flight.pop(pending.text, None)
            if not pending.future.done():
                pending.future.set_result(vector)
