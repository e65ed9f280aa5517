"""Measured precision of the semantic cache: a second, real answer for a semantic hit.

A would-be hit (the flag's shadow mode, or the service's own shadow) already gets Claude's
answer: both go to SemanticVerify. A served hit the lookup marked `verify` (the tenant's sample
rate, set in the semantic-cache service) is asked again off the critical path, as a call of its
own: held and committed in the budget ledger under the request id + ":verify" (so a retried
request is charged and asked once; a tenant without budget left skips the verification), its
usage recorded with cache status VERIFICATION (its cost) and a `semantic_verification` line
that saved nothing (its count). SemanticVerify counts each verdict once per tenant and request
id; its reply's precision goes to the metrics and later accounts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tollgate.common.errors import ServiceError
from tollgate.common.flag_definitions import BudgetEnforcementParameters
from tollgate.gateway import dependencies
from tollgate.gateway.budget import Hold
from tollgate.gateway.flags import FlagDecision
from tollgate.gateway.metrics import instruments
from tollgate.gateway.steps.base import SKIPPABLE, Request, StepServices
from tollgate.gateway.steps.budget_hold import billed_tokens, max_cost
from tollgate.v1 import budget_ledger_pb2, common_pb2, orchestrator_pb2, semantic_cache_pb2

log = logging.getLogger("tollgate.gateway.semantic_verification")

VERIFY_SUFFIX = ":verify"
REPORT_KEY = "semantic_verification"


@dataclass(frozen=True)
class Pending:
    """A hit to verify: the entry and the answer it gave (or would have given)."""

    entry_id: str
    cached: common_pb2.ClaudeResponse
    # Not served (a would-be hit): Claude's answer to the request itself is the fresh one.
    shadow: bool


def _outcome(outcome: str) -> None:
    instruments().semantic_verifications.add(1, {"outcome": outcome})


def verification_context(context: common_pb2.RequestContext) -> common_pb2.RequestContext:
    """The verification call's context: the request's, under a request id of its own."""
    own = common_pb2.RequestContext()
    own.CopyFrom(context)
    own.request_id = context.request_id + VERIFY_SUFFIX
    return own


def verification_record(
    request: Request, response: common_pb2.ClaudeResponse, cost: common_pb2.Cost
) -> budget_ledger_pb2.UsageRecord:
    """The ledger's record of a verification call: it saved nothing and cost what it cost."""
    line = common_pb2.OptimizationReport(
        optimization=REPORT_KEY,
        mode=common_pb2.FLAG_MODE_ENFORCE,
        applied=True,
        detail=(
            f"verified a semantic-cache hit of request {request.context.request_id}: "
            f"cost {cost.total_micros} micro-dollars"
        ),
    )
    return budget_ledger_pb2.UsageRecord(
        model=response.model,
        task=request.context.task,
        usage=response.usage,
        cost=cost,
        baseline_cost_micros=cost.total_micros,
        cache_status=common_pb2.CACHE_STATUS_VERIFICATION,
        optimizations=[line],
    )


class SemanticVerifier:
    """Verifies one request's semantic hit, off the critical path."""

    def __init__(
        self,
        request: Request,
        services: StepServices,
        budget: FlagDecision[BudgetEnforcementParameters],
    ) -> None:
        self._request = request
        self._services = services
        self._budget = budget

    def compare(self, pending: Pending, fresh: common_pb2.ClaudeResponse) -> None:
        """A would-be hit: Claude's answer to the request is already here."""
        self._services.background.spawn("semantic verify", self._report(pending, fresh))

    def ask_again(self, pending: Pending, sent: common_pb2.ClaudeRequest) -> None:
        """A served hit: ask Claude the same request, charged, then compare."""
        self._services.background.spawn("semantic verification call", self._verify(pending, sent))

    async def _verify(self, pending: Pending, sent: common_pb2.ClaudeRequest) -> None:
        context = verification_context(self._request.context)
        hold = await self._hold(context, sent)
        if hold is None:
            return
        track = self._services.routes.orchestrator()
        spec = orchestrator_pb2.GenerationSpec(
            context=context,
            request=sent,
            template_variables=self._request.completion.template_variables,
        )
        try:
            reply = await dependencies.call(
                track,
                "Generate",
                track.stub.Generate,
                orchestrator_pb2.GenerateRequest(spec=spec),
                self._services.settings.orchestrator_timeout_seconds,
            )
        except SKIPPABLE as exc:
            _outcome("failed")
            log.warning("semantic verification call failed: %s", exc)
            if hold.held:
                self._services.budget.release(self._services.routes.budget_ledger(), context)
            return
        result = reply.result
        self._settle(context, hold, result)
        await self._report(pending, result.response)

    async def _hold(
        self, context: common_pb2.RequestContext, sent: common_pb2.ClaudeRequest
    ) -> Hold | None:
        """The verification's hold (unheld when the tenant's budgets are not enforced); None
        when it must not run: no budget left, the ledger refusing, or asked before."""
        decision = self._budget
        if not decision.active:
            return Hold(held=False, report=common_pb2.OptimizationReport())
        try:
            hold = await self._services.budget.reserve(
                self._services.routes.budget_ledger(),
                decision,
                context,
                max(1, max_cost(self._services.settings, self._services.prices, sent)),
            )
        except ServiceError as exc:
            _outcome("no_budget")
            log.info("semantic verification skipped for %s: %s", context.tenant_id, exc)
            return None
        if hold.reused:
            _outcome("repeat")
            return None
        return hold

    def _settle(
        self,
        context: common_pb2.RequestContext,
        hold: Hold,
        result: orchestrator_pb2.GenerationResult,
    ) -> None:
        record = verification_record(self._request, result.response, result.cost)
        track = self._services.routes.budget_ledger()
        if hold.held:
            tokens = billed_tokens(result.response.usage)
            self._services.budget.commit(track, context, record, tokens)
        elif self._budget.active:
            self._services.budget.record_usage(track, context, record)

    async def _report(self, pending: Pending, fresh: common_pb2.ClaudeResponse) -> None:
        verify = semantic_cache_pb2.SemanticVerifyRequest(
            context=self._request.context,
            entry_id=pending.entry_id,
            cached_response=pending.cached,
            fresh_response=fresh,
            shadow=pending.shadow,
        )
        track = self._services.routes.semantic_cache()
        try:
            reply = await dependencies.call(
                track,
                "SemanticVerify",
                track.stub.SemanticVerify,
                verify,
                self._services.settings.semantic_cache_timeout_seconds * 4,
            )
        except SKIPPABLE as exc:
            _outcome("failed")
            log.warning("SemanticVerify failed: %s", exc)
            return
        if not reply.recorded:
            _outcome("repeat")
        else:
            _outcome("agreed" if reply.agreed else "disagreed")
        self._services.precision.update(self._request.context.tenant_id, reply.precision)
