"""One lead's score: every signal computed, blended, explained; and the streamed batch."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from google.protobuf import timestamp_pb2
from opentelemetry import metrics

from tollgate.common.durations import duration
from tollgate.common.errors import ServiceError
from tollgate.common.ids import new_request_id
from tollgate.lead_scoring.answers import ReadAnswers
from tollgate.lead_scoring.blend import Blend, LeadClass, Signal, blend
from tollgate.lead_scoring.churn import ChurnParameters, ChurnResult, churn_risk
from tollgate.lead_scoring.explain import conversion_explanation
from tollgate.lead_scoring.features import feature_vector
from tollgate.lead_scoring.lead_input import LeadInput, lead_facts, read_lead
from tollgate.lead_scoring.model import LogisticModel
from tollgate.lead_scoring.next_action import Action, recommended_actions, suggestion_fits
from tollgate.lead_scoring.qualification import QualificationResult, score_qualification
from tollgate.lead_scoring.reasoning import ReasoningAttempt
from tollgate.lead_scoring.settings import Settings
from tollgate.lead_scoring.structured_answers import to_proto
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
_PROTO_CHANNEL = {
    "phone": lead_scoring_pb2.CONTACT_CHANNEL_PHONE,
    "text": lead_scoring_pb2.CONTACT_CHANNEL_TEXT,
    "email": lead_scoring_pb2.CONTACT_CHANNEL_EMAIL,
}


class Reasoner(Protocol):
    async def analyse(
        self,
        context: common_pb2.RequestContext,
        lead: lead_scoring_pb2.Lead,
        time_left: float | None = None,
        as_of: float | None = None,
    ) -> ReasoningAttempt: ...


@dataclass(frozen=True)
class PreparedLead:
    """Everything about a lead that needs no outside call."""

    lead: LeadInput
    qualification: QualificationResult
    churn: ChurnResult
    conversion: float
    conversion_explanation: str
    # Seconds spent reading the lead and computing these signals.
    analysis_seconds: float


@dataclass(frozen=True)
class ReasoningRun:
    """What happened to reasoning for one lead: the attempt, how long it waited, or why skipped."""

    attempt: ReasoningAttempt | None = None
    seconds: float = 0.0
    skipped: str = ""


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
        # A lead that told us nothing: what explanations compare a lead's features with.
        self._reference = feature_vector(lead_facts("", "", {}, [], None, 0.0))

    @property
    def model_version(self) -> str:
        return self._model.version

    def prepare(self, lead: lead_scoring_pb2.Lead, as_of: float, field_path: str) -> PreparedLead:
        started = time.perf_counter()
        facts = read_lead(lead, as_of, field_path)
        qualification = score_qualification(facts.answers)
        features = feature_vector(facts, qualification.points)
        probability = self._model.probability(features)
        explanation = conversion_explanation(
            self._model, facts, features, self._reference, probability, qualification.answered
        )
        return PreparedLead(
            lead=facts,
            qualification=qualification,
            churn=churn_risk(facts.events, self._churn),
            conversion=probability,
            conversion_explanation=explanation,
            analysis_seconds=time.perf_counter() - started,
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
        skip_reasoning: str = "",
    ) -> lead_scoring_pb2.LeadScore:
        """`deadline`: the caller's deadline on the event loop's clock, if it set one.
        `skip_reasoning`: why this lead gets no reasoning although it was asked for."""
        prepared = self.prepare(lead, as_of, field_path)
        if not with_reasoning:
            return self._assemble(prepared, None)
        if skip_reasoning:
            return self._assemble(prepared, ReasoningRun(skipped=skip_reasoning))
        started = time.perf_counter()
        if self._reasoner is None:
            attempt = ReasoningAttempt(None, "reasoning is not configured")
        else:
            time_left = None if deadline is None else deadline - asyncio.get_running_loop().time()
            attempt = await self._reasoner.analyse(context, lead, time_left, as_of)
        if attempt.outcome is None:
            _reasoning_calls.add(1, {"outcome": "failed"})
        else:
            _reasoning_calls.add(1, {"outcome": "cached" if attempt.outcome.cached else "called"})
        return self._assemble(prepared, ReasoningRun(attempt, time.perf_counter() - started))

    async def score_many(
        self,
        context: common_pb2.RequestContext,
        leads: Sequence[lead_scoring_pb2.Lead],
        with_reasoning: bool,
        as_of: float,
        concurrency: int,
        deadline: float | None = None,
        reasoning_leads: int | None = None,
        skip_reason: str = "",
    ) -> AsyncIterator[tuple[int, lead_scoring_pb2.LeadScore | str]]:
        """(index, score or error sentence) in completion order, at most `concurrency` at once.

        `reasoning_leads`: only the first this many leads get reasoning (None: all); the others
        report `skip_reason`."""
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
                    skipped = ""
                    if reasoning_leads is not None and index >= reasoning_leads:
                        skipped = skip_reason or "reasoning was limited to the first leads"
                    outcome = await self.score(
                        context,
                        leads[index],
                        with_reasoning,
                        as_of,
                        f"leads[{index}]",
                        deadline,
                        skipped,
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

    def _signals(self, prepared: PreparedLead, run: ReasoningRun | None) -> list[Signal]:
        s = self._settings
        qualification, churn = prepared.qualification, prepared.churn
        if churn.available and churn.days_since_last is not None:
            churn_coverage = 1.0
        else:
            # Only our own outreach to judge by: half the evidence.
            churn_coverage = 0.5 if churn.available else 0.0
        answered_share = qualification.specific / len(qualification.assessments)
        signals = [
            Signal(
                name="qualification",
                available=True,
                value=qualification.value,
                merit=qualification.value,
                configured_weight=s.weight_qualification,
                coverage=answered_share,
                explanation=qualification.explanation,
            ),
            Signal(
                name="conversion",
                available=True,
                value=prepared.conversion * 100.0,
                merit=prepared.conversion * 100.0,
                configured_weight=s.weight_conversion,
                # The model reads answers and history; half the evidence each.
                coverage=0.5 * answered_share + 0.5 * float(bool(prepared.lead.events)),
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
        if run is not None:
            signals.append(_reasoning_signal(run, s.weight_reasoning))
        return signals

    def _assemble(
        self, prepared: PreparedLead, run: ReasoningRun | None
    ) -> lead_scoring_pb2.LeadScore:
        result = blend(
            self._signals(prepared, run),
            self._settings.hot_threshold,
            self._settings.warm_threshold,
        )
        _scored.add(1, {"class": result.lead_class.value})
        facts = prepared.lead
        days_to_move = facts.answers.days_to_move(facts.as_of_date)
        score = lead_scoring_pb2.LeadScore(
            lead_id=facts.lead_id,
            score=result.score,
            confidence=result.confidence,
            data_completeness=result.confidence,
            lead_class=_PROTO_CLASS[result.lead_class],
            components=_components(result),
            model_version=self._model.version,
            model_trained_on_synthetic_data=self._model.trained_on_synthetic_data,
            expected_timeline=_timeline(facts.answers, days_to_move),
            answers_read=to_proto(facts.answers),
            timings=lead_scoring_pb2.ScoreTimings(
                analysis=duration(prepared.analysis_seconds),
                reasoning=duration(run.seconds if run is not None else 0.0),
            ),
        )
        actions = recommended_actions(
            result.lead_class, facts.answers, prepared.qualification, prepared.churn, days_to_move
        )
        attempt = run.attempt if run is not None else None
        outcome = attempt.outcome if attempt is not None else None
        if run is not None and run.skipped:
            score.reasoning_skipped = run.skipped
        if attempt is not None and attempt.cost_unknown:
            score.reasoning_cost_unknown = True
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
            # Claude's suggestion leads, unless it contradicts what the lead told us.
            if parsed.next_best_action and suggestion_fits(parsed.next_best_action, facts.answers):
                actions.insert(
                    0, Action(parsed.next_best_action, "Claude's reading of the conversation.")
                )
        score.recommended_actions.extend(_actions(actions))
        score.next_best_action = actions[0].action
        return score


def _timeline(answers: ReadAnswers, days: float | None) -> lead_scoring_pb2.ExpectedTimeline:
    if answers.move_by is None:
        return lead_scoring_pb2.ExpectedTimeline(
            source="unknown", explanation="No move date yet: ask when they want to move."
        )
    moment = datetime(answers.move_by.year, answers.move_by.month, answers.move_by.day, tzinfo=UTC)
    source = "structured" if "timeline" in answers.structured else "answer"
    said = answers.texts.get("timeline", "") if source == "answer" else "the CRM's move date"
    when = f"{answers.move_by:%b} {answers.move_by.day}, {answers.move_by.year}"
    return lead_scoring_pb2.ExpectedTimeline(
        move_by=timestamp_pb2.Timestamp(seconds=int(moment.timestamp())),
        days=float(days or 0.0),
        source=source,
        explanation=f"Plans to move by {when} ({days:.0f} days), from {said!r}."
        if source == "answer"
        else f"Plans to move by {when} ({days:.0f} days), from {said}.",
    )


def _actions(actions: list[Action]) -> list[lead_scoring_pb2.RecommendedAction]:
    return [
        lead_scoring_pb2.RecommendedAction(
            rank=rank,
            action=a.action,
            reason=a.reason,
            channel=_PROTO_CHANNEL[a.channel.value] if a.channel is not None else 0,  # type: ignore[arg-type]
        )
        for rank, a in enumerate(actions, start=1)
    ]


def _reasoning_signal(run: ReasoningRun, weight: float) -> Signal:
    if run.skipped:
        explanation = f"Scored without Claude's reasoning: {run.skipped}."
        return Signal("reasoning", False, 0.0, 0.0, weight, 0.0, explanation)
    attempt = run.attempt
    outcome = attempt.outcome if attempt is not None else None
    if outcome is None:
        failure = attempt.failure if attempt is not None else "not attempted"
        explanation = f"Claude's reasoning is unavailable ({failure}); scored without it."
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
