"""Semantic cache speed: lookup latency on a full in-process store, and embedding throughput.

    uv run python -m bench.semantic_lookup [--sizes 10000,100000] [--queries 200]

Lookup: the in-process engine (qdrant-edge) is filled with N entries — random unit vectors, so
filling stays quick, with realistic payloads (question, ~1 kB answer, tags) — and then answers
`--queries` lookups through SemanticCache.lookup: eligibility, embedding the question for real
(the embedding cache is off, every question is new), the filtered search, and the guard on the
candidates. Two layouts: all N entries in the one tenant and scope being searched (the worst
case: the search scores every entry), and N spread over 100 tenants. Latency is reported as p50
and p99, beside the search alone and the embedding alone (measured interleaved with the
lookups), and as a ratio to embedding alone.

Embedding throughput: the same questions embedded one at a time (baseline), through the
micro-batcher with all requests in flight at once, and as explicit batches of 32.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np

from bench.progress import phase
from tollgate.semantic_cache.cache import SemanticCache
from tollgate.semantic_cache.eligibility import EligibilityPolicy, Question
from tollgate.semantic_cache.embedding.batcher import BatchingEmbedder
from tollgate.semantic_cache.embedding.model import OnnxEmbedder
from tollgate.semantic_cache.settings import Settings
from tollgate.semantic_cache.store.base import CacheEntry, SearchQuery, collection_name
from tollgate.semantic_cache.store.edge import EdgeVectorStore
from tollgate.v1 import common_pb2

CITIES = ["Austin", "Dallas", "Denver", "Phoenix", "Tampa", "Raleigh", "Boise", "Nashville"]
LEADS = ["Sarah Johnson", "Michael Chen", "Priya Patel", "David Okafor", "Emily Rodriguez"]
STREETS = ["Oak Street", "Maple Avenue", "Cedar Lane", "Willow Road", "Birch Street"]
TEMPLATES = [
    "Show me {beds}-bedroom homes under ${price}k in {city}",
    "What are the HOA fees for {number} {street}?",
    "Draft a follow-up email to {lead} about the showing at {number} {street}",
    "What was the median sale price in {city} last {period}?",
    "Is {number} {street} pet-friendly?",
    "Which of my leads in {city} are most likely to buy this {period}?",
    "How much is {lead} looking to spend on a {beds}-bed home?",
]
INSERT_BATCH = 2_000


def questions(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < count:
        out.add(
            rng.choice(TEMPLATES).format(
                beds=rng.randint(1, 6),
                price=rng.randrange(250, 1500, 25),
                city=rng.choice(CITIES),
                number=rng.randint(10, 9999),
                street=rng.choice(STREETS),
                lead=rng.choice(LEADS),
                period=rng.choice(["week", "month", "quarter", "year"]),
            )
        )
    return sorted(out)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class LookupFigures:
    entries: int
    layout: str
    p50_ms: float
    p99_ms: float
    search_p50_ms: float
    embed_p50_ms: float


def request_for(question: str) -> common_pb2.ClaudeRequest:
    return common_pb2.ClaudeRequest(
        model="claude-sonnet-4-5",
        system=[common_pb2.ContentBlock(text=common_pb2.TextBlock(text="CRM assistant."))],
        messages=[
            common_pb2.Message(
                role=common_pb2.ROLE_USER,
                content=[common_pb2.ContentBlock(text=common_pb2.TextBlock(text=question))],
            )
        ],
        max_tokens=1024,
    )


async def fill(
    store: EdgeVectorStore, entries: int, tenants: int, scope_question: Question, dimension: int
) -> None:
    rng = np.random.default_rng(7)
    answer = common_pb2.ClaudeResponse(
        id="msg_bench",
        content=[common_pb2.ContentBlock(text=common_pb2.TextBlock(text="x" * 700))],
        stop_reason=common_pb2.STOP_REASON_END_TURN,
        usage=common_pb2.Usage(input_tokens=300, output_tokens=180),
    ).SerializeToString()
    now_ms = int(time.time() * 1000)
    for start in range(0, entries, INSERT_BATCH):
        size = min(INSERT_BATCH, entries - start)
        vectors = rng.standard_normal((size, dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        batch = [
            CacheEntry(
                id=str(uuid.uuid4()),
                tenant=f"tenant-{(start + n) % tenants}",
                scope=scope_question.scope,
                question=f"stored question number {start + n} about a listing",
                answer=answer,
                tags=("market:austin", f"listing:{start + n}"),
                created_at_ms=now_ms,
                expires_at_ms=now_ms + 86_400_000,
                input_tokens=300,
                output_tokens=180,
                cache_read_input_tokens=0,
                cache_creation_input_tokens=0,
                embedding_model="bench",
            )
            for n in range(size)
        ]
        await store.upsert_many(batch, vectors)


async def measure_lookups(
    embedder: OnnxEmbedder, entries: int, tenants: int, queries: list[str]
) -> LookupFigures:
    settings = Settings()
    batching = BatchingEmbedder(embedder, cache_size=0, max_wait_ms=0)
    policy = EligibilityPolicy(count_tokens=embedder.count_tokens, max_tokens=256)
    probe = policy.evaluate(common_pb2.RequestContext(tenant_id="tenant-0"), request_for("q"), "")
    assert isinstance(probe, Question)
    with tempfile.TemporaryDirectory(prefix="bench-semantic-") as folder:
        store = EdgeVectorStore(
            collection_name("bench", embedder.name, embedder.dimension),
            embedder.dimension,
            folder,
        )
        await store.open()
        await fill(store, entries, tenants, probe, embedder.dimension)
        cache = SemanticCache(settings, batching, store)
        await batching.start()
        context = common_pb2.RequestContext(tenant_id="tenant-0")
        search = SearchQuery("tenant-0", probe.scope.key(), int(time.time() * 1000), 1024, 5)
        for question in queries[:10]:  # warm-up
            await cache.lookup(context, request_for(question + " (warm-up)"), "")
        totals, searches, embeds = [], [], []
        # Interleaved, so a busy moment of the machine weighs on every column alike.
        for question in queries:
            started = time.perf_counter()
            vector = embedder.embed([question + "?"])[0]
            embeds.append(time.perf_counter() - started)
            started = time.perf_counter()
            await store.search(vector, search)
            searches.append(time.perf_counter() - started)
            started = time.perf_counter()
            await cache.lookup(context, request_for(question), "")
            totals.append(time.perf_counter() - started)
        await batching.stop()
        await store.close()
    layout = "1 tenant (scan all)" if tenants == 1 else f"{tenants} tenants"
    return LookupFigures(
        entries,
        layout,
        percentile(totals, 0.50) * 1000,
        percentile(totals, 0.99) * 1000,
        statistics.median(searches) * 1000,
        statistics.median(embeds) * 1000,
    )


async def throughput(embedder: OnnxEmbedder, texts: list[str]) -> list[tuple[str, float]]:
    async def one_at_a_time() -> None:
        for text in texts:
            embedder.embed([text])

    async def micro_batched() -> None:
        batching = BatchingEmbedder(embedder, cache_size=0, max_batch=32, max_wait_ms=2)
        await batching.start()
        await batching.embed_many(texts)
        await batching.stop()

    async def explicit_batches() -> None:
        for start in range(0, len(texts), 32):
            embedder.embed(texts[start : start + 32])

    runs: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("one at a time (baseline)", one_at_a_time),
        ("micro-batcher, all requests concurrent", micro_batched),
        ("explicit batches of 32", explicit_batches),
    ]
    out = []
    for name, run in runs:
        started = time.perf_counter()
        await run()
        out.append((name, len(texts) / (time.perf_counter() - started)))
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--texts", type=int, default=512)
    args = parser.parse_args()
    settings = Settings()
    embedder = OnnxEmbedder(
        settings.resolved_model_path(), max_tokens=256, threads=settings.onnx_threads
    )
    print(
        f"Semantic cache speed — model {embedder.name}, onnxruntime threads "
        f"{settings.onnx_threads}, {os.cpu_count()} CPUs\n"
    )

    phase("embedding throughput ...")
    texts = questions(args.texts, seed=1)
    embedder.embed(texts[:8])  # warm-up
    rates = await throughput(embedder, texts)
    baseline = rates[0][1]
    print(f"Embedding throughput ({len(texts)} distinct CRM questions):\n")
    print("| mode | questions/s | x one at a time |")
    print("|:---|---:|---:|")
    for name, rate in rates:
        print(f"| {name} | {rate:,.0f} | {rate / baseline:.2f} |")

    print(
        f"\nLookup latency ({args.queries} lookups each, sequential; embedding + search + guard):\n"
    )
    print(
        "| entries | layout | lookup p50 ms | lookup p99 ms | search alone p50 ms "
        "| embedding alone p50 ms | lookup p50 x embedding |"
    )
    print("|---:|:---|---:|---:|---:|---:|---:|")
    queries = questions(args.queries, seed=2)
    for size in (int(s) for s in args.sizes.split(",")):
        for tenants in (1, 100):
            phase(f"lookup latency: {size:,} entries, {tenants} tenant(s) ...")
            figures = await measure_lookups(embedder, size, tenants, queries)
            print(
                f"| {figures.entries:,} | {figures.layout} | {figures.p50_ms:.2f} | "
                f"{figures.p99_ms:.2f} | {figures.search_p50_ms:.2f} | "
                f"{figures.embed_p50_ms:.2f} | "
                f"{figures.p50_ms / figures.embed_p50_ms:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    asyncio.run(main())
