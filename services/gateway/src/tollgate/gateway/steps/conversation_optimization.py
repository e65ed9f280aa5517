"""Conversation optimization: send Claude a shorter conversation that keeps what matters.

Its saving is the input tokens it removed, priced for the model that answered, less what the
optimizer's summaries cost. In shadow mode the request goes unchanged and the report says what
would have been saved.
"""

from __future__ import annotations

import functools

from tollgate.common.flag_definitions import (
    ConversationOptimizationParameters,
    PromptCachingParameters,
)
from tollgate.common.token_estimate import estimate_request
from tollgate.gateway.flags import FlagDecision
from tollgate.gateway.steps.base import (
    NO_EFFECT,
    Answer,
    Draft,
    Effect,
    FlagStep,
    Request,
    StepServices,
)
from tollgate.v1 import conversation_optimizer_pb2


class ConversationOptimizationStep(FlagStep[ConversationOptimizationParameters]):
    key = "conversation_optimization"

    def __init__(
        self,
        request: Request,
        decision: FlagDecision[ConversationOptimizationParameters],
        prompt_caching: FlagDecision[PromptCachingParameters],
        services: StepServices,
    ) -> None:
        super().__init__(request, decision, services)
        self._prompt_caching = prompt_caching
        # Tokens taken out of the request actually sent (enforce mode only).
        self.tokens_removed = 0
        self.summary_cost_micros = 0
        # Messages of the optimized request that the next turn resends unchanged (enforce mode
        # only): the orchestrator ends its prompt-cache breakpoint there.
        self.stable_messages = 0

    def calls_optimizer(self) -> bool:
        """Whether `before` asks the optimizer: not when the step is off, nor for one message
        within the target. One message is one exchange, the conversation's verbatim tail: the
        optimizer cuts only history and would send it back unchanged (its tests hold it to that
        for any message, strategies and target), so the hop is saved. A target set here and
        missed is still sent, for the optimizer's explanation of the miss."""
        if not self._decision.active:
            return False
        if len(self._request.completion.request.messages) != 1:
            return True
        target = self._decision.parameters.target_tokens
        return bool(target) and self._one_message_tokens > target

    @functools.cached_property
    def _one_message_tokens(self) -> int:
        return estimate_request(self._request.completion.request)

    async def before(self, draft: Draft) -> Effect:
        decision = self._decision
        if not decision.active:
            return NO_EFFECT
        report = self.start_report(decision)
        parameters = decision.parameters
        request = self._request.completion.request
        if not self.calls_optimizer():
            report.detail = f"{self._one_message_tokens} tokens in one message: no history to cut"
            return NO_EFFECT
        call = conversation_optimizer_pb2.OptimizeConversationRequest(
            context=self._request.context,
            request=request,
            target_tokens=parameters.target_tokens,
            strategies=list(parameters.strategies),
            # Cutting a conversation rewrites Anthropic's prompt cache; with caching on, the
            # optimizer keeps its conversation append-only and says where the part the next
            # turn resends ends (stable_messages), for the orchestrator's breakpoint.
            prompt_caching=self._prompt_caching.enforce,
        )
        track = self._services.routes.conversation_optimizer()
        timeout = self._services.settings.conversation_optimizer_timeout_seconds
        reply = await self.ask(
            report, track, "OptimizeConversation", track.stub.OptimizeConversation, call, timeout
        )
        if reply is None:
            return NO_EFFECT
        removed = max(0, reply.original_tokens - reply.optimized_tokens)
        report.tokens_saved = removed
        self.summary_cost_micros = reply.summary_cost_micros
        report.detail = (
            f"{reply.original_tokens} → {reply.optimized_tokens} tokens, "
            f"{reply.turns_removed} turns removed"
        )
        if not reply.target_met and reply.target_explanation:
            report.detail += f"; target not met: {reply.target_explanation}"
        if decision.enforce and removed > 0:
            self.tokens_removed = removed
            # The orchestrator refuses a prefix longer than the request: one the optimizer got
            # wrong only loses the breakpoint, never the request.
            if reply.stable_messages < len(reply.request.messages):
                self.stable_messages = reply.stable_messages
            report.applied = True
            return Effect(request=reply.request)
        return NO_EFFECT

    def savings(self, answer: Answer) -> int:
        report = self.report
        if report is None or answer.from_cache:
            return 0
        model = answer.response.model
        calculator = self._services.savings
        net = calculator.input_cost(model, report.tokens_saved) - self.summary_cost_micros
        # A saving is never negative (the ledger refuses one); summaries that cost more than they
        # saved are said in the detail, and their cost is charged with the request either way.
        report.micros_saved = max(0, net)
        if net < 0:
            report.detail += f"; its summaries cost {-net} micro-dollars more than they saved"
        return calculator.input_cost(model, self.tokens_removed)
