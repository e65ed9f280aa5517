"""Static retrieval: when the full model runs, and what a static search may and may not decide."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tollgate.semantic_cache.cache import SemanticCache
from tollgate.semantic_cache.embedding.batcher import BatchingEmbedder
from tollgate.semantic_cache.embedding.model import ModelLoadError, OnnxEmbedder
from tollgate.semantic_cache.embedding.static import TABLE_FILE, StaticEmbedder
from tollgate.semantic_cache.retrieval import ModelRetrieval, StaticRetrieval
from tollgate.semantic_cache.service import build_retrieval
from tollgate.semantic_cache.settings import Settings

from .test_semantic_cache_lookup import AUSTIN, ask, remember

PARAPHRASE = "Find 3 bed houses in Austin below $500,000"


@pytest.fixture
async def batching(onnx_embedder: OnnxEmbedder) -> AsyncIterator[BatchingEmbedder]:
    embedder = BatchingEmbedder(onnx_embedder)
    await embedder.start()
    yield embedder
    await embedder.stop()


def full_similarity(model: OnnxEmbedder) -> float:
    """The full model's cosine similarity of PARAPHRASE and AUSTIN."""
    return float(np.dot(*model.embed([PARAPHRASE, AUSTIN])))


@pytest.fixture
def make_cache(
    settings: Settings,
    onnx_embedder: OnnxEmbedder,
    batching: BatchingEmbedder,
    open_store: Any,
    clock: Any,
) -> Callable[..., Awaitable[SemanticCache]]:
    """`await make_cache(**settings_changes)`: the cache with static retrieval over each store."""

    async def make(**changes: Any) -> SemanticCache:
        changed = settings.model_copy(update=changes)
        retrieval = await build_retrieval(changed, onnx_embedder, batching)
        assert isinstance(retrieval, StaticRetrieval)
        store = await open_store(retrieval.dimension)
        return SemanticCache(changed, batching, store, clock=clock, retrieval=retrieval)

    return make


async def test_a_miss_the_guard_decides_never_runs_the_model(
    make_cache: Any, batching: BatchingEmbedder, requests: Any
) -> None:
    cache = await make_cache()
    await remember(cache, requests, AUSTIN, "homes under 500k")
    result = await ask(cache, requests, "Show me 3-bedroom homes under $600k in Austin")
    assert not result.hit
    assert result.rejection == "unexplained difference: under 600000 vs under 500000"
    # Neither the store nor the lookup ran the model.
    assert batching.stats.texts_embedded == 0


async def test_a_hit_is_confirmed_by_one_model_call(
    make_cache: Any, batching: BatchingEmbedder, onnx_embedder: OnnxEmbedder, requests: Any
) -> None:
    cache = await make_cache()
    await remember(cache, requests, AUSTIN, "Here are 4 homes...")
    result = await ask(cache, requests, PARAPHRASE)
    assert result.hit
    # The full model's similarity, as the model-vector search would have measured it.
    expected = full_similarity(onnx_embedder)
    assert result.similarity == pytest.approx(expected, abs=1e-5)
    assert (batching.stats.model_calls, batching.stats.texts_embedded) == (1, 2)


async def test_a_candidate_the_guard_lets_through_still_needs_the_threshold(
    make_cache: Any, onnx_embedder: OnnxEmbedder, requests: Any
) -> None:
    cache = await make_cache()
    await remember(cache, requests, AUSTIN, "Here are 4 homes...")
    similarity = full_similarity(onnx_embedder)
    above = round(similarity + 0.005, 3)
    result = await ask(cache, requests, PARAPHRASE, min_similarity=above)
    assert not result.hit
    assert result.rejection == (f"similarity {similarity:.3f} is below the threshold {above:.3f}")


async def test_a_neighbour_under_the_static_floor_is_not_examined(
    make_cache: Any, batching: BatchingEmbedder, requests: Any
) -> None:
    cache = await make_cache(static_floor=0.9999)
    await remember(cache, requests, AUSTIN, "Here are 4 homes...")
    result = await ask(cache, requests, PARAPHRASE)
    assert (result.hit, result.matched_question, result.rejection) == (False, "", "")
    assert batching.stats.texts_embedded == 0
    assert (await ask(cache, requests, AUSTIN)).hit


async def test_the_static_table_is_used_only_for_its_own_model(
    settings: Settings, onnx_embedder: OnnxEmbedder, batching: BatchingEmbedder, tmp_path: Path
) -> None:
    assert isinstance(await build_retrieval(settings, onnx_embedder, batching), StaticRetrieval)
    by_model = settings.model_copy(update={"retrieval": "model"})
    assert isinstance(await build_retrieval(by_model, onnx_embedder, batching), ModelRetrieval)
    # A model folder without a table (a custom model) searches by the model's vectors.
    custom = tmp_path / "custom-model"
    custom.mkdir()
    for name in ("model.onnx", "tokenizer.json"):
        (custom / name).symlink_to(onnx_embedder.model_dir / name)
    other = settings.model_copy(update={"model_path": str(custom)})
    assert isinstance(await build_retrieval(other, onnx_embedder, batching), ModelRetrieval)


def test_a_damaged_table_is_refused(onnx_embedder: OnnxEmbedder, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("tokenizer.json", "SHA256SUMS"):
        shutil.copy(onnx_embedder.model_dir / name, folder / name)
    table = (onnx_embedder.model_dir / TABLE_FILE).read_bytes()
    (folder / TABLE_FILE).write_bytes(table[: len(table) // 2])
    with pytest.raises(ModelLoadError, match="does not match its checksum"):
        StaticEmbedder(folder)


def test_static_vectors_are_normalised_and_the_same_every_time(
    onnx_embedder: OnnxEmbedder,
) -> None:
    static = StaticEmbedder(onnx_embedder.model_dir)
    first, again = static.embed_one(PARAPHRASE), static.embed_one(PARAPHRASE)
    assert first.shape == (static.dimension,)
    assert float(np.linalg.norm(first)) == pytest.approx(1.0, abs=1e-5)
    assert np.array_equal(first, again)
    # Hostile input: a text of nothing but markup and control characters still gives a vector
    # the store accepts (no NaN), however long.
    hostile = static.embed_one("\x00\u202e" * 5000)
    assert np.isfinite(hostile).all()


async def test_one_tokenization_gives_the_models_token_count_and_the_truncated_vector(
    onnx_embedder: OnnxEmbedder, batching: BatchingEmbedder
) -> None:
    """Static retrieval counts a question's tokens (eligibility) from the tokenization its vector
    sums: the count is the full model's, and a question past the model's length gets the vector
    of its first tokens, as the model reads it."""
    static = StaticEmbedder(onnx_embedder.model_dir, max_tokens=16)
    retrieval = StaticRetrieval(static, batching)
    long = "three bedroom house near the lake with a garden " * 4
    for text in (PARAPHRASE, long, "déjà vu à Zürich", "\x00\u202e" * 50, "商店 お店"):
        assert retrieval.count_tokens(text) == onnx_embedder.count_tokens(text)
    # Truncated to [CLS] + 14 tokens + [SEP]: the same vector as those tokens' text alone.
    first_tokens = "three bedroom house near the lake with a garden three bedroom house near the"
    assert onnx_embedder.count_tokens(first_tokens) == 16
    assert np.array_equal(await retrieval.vector(long), static.embed_one(first_tokens))
    assert not np.array_equal(await retrieval.vector(long), static.embed_one(long[:20]))
