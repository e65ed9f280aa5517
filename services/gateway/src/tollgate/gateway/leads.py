"""Lead scoring through the gateway, with Claude's reasoning behind the `lead_reasoning` flag and
charged to the tenant's budget like any other call to Claude.

Asking for reasoning when the tenant's flag does not allow it is refused (FAILED_PRECONDITION),
not silently dropped. A batch whose reasoning the budget cannot cover in full is not refused:
the first leads the budget covers get reasoning, the others are scored without it and each says
why in `reasoning_skipped`.

A call with reasoning (one lead, or a batch) runs to its end in the gateway's background work,
whoever still waits for it, so its reasoning is charged at what Claude billed even when the
caller stopped waiting (as a Complete's answer is read to its end, relay.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import grpc

from tollgate.common.errors import ServiceError, failed_precondition, unavailable
from tollgate.common.flag_definitions import BudgetEnforcementParameters
from tollgate.common.pricing import PriceTable
from tollgate.gateway import dependencies
from tollgate.gateway.background import BackgroundWork
from tollgate.gateway.budget import BudgetGuard, Hold
from tollgate.gateway.dependencies import DependencyDown
from tollgate.gateway.flags import FlagsSource, decide, decide_typed
from tollgate.gateway.pipeline import forward_error
from tollgate.gateway.relay import Relay
from tollgate.gateway.routing import BackendRouter, Track
from tollgate.gateway.settings import Settings
from tollgate.v1 import (
    budget_ledger_pb2,
    common_pb2,
    gateway_pb2,
    lead_scoring_pb2,
)


class LeadScoring:
    def __init__(
        self,
        settings: Settings,
        flags: FlagsSource,
        router: BackendRouter,
        prices: PriceTable,
        budget: BudgetGuard,
        background: BackgroundWork,
    ) -> None:
        self._settings = settings
        self._flags = flags
        self._router = router
        self._prices = prices
        self._budget = budget
        self._background = background

    @property
    def reasoning_models(self) -> list[str]:
        """The models lead reasoning may run on: it names none, so the orchestrator may route it
        to any model with a role in the price table (the small one, the default as fallback)."""
        return self._prices.role_models

    def _track(self, backend: str, context: common_pb2.RequestContext) -> Track[Any]:
        return self._router.route(backend, self._flags.config, context.tenant_id, "")

    def _reasoning_allowed(self, context: common_pb2.RequestContext, asked: bool) -> bool:
        if not asked:
            return False
        decision = decide(self._flags.config, "lead_reasoning", context.tenant_id, "")
        if not decision.enforce:
            raise failed_precondition(
                "with_reasoning is not enabled for this tenant (the lead_reasoning flag is off "
                "for it); send with_reasoning=false, or ask an administrator to enable it."
            )
        return True

    def _max_reasoning_cost(self) -> int:
        model = self._settings.lead_reasoning_model
        return self._prices.max_cost(
            model,
            self._settings.lead_reasoning_max_input_tokens,
            self._settings.lead_reasoning_max_output_tokens,
        )

    async def _hold(self, context: common_pb2.RequestContext, leads: int) -> Hold | None:
        decision = decide_typed(
            self._flags.config,
            "budget_enforcement",
            BudgetEnforcementParameters,
            context.tenant_id,
            "",
        )
        if not decision.active:
            return None
        task_context = common_pb2.RequestContext()
        task_context.CopyFrom(context)
        task_context.task = common_pb2.TASK_TYPE_LEAD_ANALYSIS
        return await self._budget.reserve(
            self._track("budget_ledger", context),
            decision,
            task_context,
            self._max_reasoning_cost() * leads,
        )

    async def _batch_hold(
        self, context: common_pb2.RequestContext, leads: int
    ) -> tuple[Hold | None, lead_scoring_pb2.ReasoningAllowance | None]:
        """A hold for as many leads' reasoning as the budget covers, and the allowance to send
        when that is not all of them."""
        try:
            return await self._hold(context, leads), None
        except ServiceError as exc:
            refusal = exc
        per_lead = max(1, self._max_reasoning_cost())
        covered = leads
        # The ledger says what is left; a few tries absorb other budgets and concurrent spend.
        for _ in range(4):
            if refusal.code != grpc.StatusCode.RESOURCE_EXHAUSTED:
                raise refusal
            left = int(refusal.metadata.get("remaining_micros", "0") or 0)
            covered = min(covered - 1, left // per_lead)
            if covered <= 0:
                break
            try:
                hold = await self._hold(context, covered)
            except ServiceError as exc:
                refusal = exc
                continue
            return hold, _allowance(covered, leads, refusal.message)
        return None, _allowance(0, leads, refusal.message)

    def _reasoning_charge(self, score: lead_scoring_pb2.LeadScore) -> int:
        """What one lead's reasoning is charged: what Claude billed, or, when the call was cut off
        after it went out and its cost is unknown, the most it could have cost (the hold's
        share for one lead), as for any spend the gateway cannot read."""
        if score.reasoning_cost_unknown:
            return self._max_reasoning_cost()
        return score.reasoning_cost.total_micros

    def _settle(self, context: common_pb2.RequestContext, hold: Hold | None, micros: int) -> None:
        if hold is None or not hold.held:
            return
        record = budget_ledger_pb2.UsageRecord(
            model=self._settings.lead_reasoning_model,
            task=common_pb2.TASK_TYPE_LEAD_ANALYSIS,
            cost=common_pb2.Cost(total_micros=micros),
            baseline_cost_micros=micros,
            cache_status=common_pb2.CACHE_STATUS_MISS,
        )
        self._budget.commit(self._track("budget_ledger", context), context, record, 0)

    async def score_one(
        self,
        context: common_pb2.RequestContext,
        request: gateway_pb2.ScoreLeadRequest,
        timeout: float,
    ) -> gateway_pb2.ScoreLeadResponse:
        reasoning = self._reasoning_allowed(context, request.with_reasoning)
        hold = await self._hold(context, 1) if reasoning else None
        call = lead_scoring_pb2.ComputeLeadScoreRequest(
            context=context, lead=request.lead, with_reasoning=reasoning
        )
        if request.HasField("as_of"):
            call.as_of.CopyFrom(request.as_of)
        scores = self._score(context, call, timeout)
        if hold is not None:
            # Read to its end in the background whoever still waits, as a Complete's answer is
            # (relay.py): the reasoning is charged at what Claude billed.
            def charged(
                reply: lead_scoring_pb2.ComputeLeadScoreResponse,
            ) -> lead_scoring_pb2.ComputeLeadScoreResponse:
                self._settle(context, hold, self._reasoning_charge(reply.score))
                return reply

            scores = Relay(
                scores,
                lead_scoring_pb2.ComputeLeadScoreResponse,
                charged,
                lambda: self._settle(context, hold, 0),
            ).start(self._background)
        async with contextlib.aclosing(scores):
            reply = await anext(scores)
        return gateway_pb2.ScoreLeadResponse(score=reply.score)

    async def _score(
        self,
        context: common_pb2.RequestContext,
        call: lead_scoring_pb2.ComputeLeadScoreRequest,
        timeout: float,
    ) -> AsyncGenerator[lead_scoring_pb2.ComputeLeadScoreResponse, None]:
        """The lead's score as a stream of one, the shape a Relay reads to its end."""
        track = self._track("lead_scoring", context)
        # One lead: at most LEAD_SCORING_TIMEOUT_SECONDS, however long the caller would wait.
        timeout = min(timeout, self._settings.lead_scoring_timeout_seconds)
        try:
            reply = await dependencies.call(
                track, "ComputeLeadScore", track.stub.ComputeLeadScore, call, timeout
            )
        except DependencyDown as exc:
            raise unavailable("Lead scoring is unavailable; try again shortly.") from exc
        except grpc.aio.AioRpcError as exc:
            raise forward_error(exc, "lead scoring") from exc
        yield reply

    async def score_many(
        self,
        context: common_pb2.RequestContext,
        request: gateway_pb2.ScoreLeadsRequest,
        timeout: float,
    ) -> AsyncIterator[gateway_pb2.ScoreLeadsResponse]:
        reasoning = self._reasoning_allowed(context, request.with_reasoning)
        hold, allowance = None, None
        if reasoning:
            hold, allowance = await self._batch_hold(context, len(request.leads))
        call_request = lead_scoring_pb2.ComputeLeadScoresRequest(
            context=context,
            leads=request.leads,
            with_reasoning=reasoning,
            max_concurrency=request.max_concurrency,
        )
        if allowance is not None:
            call_request.reasoning_allowance.CopyFrom(allowance)
        if request.HasField("as_of"):
            call_request.as_of.CopyFrom(request.as_of)
        leads = self._scores(context, call_request, timeout)
        if hold is None:
            async with contextlib.aclosing(leads):
                async for item in leads:
                    yield _reply(item)
            return
        # Read to its end in the background whoever still waits, as a single lead is: the leads
        # in flight when a caller leaves are billed by Claude, and what is scored after lands in
        # lead scoring's reasoning cache, where a retry of the batch finds it. The batch charges
        # itself (_charging), so the relay has nothing left to settle.
        relayed = Relay(self._charging(context, hold, leads), _BatchEnd, _as_is, _nothing)
        items = relayed.start(self._background)
        async with contextlib.aclosing(items):
            async for outcome in items:
                if not isinstance(outcome, _BatchEnd):
                    yield _reply(outcome)

    async def _scores(
        self,
        context: common_pb2.RequestContext,
        call: lead_scoring_pb2.ComputeLeadScoresRequest,
        timeout: float,
    ) -> AsyncGenerator[lead_scoring_pb2.ComputeLeadScoresResponse, None]:
        track = self._track("lead_scoring", context)
        items: AsyncGenerator[lead_scoring_pb2.ComputeLeadScoresResponse, None] = (
            dependencies.stream(
                track, "ComputeLeadScores", track.stub.ComputeLeadScores, call, timeout
            )
        )
        try:
            async with contextlib.aclosing(items):
                async for item in items:
                    yield item
        except DependencyDown as exc:
            if exc.error is None:
                raise unavailable("Lead scoring is unavailable; try again shortly.") from exc
            raise forward_error(exc.error, "lead scoring") from exc
        except grpc.aio.AioRpcError as exc:
            raise forward_error(exc, "lead scoring") from exc

    async def _charging(
        self,
        context: common_pb2.RequestContext,
        hold: Hold,
        leads: AsyncGenerator[lead_scoring_pb2.ComputeLeadScoresResponse, None],
    ) -> AsyncGenerator[lead_scoring_pb2.ComputeLeadScoresResponse | _BatchEnd, None]:
        """The batch's items, then its end; the reasoning of the leads that arrived is charged
        once, however the stream ends (to its end, broken part-way, or the gateway stopping)."""
        spent = 0
        try:
            async with contextlib.aclosing(leads):
                async for item in leads:
                    if item.HasField("score"):
                        spent += self._reasoning_charge(item.score)
                    yield item
        finally:
            self._settle(context, hold, spent)
        yield _BatchEnd()


class _BatchEnd:
    """Every lead of a batch has arrived."""


def _as_is(end: _BatchEnd) -> _BatchEnd:
    return end


def _nothing() -> None:
    """A batch's relay settles nothing: the batch was charged as its stream ended."""


def _reply(item: lead_scoring_pb2.ComputeLeadScoresResponse) -> gateway_pb2.ScoreLeadsResponse:
    reply = gateway_pb2.ScoreLeadsResponse(index=item.index)
    if item.HasField("score"):
        reply.score.CopyFrom(item.score)
    else:
        reply.error = item.error
    return reply


def _allowance(covered: int, leads: int, refusal: str) -> lead_scoring_pb2.ReasoningAllowance:
    return lead_scoring_pb2.ReasoningAllowance(
        leads=covered,
        reason=f"the budget covers Claude's reasoning for {covered} of {leads} leads ({refusal})",
    )
