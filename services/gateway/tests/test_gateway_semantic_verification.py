"""Verification of semantic-cache hits, with fake backends: which hits are verified, how the
verification call is held and charged, and when it is skipped."""

from __future__ import annotations

from typing import Any

import grpc
import yaml

from tollgate.gateway.steps.base import Answer, CachedAnswer, Draft
from tollgate.gateway.steps.semantic_cache import SemanticCacheStep
from tollgate.v1 import budget_ledger_pb2, common_pb2, orchestrator_pb2, semantic_cache_pb2

SONNET = "claude-sonnet-5-5"
ON = {"enabled": True, "rolloutPercent": 100}


def _flags(semantic_mode: str = "enforce") -> str:
    flags = {
        "semantic_cache": {**ON, "mode": semantic_mode},
        "budget_enforcement": {**ON, "mode": "enforce"},
    }
    return yaml.safe_dump({"version": 1, "flags": flags})


def _answer(text: str) -> common_pb2.ClaudeResponse:
    response = common_pb2.ClaudeResponse(
        model=SONNET, usage=common_pb2.Usage(input_tokens=100, output_tokens=20)
    )
    response.content.add().text.text = text
    return response


CACHED = _answer("The price is $450,000.")
FRESH = _answer("The price is $500,000.")


def _precision(disagreements: int) -> semantic_cache_pb2.SemanticPrecision:
    return semantic_cache_pb2.SemanticPrecision(
        task="chat",
        agreements=1,
        disagreements=disagreements,
        precision=1 / (1 + disagreements),
        lower_bound=0.2,
        floor=0.99,
        shadow=disagreements > 0,
    )


def _script(fakes: Any, lookup: semantic_cache_pb2.SemanticLookupResponse) -> None:
    semantic = fakes.stubs["semantic_cache"]
    semantic.replies["SemanticLookup"] = lookup
    semantic.replies["SemanticStore"] = semantic_cache_pb2.SemanticStoreResponse()
    semantic.replies["SemanticVerify"] = semantic_cache_pb2.SemanticVerifyResponse(
        recorded=True, agreed=False, precision=_precision(1)
    )
    ledger = fakes.stubs["budget_ledger"]
    ledger.replies["Reserve"] = budget_ledger_pb2.ReserveResponse(
        status=budget_ledger_pb2.HOLD_STATUS_HELD,
        outcome=budget_ledger_pb2.RESERVE_OUTCOME_RESERVED,
    )
    ledger.replies["Commit"] = budget_ledger_pb2.CommitResponse()
    ledger.replies["Release"] = budget_ledger_pb2.ReleaseResponse()
    result = orchestrator_pb2.GenerationResult(
        response=FRESH, cost=common_pb2.Cost(total_micros=700)
    )
    fakes.stubs["orchestrator"].replies["Generate"] = orchestrator_pb2.GenerateResponse(
        result=result
    )


async def _run(fakes: Any, helpers: Any, mode: str = "enforce") -> tuple[SemanticCacheStep, Any]:
    """Look up, answer (from the cache when it served), and wait for the work after it."""
    request = helpers.request(temperature=0.0)
    services = fakes.services(_flags(mode))
    decisions = fakes.decisions(_flags(mode))
    step = SemanticCacheStep(
        request, decisions.semantic_cache, services, decisions.budget_enforcement
    )
    effect = await step.before(Draft(request.completion.request))
    if effect.answer is not None:
        answer = Answer(effect.answer.response, common_pb2.Cost(), 0, cached=effect.answer)
    else:
        answer = Answer(FRESH, common_pb2.Cost(total_micros=700), 700)
    step.savings(answer)
    step.on_answer(answer, common_pb2.Account())
    for _ in range(3):
        await fakes.background.drain()
    return step, services


def _hit(verify: bool) -> semantic_cache_pb2.SemanticLookupResponse:
    return semantic_cache_pb2.SemanticLookupResponse(
        eligible=True, hit=True, response=CACHED, entry_id="e-1", similarity=0.9, verify=verify
    )


async def test_a_sampled_served_hit_is_asked_again_held_charged_and_verified(
    fakes: Any, helpers: Any
) -> None:
    _script(fakes, _hit(verify=True))
    _, services = await _run(fakes, helpers)
    [reserve] = fakes.stubs["budget_ledger"].asked("Reserve")
    assert reserve.context.request_id == "req-1:verify"
    assert reserve.amount_micros > 0
    [generate] = fakes.stubs["orchestrator"].asked("Generate")
    assert generate.spec.context.request_id == "req-1:verify"
    [commit] = fakes.stubs["budget_ledger"].asked("Commit")
    assert commit.actual_micros == 700
    assert commit.record.cache_status == common_pb2.CACHE_STATUS_VERIFICATION
    [line] = commit.record.optimizations
    assert (line.optimization, line.applied, line.micros_saved) == (
        "semantic_verification",
        True,
        0,
    )
    assert line.detail.endswith("cost 700 micro-dollars")
    [verify] = fakes.stubs["semantic_cache"].asked("SemanticVerify")
    assert verify.context.request_id == "req-1"
    assert (verify.entry_id, verify.shadow) == ("e-1", False)
    assert verify.cached_response == CACHED
    assert verify.fresh_response == FRESH
    # A served answer is never stored again, and the verdict's precision is kept.
    assert not fakes.stubs["semantic_cache"].asked("SemanticStore")
    assert services.precision.latest("acme", common_pb2.TASK_TYPE_CHAT).disagreements == 1


