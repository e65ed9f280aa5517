"""The gRPC service end to end: scores, batches with bad items, reasoning through a fake
orchestrator served over real gRPC, and refusals of bad input."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from tollgate.common.testing import serving
from tollgate.lead_scoring.service import build_service
from tollgate.v1 import common_pb2, lead_scoring_pb2, lead_scoring_pb2_grpc
from tollgate.v1.lead_scoring_pb2 import (
    ENGAGEMENT_TYPE_OPEN,
    ENGAGEMENT_TYPE_REPLY,
    ENGAGEMENT_TYPE_VISIT,
    LEAD_CLASS_HOT,
)

from .conftest import (
    AS_OF,
    CANNED_ANALYSIS,
    FULL_ANSWERS,
    TENANT,
    FakeOrchestrator,
    make_lead,
    scoring_settings,
)

Stub = lead_scoring_pb2_grpc.LeadScoringServiceStub


def _request(
    lead: lead_scoring_pb2.Lead, with_reasoning: bool = False, tenant: str = TENANT
) -> lead_scoring_pb2.ComputeLeadScoreRequest:
    request = lead_scoring_pb2.ComputeLeadScoreRequest(
        context=common_pb2.RequestContext(tenant_id=tenant, request_id="r1"),
        lead=lead,
        with_reasoning=with_reasoning,
    )
    request.as_of.seconds = AS_OF
    return request


def _keen_lead(lead_id: str = "lead-1") -> lead_scoring_pb2.Lead:
    return make_lead(
        lead_id,
        answers=FULL_ANSWERS,
        events=[
            (ENGAGEMENT_TYPE_REPLY, 1),
            (ENGAGEMENT_TYPE_VISIT, 2),
            (ENGAGEMENT_TYPE_OPEN, 0.5),
        ],
        conversation=[(common_pb2.ROLE_USER, "We need to move by March, pre-approved at 450k.")],
    )


def _component(score: lead_scoring_pb2.LeadScore, name: str) -> lead_scoring_pb2.ScoreComponent:
    return next(c for c in score.components if c.name == name)


async def test_score_without_reasoning(
    scoring: Stub, fake_orchestrator: tuple[FakeOrchestrator, str]
) -> None:
    score = (await scoring.ComputeLeadScore(_request(_keen_lead()))).score
    assert score.lead_id == "lead-1"
    assert [c.name for c in score.components] == ["qualification", "conversion", "churn_risk"]
    assert sum(c.contribution for c in score.components) == score.score
    assert _component(score, "qualification").value == 100.0
    assert score.confidence == 1.0
    assert score.lead_class == LEAD_CLASS_HOT
    assert score.next_best_action == "Reach out today by text to book showings in North Denver."
    assert not score.HasField("reasoning")
    assert fake_orchestrator[0].requests == []


async def test_reasoning_through_the_orchestrator(
    scoring: Stub, fake_orchestrator: tuple[FakeOrchestrator, str]
) -> None:
    orchestrator, _ = fake_orchestrator
    score = (await scoring.ComputeLeadScore(_request(_keen_lead(), with_reasoning=True))).score
    reasoning = _component(score, "reasoning")
    assert reasoning.available
    assert reasoning.value == 82.0
    assert sum(c.contribution for c in score.components) == score.score
    assert score.reasoning.narrative == CANNED_ANALYSIS["narrative"]
    assert list(score.reasoning.insights) == CANNED_ANALYSIS["insights"]
    assert score.next_best_action == CANNED_ANALYSIS["next_best_action"]
    assert score.reasoning_cost.total_micros == 1234
    sent = orchestrator.requests[0].spec
    assert sent.context.task == common_pb2.TASK_TYPE_LEAD_ANALYSIS
    assert sent.context.tenant_id == TENANT
    # The lead's name is personal: the template gets a neutral stand-in unless allowed.
    assert dict(sent.template_variables) == {"company": "the agency", "lead_name": "the lead"}
    prompt = sent.request.messages[0].content[0].text.text
    assert "pre-approved at 450k" in prompt
    assert "Dana" not in prompt
    assert "Reyes" not in prompt
    # Every event is dated, and so is the day of scoring.
    assert "Today is 2026-09-21." in prompt
    assert "2026-09-20 reply" in prompt
    assert "2026-09-19 visit" in prompt


async def test_reasoning_is_cached_by_lead_content_and_tenant(
    scoring: Stub, fake_orchestrator: tuple[FakeOrchestrator, str]
) -> None:
    orchestrator, _ = fake_orchestrator
    first = (await scoring.ComputeLeadScore(_request(_keen_lead(), True))).score
    again = (await scoring.ComputeLeadScore(_request(_keen_lead(), True))).score
    assert len(orchestrator.requests) == 1
    assert again.reasoning.narrative == first.reasoning.narrative
    assert again.reasoning_cost.total_micros == 0  # nothing was spent the second time
    changed = _keen_lead()
    changed.answers.budget = "$600k"
    await scoring.ComputeLeadScore(_request(changed, True))
    await scoring.ComputeLeadScore(_request(_keen_lead(), True, tenant="other-tenant"))
    assert len(orchestrator.requests) == 3


async def test_non_json_answer_becomes_the_narrative(
    scoring: Stub, fake_orchestrator: tuple[FakeOrchestrator, str]
) -> None:
    fake_orchestrator[0].answer_text = "A keen buyer; call her tonight."
    score = (await scoring.ComputeLeadScore(_request(_keen_lead(), True))).score
    assert score.reasoning.narrative == "A keen buyer; call her tonight."
    assert not _component(score, "reasoning").available
    assert score.next_best_action == "Reach out today by text to book showings in North Denver."


async def test_orchestrator_failure_still_scores_with_lower_confidence(
    scoring: Stub, fake_orchestrator: tuple[FakeOrchestrator, str]
) -> None:
    fake_orchestrator[0].fail = True
    score = (await scoring.ComputeLeadScore(_request(_keen_lead(), True))).score
    reasoning = _component(score, "reasoning")
    assert not reasoning.available
    assert (reasoning.weight, reasoning.contribution) == (0.0, 0.0)
    assert "UNAVAILABLE" in reasoning.explanation
    # The orchestrator answered: what the call cost is known (nothing).
    assert not score.reasoning_cost_unknown
    assert score.confidence == pytest.approx(0.85)  # the reasoning weight, 0.15, is missing
    assert sum(c.contribution for c in score.components) == score.score
    plain = (await scoring.ComputeLeadScore(_request(_keen_lead()))).score
    assert score.score == plain.score
    assert not score.HasField("reasoning")


async def test_unreachable_orchestrator_still_scores() -> None:
    settings = scoring_settings("127.0.0.1:1", reasoning_timeout_seconds=1.0)
    async with (
        serving(await build_service(settings), settings) as running,
        grpc.aio.insecure_channel(running.address) as channel,
    ):
        score = (await Stub(channel).ComputeLeadScore(_request(_keen_lead(), True))).score
    assert not _component(score, "reasoning").available
    assert score.confidence < 1.0


async def test_batch_streams_every_index_and_isolates_bad_leads(scoring: Stub) -> None:
    leads = [_keen_lead(f"lead-{i}") for i in range(40)]
    leads[7].profile.lead_id = ""
    leads[21].events.add()  # no type, no time
    request = lead_scoring_pb2.ComputeLeadScoresRequest(
        context=common_pb2.RequestContext(tenant_id=TENANT), leads=leads, max_concurrency=4
    )
    request.as_of.seconds = AS_OF
    results = [item async for item in scoring.ComputeLeadScores(request)]
    assert sorted(r.index for r in results) == list(range(40))
    errors = {r.index: r.error for r in results if r.WhichOneof("outcome") == "error"}
    assert errors == {
        7: "leads[7].profile.lead_id is required.",
        21: "leads[21].events[3].type must be message, reply, open or visit.",
    }
    for result in results:
        if result.index not in errors:
            assert result.score.lead_id == f"lead-{result.index}"
            assert sum(c.contribution for c in result.score.components) == result.score.score


async def test_batch_reasoning_shares_bounded_calls(
    scoring: Stub, fake_orchestrator: tuple[FakeOrchestrator, str]
) -> None:
    leads = [_keen_lead(f"lead-{i}") for i in range(12)]
    request = lead_scoring_pb2.ComputeLeadScoresRequest(
        context=common_pb2.RequestContext(tenant_id=TENANT), leads=leads, with_reasoning=True
    )
    request.as_of.seconds = AS_OF
    results = [item async for item in scoring.ComputeLeadScores(request)]
    assert len(results) == 12
    assert all(_component(r.score, "reasoning").available for r in results)
    assert len(fake_orchestrator[0].requests) == 12


async def test_batch_concurrency_is_bounded(
    scoring: Stub, fake_orchestrator: tuple[FakeOrchestrator, str]
) -> None:
    orchestrator, _ = fake_orchestrator
    orchestrator.delay = 0.05
    leads = [_keen_lead(f"lead-{i}") for i in range(12)]
    request = lead_scoring_pb2.ComputeLeadScoresRequest(
        context=common_pb2.RequestContext(tenant_id=TENANT),
        leads=leads,
        with_reasoning=True,
        max_concurrency=3,
    )
    results = [item async for item in scoring.ComputeLeadScores(request)]
    assert len(results) == 12
    assert orchestrator.max_in_flight == 3


async def test_slow_reasoning_gives_way_to_the_callers_deadline(
    scoring: Stub, fake_orchestrator: tuple[FakeOrchestrator, str]
) -> None:
    fake_orchestrator[0].delay = 5.0
    response = await scoring.ComputeLeadScore(_request(_keen_lead(), True), timeout=1.0)
    reasoning = _component(response.score, "reasoning")
    assert not reasoning.available
    assert "DEADLINE_EXCEEDED" in reasoning.explanation
    assert response.score.confidence == pytest.approx(0.85)
    # The call went out and was cut off: Claude may have billed it, for an unknown amount.
    assert response.score.reasoning_cost_unknown
    assert response.score.reasoning_cost.total_micros == 0


async def test_a_cut_off_call_shared_by_two_callers_is_reported_unknown_by_one(
    scoring: Stub, fake_orchestrator: tuple[FakeOrchestrator, str]
) -> None:
    """The same lead asked twice at once makes one call: only the caller that made it reports
    its unknown cost, so the spend is charged once."""
    fake_orchestrator[0].delay = 5.0
    request = _request(_keen_lead(), True)
    first = asyncio.ensure_future(scoring.ComputeLeadScore(request, timeout=1.0))
    await asyncio.sleep(0.2)
    second = await scoring.ComputeLeadScore(request, timeout=1.0)
    scores = [(await first).score, second.score]
    assert len(fake_orchestrator[0].requests) == 1
    assert [s.reasoning_cost_unknown for s in scores] == [True, False]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: r.context.ClearField("tenant_id"), "context.tenant_id"),
        (lambda r: r.ClearField("lead"), "lead"),
        (lambda r: r.lead.profile.ClearField("lead_id"), "lead.profile.lead_id"),
        (lambda r: setattr(r.lead.answers, "budget", "x" * 5000), "lead.answers.budget"),
        (lambda r: r.lead.events.add(type=ENGAGEMENT_TYPE_REPLY), "lead.events[3].at"),
        (lambda r: setattr(r.as_of, "nanos", -1), "as_of"),
    ],
)
async def test_bad_input_is_invalid_argument(scoring: Stub, mutate: object, field: str) -> None:
    request = _request(_keen_lead())
    mutate(request)  # type: ignore[operator]
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await scoring.ComputeLeadScore(request)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (failure.value.details() or "")


async def test_empty_or_oversized_batches_are_refused(scoring: Stub) -> None:
    empty = lead_scoring_pb2.ComputeLeadScoresRequest(
        context=common_pb2.RequestContext(tenant_id=TENANT)
    )
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        async for _ in scoring.ComputeLeadScores(empty):
            pass
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "leads is empty" in (failure.value.details() or "")


async def test_events_after_as_of_are_ignored(scoring: Stub) -> None:
    lead = make_lead(events=[(ENGAGEMENT_TYPE_REPLY, -3)], created_days_ago=10)
    score = (await scoring.ComputeLeadScore(_request(lead))).score
    churn = _component(score, "churn_risk")
    assert not churn.available
    assert "New lead" in churn.explanation
