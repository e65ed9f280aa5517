"""The cache's decisions, end to end through the real model and each vector store (time is a
fake clock, so expiry is exact)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tollgate.semantic_cache.cache import SemanticCache
from tollgate.semantic_cache.embedding.batcher import BatchingEmbedder
from tollgate.semantic_cache.settings import Settings
from tollgate.semantic_cache.store.base import VectorStore
from tollgate.v1 import common_pb2

USER, ASSISTANT = common_pb2.ROLE_USER, common_pb2.ROLE_ASSISTANT
AUSTIN = "Show me 3-bedroom homes under $500k in Austin"


async def remember(
    cache: SemanticCache, requests: Any, question: str, answer: str, **options: Any
) -> common_pb2.ClaudeResponse:
    tenant = options.pop("tenant", "tenant-a")
    ttl = options.pop("ttl", 0.0)
    tags = options.pop("tags", [])
    history = options.pop("history", ())
    response = requests.answer(answer, **options)
    result = await cache.store(
        requests.context(tenant),
        requests.question(question, history=history),
        "v1",
        response,
        ttl,
        tags,
    )
    assert result.stored, result.reason
    return response


async def ask(cache: SemanticCache, requests: Any, question: str, **options: Any) -> Any:
    tenant = options.pop("tenant", "tenant-a")
    history = options.pop("history", ())
    max_tokens = options.pop("max_tokens", 1024)
    min_similarity = options.pop("min_similarity", 0.0)
    return await cache.lookup(
        requests.context(tenant),
        requests.question(question, history=history, max_tokens=max_tokens),
        "v1",
        min_similarity,
    )


async def test_a_paraphrase_is_answered_from_the_cache(
    semantic_cache: SemanticCache, requests: Any
) -> None:
    stored = await remember(semantic_cache, requests, AUSTIN, "Here are 4 homes...")
    result = await ask(semantic_cache, requests, "Find 3 bed houses in Austin below $500,000")
    assert result.eligible
    assert result.hit
    assert result.response == stored
    assert result.matched_question == AUSTIN
    assert result.threshold == 0.75
    assert 0.75 <= result.similarity < 1.0
    assert result.rejection == ""


async def test_identical_questions_of_two_tenants_never_share(
    semantic_cache: SemanticCache, requests: Any
) -> None:
    await remember(semantic_cache, requests, AUSTIN, "tenant A's answer", tenant="tenant-a")
    other = await ask(semantic_cache, requests, AUSTIN, tenant="tenant-b")
    assert other.eligible
    assert not other.hit
    assert other.response is None
    assert other.matched_question == ""
    mine = await ask(semantic_cache, requests, AUSTIN, tenant="tenant-a")
    assert mine.hit
    assert mine.response.content[0].text.text == "tenant A's answer"


async def test_a_near_miss_is_refused_with_the_reason(
    semantic_cache: SemanticCache, requests: Any
) -> None:
    await remember(semantic_cache, requests, AUSTIN, "homes under 500k")
    result = await ask(semantic_cache, requests, "Show me 3-bedroom homes under $600k in Austin")
    assert result.eligible
    assert not result.hit
    # Searched by the model's own vectors, the refused candidate's similarity is the model's; a
    # static search's is on another scale, and the guard refused before the model ran.
    final = semantic_cache.retrieval.search_similarity_is_final
    assert result.similarity > 0.9 if final else result.similarity == 0.0
    assert result.matched_question == AUSTIN
    assert result.rejection == "unexplained difference: under 600000 vs under 500000"
    counters, _ = await semantic_cache.stats("tenant-a")
    assert (counters.misses, counters.rejected_near_misses, counters.hits) == (1, 1, 0)


async def test_the_true_match_is_found_behind_a_closer_near_miss(
    semantic_cache: SemanticCache, requests: Any
) -> None:
    await remember(semantic_cache, requests, AUSTIN, "homes under 500k")
    await remember(
        semantic_cache,
        requests,
        "Any three-bedroom houses in Austin under $600,000?",
        "homes under 600k",
    )
    result = await ask(semantic_cache, requests, "Show me 3-bedroom homes under $600k in Austin")
    assert result.hit
    assert result.response.content[0].text.text == "homes under 600k"


async def test_follow_ups_never_hit_across_conversations(
    semantic_cache: SemanticCache, requests: Any
) -> None:
    austin = ((USER, "Show me condos in Austin"), (ASSISTANT, "1. 12 Oak St\n2. 40 Elm St"))
    dallas = ((USER, "Show me condos in Dallas"), (ASSISTANT, "1. 9 Main St\n2. 3 Pine St"))
    await remember(
        semantic_cache, requests, "What about the second one?", "40 Elm St is...", history=austin
    )
    elsewhere = await ask(semantic_cache, requests, "What about the second one?", history=dallas)
    assert elsewhere.eligible
    assert not elsewhere.hit
    assert elsewhere.matched_question == ""
    standalone = await ask(semantic_cache, requests, "What about the second one?")
    assert not standalone.hit
    assert standalone.matched_question == ""
    same = await ask(semantic_cache, requests, "what about the second one", history=austin)
    assert same.hit
    assert same.response.content[0].text.text == "40 Elm St is..."


async def test_entries_expire_and_are_purged(
    semantic_cache: SemanticCache, requests: Any, clock: Any
) -> None:
    await remember(semantic_cache, requests, AUSTIN, "fresh", ttl=60)
    clock.advance(59)
    assert (await ask(semantic_cache, requests, AUSTIN)).hit
    clock.advance(1)
    expired = await ask(semantic_cache, requests, AUSTIN)
    assert expired.eligible
    assert not expired.hit
    assert expired.matched_question == ""
    assert (await semantic_cache.stats("tenant-a"))[1] == 0
    assert await semantic_cache.purge_expired() == 1
    assert await semantic_cache.purge_expired() == 0


async def test_default_and_maximum_ttl_apply(
    settings: Settings, semantic_cache: SemanticCache, requests: Any, clock: Any
) -> None:
    now_ms = int(clock.now * 1000)
    default = await semantic_cache.store(
        requests.context(), requests.question(AUSTIN), "v1", requests.answer("a"), 0, []
    )
    assert default.expires_at_ms == now_ms + settings.default_ttl_seconds * 1000
    capped = await semantic_cache.store(
        requests.context(),
        requests.question("Is 12 Oak St pet-friendly?"),
        "v1",
        requests.answer("b"),
        10 * settings.max_ttl_seconds,
        [],
    )
    assert capped.expires_at_ms == now_ms + settings.max_ttl_seconds * 1000


async def test_invalidation_by_tag_and_by_tenant(
    semantic_cache: SemanticCache, requests: Any
) -> None:
    await remember(semantic_cache, requests, AUSTIN, "a", tags=["market:austin"])
    await remember(semantic_cache, requests, "Is 12 Oak St pet-friendly?", "b", tags=["listing:12"])
    await remember(
        semantic_cache, requests, AUSTIN, "other tenant", tenant="tenant-b", tags=["market:austin"]
    )
    assert await semantic_cache.invalidate("tenant-a", ["market:austin"]) == 1
    assert not (await ask(semantic_cache, requests, AUSTIN)).hit
    assert (await ask(semantic_cache, requests, "Is 12 Oak St pet-friendly?")).hit
    assert (await ask(semantic_cache, requests, AUSTIN, tenant="tenant-b")).hit
    assert await semantic_cache.invalidate("tenant-a", []) == 1
    assert (await semantic_cache.stats("tenant-a"))[1] == 0
    assert (await semantic_cache.stats("tenant-b"))[1] == 1


async def test_answers_unfit_to_share_are_not_stored(
    semantic_cache: SemanticCache, requests: Any
) -> None:
    truncated = requests.answer("Here are the", stop=common_pb2.STOP_REASON_MAX_TOKENS)
    result = await semantic_cache.store(
        requests.context(), requests.question(AUSTIN), "v1", truncated, 0, []
    )
    assert not result.stored
    assert "STOP_REASON_MAX_TOKENS" in result.reason
    tool_call = requests.answer("checking")
    tool_call.content.add(tool_use=common_pb2.ToolUseBlock(id="t", name="search"))
    result = await semantic_cache.store(
        requests.context(), requests.question(AUSTIN), "v1", tool_call, 0, []
    )
    assert not result.stored
    assert "tool calls" in result.reason
    assert (await semantic_cache.stats("tenant-a"))[1] == 0


async def test_a_cached_answer_longer_than_max_tokens_is_not_served(
    semantic_cache: SemanticCache, requests: Any
) -> None:
    await remember(semantic_cache, requests, AUSTIN, "long answer", output_tokens=600)
    assert not (await ask(semantic_cache, requests, AUSTIN, max_tokens=599)).hit
    assert (await ask(semantic_cache, requests, AUSTIN, max_tokens=600)).hit


async def test_the_threshold_can_be_raised_per_request(
    semantic_cache: SemanticCache, requests: Any
) -> None:
    await remember(semantic_cache, requests, AUSTIN, "a")
    strict = await ask(
        semantic_cache, requests, "Find 3 bed houses in Austin below $500,000", min_similarity=0.99
    )
    assert not strict.hit
    assert strict.threshold == 0.99
    assert strict.rejection.startswith("similarity 0.")
    assert "below the threshold 0.990" in strict.rejection


async def test_ineligible_lookups_are_counted_and_explained(
    semantic_cache: SemanticCache, requests: Any
) -> None:
    request = requests.question(AUSTIN)
    request.tools.add(name="search_listings")
    result = await semantic_cache.lookup(requests.context(), request, "v1", 0.0)
    assert not result.eligible
    assert not result.hit
    assert "tool use" in result.ineligible_reason
    counters, _ = await semantic_cache.stats("tenant-a")
    assert counters.ineligible == 1
    assert counters.misses == 0


async def test_each_tenant_keeps_at_most_its_entry_limit_evicting_the_oldest(
    settings: Settings,
    onnx_embedder: Any,
    vector_store: VectorStore,
    clock: Any,
    requests: Any,
) -> None:
    limited = settings.model_copy(
        update={"max_entries_per_tenant": 3, "tenant_max_entries": {"tenant-c": 1}}
    )
    batching = BatchingEmbedder(onnx_embedder)
    await batching.start()
    try:
        cache = SemanticCache(limited, batching, vector_store, clock=clock)
        questions = [f"What are the HOA fees at {n} Oak Street?" for n in (10, 20, 30, 40, 50)]
        for question in questions:
            await remember(cache, requests, question, f"fees of {question}")
            clock.advance(1)
        await remember(cache, requests, questions[0], "tenant B's answer", tenant="tenant-b")
        await remember(cache, requests, questions[0], "first", tenant="tenant-c")
        clock.advance(1)
        await remember(cache, requests, questions[1], "second", tenant="tenant-c")

        counters, entries = await cache.stats("tenant-a")
        assert (entries, counters.evicted, counters.stores) == (3, 2, 5)
        assert (await cache.stats("tenant-b"))[1] == 1
        assert (await cache.stats("tenant-c"))[1] == 1
        for evicted in questions[:2]:
            assert not (await ask(cache, requests, evicted)).hit
        for kept in questions[2:]:
            answer = await ask(cache, requests, kept)
            assert answer.hit
            assert answer.response.content[0].text.text == f"fees of {kept}"
        assert (await ask(cache, requests, questions[1], tenant="tenant-c")).hit
        assert not (await ask(cache, requests, questions[0], tenant="tenant-c")).hit
    finally:
        await batching.stop()


async def test_an_entry_changed_between_its_search_and_the_read_of_its_answer_is_not_served(
    semantic_cache: SemanticCache, requests: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search brings no answers; the one a lookup serves is read after it. An entry
    invalidated in that moment is not served, nor one stored again in it with an answer too long
    for the request: what is served is checked as it is read, not as it was found."""
    paraphrase = "Find 3 bed houses in Austin below $500,000"
    store = semantic_cache.vector_store
    search = store.search

    def changing_after_the_search(change: Callable[[], Awaitable[Any]]) -> Any:
        async def searched(vector: Any, query: Any) -> Any:
            found = await search(vector, query)
            await change()
            return found

        return searched

    await remember(semantic_cache, requests, AUSTIN, "Here are 4 homes...", tags=["listing:1"])
    invalidate = lambda: semantic_cache.invalidate("tenant-a", ["listing:1"])  # noqa: E731
    monkeypatch.setattr(store, "search", changing_after_the_search(invalidate))
    assert not (await ask(semantic_cache, requests, paraphrase)).hit

    await remember(semantic_cache, requests, AUSTIN, "Here are 4 homes...", output_tokens=40)
    longer = lambda: remember(  # noqa: E731
        semantic_cache, requests, AUSTIN, "Here are 40 homes...", output_tokens=900
    )
    monkeypatch.setattr(store, "search", changing_after_the_search(longer))
    assert not (await ask(semantic_cache, requests, paraphrase, max_tokens=500)).hit
    # Unchanged, the same lookup is answered (with the answer stored last).
    monkeypatch.setattr(store, "search", search)
    served = await ask(semantic_cache, requests, paraphrase, max_tokens=1000)
    assert served.hit
    assert served.response.content[0].text.text == "Here are 40 homes..."