async def test_an_unsampled_hit_is_not_verified(fakes: Any, helpers: Any) -> None:
    _script(fakes, _hit(verify=False))
    await _run(fakes, helpers)
    assert not fakes.stubs["orchestrator"].asked("Generate")
    assert not fakes.stubs["semantic_cache"].asked("SemanticVerify")


async def test_a_tenant_without_budget_skips_the_verification(fakes: Any, helpers: Any) -> None:
    _script(fakes, _hit(verify=True))
    fakes.stubs["budget_ledger"].replies["Reserve"] = helpers.rpc_error(
        grpc.StatusCode.RESOURCE_EXHAUSTED, "budget exhausted"
    )
    step, _ = await _run(fakes, helpers)
    assert not fakes.stubs["orchestrator"].asked("Generate")
    assert not fakes.stubs["semantic_cache"].asked("SemanticVerify")
    assert step.report is not None
    assert step.report.applied


async def test_a_retried_request_is_not_verified_twice(fakes: Any, helpers: Any) -> None:
    _script(fakes, _hit(verify=True))
    fakes.stubs["budget_ledger"].replies["Reserve"] = budget_ledger_pb2.ReserveResponse(
        replayed=True,
        status=budget_ledger_pb2.HOLD_STATUS_COMMITTED,
        outcome=budget_ledger_pb2.RESERVE_OUTCOME_ALREADY_COMMITTED,
    )
    await _run(fakes, helpers)
    assert not fakes.stubs["orchestrator"].asked("Generate")
    assert not fakes.stubs["budget_ledger"].asked("Commit")


async def test_a_failed_verification_call_gives_its_hold_back(fakes: Any, helpers: Any) -> None:
    _script(fakes, _hit(verify=True))
    fakes.stubs["orchestrator"].replies["Generate"] = helpers.rpc_error(
        grpc.StatusCode.UNAVAILABLE, "overloaded"
    )
    await _run(fakes, helpers)
    [release] = fakes.stubs["budget_ledger"].asked("Release")
    assert release.context.request_id == "req-1:verify"
    assert not fakes.stubs["semantic_cache"].asked("SemanticVerify")


async def test_a_would_be_hit_in_the_services_shadow_compares_claudes_answer(
    fakes: Any, helpers: Any
) -> None:
    lookup = semantic_cache_pb2.SemanticLookupResponse(
        eligible=True,
        shadow=True,
        would_hit=True,
        verify=True,
        shadow_response=CACHED,
        entry_id="e-2",
        similarity=0.9,
    )
    _script(fakes, lookup)
    step, _ = await _run(fakes, helpers)
    assert step.report is not None
    assert not step.report.applied
    assert "would have answered, in shadow" in step.report.detail
    # Claude answered the request itself: no second call, nothing charged twice.
    assert not fakes.stubs["orchestrator"].asked("Generate")
    assert not fakes.stubs["budget_ledger"].asked("Reserve")
    [verify] = fakes.stubs["semantic_cache"].asked("SemanticVerify")
    assert (verify.entry_id, verify.shadow) == ("e-2", True)
    assert verify.cached_response == CACHED
    assert verify.fresh_response == FRESH


async def test_a_would_be_hit_in_the_flags_shadow_mode_is_verified_too(
    fakes: Any, helpers: Any
) -> None:
    _script(fakes, _hit(verify=False))
    await _run(fakes, helpers, mode="shadow")
    [verify] = fakes.stubs["semantic_cache"].asked("SemanticVerify")
    assert verify.shadow
    assert verify.fresh_response == FRESH


async def test_the_report_shows_the_latest_measured_precision(fakes: Any, helpers: Any) -> None:
    _script(fakes, _hit(verify=False))
    request = helpers.request(temperature=0.0)
    services = fakes.services(_flags())
    services.precision.update("acme", _precision(1))
    decisions = fakes.decisions(_flags())
    step = SemanticCacheStep(
        request, decisions.semantic_cache, services, decisions.budget_enforcement
    )
    effect = await step.before(Draft(request.completion.request))
    assert isinstance(effect.answer, CachedAnswer)
    step.savings(Answer(CACHED, common_pb2.Cost(), 0, cached=effect.answer))
    assert step.report is not None
    assert step.report.detail.endswith(
        "measured precision 0.500 over 2 verified (lower bound 0.200, floor 0.990): shadow"
    )
