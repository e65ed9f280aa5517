"""The semantic cache gRPC service: wires the embedder, vector store, cache and sweep."""

from __future__ import annotations

import asyncio
import logging

from tollgate.common.server import GrpcService, Registration
from tollgate.semantic_cache.cache import SemanticCache
from tollgate.semantic_cache.embedding.batcher import BatchingEmbedder
from tollgate.semantic_cache.embedding.model import Embedder, OnnxEmbedder
from tollgate.semantic_cache.servicer import SemanticCacheServicer
from tollgate.semantic_cache.settings import Settings
from tollgate.semantic_cache.store.base import VectorStore
from tollgate.semantic_cache.store.factory import build_store
from tollgate.semantic_cache.sweeper import Sweeper
from tollgate.v1 import semantic_cache_pb2, semantic_cache_pb2_grpc

log = logging.getLogger("tollgate.semantic_cache")

SERVICE_NAME = semantic_cache_pb2.DESCRIPTOR.services_by_name["SemanticCacheService"].full_name


async def load_embedder(settings: Settings) -> OnnxEmbedder:
    """Load the ONNX model off the event loop (reading and hashing ~90 MB takes a moment)."""
    return await asyncio.to_thread(
        OnnxEmbedder,
        settings.resolved_model_path(),
        max_tokens=settings.model_max_tokens,
        threads=settings.onnx_threads,
    )


async def build_service(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    store: VectorStore | None = None,
) -> GrpcService:
    """The service; `embedder` and `store` replace the configured ones (tests share a model)."""
    model = embedder or await load_embedder(settings)
    batching = BatchingEmbedder(
        model,
        max_batch=settings.embed_max_batch,
        max_wait_ms=settings.embed_batch_wait_ms,
        cache_size=settings.embed_cache_size,
    )
    vectors = store or build_store(settings, model.name, model.dimension)
    cache = SemanticCache(settings, batching, vectors)
    sweeper = Sweeper(cache, settings.sweep_interval_seconds)

    async def open_resources() -> None:
        await vectors.open()
        await batching.start()
        await sweeper.start()
        log.info(
            "semantic cache ready",
            extra={"model": model.name, "collection": vectors.collection},
        )

    async def close_resources() -> None:
        await sweeper.stop()
        await batching.stop()
        await vectors.close()

    servicer = SemanticCacheServicer(settings, cache)
    registration = Registration(
        SERVICE_NAME, semantic_cache_pb2_grpc.add_SemanticCacheServiceServicer_to_server, servicer
    )
    return GrpcService(
        "semantic-cache", [registration], on_start=[open_resources], on_stop=[close_resources]
    )
