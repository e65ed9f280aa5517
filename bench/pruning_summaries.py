"""Claude summaries of dropped turns (`summarize`) against the local strategies alone.

    uv run python -m bench.pruning_summaries

The frozen test split of `bench.dialogues`, each whole conversation optimized once with prompt
caching off (summaries only describe dropped chunks, and with caching nothing is dropped below
the target), through the real services: the optimizer service calls the orchestrator, which
calls the Anthropic API emulator over HTTP with the official SDK and prices the summaries. The
cost of a request is its input at claude-sonnet-4-5 list prices plus what its summaries cost.

What the emulator can and cannot show: its answers are templated text that echoes words of the
transcript, so the summary *tokens and cost* are real measurements of the mechanism, but whether
a summary keeps facts is not: the retention figures here count the user's facts verbatim, which
the local note keeps either way, and say nothing about how good a real model's summary is.
"""

from __future__ import annotations

import asyncio
import statistics
from typing import Any

import grpc

from bench.dialogue_scoring import Score, score
from bench.dialogues import load_test
from tollgate.common.anthropic_format import request_from_params, request_to_params
from tollgate.common.pricing import PriceTable
from tollgate.common.testing import serving
from tollgate.conversation_optimizer.service import build_service as build_optimizer
from tollgate.conversation_optimizer.settings import Settings as OptimizerSettings
from tollgate.emulator import EmulatorServer
from tollgate.emulator.tokens import count_request_tokens
from tollgate.orchestrator.service import build_service as build_orchestrator
from tollgate.orchestrator.settings import Settings as OrchestratorSettings
from tollgate.v1 import common_pb2, conversation_optimizer_pb2, conversation_optimizer_pb2_grpc

PRICED_MODEL = "claude-sonnet-4-5"
LOCAL = ["keep_recent", "drop_low_value", "condense_replies", "truncate_tool_results", "facts_note"]
CHAINS = [
    ("local strategies (default chain)", LOCAL),
    ("default chain + summarize", [*LOCAL, "summarize"]),
]


async def run_chain(
    stub: conversation_optimizer_pb2_grpc.ConversationOptimizerServiceStub,
    conversations: list[dict[str, Any]],
    strategies: list[str],
) -> tuple[int, int, int, Score, list[int]]:
    prices = PriceTable.load()
    original = optimized = summary_micros = 0
    total = Score()
    summary_tokens: list[int] = []
    for n, conversation in enumerate(conversations):
        reply = await stub.OptimizeConversation(
            conversation_optimizer_pb2.OptimizeConversationRequest(
                context=common_pb2.RequestContext(
                    tenant_id="bench", request_id=f"summaries-{n}", task=common_pb2.TASK_TYPE_CHAT
                ),
                request=request_from_params(conversation["request"]),
                strategies=strategies,
            )
        )
        params = request_to_params(reply.request)
        original += count_request_tokens(conversation["request"])
        optimized += count_request_tokens(params)
        summary_micros += reply.summary_cost_micros
        if reply.summary_usage.output_tokens:
            summary_tokens.append(reply.summary_usage.output_tokens)
        total.add(score(conversation, params))
    input_micros = prices.cost(PRICED_MODEL, common_pb2.Usage(input_tokens=optimized)).total_micros
    return original, optimized, input_micros + summary_micros, total, summary_tokens


async def main_async() -> None:
    conversations = load_test()
    print(
        f"test split: {len(conversations)} conversations; prompt caching off; cost = input at "
        f"{PRICED_MODEL} list prices + summaries as the orchestrator priced them\n"
    )
    print(
        "| chain | fewer input tokens | cost of the requests (incl. summaries) | summary cost "
        "| summary output tokens (median per request) | current facts kept verbatim | stale |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    async with EmulatorServer() as emulator:
        orchestrator_settings = OrchestratorSettings(
            host="127.0.0.1", port=0, anthropic_base_url=emulator.base_url, anthropic_api_key="k"
        )
        async with serving(
            await build_orchestrator(orchestrator_settings), orchestrator_settings
        ) as orchestrator:
            settings = OptimizerSettings(
                host="127.0.0.1",
                port=0,
                orchestrator_address=orchestrator.address,
                summary_timeout_seconds=30,
            )
            async with (
                serving(await build_optimizer(settings), settings) as optimizer,
                grpc.aio.insecure_channel(optimizer.address) as channel,
            ):
                stub = conversation_optimizer_pb2_grpc.ConversationOptimizerServiceStub(channel)
                for label, chain in CHAINS:
                    original, optimized, micros, s, tokens = await run_chain(
                        stub, conversations, chain
                    )
                    summary = (
                        micros
                        - PriceTable.load()
                        .cost(PRICED_MODEL, common_pb2.Usage(input_tokens=optimized))
                        .total_micros
                    )
                    median = f"{statistics.median(tokens):.0f}" if tokens else "-"
                    print(
                        f"| {label} | {100 * (1 - optimized / original):.1f}% | "
                        f"${micros / 1e6:.4f} | ${summary / 1e6:.4f} | {median} | "
                        f"{100 * s.kept / s.facts:.1f}% | {s.stale}/{s.corrections} |"
                    )


def main() -> None:
    asyncio.run(main_async())


if __name__ == "__main__":
    main()
