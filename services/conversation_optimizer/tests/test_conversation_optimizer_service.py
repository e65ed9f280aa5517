"""The service over real gRPC: OptimizeConversation, CountTokens, errors, summaries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.metrics import CallbackOptions

from tollgate.common.anthropic_format import request_to_params
from tollgate.common.server import GrpcService, Registration
from tollgate.common.testing import serving
from tollgate.conversation_optimizer.metrics import optimizer_metrics
from tollgate.conversation_optimizer.optimizer import ConversationOptimizer
from tollgate.conversation_optimizer.policy import Policy
from tollgate.conversation_optimizer.service import build_service
from tollgate.conversation_optimizer.settings import Settings
from tollgate.emulator import EmulatorServer, count_request_tokens
from tollgate.v1 import (
    common_pb2,
    conversation_optimizer_pb2,
    conversation_optimizer_pb2_grpc,
    orchestrator_pb2,
    orchestrator_pb2_grpc,
)

Stub = conversation_optimizer_pb2_grpc.ConversationOptimizerServiceStub


def bad_request_fields(error: grpc.aio.AioRpcError) -> list[str]:
    """Field paths of the google.rpc.BadRequest detail the service attached."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                bad = error_details_pb2.BadRequest()
                if detail.Unpack(bad):
                    return [v.field for v in bad.field_violations]
    return []


async def test_optimize_over_grpc_reports_what_it_removed(
    optimizer_stub: Stub, long_crm_request: common_pb2.ClaudeRequest
) -> None:
    response = await optimizer_stub.OptimizeConversation(
        conversation_optimizer_pb2.OptimizeConversationRequest(
            context=common_pb2.RequestContext(tenant_id="acme", request_id="req_1"),
            request=long_crm_request,
        )
    )
    assert response.original_tokens > response.optimized_tokens > 0
    # At the defaults a long conversation loses well over half of its input tokens.
    assert response.optimized_tokens < response.original_tokens * 0.5
    assert response.turns_removed > 10
    assert len(response.request.messages) == len(long_crm_request.messages) - response.turns_removed
    applied = set(response.strategies_applied)
    assert {"keep_recent", "facts_note"} <= applied
    assert applied <= {
        "keep_recent",
        "drop_low_value",
        "condense_replies",
        "truncate_tool_results",
        "facts_note",
    }
    assert response.facts_note.startswith("Facts so far")
    assert response.request.system[-1].text.text == response.facts_note
    assert response.summary_cost_micros == 0
    # The estimate the service reports is close to the reference count of what it returns.
    reference = count_request_tokens(request_to_params(response.request))
    assert abs(response.optimized_tokens - reference) <= 0.05 * reference


async def test_a_short_conversation_comes_back_unchanged(optimizer_stub: Stub, make: Any) -> None:
    request = make.request([make.user("Hi, we need three bedrooms near Maplewood.")])
    response = await optimizer_stub.OptimizeConversation(
        conversation_optimizer_pb2.OptimizeConversationRequest(request=request)
    )
    assert response.request == request
    assert response.turns_removed == 0
    assert response.original_tokens == response.optimized_tokens
    assert list(response.strategies_applied) == []
    assert response.facts_note == ""


def _tallied() -> dict[tuple[str, str], int]:
    return {
        (o.attributes["task"], o.attributes["changed"]): int(o.value)
        for o in optimizer_metrics().optimized.observe(CallbackOptions())
        if o.attributes is not None
    }


async def test_conversations_are_tallied_by_task_and_change(
    optimizer_stub: Stub, make: Any, long_crm_request: common_pb2.ClaudeRequest
) -> None:
    before = _tallied()
    short = make.request([make.user("Hi, we need three bedrooms near Maplewood.")])
    for _ in range(3):
        await optimizer_stub.OptimizeConversation(
            conversation_optimizer_pb2.OptimizeConversationRequest(request=short)
        )
    report = conversation_optimizer_pb2.OptimizeConversationRequest(
        request=long_crm_request,
        context=common_pb2.RequestContext(task=common_pb2.TASK_TYPE_REPORT),
    )
    assert (await optimizer_stub.OptimizeConversation(report)).turns_removed > 0
    after = _tallied()
    added = {key: after[key] - before.get(key, 0) for key in after if after[key] != before.get(key)}
    assert added == {("chat", "false"): 3, ("report", "true"): 1}


