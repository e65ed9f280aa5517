"""The semantic cache gRPC service: wires the embedder, vector store, cache and sweep."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from tollgate.common.server import GrpcService, Registration
from tollgate.semantic_cache.cache import SemanticCache
from tollgate.semantic_cache.embedding.batcher import BatchingEmbedder
from tollgate.semantic_cache.embedding.model import Embedder, OnnxEmbedder
from tollgate.semantic_cache.embedding.static import TABLE_FILE, StaticEmbedder
from tollgate.semantic_cache.guard import NearMissGuard, model_vocabulary
from tollgate.semantic_cache.guard.lexicon import Lexicon, load_lexicon
from tollgate.semantic_cache.retrieval import ModelRetrieval, Retrieval, StaticRetrieval
from tollgate.semantic_cache.servicer import SemanticCacheServicer
from tollgate.semantic_cache.settings import Settings
from tollgate.semantic_cache.store.base import VectorStore
from tollgate.semantic_cache.store.factory import build_store, build_verdict_store
from tollgate.semantic_cache.sweeper import Sweeper
from tollgate.semantic_cache.verification.precision import PrecisionMonitor, PrecisionPolicy
from tollgate.semantic_cache.verification.store import VerdictStore
from tollgate.semantic_cache.verification.verifier import Verifier
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


async def build_retrieval(
    settings: Settings, model: Embedder, batching: BatchingEmbedder
) -> Retrieval:
    """Static retrieval when configured and the model's folder has its table; else the model's
    own vectors (a table confirms nothing for another model than the one it was made from)."""
    model_dir = settings.resolved_model_path().resolve()
    own_model = isinstance(model, OnnxEmbedder) and model.model_dir == model_dir
    if settings.retrieval == "model" or not own_model or not (model_dir / TABLE_FILE).is_file():
        return ModelRetrieval(batching)
    static = await asyncio.to_thread(
        StaticEmbedder, model_dir, max_tokens=settings.model_max_tokens
    )
    return StaticRetrieval(static, batching, cache_size=settings.embed_cache_size)


@dataclass(frozen=True)
class CacheCore:
    """The semantic cache and what it runs on, free of gRPC. Whoever uses it opens the store
    and starts the embedder first (`VectorStore.open`, `BatchingEmbedder.start`)."""

    cache: SemanticCache
    embedder: BatchingEmbedder
    retrieval: Retrieval
    store: VectorStore
    lexicon: Lexicon


async def build_cache(
    settings: Settings,
    model: Embedder,
    *,
    store: VectorStore | None = None,
    precision: PrecisionMonitor | None = None,
) -> CacheCore:
    """The cache as the service runs it (the service's own wiring; benchmarks measure this);
    `store` replaces the configured store, and without `precision` nothing is shadowed or
    verified."""
    batching = BatchingEmbedder(
        model,
        max_batch=settings.embed_max_batch,
        max_wait_ms=settings.embed_batch_wait_ms,
        cache_size=settings.embed_cache_size,
    )
    retrieval = await build_retrieval(settings, model, batching)
    vectors = store or build_store(settings, retrieval.vector_name, retrieval.dimension)
    lexicon = load_lexicon()
    guard = NearMissGuard(model_vocabulary(settings.resolved_model_path()), lexicon)
    cache = SemanticCache(
        settings, batching, vectors, guard=guard, precision=precision, retrieval=retrieval
    )
    return CacheCore(cache, batching, retrieval, vectors, lexicon)


async def build_service(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    store: VectorStore | None = None,
    verdicts: VerdictStore | None = None,
) -> GrpcService:
    """The service; `embedder`, `store` and `verdicts` replace the configured ones (tests share
    a model, or a store between two instances to play two replicas)."""
    model = embedder or await load_embedder(settings)
    verdict_store = verdicts or build_verdict_store(settings)
    monitor = PrecisionMonitor(
        verdict_store,
        PrecisionPolicy(
            default_floor=settings.precision_floor,
            tenant_floors=settings.tenant_precision_floors,
            confidence=settings.precision_confidence,
            window_seconds=settings.precision_window_days * 86_400,
        ),
        refresh_seconds=settings.precision_refresh_seconds,
    )
    core = await build_cache(settings, model, store=store, precision=monitor)
    cache, batching, vectors, retrieval = core.cache, core.embedder, core.store, core.retrieval
    verifier = Verifier(batching, monitor, core.lexicon, settings.answer_min_similarity)
    sweeper = Sweeper(cache, settings.sweep_interval_seconds, monitor)

    async def open_resources() -> None:
        await vectors.open()
        await verdict_store.open()
        await batching.start()
        await sweeper.start()
        log.info(
            "semantic cache ready",
            extra={
                "model": model.name,
                "retrieval": retrieval.vector_name,
                "collection": vectors.collection,
            },
        )

    async def close_resources() -> None:
        await sweeper.stop()
        await batching.stop()
        await verdict_store.close()
        await vectors.close()

    servicer = SemanticCacheServicer(settings, cache, verifier)
    registration = Registration(
        SERVICE_NAME, semantic_cache_pb2_grpc.add_SemanticCacheServiceServicer_to_server, servicer
    )
    return GrpcService(
        "semantic-cache", [registration], on_start=[open_resources], on_stop=[close_resources]
    )
