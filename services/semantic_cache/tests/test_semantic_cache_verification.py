"""Measured precision: the answer comparison, the Wilson bound and the shadow decision, the verdict
stores, and SemanticVerify over gRPC switching a tenant's cache to shadow."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from qdrant_client import AsyncQdrantClient

from tollgate.semantic_cache.guard.lexicon import load_lexicon
from tollgate.semantic_cache.settings import Settings
from tollgate.semantic_cache.verification.answers import compare_answers
from tollgate.semantic_cache.verification.precision import judge
from tollgate.semantic_cache.verification.store import (
    EdgeVerdictStore,
    QdrantVerdictStore,
    Verdict,
    VerdictStore,
)
from tollgate.semantic_cache.verification.wilson import sample_to_clear, wilson_interval, z_score
from tollgate.v1 import common_pb2
from tollgate.v1 import semantic_cache_pb2 as pb

Z95 = z_score(0.95)
AUSTIN = "Show me 3-bedroom homes under $500k in Austin"
PARAPHRASE = "Find 3 bed houses in Austin below $500,000"
ANSWER = "There are 4 homes in Austin under $500,000: 12 Oak Street at $450,000 is the newest."


def test_wilson_interval_matches_the_textbook_values() -> None:
    lower, upper = wilson_interval(97, 100, Z95)
    assert lower == pytest.approx(0.9155, abs=1e-4)
    assert upper == pytest.approx(0.9897, abs=1e-4)
    assert wilson_interval(10, 10, Z95)[0] == pytest.approx(10 / (10 + Z95 * Z95))
    assert wilson_interval(0, 0, Z95) == (0.0, 1.0)
    # A perfect record clears a 0.99 floor from 381 verifications on, not before.
    needed = sample_to_clear(0.99, Z95)
    assert needed == 381
    assert wilson_interval(needed, needed, Z95)[0] >= 0.99 > wilson_interval(380, 380, Z95)[0]


@pytest.mark.parametrize(
    ("agreements", "disagreements", "shadow"),
    [
        (0, 0, False),  # nothing measured: serves
        (40, 0, False),  # too few to clear the floor, no evidence against it
        (49, 1, False),  # one early disagreement is not yet evidence
        (8, 2, True),  # the upper bound is already under the floor
        (381, 0, False),  # the lower bound clears the floor
        (995, 5, True),  # enough verdicts: the lower bound decides, 0.9884 < 0.99
        (3000, 5, False),
    ],
)
def test_the_shadow_decision(agreements: int, disagreements: int, shadow: bool) -> None:
    found = judge("chat", agreements, disagreements, 0.99, Z95)
    assert found.shadow is shadow, found.reason
    assert found.agreements == agreements
    assert found.disagreements == disagreements


@pytest.mark.parametrize(
    ("fresh", "agreed", "reason"),
    [
        ("Austin has 4 homes under $500,000; the newest is 12 Oak Street ($450,000).", True, ""),
        (
            "There are 4 homes in Austin under $500,000: 12 Oak Street at $475,000 is the newest.",
            False,
            "numbers differ: 450000 vs 475000",
        ),
        (
            "There are 4 homes in Dallas under $500,000: 12 Oak Street at $450,000 is the newest.",
            False,
            "names differ: Austin vs Dallas",
        ),
        (
            "There are not 4 homes in Austin under $500,000: 12 Oak Street at $450,000 is the "
            "newest.",
            False,
            "negation differs: the cached answer does not, the fresh one negates",
        ),
    ],
)
def test_answers_agree_on_numbers_names_and_negation(fresh: str, agreed: bool, reason: str) -> None:
    found = compare_answers(ANSWER, fresh, 0.95, 0.8, load_lexicon())
    assert found.agreed is agreed
    assert found.disagreement == reason


def test_answers_of_different_meaning_disagree_by_similarity() -> None:
    found = compare_answers(
        "Yes, pets are welcome.", "Yes, parking is free.", 0.41, 0.8, load_lexicon()
    )
    assert not found.agreed
    assert found.disagreement == "answers differ in meaning: similarity 0.410 is below 0.800"


def _verdict(request_id: str, agreed: bool, at_ms: int, tenant: str = "t1") -> Verdict:
    return Verdict(tenant, "chat", request_id, "entry-1", agreed, False, "", 0.9, at_ms)


@pytest.fixture(params=["edge", "qdrant-local"])
async def verdict_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    store: VerdictStore
    if request.param == "edge":
        store = EdgeVerdictStore("verdicts", str(tmp_path))
    else:
        store = QdrantVerdictStore(AsyncQdrantClient(location=":memory:"), "verdicts")
    await store.open()
    yield store
    await store.close()


async def test_verdicts_are_counted_once_per_request_within_the_window(
    verdict_store: VerdictStore,
) -> None:
    assert await verdict_store.record(_verdict("r1", True, 1_000))
    assert not await verdict_store.record(_verdict("r1", False, 1_000))  # a retried report
    assert await verdict_store.record(_verdict("r2", False, 2_000))
    assert await verdict_store.record(_verdict("r3", True, 3_000))
    assert await verdict_store.record(_verdict("r1", False, 3_000, tenant="t2"))
    tally = await verdict_store.tally("t1", "chat", 0)
    assert (tally.agreements, tally.disagreements) == (2, 1)
    recent = await verdict_store.tally("t1", "chat", 2_000)
    assert (recent.agreements, recent.disagreements) == (1, 1)
    other = await verdict_store.tally("t2", "chat", 0)
    assert (other.agreements, other.disagreements) == (0, 1)
    assert await verdict_store.purge(2_500) == 2
    tally = await verdict_store.tally("t1", "chat", 0)
    assert (tally.agreements, tally.disagreements) == (1, 0)


async def test_the_in_process_verdicts_survive_a_restart(tmp_path: Path) -> None:
    first = EdgeVerdictStore("verdicts", str(tmp_path))
    await first.open()
    await first.record(_verdict("r1", False, 1_000))
    await first.close()
    again = EdgeVerdictStore("verdicts", str(tmp_path))
    await again.open()
    try:
        assert (await again.tally("t1", "chat", 0)).disagreements == 1
        assert not await again.record(_verdict("r1", False, 1_000))
    finally:
        await again.close()


# ---- over gRPC ------------------------------------------------------------------------------


class _SharedVerdicts(QdrantVerdictStore):
    """One verdict store two service instances share, as replicas share a Qdrant server; the
    test closes it, not the services."""

    async def close(self) -> None:
        return None


def _answer(requests: Any, text: str) -> common_pb2.ClaudeResponse:
    return requests.answer(text)  # type: ignore[no-any-return]


async def _store(cache: Any, requests: Any, question: str, answer: str) -> str:
    stored = await cache.stub.SemanticStore(
        pb.SemanticStoreRequest(
            context=requests.context("tenant-a"),
            request=requests.question(question),
            template_version="chat-v3",
            response=_answer(requests, answer),
        )
    )
    assert stored.stored
    return str(stored.entry_id)


async def _lookup(cache: Any, requests: Any, question: str) -> pb.SemanticLookupResponse:
    return await cache.stub.SemanticLookup(  # type: ignore[no-any-return]
        pb.SemanticLookupRequest(
            context=requests.context("tenant-a"),
            request=requests.question(question),
            template_version="chat-v3",
        )
    )


async def _verify(
    cache: Any, requests: Any, hit: pb.SemanticLookupResponse, fresh: str
) -> pb.SemanticVerifyResponse:
    cached = hit.response if hit.hit else hit.shadow_response
    return await cache.stub.SemanticVerify(  # type: ignore[no-any-return]
        pb.SemanticVerifyRequest(
            context=requests.context("tenant-a"),
            entry_id=hit.entry_id,
            cached_response=cached,
            fresh_response=_answer(requests, fresh),
            shadow=hit.shadow,
        )
    )


async def test_reported_disagreements_lower_precision_and_switch_the_tenant_to_shadow(
    settings: Settings,
    start_cache: Any,
    requests: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = AsyncQdrantClient(location=":memory:")
    verdicts = _SharedVerdicts(client, "shared_verdicts")
    tuned = settings.model_copy(update={"precision_refresh_seconds": 0.0})
    other_replica = settings.model_copy(
        update={"precision_refresh_seconds": 0.0, "data_dir": str(tmp_path / "replica-b")}
    )
    caplog.set_level(logging.WARNING, logger="tollgate.semantic_cache.precision")
    async with start_cache(tuned, verdicts=verdicts) as cache:
        await _store(cache, requests, AUSTIN, ANSWER)
        served = await _lookup(cache, requests, PARAPHRASE)
        assert served.hit
        assert not served.shadow

        agreeing = await _verify(
            cache,
            requests,
            served,
            "Austin has 4 homes under $500,000; 12 Oak Street ($450,000) is the newest.",
        )
        assert agreeing.agreed
        assert agreeing.recorded
        assert not agreeing.precision.shadow

        falls = []
        for price in ("$470,000", "$480,000", "$490,000"):
            verdict = await _verify(cache, requests, served, ANSWER.replace("$450,000", price))
            assert not verdict.agreed
            assert verdict.disagreement.startswith("numbers differ")
            falls.append(verdict.precision.precision)
        assert falls == sorted(falls, reverse=True)
        assert falls[-1] == pytest.approx(0.25)
        assert verdict.precision.shadow
        assert verdict.precision.upper_bound < verdict.precision.floor == pytest.approx(0.99)

        shadowed = await _lookup(cache, requests, PARAPHRASE)
        assert not shadowed.hit
        assert not shadowed.HasField("response")
        assert shadowed.shadow
        assert shadowed.would_hit
        assert shadowed.verify
        assert shadowed.shadow_response.content[0].text.text == ANSWER

        stats = await cache.stub.SemanticStats(pb.SemanticStatsRequest(tenant_id="tenant-a"))
        (chat,) = stats.precision
        assert (chat.task, chat.agreements, chat.disagreements, chat.shadow) == ("chat", 1, 3, True)
        assert stats.shadow_hits == 1
        other = await cache.stub.SemanticStats(pb.SemanticStatsRequest(tenant_id="tenant-b"))
        assert list(other.precision) == []

    alerts = [r for r in caplog.records if "switched to shadow" in r.getMessage()]
    assert len(alerts) == 1
    assert alerts[0].levelno == logging.WARNING
    assert getattr(alerts[0], "tenant", None) == "tenant-a"

    # Another replica sharing the store (or this one restarted) sees the same verdicts.
    async with start_cache(other_replica, verdicts=verdicts) as replica:
        await _store(replica, requests, AUSTIN, ANSWER)
        again = await _lookup(replica, requests, PARAPHRASE)
        assert again.would_hit
        assert not again.hit
    await client.close()


async def test_a_verification_needs_a_request_id_and_two_answers(
    settings: Settings, start_cache: Any, requests: Any
) -> None:
    async with start_cache(settings) as cache:
        context = requests.context("tenant-a")
        answer = _answer(requests, ANSWER)
        cases = [
            (
                pb.SemanticVerifyRequest(
                    context=common_pb2.RequestContext(tenant_id="t"),
                    cached_response=answer,
                    fresh_response=answer,
                ),
                "context.request_id",
            ),
            (pb.SemanticVerifyRequest(context=context, cached_response=answer), "fresh_response"),
            (
                pb.SemanticVerifyRequest(cached_response=answer, fresh_response=answer),
                "context.tenant_id",
            ),
        ]
        for request, field in cases:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await cache.stub.SemanticVerify(request)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert field in (refused.value.details() or "")
        stats = await cache.stub.SemanticStats(pb.SemanticStatsRequest(tenant_id="tenant-a"))
        assert list(stats.precision) == []


async def test_the_tenants_sampled_fraction_of_hits_is_marked_for_verification(
    settings: Settings, start_cache: Any, requests: Any
) -> None:
    sampled = settings.model_copy(
        update={"verify_sample_rate": 0.0, "tenant_verify_sample_rates": {"tenant-a": 1.0}}
    )
    async with start_cache(sampled) as cache:
        for tenant in ("tenant-a", "tenant-b"):
            await cache.stub.SemanticStore(
                pb.SemanticStoreRequest(
                    context=requests.context(tenant),
                    request=requests.question(AUSTIN),
                    template_version="chat-v3",
                    response=_answer(requests, ANSWER),
                )
            )
        marks = {}
        for tenant in ("tenant-a", "tenant-b"):
            hit = await cache.stub.SemanticLookup(
                pb.SemanticLookupRequest(
                    context=requests.context(tenant),
                    request=requests.question(PARAPHRASE),
                    template_version="chat-v3",
                )
            )
            assert hit.hit
            marks[tenant] = hit.verify
        assert marks == {"tenant-a": True, "tenant-b": False}
