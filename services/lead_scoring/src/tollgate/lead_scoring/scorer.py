"""One lead's score: every signal computed, blended, explained; and the streamed batch."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from opentelemetry import metrics

from tollgate.common.errors import ServiceError
from tollgate.common.ids import new_request_id
from tollgate.lead_scoring.blend import Blend, LeadClass, Signal, blend
from tollgate.lead_scoring.churn import ChurnParameters, ChurnResult, churn_risk
from tollgate.lead_scoring.engagement import summarise
from tollgate.lead_scoring.features import LeadFacts, feature_vector
from tollgate.lead_scoring.lead_input import LeadInput, read_lead
from tollgate.lead_scoring.model import LogisticModel
from tollgate.lead_scoring.next_action import rule_based_action
from tollgate.lead_scoring.qualification import QualificationResult, score_qualification
from tollgate.lead_scoring.reasoning import ReasoningAttempt
from tollgate.lead_scoring.settings import Settings
from tollgate.v1 import common_pb2, lead_scoring_pb2

log = logging.getLogger("tollgate.lead_scoring")

_meter = metrics.get_meter("tollgate")
_scored = _meter.create_counter(
    "tollgate_lead_scoring_leads_scored", description="Leads scored, by class"
)
_reasoning_calls = _meter.create_counter(
    "tollgate_lead_scoring_reasoning",
    description="Reasoning requests, by outcome (called/cached/failed)",
)

_PROTO_CLASS = {
    LeadClass.HOT: lead_scoring_pb2.LEAD_CLASS_HOT,
    LeadClass.WARM: lead_scoring_pb2.LEAD_CLASS_WARM,
    LeadClass.COLD: lead_scoring_pb2.LEAD_CLASS_COLD,
}
_DRIVER_NAMES = {
    "qualification_points": "qualification answers",
    "pre_approved": "pre-approval",
    "budget_stated": "a stated budget",
    "urgent_timeline": "an urgent timeline",
    "referral_source": "a referral source",
    "log_replies_30d": "replies in the last 30 days",
    "log_visits_30d": "visits in the last 30 days",
    "log_opens_30d": "opens in the last 30 days",
    "log_messages_30d": "our messages in the last 30 days",
    "quiet_days": "days since the last touch",
}


class Reasoner(Protocol):
    async def analyse(
        self,
        context: common_pb2.RequestContext,
        lead: lead_scoring_pb2.Lead,
        time_left: float | None = None,
    ) -> ReasoningAttempt: ...


@dataclass(frozen=True)
class PreparedLead:
    """Everything about a lead that needs no outside call."""

    lead: LeadInput
    qualification: QualificationResult
    churn: ChurnResult
    conversion: float
    conversion_explanation: str


class LeadScorer:
    def __init__(self, model: LogisticModel, settings: Settings, reasoner: Reasoner | None):
        self._model = model
        self._settings = settings
        self._reasoner = reasoner
        self._churn = ChurnParameters(
            recency_half_life_days=settings.recency_half_life_days,
            frequency_half_life_days=settings.frequency_half_life_days,
            frequency_saturation=settings.frequency_saturation,
        )

    @property
    def model_version(self) -> str:
        return self._model.version

    def prepare(self, lead: lead_scoring_pb2.Lead, as_of: float, field_path: str) -> PreparedLead:
        facts_in = read_lead(lead, as_of, field_path)
        qualification = score_qualification(facts_in.answers)
        facts = LeadFacts(facts_in.source, facts_in.answers, summarise(facts_in.events))
        features = feature_vector(facts, qualification.points)
        probability = self._model.probability(features)
        drivers = ", ".join(
            f"{_DRIVER_NAMES.get(name, name)} ({'+' if effect >= 0 else '-'})"
            for name, effect in self._model.strongest_drivers(features)
        )
        return PreparedLead(
            lead=facts_in,
            qualification=qualification,
            churn=churn_risk(facts_in.events, facts_in.age_days, self._churn),
            conversion=probability,
            conversion_explanation=(
                f"Conversion probability {probability:.1%} from model {self._model.version}; "
                f"strongest drivers: {drivers}."
            ),
        )

    def score_offline(
        self, lead: lead_scoring_pb2.Lead, as_of: float, field_path: str = "lead"
    ) -> lead_scoring_pb2.LeadScore:
        """The score without reasoning; no I/O."""
        return self._assemble(self.prepare(lead, as_of, field_path), None)

    async def score(
        self,
        context: common_pb2.RequestContext,
        lead: lead_scoring_pb2.Lead,
        with_reasoning: bool,
        as_of: float,
        field_path: str = "lead",
        deadline: float | None = None,
    ) -> lead_scoring_pb2.LeadScore:
        """`deadline`: the caller's deadline on the event loop's clock, if it set one."""
        prepared = self.prepare(lead, as_of, field_path)
        if not with_reasoning:
            return self._assemble(prepared, None)
        if self._reasoner is None:
            attempt = ReasoningAttempt(None, "reasoning is not configured")
        else:
            time_left = None if deadline is None else deadline - asyncio.get_running_loop().time()
            attempt = await self._reasoner.analyse(context, lead, time_left)
        if attempt.outcome is None:
            _reasoning_calls.add(1, {"outcome": "failed"})
        else:
            _reasoning_calls.add(1, {"outcome": "cached" if attempt.outcome.cached else "called"})
        return self._assemble(prepared, attempt)

    async def score_many(
        self,
        context: common_pb2.RequestContext,
        leads: Sequence[lead_scoring_pb2.Lead],
        with_reasoning: bool,
        as_of: float,
        concurrency: int,
        deadline: float | None = None,
    ) -> AsyncIterator[tuple[int, lead_scoring_pb2.LeadScore | str]]:
        """(index, score or error sentence) in completion order, at most `concurrency` at once."""
        # A bounded queue holds results back when the client reads slowly.
        results: asyncio.Queue[tuple[int, lead_scoring_pb2.LeadScore | str]] = asyncio.Queue(
            maxsize=max(64, concurrency * 4)
        )
        pending = iter(range(len(leads)))

        async def worker() -> None:
            # Workers share one iterator, so each lead is taken exactly once.
            for index in pending:
                outcome: lead_scoring_pb2.LeadScore | str
                try:
                    outcome = await self.score(
                        context, leads[index], with_reasoning, as_of, f"leads[{index}]", deadline
                    )
                except ServiceError as exc:
                    outcome = exc.message
                except Exception:
                    reference = new_request_id()
                    log.exception("scoring a lead failed", extra={"reference": reference})
                    outcome = f"Internal error scoring this lead (reference {reference})."
                await results.put((index, outcome))

        workers = [asyncio.create_task(worker()) for _ in range(min(concurrency, len(leads)))]
        try:
            for _ in range(len(leads)):
                yield await results.get()
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    def _signals(self, prepared: PreparedLead, attempt: ReasoningAttempt | None) -> list[Signal]:
        s = self._settings
        qualification, churn = prepared.qualification, prepared.churn
        if churn.available and churn.days_since_last is not None:
            churn_coverage = 1.0
        else:
            # Judged from the creation date alone: half the evidence.
            churn_coverage = 0.5 if churn.available else 0.0
        signals = [
            Signal(
                name="qualification",
                available=True,
                value=qualification.value,
                merit=qualification.value,
                configured_weight=s.weight_qualification,
                coverage=qualification.answered / len(qualification.assessments),
                explanation=qualification.explanation,
            ),
            Signal(
                name="conversion",
                available=True,
                value=prepared.conversion * 100.0,
                merit=prepared.conversion * 100.0,
                configured_weight=s.weight_conversion,
                coverage=1.0,
                explanation=prepared.conversion_explanation,
            ),
            Signal(
                name="churn_risk",
                available=churn.available,
                value=churn.risk,
                merit=100.0 - churn.risk,
                configured_weight=s.weight_churn,
                coverage=churn_coverage,
                explanation=churn.explanation,
            ),
        ]
        if attempt is not None:
            signals.append(_reasoning_signal(attempt, s.weight_reasoning))
        return signals

    def _assemble(
        self, prepared: PreparedLead, attempt: ReasoningAttempt | None
    ) -> lead_scoring_pb2.LeadScore:
        result = blend(
            self._signals(prepared, attempt),
            self._settings.hot_threshold,
            self._settings.warm_threshold,
        )
        _scored.add(1, {"class": result.lead_class.value})
        score = lead_scoring_pb2.LeadScore(
            lead_id=prepared.lead.lead_id,
            score=result.score,
            confidence=result.confidence,
            lead_class=_PROTO_CLASS[result.lead_class],
            components=_components(result),
            model_version=self._model.version,
        )
        outcome = attempt.outcome if attempt is not None else None
        suggested = ""
        if outcome is not None:
            parsed = outcome.parsed
            score.reasoning.CopyFrom(
                lead_scoring_pb2.LeadReasoning(
                    narrative=parsed.narrative,
                    insights=list(parsed.insights),
                    next_best_action=parsed.next_best_action,
                )
            )
            score.reasoning_cost.CopyFrom(outcome.cost)
            suggested = parsed.next_best_action
        score.next_best_action = suggested or rule_based_action(
            result.lead_class,
            prepared.lead.answers,
            prepared.qualification,
            prepared.churn,
        )
        return score


def _reasoning_signal(attempt: ReasoningAttempt, weight: float) -> Signal:
    outcome = attempt.outcome
    if outcome is None:
        explanation = f"Claude's reasoning is unavailable ({attempt.failure}); scored without it."
        return Signal("reasoning", False, 0.0, 0.0, weight, 0.0, explanation)
    if outcome.parsed.score is None:
        explanation = (
            "Claude's answer carried no score, so it does not count toward the score; "
            "its text is in the reasoning narrative."
        )
        return Signal("reasoning", False, 0.0, 0.0, weight, 0.0, explanation)
    source = "cached analysis" if outcome.cached else "analysis"
    explanation = (
        f"Claude's {source} of the lead and conversation rates it {outcome.parsed.score:g}/100."
    )
    return Signal(
        "reasoning", True, outcome.parsed.score, outcome.parsed.score, weight, 1.0, explanation
    )


def _components(result: Blend) -> list[lead_scoring_pb2.ScoreComponent]:
    return [
        lead_scoring_pb2.ScoreComponent(
            name=c.signal.name,
            available=c.signal.available,
            value=c.signal.value,
            weight=c.weight,
            contribution=c.contribution,
            explanation=c.signal.explanation,
        )
        for c in result.components
    ]
