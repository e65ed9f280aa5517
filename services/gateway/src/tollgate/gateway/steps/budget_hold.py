"""Budget enforcement as a step: hold the most the request can cost before Claude, commit what
it cost after, release the hold when no answer comes. A cache hit costs nothing but is recorded
for the usage and savings reports."""

from __future__ import annotations

from collections.abc import Mapping

from tollgate.common.agent_profiles import profile_block
from tollgate.common.flag_definitions import BudgetEnforcementParameters
from tollgate.common.pricing import PriceTable
from tollgate.common.token_bound import upper_bound_request, upper_bound_template_variables
from tollgate.gateway.budget import Hold
from tollgate.gateway.flags import FlagDecision
from tollgate.gateway.metrics import instruments
from tollgate.gateway.settings import Settings
from tollgate.gateway.steps.base import (
    NO_EFFECT,
    Answer,
    Draft,
    Effect,
    FlagStep,
    Request,
    StepServices,
)
from tollgate.v1 import budget_ledger_pb2, common_pb2


def usage_record(
    request: Request, response: common_pb2.ClaudeResponse, account: common_pb2.Account
) -> budget_ledger_pb2.UsageRecord:
    return budget_ledger_pb2.UsageRecord(
        model=response.model,
        task=request.context.task,
        usage=account.usage,
        cost=account.cost,
        baseline_cost_micros=account.baseline_cost_micros,
        cache_status=account.cache_status,
        optimizations=account.optimizations,
    )


def billed_tokens(usage: common_pb2.Usage) -> int:
    return (
        usage.input_tokens
        + usage.output_tokens
        + usage.cache_read_input_tokens
        + usage.cache_creation_input_tokens
    )


def input_tokens(
    settings: Settings,
    request: common_pb2.ClaudeRequest,
    template_variables: Mapping[str, str] | None = None,
    agent_profile: common_pb2.AgentProfile | None = None,
) -> int:
    """At least the input tokens of the request as Claude gets it: the messages, system and
    tools, the agent's profile block, and, with template variables, the task template rendered
    with them."""
    if agent_profile is not None:
        with_profile = common_pb2.ClaudeRequest()
        with_profile.CopyFrom(request)
        with_profile.system.append(profile_block(agent_profile))
        request = with_profile
    tokens = upper_bound_request(request)
    if template_variables:
        tokens += settings.reservation_template_tokens + upper_bound_template_variables(
            template_variables, settings.reservation_template_variable_uses
        )
    return tokens


def max_cost(
    settings: Settings,
    prices: PriceTable,
    request: common_pb2.ClaudeRequest,
    template_variables: Mapping[str, str] | None = None,
    agent_profile: common_pb2.AgentProfile | None = None,
) -> int:
    """The most a request can cost: its input tokens (an upper bound, times the margin) +
    max_tokens, priced for the named model, else the dearest model the orchestrator may route
    to."""
    tokens = int(
        input_tokens(settings, request, template_variables, agent_profile)
        * settings.reservation_token_margin
    )
    return priced_at_most(settings, prices, request.model, tokens, request.max_tokens)


def priced_at_most(
    settings: Settings, prices: PriceTable, model: str, input_tokens: int, output_tokens: int
) -> int:
    """The price of these tokens for `model`, else for the dearest model the orchestrator may
    route to (0 when none is known)."""
    routable = settings.reservation_models or prices.role_models
    known = [m for m in ([model] if model else routable) if prices.knows(m)]
    return max((prices.max_cost(m, input_tokens, output_tokens) for m in known), default=0)


class BudgetHoldStep(FlagStep[BudgetEnforcementParameters]):
    key = "budget_enforcement"

    def __init__(
        self,
        request: Request,
        decision: FlagDecision[BudgetEnforcementParameters],
        services: StepServices,
    ) -> None:
        super().__init__(request, decision, services)
        self.hold: Hold | None = None

    def max_cost(self, request: common_pb2.ClaudeRequest) -> int:
        return max_cost(
            self._services.settings,
            self._services.prices,
            request,
            self._request.completion.template_variables,
            self._request.agent_profile,
        )

    async def before(self, draft: Draft) -> Effect:
        if not self._decision.active:
            return NO_EFFECT
        context = self._request.context
        self.hold = await self._services.budget.reserve(
            self._services.routes.budget_ledger(),
            self._decision,
            context,
            max(1, self.max_cost(draft.request)),
        )
        self.report = self.hold.report
        snapshot = self.hold.snapshot
        if snapshot is not None and snapshot.limit_micros > 0:
            spent = snapshot.limit_micros - snapshot.remaining_micros
            instruments().budget_used.set(
                spent / snapshot.limit_micros,
                {"tenant": context.tenant_id, "scope": snapshot.scope},
            )
        return NO_EFFECT

    def on_answer(self, answer: Answer, account: common_pb2.Account) -> None:
        if not self._decision.active:
            return
        budget = self._services.budget
        record = usage_record(self._request, answer.response, account)
        track = self._services.routes.budget_ledger()
        if answer.from_cache:
            budget.record_usage(track, self._request.context, record)
        elif self.hold is not None and self.hold.held:
            tokens = billed_tokens(answer.response.usage)
            budget.commit(track, self._request.context, record, tokens)

    def on_broken(self, answer: Answer, account: common_pb2.Account) -> None:
        # What Claude produced before the break was billed: committed like an answer.
        self.on_answer(answer, account)

    def on_failure(self) -> None:
        if self.hold is not None and self.hold.held:
            self._services.budget.release(
                self._services.routes.budget_ledger(), self._request.context
            )
