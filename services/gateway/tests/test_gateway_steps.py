"""Each optimization step against fake backends: what it asks, what it changes, what it reports
and saves, and what it gives back when no answer comes. Prices: claude-sonnet-5-5 costs 2
micro-dollars per input token, 10 per output token, 0.1 per cache-read token."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from tollgate.common.errors import ServiceError
from tollgate.common.token_estimate import estimate_request
from tollgate.gateway.budget import (
    SETTLE_FIRST_DELAY_SECONDS,
    SETTLE_TRIES,
    hold_ttl_seconds,
)
from tollgate.gateway.pipeline import RequestRun
from tollgate.gateway.steps.base import Answer, CachedAnswer, Draft, Request
from tollgate.gateway.steps.budget_hold import BudgetHoldStep
from tollgate.gateway.steps.conversation_optimization import ConversationOptimizationStep
from tollgate.gateway.steps.exact_cache import ExactCacheStep
from tollgate.gateway.steps.prompt_caching import PromptCachingStep
from tollgate.gateway.steps.semantic_cache import SemanticCacheStep
from tollgate.v1 import (
    budget_ledger_pb2,
    cache_pb2,
    common_pb2,
    conversation_optimizer_pb2,
    semantic_cache_pb2,
)

SONNET = "claude-sonnet-5-5"


def _response(input_tokens: int = 1000, output_tokens: int = 100) -> common_pb2.ClaudeResponse:
    return common_pb2.ClaudeResponse(
        model=SONNET,
        usage=common_pb2.Usage(input_tokens=input_tokens, output_tokens=output_tokens),
    )


def _generated(cost_micros: int, uncached_micros: int, **usage: int) -> Answer:
    response = common_pb2.ClaudeResponse(model=SONNET, usage=common_pb2.Usage(**usage))
    return Answer(response, common_pb2.Cost(total_micros=cost_micros), uncached_micros)


# ---- exact cache ---------------------------------------------------------------------------


async def test_exact_hit_answers_and_saves_what_the_answer_would_have_cost(
    fakes: Any, helpers: Any
) -> None:
    flags = helpers.on("exact_cache")
    cached = _response(1000, 100)
    fakes.stubs["cache"].replies["ExactLookup"] = cache_pb2.ExactLookupResponse(
        cacheable=True, hit=True, response=cached
    )
    request = helpers.request()
    step = ExactCacheStep(request, fakes.decisions(flags).exact_cache, fakes.services(flags))
    effect = await step.before(Draft(request.completion.request))
    assert effect.answer is not None
    assert effect.answer.status == common_pb2.CACHE_STATUS_EXACT
    # 1000 input x 2 + 100 output x 10 micro-dollars.
    answer = Answer(cached, common_pb2.Cost(), 3000, cached=effect.answer)
    assert step.savings(answer) == 0
    assert step.report is not None
    assert step.report.applied
    assert (step.report.micros_saved, step.report.tokens_saved) == (3000, 1100)


async def test_exact_miss_stores_with_the_flags_ttl_and_gives_the_lease_back(
    fakes: Any, helpers: Any
) -> None:
    flags = helpers.on("exact_cache", ttlSeconds=90)
    cache = fakes.stubs["cache"]
    cache.replies["ExactLookup"] = cache_pb2.ExactLookupResponse(
        cacheable=True, hit=False, key="k" * 64, fill_lease="lease-1"
    )
    cache.replies["ExactStore"] = cache_pb2.ExactStoreResponse(stored=True)
    request = helpers.request()
    step = ExactCacheStep(request, fakes.decisions(flags).exact_cache, fakes.services(flags))
    await step.before(Draft(request.completion.request))
    assert cache.asked("ExactLookup")[0].acquire_fill_lease
    step.on_answer(_generated(3000, 3000), common_pb2.Account())
    await fakes.background.drain()
    stored = cache.asked("ExactStore")[0]
    assert (stored.key, stored.fill_lease, stored.ttl.seconds) == ("k" * 64, "lease-1", 90)


async def test_exact_miss_without_an_answer_releases_the_lease(fakes: Any, helpers: Any) -> None:
    flags = helpers.on("exact_cache")
    cache = fakes.stubs["cache"]
    cache.replies["ExactLookup"] = cache_pb2.ExactLookupResponse(
        cacheable=True, key="k" * 64, fill_lease="lease-2"
    )
    cache.replies["ExactRelease"] = cache_pb2.ExactReleaseResponse()
    request = helpers.request()
    step = ExactCacheStep(request, fakes.decisions(flags).exact_cache, fakes.services(flags))
    await step.before(Draft(request.completion.request))
    step.on_failure()
    await fakes.background.drain()
    assert [r.fill_lease for r in cache.asked("ExactRelease")] == ["lease-2"]


async def test_exact_cache_down_is_skipped_and_reported(fakes: Any, helpers: Any) -> None:
    flags = helpers.on("exact_cache")
    fakes.stubs["cache"].replies["ExactLookup"] = helpers.rpc_error(grpc.StatusCode.UNAVAILABLE)
    request = helpers.request()
    step = ExactCacheStep(request, fakes.decisions(flags).exact_cache, fakes.services(flags))
    effect = await step.before(Draft(request.completion.request))
    assert effect.answer is None
    assert effect.request is None
    assert step.report is not None
    assert step.report.detail.startswith("skipped")
    step.on_failure()  # no lease taken: nothing to release
    assert fakes.stubs["cache"].asked("ExactRelease") == []


async def test_shadow_exact_hit_reports_what_claude_cost_and_changes_nothing(
    fakes: Any, helpers: Any
) -> None:
    flags = helpers.on("exact_cache", mode="shadow")
    fakes.stubs["cache"].replies["ExactLookup"] = cache_pb2.ExactLookupResponse(
        cacheable=True, hit=True, response=_response()
    )
    request = helpers.request()
    step = ExactCacheStep(request, fakes.decisions(flags).exact_cache, fakes.services(flags))
    effect = await step.before(Draft(request.completion.request))
    assert effect.answer is None
    step.savings(_generated(2500, 3000))
    assert step.report is not None
    assert not step.report.applied
    assert step.report.micros_saved == 2500


async def test_an_inactive_step_calls_nothing_and_reports_nothing(fakes: Any, helpers: Any) -> None:
    request = helpers.request()
    step = ExactCacheStep(request, fakes.decisions("").exact_cache, fakes.services(""))
    await step.before(Draft(request.completion.request))
    step.savings(_generated(100, 100))
    step.on_answer(_generated(100, 100), common_pb2.Account())
    step.on_failure()
    assert step.report is None
    assert fakes.stubs["cache"].calls == []


# ---- conversation optimization -------------------------------------------------------------


def _optimization_step(fakes: Any, flags: str, request: Request) -> ConversationOptimizationStep:
    decisions = fakes.decisions(flags)
    return ConversationOptimizationStep(
        request, decisions.conversation_optimization, decisions.prompt_caching, fakes.services()
    )


async def test_optimizer_gets_the_flags_strategies_and_target_and_the_saving_is_priced(
    fakes: Any, helpers: Any
) -> None:
    flags = helpers.on(
        "conversation_optimization", targetTokens=500, strategies=["keep_recent", "facts_note"]
    )
    shorter = helpers.conversation().completion.request
    shorter.messages[0].content[0].text.text = "Garden size?"
    fakes.stubs["conversation_optimizer"].replies["OptimizeConversation"] = (
        conversation_optimizer_pb2.OptimizeConversationResponse(
            request=shorter, original_tokens=1500, optimized_tokens=500, summary_cost_micros=300
        )
    )
    request = helpers.conversation()
    step = _optimization_step(fakes, flags, request)
    effect = await step.before(Draft(request.completion.request))
    asked = fakes.stubs["conversation_optimizer"].asked("OptimizeConversation")[0]
    assert (asked.target_tokens, list(asked.strategies)) == (500, ["keep_recent", "facts_note"])
    assert effect.request == shorter
    # 1000 tokens removed x 2 micro-dollars, less the 300 the summary cost.
    assert step.savings(_generated(1000, 1000)) == 2000
    assert step.report is not None
    assert step.report.micros_saved == 1700


async def test_shadow_optimization_sends_the_original_and_adds_nothing_to_the_baseline(
    fakes: Any, helpers: Any
) -> None:
    flags = helpers.on("conversation_optimization", mode="shadow")
    fakes.stubs["conversation_optimizer"].replies["OptimizeConversation"] = (
        conversation_optimizer_pb2.OptimizeConversationResponse(
            request=helpers.conversation().completion.request,
            original_tokens=1500,
            optimized_tokens=500,
        )
    )
    request = helpers.conversation()
    step = _optimization_step(fakes, flags, request)
    assert step.calls_optimizer()
    effect = await step.before(Draft(request.completion.request))
    assert effect.request is None
    assert step.savings(_generated(1000, 1000)) == 0
    assert step.report is not None
    assert step.report.micros_saved == 2000


async def test_an_optimization_that_is_off_asks_nothing(fakes: Any, helpers: Any) -> None:
    request = helpers.conversation()
    step = _optimization_step(fakes, helpers.on("exact_cache"), request)
    assert not step.calls_optimizer()
    effect = await step.before(Draft(request.completion.request))
    assert fakes.stubs["conversation_optimizer"].asked("OptimizeConversation") == []
    assert effect.request is None
    assert step.report is None


@pytest.mark.parametrize("target", [0, 200])
async def test_one_message_is_not_sent_to_the_optimizer(
    fakes: Any, helpers: Any, target: int
) -> None:
    """One message is all verbatim tail: the optimizer would send it back unchanged (its
    test_a_single_message_comes_back_unchanged), so the gateway does not ask."""
    flags = helpers.on("conversation_optimization", targetTokens=target)
    request = helpers.request()
    step = _optimization_step(fakes, flags, request)
    assert not step.calls_optimizer()  # so the pipeline does not run it beside the exact cache
    effect = await step.before(Draft(request.completion.request))
    assert fakes.stubs["conversation_optimizer"].asked("OptimizeConversation") == []
    assert effect.request is None
    assert step.report is not None
    tokens = estimate_request(request.completion.request)
    assert step.report.detail == f"{tokens} tokens in one message: no history to cut"
    assert step.savings(_generated(1000, 1000)) == 0


async def test_one_message_over_a_set_target_is_sent_for_the_explanation(
    fakes: Any, helpers: Any
) -> None:
    flags = helpers.on("conversation_optimization", targetTokens=5)
    fakes.stubs["conversation_optimizer"].replies["OptimizeConversation"] = (
        conversation_optimizer_pb2.OptimizeConversationResponse(
            request=helpers.request().completion.request,
            original_tokens=40,
            optimized_tokens=40,
            target_met=False,
            target_explanation="The target of 5 tokens is out of reach by 35 tokens.",
        )
    )
    request = helpers.request()
    step = _optimization_step(fakes, flags, request)
    assert step.calls_optimizer()
    await step.before(Draft(request.completion.request))
    assert len(fakes.stubs["conversation_optimizer"].asked("OptimizeConversation")) == 1
    assert step.report is not None
    assert "target not met: The target of 5 tokens" in step.report.detail


def _flags(**modes: str) -> str:
    """A flags file with each named flag on for everyone, in the given mode."""
    import yaml

    flags = {
        key: {"enabled": True, "rolloutPercent": 100, "mode": mode, "parameters": {}}
        for key, mode in modes.items()
    }
    return yaml.safe_dump({"version": 1, "flags": flags})


@pytest.mark.parametrize(
    ("optimization", "caching", "stable", "expected"),
    [
        ("enforce", "enforce", 2, 2),
        ("shadow", "enforce", 2, 0),
        ("enforce", "shadow", 2, 0),
        # Not shorter than the request: the orchestrator would refuse it, so it is not sent.
        ("enforce", "enforce", 3, 0),
        ("enforce", "enforce", 7, 0),
    ],
)
async def test_the_optimized_conversations_stable_prefix_goes_to_the_orchestrator(
    fakes: Any, helpers: Any, optimization: str, caching: str, stable: int, expected: int
) -> None:
    """The orchestrator ends its cache breakpoint where the optimizer's stable prefix ends, only
    when the optimized request is the one sent, it goes out with prompt caching and the prefix
    leaves at least the newest message out."""
    shorter = helpers.request().completion.request
    shorter.messages.add(role=common_pb2.ROLE_ASSISTANT).content.add().text.text = "Large."
    shorter.messages.add(role=common_pb2.ROLE_USER).content.add().text.text = "And the roof?"
    fakes.stubs["conversation_optimizer"].replies["OptimizeConversation"] = (
        conversation_optimizer_pb2.OptimizeConversationResponse(
            request=shorter, original_tokens=1500, optimized_tokens=500, stable_messages=stable
        )
    )
    flags = _flags(conversation_optimization=optimization, prompt_caching=caching)
    run = RequestRun(helpers.conversation(), fakes.decisions(flags), fakes.services())
    await run.look_up()
    spec = run.spec()

    asked = fakes.stubs["conversation_optimizer"].asked("OptimizeConversation")[0]
    assert asked.prompt_caching == (caching == "enforce")
    assert spec.stable_prefix_messages == expected
    assert spec.request == (
        shorter if optimization == "enforce" else helpers.conversation().completion.request
    )


# ---- semantic cache ------------------------------------------------------------------------


async def test_semantic_hit_answers_with_its_similarity(fakes: Any, helpers: Any) -> None:
    flags = helpers.on("semantic_cache", minSimilarity=0.93)
    fakes.stubs["semantic_cache"].replies["SemanticLookup"] = (
        semantic_cache_pb2.SemanticLookupResponse(
            eligible=True, hit=True, similarity=0.95, response=_response()
        )
    )
    request = helpers.request(temperature=0.0)
    decisions = fakes.decisions(flags)
    step = SemanticCacheStep(
        request, decisions.semantic_cache, fakes.services(), decisions.budget_enforcement
    )
    effect = await step.before(Draft(request.completion.request))
    assert fakes.stubs["semantic_cache"].asked("SemanticLookup")[0].min_similarity == pytest.approx(
        0.93
    )
    assert effect.answer is not None
    assert effect.answer.similarity == pytest.approx(0.95)


@pytest.mark.parametrize(("temperature", "stored"), [(0.0, 1), (0.7, 0), (None, 0)])
async def test_only_deterministic_answers_are_stored_for_paraphrases(
    fakes: Any, helpers: Any, temperature: float | None, stored: int
) -> None:
    flags = helpers.on("semantic_cache")
    semantic = fakes.stubs["semantic_cache"]
    semantic.replies["SemanticLookup"] = semantic_cache_pb2.SemanticLookupResponse(eligible=True)
    semantic.replies["SemanticStore"] = semantic_cache_pb2.SemanticStoreResponse()
    fields = {} if temperature is None else {"temperature": temperature}
    request = helpers.request(**fields)
    decisions = fakes.decisions(flags)
    step = SemanticCacheStep(
        request, decisions.semantic_cache, fakes.services(), decisions.budget_enforcement
    )
    await step.before(Draft(request.completion.request))
    step.on_answer(_generated(100, 100), common_pb2.Account())
    await fakes.background.drain()
    assert len(semantic.asked("SemanticStore")) == stored


# ---- prompt caching ------------------------------------------------------------------------


def test_prompt_caching_saves_the_uncached_cost_less_the_actual(fakes: Any, helpers: Any) -> None:
    step = PromptCachingStep(fakes.decisions(helpers.on("prompt_caching", ttl="1h")).prompt_caching)
    answer = Answer(
        _response(),
        common_pb2.Cost(total_micros=1200),
        uncached_micros=3000,
        cache_breakpoints=2,
    )
    step.savings(answer)
    assert step.report is not None
    assert step.report.applied
    assert step.report.micros_saved == 1800
    cached = Answer(
        _response(),
        common_pb2.Cost(),
        3000,
        CachedAnswer(_response(), common_pb2.CACHE_STATUS_EXACT),
    )
    fresh = PromptCachingStep(fakes.decisions(helpers.on("prompt_caching")).prompt_caching)
    fresh.savings(cached)
    assert fresh.report is None


# ---- budget --------------------------------------------------------------------------------


def test_a_hold_never_asks_for_more_than_the_ledger_accepts() -> None:
    """An answer allowed close to the ledger's maximum hold would need a longer hold, which
    would have every Reserve refused: the hold stops there."""
    assert hold_ttl_seconds(3_600, 1.0, 3_600) == 3_600
    assert hold_ttl_seconds(120, 1.0, 600) < 600  # the defaults' hold (293 s) fits
    assert hold_ttl_seconds(1_200, 1.0, 600) == 600


@pytest.mark.parametrize(
    ("tenant", "refused"), [("acme", True), ("globex", False)], ids=["listed", "other"]
)
async def test_fail_closed_tenants_are_refused_while_the_ledger_is_down(
    fakes: Any, helpers: Any, tenant: str, refused: bool
) -> None:
    flags = helpers.on("budget_enforcement", failMode="open", failClosedTenants=["acme"])
    ledger = fakes.stubs["budget_ledger"]
    ledger.replies.update(
        Reserve=helpers.rpc_error(grpc.StatusCode.UNAVAILABLE),
        Release=budget_ledger_pb2.ReleaseResponse(),
    )
    request = helpers.request()
    request.context.tenant_id = tenant
    step = BudgetHoldStep(
        request, fakes.decisions(flags, tenant).budget_enforcement, fakes.services()
    )
    if refused:
        with pytest.raises(ServiceError) as caught:
            await step.before(Draft(request.completion.request))
        assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    else:
        await step.before(Draft(request.completion.request))
        assert step.report is not None
        assert "unmetered" in step.report.detail
    # The Reserve went out and may have made a hold the gateway never heard of: it is released
    # (the ledger records the id as released if the hold is not there yet).
    await fakes.background.drain()
    assert [r.context.request_id for r in ledger.asked("Release")] == [request.context.request_id]


async def test_a_reserve_skipped_by_an_open_circuit_releases_nothing(
    fakes: Any, helpers: Any
) -> None:
    ledger = fakes.stubs["budget_ledger"]
    ledger.replies["Reserve"] = helpers.rpc_error(grpc.StatusCode.UNAVAILABLE)
    track = fakes.router.backends["budget_ledger"].stable
    while track.breaker.allow():
        track.breaker.record_failure()
    request = helpers.request()
    flags = helpers.on("budget_enforcement", failMode="open")
    step = BudgetHoldStep(request, fakes.decisions(flags).budget_enforcement, fakes.services())
    await step.before(Draft(request.completion.request))
    await fakes.background.drain()
    assert ledger.asked("Reserve") == []
    assert ledger.asked("Release") == []


async def test_a_hold_is_committed_after_an_answer_and_released_after_a_failure(
    fakes: Any, helpers: Any
) -> None:
    flags = helpers.on("budget_enforcement")
    ledger = fakes.stubs["budget_ledger"]
    ledger.replies.update(
        Reserve=budget_ledger_pb2.ReserveResponse(
            outcome=budget_ledger_pb2.RESERVE_OUTCOME_RESERVED
        ),
        Commit=budget_ledger_pb2.CommitResponse(),
        Release=budget_ledger_pb2.ReleaseResponse(),
    )
    request = helpers.request()
    decisions = fakes.decisions(flags)
    answered = BudgetHoldStep(request, decisions.budget_enforcement, fakes.services())
    await answered.before(Draft(request.completion.request))
    # 100 max_tokens x 10 plus the estimated input x 1.5 margin x 2: more than 1000.
    assert ledger.asked("Reserve")[0].amount_micros > 1000
    answered.on_answer(
        _generated(2500, 2500, input_tokens=1000, output_tokens=50), common_pb2.Account()
    )
    failed = BudgetHoldStep(request, decisions.budget_enforcement, fakes.services())
    await failed.before(Draft(request.completion.request))
    failed.on_failure()
    await fakes.background.drain()
    assert [c.actual_tokens for c in ledger.asked("Commit")] == [1050]
    assert len(ledger.asked("Release")) == 1


async def test_every_hold_outlives_its_request_and_is_charged_if_left_unsettled(
    fakes: Any, helpers: Any
) -> None:
    """A hold is only left held by a gateway that died mid-request (or a ledger away longer than
    every retry): it is charged when it expires, never released unbilled. It lives longer than
    Claude may take to answer plus every retry of its commit, so a gateway that is alive always
    settles it first."""
    ledger = fakes.stubs["budget_ledger"]
    ledger.replies["Reserve"] = budget_ledger_pb2.ReserveResponse(
        outcome=budget_ledger_pb2.RESERVE_OUTCOME_RESERVED
    )
    request = helpers.request()
    step = BudgetHoldStep(
        request,
        fakes.decisions(helpers.on("budget_enforcement")).budget_enforcement,
        fakes.services(),
    )
    await step.before(Draft(request.completion.request))
    (reserve,) = ledger.asked("Reserve")
    assert reserve.charge_on_expiry
    settings = fakes.settings
    settle_retries = sum(SETTLE_FIRST_DELAY_SECONDS * 2**n for n in range(SETTLE_TRIES - 1))
    settle_calls = SETTLE_TRIES * settings.budget_ledger_timeout_seconds
    assert reserve.hold_ttl.ToTimedelta().total_seconds() > (
        settings.orchestrator_timeout_seconds + settle_retries + settle_calls
    )


@pytest.mark.parametrize(
    "outcome",
    [
        budget_ledger_pb2.RESERVE_OUTCOME_ALREADY_HELD,
        budget_ledger_pb2.RESERVE_OUTCOME_ALREADY_COMMITTED,
        budget_ledger_pb2.RESERVE_OUTCOME_ALREADY_RELEASED,
        budget_ledger_pb2.RESERVE_OUTCOME_UNSPECIFIED,
    ],
)
async def test_a_reserve_that_made_no_new_hold_is_refused_and_releases_nothing(
    fakes: Any, helpers: Any, outcome: budget_ledger_pb2.ReserveOutcome
) -> None:
    flags = helpers.on("budget_enforcement")
    ledger = fakes.stubs["budget_ledger"]
    ledger.replies["Reserve"] = budget_ledger_pb2.ReserveResponse(outcome=outcome)
    request = helpers.request()
    step = BudgetHoldStep(request, fakes.decisions(flags).budget_enforcement, fakes.services())
    with pytest.raises(ServiceError) as refused:
        await step.before(Draft(request.completion.request))
    assert refused.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert "new request_id" in refused.value.message
    step.on_failure()
    await fakes.background.drain()
    # The hold is someone else's (or settled): it is neither released nor committed here.
    assert ledger.asked("Release") == []
