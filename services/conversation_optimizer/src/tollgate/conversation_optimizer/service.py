"""The conversation optimizer gRPC service: OptimizeConversation and CountTokens."""

from __future__ import annotations

import grpc

from tollgate.common.errors import invalid_argument
from tollgate.common.interceptors import annotate
from tollgate.common.server import GrpcService, Registration
from tollgate.common.tls import channel_credentials
from tollgate.common.token_estimate import estimate_request
from tollgate.conversation_optimizer.conversation import parse_conversation
from tollgate.conversation_optimizer.exact_count import ExactTokenCounter
from tollgate.conversation_optimizer.metrics import optimizer_metrics
from tollgate.conversation_optimizer.optimizer import ConversationOptimizer, Outcome
from tollgate.conversation_optimizer.policy import TASK_NAMES, PolicyBook
from tollgate.conversation_optimizer.settings import Settings
from tollgate.conversation_optimizer.summarizer import OrchestratorSummarizer
from tollgate.v1 import conversation_optimizer_pb2, conversation_optimizer_pb2_grpc

SERVICE_NAME = "ConversationOptimizerService"


class ConversationOptimizerServicer(
    conversation_optimizer_pb2_grpc.ConversationOptimizerServiceServicer
):
    def __init__(
        self,
        policies: PolicyBook,
        optimizer: ConversationOptimizer,
        counter: ExactTokenCounter,
    ) -> None:
        self._policies = policies
        self._optimizer = optimizer
        self._counter = counter

    async def OptimizeConversation(
        self,
        request: conversation_optimizer_pb2.OptimizeConversationRequest,
        context: grpc.aio.ServicerContext,
    ) -> conversation_optimizer_pb2.OptimizeConversationResponse:
        annotate(tenant=request.context.tenant_id, request_id=request.context.request_id)
        if not request.HasField("request"):
            raise invalid_argument(
                "request is required: send the conversation to optimize.", "request"
            )
        policy = self._policies.for_request(
            request.context.task,
            request.strategies,
            request.target_tokens,
            request.prompt_caching,
        )
        outcome = await self._optimizer.optimize(request.request, policy, request.context)
        _record(outcome, TASK_NAMES.get(request.context.task, "chat"))
        return conversation_optimizer_pb2.OptimizeConversationResponse(
            request=outcome.request,
            original_tokens=outcome.original_tokens,
            optimized_tokens=outcome.optimized_tokens,
            turns_removed=outcome.turns_removed,
            facts_note=outcome.facts_note,
            strategies_applied=outcome.strategies_applied,
            summary_cost_micros=outcome.summary_cost_micros,
            target_met=outcome.target.met,
            target_missed_by_tokens=outcome.target.missed_by,
            target_explanation=outcome.target.explanation,
            summary_usage=outcome.summary_usage,
            summary_model=outcome.summary_model,
            stable_messages=outcome.stable_messages if outcome.changed else 0,
        )

    async def CountTokens(
        self,
        request: conversation_optimizer_pb2.CountTokensRequest,
        context: grpc.aio.ServicerContext,
    ) -> conversation_optimizer_pb2.CountTokensResponse:
        annotate(tenant=request.context.tenant_id, request_id=request.context.request_id)
        if not request.HasField("request"):
            raise invalid_argument("request is required: send the request to count.", "request")
        parse_conversation(request.request)
        if request.exact and self._counter.available:
            exact = await self._counter.count(request.context.tenant_id, request.request)
            if exact is not None:
                return conversation_optimizer_pb2.CountTokensResponse(
                    input_tokens=exact, exact=True
                )
        return conversation_optimizer_pb2.CountTokensResponse(
            input_tokens=estimate_request(request.request), exact=False
        )


def _record(outcome: Outcome, task: str) -> None:
    instruments = optimizer_metrics()
    changed = "true" if outcome.changed else "false"
    instruments.optimized.add(1, {"task": task, "changed": changed})
    removed = outcome.original_tokens - outcome.optimized_tokens
    if removed > 0:
        instruments.tokens_removed.add(removed, {"task": task})
    for strategy in outcome.strategies_applied:
        instruments.strategies.add(1, {"strategy": strategy})


async def build_service(settings: Settings) -> GrpcService:
    policies = PolicyBook(settings.default_policy, settings.task_policies)
    summarizer = OrchestratorSummarizer(
        settings.orchestrator_address,
        settings.summary_model,
        settings.summary_timeout_seconds,
        settings.summary_cache_entries,
        settings.max_message_bytes,
        credentials=channel_credentials(settings),
    )
    counter = ExactTokenCounter(
        settings.anthropic_api_key.get_secret_value(),
        settings.anthropic_base_url,
        settings.count_tokens_model,
        settings.count_tokens_timeout_seconds,
        settings.count_cache_entries,
    )
    servicer = ConversationOptimizerServicer(policies, ConversationOptimizer(summarizer), counter)
    descriptor = conversation_optimizer_pb2.DESCRIPTOR.services_by_name[SERVICE_NAME]
    registration = Registration(
        descriptor.full_name,
        conversation_optimizer_pb2_grpc.add_ConversationOptimizerServiceServicer_to_server,
        servicer,
    )
    return GrpcService(
        "conversation-optimizer",
        [registration],
        on_start=[summarizer.start, counter.start],
        on_stop=[summarizer.close, counter.close],
    )
