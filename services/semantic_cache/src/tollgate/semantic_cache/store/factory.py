"""Picks the vector store the settings ask for."""

from __future__ import annotations

from qdrant_client import AsyncQdrantClient

from tollgate.semantic_cache.settings import Settings
from tollgate.semantic_cache.store.base import VectorStore, collection_name
from tollgate.semantic_cache.store.edge import EdgeVectorStore
from tollgate.semantic_cache.verification.store import (
    EdgeVerdictStore,
    QdrantVerdictStore,
    VerdictStore,
)


def _client(settings: Settings) -> AsyncQdrantClient:
    api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
    return AsyncQdrantClient(
        url=settings.qdrant_url,
        api_key=api_key,
        timeout=max(1, round(settings.qdrant_timeout_seconds)),
        # The version check is a blocking request inside the constructor; opening the
        # store (collection_exists) tells soon enough whether the server answers.
        check_compatibility=False,
    )


def build_store(settings: Settings, model_name: str, dimension: int) -> VectorStore:
    """A Qdrant server when TOLLGATE_SEMANTIC_CACHE_QDRANT_URL is set, else in-process."""
    collection = collection_name(settings.collection_prefix, model_name, dimension)
    if settings.qdrant_url:
        from tollgate.semantic_cache.store.remote import QdrantVectorStore

        return QdrantVectorStore(_client(settings), collection, dimension)
    return EdgeVectorStore(
        collection,
        dimension,
        settings.data_dir,
        compact_after_deletes=settings.edge_compact_after_deletes,
    )


def build_verdict_store(settings: Settings) -> VerdictStore:
    """Verdicts beside the entries: the same Qdrant server, or the same DATA_DIR in-process."""
    collection = f"{settings.collection_prefix}__verdicts"
    if settings.qdrant_url:
        return QdrantVerdictStore(_client(settings), collection)
    return EdgeVerdictStore(collection, settings.data_dir)
