"""Fixtures of the semantic cache tests: the real embedding model (loaded once), both vector
stores, and builders of requests and answers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from qdrant_client import AsyncQdrantClient

from tollgate.common.testing import serving
from tollgate.semantic_cache.cache import SemanticCache
from tollgate.semantic_cache.embedding.batcher import BatchingEmbedder
from tollgate.semantic_cache.embedding.model import OnnxEmbedder
from tollgate.semantic_cache.embedding.static import StaticEmbedder
from tollgate.semantic_cache.service import build_retrieval, build_service
from tollgate.semantic_cache.settings import Settings
from tollgate.semantic_cache.store.base import VectorStore, collection_name
from tollgate.semantic_cache.store.edge import EdgeVectorStore
from tollgate.semantic_cache.store.remote import QdrantVectorStore
from tollgate.semantic_cache.verification.store import VerdictStore
from tollgate.v1 import common_pb2, semantic_cache_pb2_grpc


@pytest.fixture(scope="session")
def onnx_embedder() -> OnnxEmbedder:
    settings = Settings()
    return OnnxEmbedder(settings.resolved_model_path(), max_tokens=256, threads=2)


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    return Settings(host="127.0.0.1", port=0, data_dir=str(tmp_path / "vectors"))


def make_store(kind: str, dimension: int, data_dir: str) -> VectorStore:
    collection = collection_name("test_semantic", "model", dimension)
    if kind == "edge":
        return EdgeVectorStore(collection, dimension, data_dir)
    return QdrantVectorStore(AsyncQdrantClient(location=":memory:"), collection, dimension)


@pytest.fixture(scope="session")
def static_dimension(onnx_embedder: OnnxEmbedder) -> int:
    """The length of the shipped static retrieval vectors (what the service stores)."""
    return StaticEmbedder(onnx_embedder.model_dir).dimension


@pytest.fixture(params=["edge", "qdrant-local"])
def store_kind(request: pytest.FixtureRequest) -> str:
    """Each store test runs against the in-process engine and qdrant-client's local mode."""
    return str(request.param)


@pytest.fixture
async def open_store(store_kind: str, tmp_path: Any) -> AsyncIterator[Any]:
    """`await open_store(dimension)`: a store of this test's kind, closed after the test."""
    opened: list[VectorStore] = []

    async def open_one(dimension: int) -> VectorStore:
        store = make_store(store_kind, dimension, str(tmp_path / f"edge-{len(opened)}"))
        await store.open()
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        await store.close()


@pytest.fixture
async def vector_store(open_store: Any, onnx_embedder: OnnxEmbedder) -> VectorStore:
    """A store for the model's own vectors."""
    return await open_store(onnx_embedder.dimension)  # type: ignore[no-any-return]


class FakeClock:
    """Time that moves only when a test says so."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["static", "model"])
async def semantic_cache(
    request: pytest.FixtureRequest,
    settings: Settings,
    onnx_embedder: OnnxEmbedder,
    open_store: Any,
    clock: FakeClock,
) -> AsyncIterator[SemanticCache]:
    """The cache core over each store and each way of retrieval, with a fake clock."""
    settings = settings.model_copy(update={"retrieval": request.param})
    batching = BatchingEmbedder(onnx_embedder)
    await batching.start()
    retrieval = await build_retrieval(settings, onnx_embedder, batching)
    store = await open_store(retrieval.dimension)
    yield SemanticCache(settings, batching, store, clock=clock, retrieval=retrieval)
    await batching.stop()


@dataclass
class Requests:
    """Builders of requests, contexts and answers as the gateway sends them."""

    model: str = "claude-sonnet-4-5"
    system: str = "You are the assistant of a real-estate CRM."
    counter: list[int] = field(default_factory=lambda: [0])

    def context(
        self,
        tenant: str = "tenant-a",
        task: int = common_pb2.TASK_TYPE_CHAT,
        conversation_id: str = "",
    ) -> common_pb2.RequestContext:
        self.counter[0] += 1
        return common_pb2.RequestContext(
            tenant_id=tenant,
            request_id=f"req_{self.counter[0]}",
            task=task,
            conversation_id=conversation_id,
        )

    def question(
        self,
        text: str,
        *,
        history: tuple[tuple[int, str], ...] = (),
        max_tokens: int = 1024,
        system: str | None = None,
        model: str | None = None,
    ) -> common_pb2.ClaudeRequest:
        messages = [common_pb2.Message(role=role, content=[_text(turn)]) for role, turn in history]
        messages.append(common_pb2.Message(role=common_pb2.ROLE_USER, content=[_text(text)]))
        return common_pb2.ClaudeRequest(
            model=self.model if model is None else model,
            system=[_text(self.system if system is None else system)],
            messages=messages,
            max_tokens=max_tokens,
        )

    def answer(
        self,
        text: str,
        *,
        output_tokens: int = 40,
        stop: int = common_pb2.STOP_REASON_END_TURN,
    ) -> common_pb2.ClaudeResponse:
        self.counter[0] += 1
        return common_pb2.ClaudeResponse(
            id=f"msg_{self.counter[0]}",
            model=self.model,
            content=[_text(text)],
            stop_reason=stop,
            usage=common_pb2.Usage(input_tokens=120, output_tokens=output_tokens),
        )


def _text(text: str) -> common_pb2.ContentBlock:
    return common_pb2.ContentBlock(text=common_pb2.TextBlock(text=text))


@pytest.fixture
def requests() -> Requests:
    return Requests()


@dataclass
class RunningCache:
    stub: semantic_cache_pb2_grpc.SemanticCacheServiceStub
    settings: Settings


@contextlib.asynccontextmanager
async def running_cache(
    settings: Settings,
    embedder: OnnxEmbedder,
    store: VectorStore | None = None,
    verdicts: VerdictStore | None = None,
) -> AsyncIterator[RunningCache]:
    service = await build_service(settings, embedder=embedder, store=store, verdicts=verdicts)
    async with (
        serving(service, settings) as running,
        grpc.aio.insecure_channel(running.address) as channel,
    ):
        yield RunningCache(semantic_cache_pb2_grpc.SemanticCacheServiceStub(channel), settings)


@pytest.fixture
def start_cache(onnx_embedder: OnnxEmbedder) -> Any:
    """`async with start_cache(settings[, store, verdicts]) as cache:` runs the gRPC service
    in-process."""

    def start(
        settings: Settings, store: VectorStore | None = None, verdicts: VerdictStore | None = None
    ) -> Any:
        return running_cache(settings, onnx_embedder, store, verdicts)

    return start