async def test_the_request_chooses_its_strategies_and_target(
    optimizer_stub: Stub, long_crm_request: common_pb2.ClaudeRequest
) -> None:
    only_recent = await optimizer_stub.OptimizeConversation(
        conversation_optimizer_pb2.OptimizeConversationRequest(
            request=long_crm_request, strategies=["keep_recent"]
        )
    )
    assert list(only_recent.strategies_applied) == ["keep_recent"]
    assert only_recent.facts_note == ""
    tight = await optimizer_stub.OptimizeConversation(
        conversation_optimizer_pb2.OptimizeConversationRequest(
            request=long_crm_request, target_tokens=1500
        )
    )
    default = await optimizer_stub.OptimizeConversation(
        conversation_optimizer_pb2.OptimizeConversationRequest(request=long_crm_request)
    )
    assert tight.optimized_tokens < default.optimized_tokens
    assert tight.turns_removed > default.turns_removed


@pytest.mark.parametrize(
    ("request_message", "field"),
    [
        (conversation_optimizer_pb2.OptimizeConversationRequest(), "request"),
        (
            conversation_optimizer_pb2.OptimizeConversationRequest(
                request=common_pb2.ClaudeRequest(max_tokens=10)
            ),
            "request.messages",
        ),
        (
            conversation_optimizer_pb2.OptimizeConversationRequest(
                request=common_pb2.ClaudeRequest(
                    messages=[common_pb2.Message(role=common_pb2.ROLE_USER)]
                )
            ),
            "request.messages[0]",
        ),
        (
            conversation_optimizer_pb2.OptimizeConversationRequest(
                request=common_pb2.ClaudeRequest(
                    messages=[
                        common_pb2.Message(
                            content=[common_pb2.ContentBlock(text=common_pb2.TextBlock(text="hi"))]
                        )
                    ]
                )
            ),
            "request.messages[0].role",
        ),
        (
            conversation_optimizer_pb2.OptimizeConversationRequest(
                request=common_pb2.ClaudeRequest(
                    messages=[
                        common_pb2.Message(
                            role=common_pb2.ROLE_USER,
                            content=[
                                common_pb2.ContentBlock(
                                    tool_result=common_pb2.ToolResultBlock(tool_use_id="toolu_9")
                                )
                            ],
                        )
                    ]
                )
            ),
            "request.messages[0]",
        ),
        (
            conversation_optimizer_pb2.OptimizeConversationRequest(
                request=common_pb2.ClaudeRequest(
                    messages=[
                        common_pb2.Message(
                            role=common_pb2.ROLE_USER,
                            content=[common_pb2.ContentBlock(text=common_pb2.TextBlock(text=""))],
                        )
                    ]
                )
            ),
            "request.messages[0].content[0]",
        ),
        (
            conversation_optimizer_pb2.OptimizeConversationRequest(
                request=common_pb2.ClaudeRequest(
                    messages=[
                        common_pb2.Message(
                            role=common_pb2.ROLE_USER,
                            content=[common_pb2.ContentBlock(text=common_pb2.TextBlock(text="hi"))],
                        )
                    ]
                ),
                strategies=["keep_recent", "make_it_shorter"],
            ),
            "strategies[1]",
        ),
    ],
)
async def test_bad_input_is_invalid_argument_with_the_field(
    optimizer_stub: Stub,
    request_message: conversation_optimizer_pb2.OptimizeConversationRequest,
    field: str,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await optimizer_stub.OptimizeConversation(request_message)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = caught.value.details() or ""
    assert "Traceback" not in details
    assert len(details) > 20
    assert bad_request_fields(caught.value) == [field]


async def test_tool_use_without_its_result_is_refused(optimizer_stub: Stub, make: Any) -> None:
    orphan = make.request(
        [
            make.user("Find listings in Maplewood."),
            common_pb2.Message(
                role=common_pb2.ROLE_ASSISTANT,
                content=[make.tool_use("toolu_1", "search_listings", {"area": "Maplewood"})],
            ),
            make.user("Never mind."),
        ]
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await optimizer_stub.OptimizeConversation(
            conversation_optimizer_pb2.OptimizeConversationRequest(request=orphan)
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "toolu_1" in (caught.value.details() or "")


async def test_count_tokens_estimates_close_to_the_reference(
    optimizer_stub: Stub, long_crm_request: common_pb2.ClaudeRequest
) -> None:
    response = await optimizer_stub.CountTokens(
        conversation_optimizer_pb2.CountTokensRequest(request=long_crm_request, exact=True)
    )
    # No API key configured: the calibrated estimate, said to be one.
    assert response.exact is False
    reference = count_request_tokens(request_to_params(long_crm_request))
    assert abs(response.input_tokens - reference) <= 0.05 * reference


async def test_count_tokens_refuses_a_malformed_request(optimizer_stub: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await optimizer_stub.CountTokens(conversation_optimizer_pb2.CountTokensRequest())
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture
async def emulator() -> AsyncIterator[EmulatorServer]:
    async with EmulatorServer() as server:
        yield server


async def test_exact_count_comes_from_count_tokens_and_is_cached_per_tenant(
    emulator: EmulatorServer, long_crm_request: common_pb2.ClaudeRequest
) -> None:
    settings = Settings(
        host="127.0.0.1",
        port=0,
        anthropic_api_key="test-key",
        anthropic_base_url=emulator.base_url,
    )
    async with (
        serving(await build_service(settings), settings) as running,
        grpc.aio.insecure_channel(running.address) as channel,
    ):
        stub = Stub(channel)

        async def count(tenant: str) -> conversation_optimizer_pb2.CountTokensResponse:
            return await stub.CountTokens(
                conversation_optimizer_pb2.CountTokensRequest(
                    request=long_crm_request,
                    exact=True,
                    context=common_pb2.RequestContext(tenant_id=tenant),
                )
            )

        first = await count("acme")
        again = await count("acme")
        other_tenant = await count("globex")
    expected = count_request_tokens(request_to_params(long_crm_request))
    assert first.exact
    assert again.exact
    assert other_tenant.exact
    assert first.input_tokens == again.input_tokens == other_tenant.input_tokens == expected
    # One call per tenant: the second ask for acme came from the cache.
    assert len(emulator.stats.of_path("/v1/messages/count_tokens")) == 2


async def test_exact_count_falls_back_to_the_estimate_when_the_api_fails(
    long_crm_request: common_pb2.ClaudeRequest,
) -> None:
    settings = Settings(
        host="127.0.0.1",
        port=0,
        anthropic_api_key="test-key",
        # Nothing listens there.
        anthropic_base_url="http://127.0.0.1:9",
        count_tokens_timeout_seconds=2,
    )
    async with (
        serving(await build_service(settings), settings) as running,
        grpc.aio.insecure_channel(running.address) as channel,
    ):
        response = await Stub(channel).CountTokens(
            conversation_optimizer_pb2.CountTokensRequest(request=long_crm_request, exact=True)
        )
    assert response.exact is False
    assert response.input_tokens > 1000


class FakeOrchestrator(orchestrator_pb2_grpc.OrchestratorServiceServicer):
    """Answers Generate with a fixed summary and records what it was asked."""

    def __init__(self) -> None:
        self.requests: list[orchestrator_pb2.GenerateRequest] = []

    async def Generate(
        self, request: orchestrator_pb2.GenerateRequest, context: grpc.aio.ServicerContext
    ) -> orchestrator_pb2.GenerateResponse:
        self.requests.append(request)
        text = f"The client and the assistant discussed part {len(self.requests)}."
        return orchestrator_pb2.GenerateResponse(
            result=orchestrator_pb2.GenerationResult(
                response=common_pb2.ClaudeResponse(
                    content=[common_pb2.ContentBlock(text=common_pb2.TextBlock(text=text))],
                    usage=common_pb2.Usage(input_tokens=300, output_tokens=40),
                ),
                cost=common_pb2.Cost(total_micros=120),
            )
        )


async def test_summaries_come_from_the_orchestrator_and_are_cached(
    long_crm_request: common_pb2.ClaudeRequest,
) -> None:
    fake = FakeOrchestrator()
    orchestrator = GrpcService(
        "fake-orchestrator",
        [
            Registration(
                "tollgate.v1.OrchestratorService",
                orchestrator_pb2_grpc.add_OrchestratorServiceServicer_to_server,
                fake,
            )
        ],
    )
    async with serving(orchestrator) as orchestrator_server:
        settings = Settings(
            host="127.0.0.1", port=0, orchestrator_address=orchestrator_server.address
        )
        async with (
            serving(await build_service(settings), settings) as running,
            grpc.aio.insecure_channel(running.address) as channel,
        ):
            stub = Stub(channel)
            ask = conversation_optimizer_pb2.OptimizeConversationRequest(
                context=common_pb2.RequestContext(tenant_id="acme", request_id="req_7"),
                request=long_crm_request,
                strategies=["keep_recent", "facts_note", "summarize"],
            )
            first = await stub.OptimizeConversation(ask)
            calls_after_first = len(fake.requests)
            second = await stub.OptimizeConversation(ask)
            other_tenant = conversation_optimizer_pb2.OptimizeConversationRequest()
            other_tenant.CopyFrom(ask)
            other_tenant.context.tenant_id = "globex"
            third = await stub.OptimizeConversation(other_tenant)
    assert "summarize" in first.strategies_applied
    assert "Summary of the removed turns:" in first.facts_note
    assert "discussed part" in first.facts_note
    assert calls_after_first >= 1
    assert first.summary_cost_micros == 120 * calls_after_first
    # The tokens the summaries used travel with their cost, for the tenant's ledger.
    assert first.summary_usage.input_tokens == 300 * calls_after_first
    assert first.summary_usage.output_tokens == 40 * calls_after_first
    assert first.summary_model == "claude-haiku-4-5"
    # Same chunks, same tenant: all from the cache, the note byte-identical, nothing charged.
    assert second.facts_note == first.facts_note
    assert second.summary_cost_micros == 0
    assert second.summary_usage.input_tokens == 0
    # Summaries are cached per tenant: another tenant's identical chunks are summarised again.
    assert third.summary_cost_micros == first.summary_cost_micros
    assert len(fake.requests) == 2 * calls_after_first
    assert fake.requests[-1].spec.context.tenant_id == "globex"
    sent = fake.requests[0].spec
    assert sent.context.tenant_id == "acme"
    assert sent.context.request_id.startswith("req_7:summary:")
    assert sent.request.model == "claude-haiku-4-5"
    assert "Client:" in sent.request.messages[0].content[0].text.text


async def test_an_unreachable_orchestrator_skips_summaries_not_the_request(
    long_crm_request: common_pb2.ClaudeRequest,
) -> None:
    settings = Settings(
        host="127.0.0.1",
        port=0,
        orchestrator_address="127.0.0.1:9",
        summary_timeout_seconds=0.5,
    )
    async with (
        serving(await build_service(settings), settings) as running,
        grpc.aio.insecure_channel(running.address) as channel,
    ):
        response = await Stub(channel).OptimizeConversation(
            conversation_optimizer_pb2.OptimizeConversationRequest(
                request=long_crm_request,
                strategies=["keep_recent", "facts_note", "summarize"],
            )
        )
    assert "summarize" not in response.strategies_applied
    assert "keep_recent" in response.strategies_applied
    assert response.facts_note.startswith("Facts so far")
    assert response.summary_cost_micros == 0


async def test_prompt_caching_requests_are_cut_in_larger_chunks(
    optimizer_stub: Stub, long_crm_request: common_pb2.ClaudeRequest
) -> None:
    response = await optimizer_stub.OptimizeConversation(
        conversation_optimizer_pb2.OptimizeConversationRequest(
            request=long_crm_request, prompt_caching=True
        )
    )
    policy = Policy().for_prompt_caching()
    expected = await ConversationOptimizer().optimize(long_crm_request, policy)
    # With caching, old turns are condensed rather than dropped (dropping rewrites the cache).
    assert expected.changed
    assert expected.dropped_exchanges == 0
    assert response.request == expected.request
    assert response.turns_removed == expected.turns_removed
