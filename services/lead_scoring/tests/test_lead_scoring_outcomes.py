"""What an agent sees: a fresh inbound lead ranked hot, no lender for a cash buyer, ranked
actions, the expected timeline, data completeness, timings, reasoning limited per lead and
cached reasoning that expires."""

from __future__ import annotations

import grpc
import pytest

from tollgate.common.testing import serving
from tollgate.lead_scoring.model import load_model
from tollgate.lead_scoring.reasoning import OrchestratorReasoner
from tollgate.lead_scoring.scorer import LeadScorer
from tollgate.lead_scoring.service import build_service
from tollgate.v1 import common_pb2, lead_scoring_pb2, lead_scoring_pb2_grpc
from tollgate.v1.lead_scoring_pb2 import LEAD_CLASS_COLD, LEAD_CLASS_HOT

from .conftest import AS_OF, TENANT, FakeOrchestrator, make_lead, scoring_settings

SEVEN_ANSWERS = {
    "budget": "$650k",
    "timeline": "60 days",
    "location": "Round Rock",
    "pre_approval": "pre-approved",
    "motivation": "new job in Austin",
    "property_type": "single-family house",
    "contact_preference": "text",
}
# The chat in which the lead answered, one question at a time.
ANSWERING_CHAT = [
    turn
    for question, answer in SEVEN_ANSWERS.items()
    for turn in (
        (common_pb2.ROLE_ASSISTANT, f"What is your {question.replace('_', ' ')}?"),
        (common_pb2.ROLE_USER, answer),
    )
]
FIFTEEN_MINUTES = 15 / (24 * 60)


def _scorer() -> LeadScorer:
    return LeadScorer(load_model(), scoring_settings(), None)


def _fresh_lead(**answers: str) -> lead_scoring_pb2.Lead:
    return make_lead(
        answers={**SEVEN_ANSWERS, **answers},
        created_days_ago=FIFTEEN_MINUTES,
        conversation=ANSWERING_CHAT,
    )


def test_a_fresh_inbound_lead_that_answered_everything_is_hot() -> None:
    score = _scorer().score_offline(_fresh_lead(), AS_OF)
    assert score.lead_class == LEAD_CLASS_HOT
    assert score.score >= 70
    churn = next(c for c in score.components if c.name == "churn_risk")
    # Its own answers in the chat are engagement, minutes old: not 90 days of silence.
    assert churn.available
    assert churn.value < 25
    assert "minutes ago" in churn.explanation
    assert score.data_completeness == 1.0
    assert score.next_best_action.startswith("Reach out today by text to book showings")


def test_the_same_lead_with_no_history_at_all_is_scored_as_new_and_still_hot() -> None:
    lead = make_lead(answers=SEVEN_ANSWERS, created_days_ago=FIFTEEN_MINUTES)
    score = _scorer().score_offline(lead, AS_OF)
    assert score.lead_class == LEAD_CLASS_HOT
    churn = next(c for c in score.components if c.name == "churn_risk")
    assert not churn.available
    assert churn.weight == 0.0
    assert score.data_completeness < 1.0  # no history to go on


def test_an_empty_lead_has_no_data_and_ranks_cold() -> None:
    score = _scorer().score_offline(make_lead(), AS_OF)
    assert score.data_completeness == 0.0
    assert score.lead_class == LEAD_CLASS_COLD
    assert not score.HasField("expected_timeline") or score.expected_timeline.source == "unknown"


@pytest.mark.parametrize("cash", ["No, paying cash", "cash buyer", "all cash, no mortgage"])
@pytest.mark.parametrize("timeline", ["60 days", "asap", "next year", ""])
def test_a_cash_buyer_is_never_sent_to_a_lender(cash: str, timeline: str) -> None:
    score = _scorer().score_offline(_fresh_lead(pre_approval=cash, timeline=timeline), AS_OF)
    assert score.answers_read.financing == lead_scoring_pb2.FINANCING_CASH
    for action in score.recommended_actions:
        assert "lender" not in action.action.lower()
        assert "pre-approv" not in action.action.lower()


def test_a_lead_without_financing_moving_soon_is_sent_to_a_lender() -> None:
    score = _scorer().score_offline(_fresh_lead(pre_approval="not yet"), AS_OF)
    assert any("lender" in a.action for a in score.recommended_actions)


