"""The embedding model and its batching front end, on the real ONNX model."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from tollgate.common.lru import LruCache
from tollgate.semantic_cache.embedding.batcher import BatchingEmbedder
from tollgate.semantic_cache.embedding.model import ModelLoadError, OnnxEmbedder


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


def test_vectors_are_unit_length_with_the_model_dimension(onnx_embedder: OnnxEmbedder) -> None:
    vectors = onnx_embedder.embed(["3-bed homes in Austin", "What is Sarah's budget?"])
    assert vectors.shape == (2, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), [1.0, 1.0], atol=1e-5)


def test_paraphrases_are_closer_than_unrelated_questions(onnx_embedder: OnnxEmbedder) -> None:
    question, paraphrase, unrelated = onnx_embedder.embed(
        [
            "Which rentals in Phoenix allow pets?",
            "Show me pet-friendly rentals in Phoenix",
            "Draft a follow-up email to Sarah Johnson about Friday's showing",
        ]
    )
    assert cosine(question, paraphrase) > 0.75
    assert cosine(question, unrelated) < 0.4
    assert cosine(question, paraphrase) > cosine(question, unrelated) + 0.3


def test_a_batch_gives_the_same_vectors_as_one_at_a_time(onnx_embedder: OnnxEmbedder) -> None:
    texts = [
        "Hi",
        "What are the HOA fees for 1420 Oak Street?",
        "Find 3 bed houses in Denver below $450,000 with a big backyard and a two-car garage",
    ]
    batched = onnx_embedder.embed(texts)
    for text, row in zip(texts, batched, strict=True):
        np.testing.assert_allclose(onnx_embedder.embed([text])[0], row, atol=1e-5)


def test_token_count_includes_special_tokens_and_is_not_truncated(
    onnx_embedder: OnnxEmbedder,
) -> None:
    assert onnx_embedder.count_tokens("hello world") == 4
    assert onnx_embedder.count_tokens("word " * 400) == 402


def test_model_name_identifies_folder_and_weights(onnx_embedder: OnnxEmbedder) -> None:
    assert onnx_embedder.name.startswith("all-minilm-l6-v2-")
    assert len(onnx_embedder.name.rsplit("-", 1)[1]) == 8


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="TOLLGATE_SEMANTIC_CACHE_MODEL_PATH"):
        OnnxEmbedder(tmp_path)


async def test_concurrent_requests_share_model_calls(onnx_embedder: OnnxEmbedder) -> None:
    batching = BatchingEmbedder(onnx_embedder, max_batch=16, max_wait_ms=20)
    await batching.start()
    try:
        texts = [f"Show me {n}-bedroom homes in Austin" for n in range(12)]
        vectors = await batching.embed_many(texts)
        assert batching.stats.texts_embedded == 12
        # Twelve requests arriving together need far fewer than twelve model calls.
        assert batching.stats.model_calls <= 3
        assert batching.stats.largest_batch >= 4
        for text, vector in zip(texts, vectors, strict=True):
            np.testing.assert_allclose(onnx_embedder.embed([text])[0], vector, atol=1e-5)
    finally:
        await batching.stop()


async def test_repeated_and_simultaneous_texts_are_embedded_once(
    onnx_embedder: OnnxEmbedder,
) -> None:
    batching = BatchingEmbedder(onnx_embedder, max_batch=8, max_wait_ms=5)
    try:
        same = await asyncio.gather(
            *(batching.embed("Is 12 Oak St pet-friendly?") for _ in range(5))
        )
        again = await batching.embed("Is 12 Oak St pet-friendly?")
        assert batching.stats.texts_embedded == 1
        assert batching.cache.hits >= 1
        for vector in [*same, again]:
            np.testing.assert_array_equal(vector, same[0])
        assert not same[0].flags.writeable
    finally:
        await batching.stop()


class _CountingEmbedder:
    """Counts the texts it is asked to tokenize; embeds nothing."""

    name = "counting"
    dimension = 2

    def __init__(self) -> None:
        self.counted: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.zeros((len(texts), 2), dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        self.counted.append(text)
        return len(text.split()) + 2


def test_token_counts_are_kept_by_text() -> None:
    # A store counts the question its lookup counted just before: tokenized once.
    model = _CountingEmbedder()
    batching = BatchingEmbedder(model)
    assert batching.count_tokens("rent per month") == 5
    assert batching.count_tokens("rent per month") == 5
    assert batching.count_tokens("rent per year here") == 6
    assert model.counted == ["rent per month", "rent per year here"]


def test_lru_keeps_the_most_recently_used() -> None:
    cache: LruCache[str, int] = LruCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert cache.get("b") is None
    assert cache.get("a") == 1
    assert cache.get("c") == 3
    assert len(cache) == 2


def test_the_shipped_int8_model_batches(onnx_embedder: OnnxEmbedder) -> None:
    # Its weights alone are int8 and it computes in float32: a text's vector does not depend on
    # its neighbours (test_a_batch_gives_the_same_vectors_as_one_at_a_time), so it may batch.
    assert onnx_embedder.batches