async def test_claude_suggesting_a_lender_for_a_cash_buyer_is_set_aside(
    fake_orchestrator: tuple[FakeOrchestrator, str],
) -> None:
    orchestrator, address = fake_orchestrator
    orchestrator.answer_text = (
        '{"narrative": "Keen.", "insights": [], "score": 90, '
        '"next_best_action": "Introduce a mortgage lender for pre-approval."}'
    )
    reasoner = OrchestratorReasoner(address, 5.0, 512, 10)
    await reasoner.start()
    try:
        scorer = LeadScorer(load_model(), scoring_settings(address), reasoner)
        context = common_pb2.RequestContext(tenant_id=TENANT)
        score = await scorer.score(context, _fresh_lead(pre_approval="cash buyer"), True, AS_OF)
    finally:
        await reasoner.close()
    assert score.reasoning.next_best_action.startswith("Introduce a mortgage lender")
    assert "lender" not in score.next_best_action
    assert all("lender" not in a.action for a in score.recommended_actions)


def test_outputs_rank_actions_state_the_timeline_and_timings() -> None:
    score = _scorer().score_offline(_fresh_lead(contact_preference="no calls"), AS_OF)
    assert [a.rank for a in score.recommended_actions] == list(
        range(1, len(score.recommended_actions) + 1)
    )
    assert score.next_best_action == score.recommended_actions[0].action
    assert all(
        a.channel != lead_scoring_pb2.CONTACT_CHANNEL_PHONE for a in score.recommended_actions
    )
    timeline = score.expected_timeline
    assert timeline.source == "answer"
    assert timeline.days == 60
    assert "60 days" in timeline.explanation
    assert score.timings.analysis.ToNanoseconds() > 0
    assert score.model_trained_on_synthetic_data
    conversion = next(c for c in score.components if c.name == "conversion")
    assert "synthetic data" in conversion.explanation
    assert "helps: " in conversion.explanation
    assert "pre-approved" in conversion.explanation


async def test_a_batch_limits_reasoning_to_the_allowance_and_says_so_per_lead(
    fake_orchestrator: tuple[FakeOrchestrator, str],
) -> None:
    orchestrator, address = fake_orchestrator
    settings = scoring_settings(address)
    leads = [make_lead(f"lead-{i}", answers=SEVEN_ANSWERS) for i in range(5)]
    request = lead_scoring_pb2.ComputeLeadScoresRequest(
        context=common_pb2.RequestContext(tenant_id=TENANT),
        leads=leads,
        with_reasoning=True,
        reasoning_allowance=lead_scoring_pb2.ReasoningAllowance(
            leads=2, reason="the budget covers reasoning for 2 of 5 leads"
        ),
    )
    request.as_of.seconds = AS_OF
    async with (
        serving(await build_service(settings), settings) as running,
        grpc.aio.insecure_channel(running.address) as channel,
    ):
        stub = lead_scoring_pb2_grpc.LeadScoringServiceStub(channel)
        results = {r.index: r.score async for r in stub.ComputeLeadScores(request)}
    assert len(orchestrator.requests) == 2
    for index, score in results.items():
        reasoning = next(c for c in score.components if c.name == "reasoning")
        if index < 2:
            assert reasoning.available
            assert score.reasoning_skipped == ""
        else:
            assert not reasoning.available
            assert score.reasoning_skipped == "the budget covers reasoning for 2 of 5 leads"
            assert "budget covers reasoning" in reasoning.explanation


async def test_cached_reasoning_expires_after_its_ttl(
    fake_orchestrator: tuple[FakeOrchestrator, str],
) -> None:
    orchestrator, address = fake_orchestrator
    now = [1000.0]
    reasoner = OrchestratorReasoner(
        address, 5.0, 512, 10, cache_ttl_seconds=60.0, clock=lambda: now[0]
    )
    await reasoner.start()
    context = common_pb2.RequestContext(tenant_id=TENANT)
    lead = _fresh_lead()

    async def served_from_cache() -> bool:
        outcome = (await reasoner.analyse(context, lead, None, AS_OF)).outcome
        assert outcome is not None
        return outcome.cached

    try:
        assert not await served_from_cache()
        now[0] += 59
        assert await served_from_cache()
        now[0] += 2
        assert not await served_from_cache()  # older than the TTL: asked again
    finally:
        await reasoner.close()
    assert len(orchestrator.requests) == 2
