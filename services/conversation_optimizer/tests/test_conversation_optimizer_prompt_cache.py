"""Prefix stability against the emulator: a growing conversation keeps hitting the prompt cache.

The conversation is replayed turn by turn, as an application would send it; each optimized
request goes to the Anthropic API emulator through the official SDK with cache_control on the
last block of the last two user turns (the usual multi-turn placement: the previous turn's end
is read, the new end is written). The emulator accounts cache reads exactly as the API does.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anthropic
import pytest

from tollgate.common.anthropic_format import request_to_params
from tollgate.conversation_optimizer.optimizer import ConversationOptimizer, Outcome
from tollgate.conversation_optimizer.policy import Policy
from tollgate.emulator import EmulatorServer
from tollgate.v1 import common_pb2

MODEL = "claude-sonnet-4-6"
# The emulator's minimum cacheable prefix for Sonnet.
MIN_CACHEABLE_TOKENS = 1024


@dataclass
class Turn:
    outcome: Outcome
    cache_read: int
    cache_write: int
    uncached: int


def turns_of(request: common_pb2.ClaudeRequest) -> list[common_pb2.ClaudeRequest]:
    """The request of every turn: the history up to each user turn."""
    requests = []
    for end in range(1, len(request.messages) + 1):
        if request.messages[end - 1].role != common_pb2.ROLE_USER:
            continue
        partial = common_pb2.ClaudeRequest()
        partial.CopyFrom(request)
        del partial.messages[end:]
        requests.append(partial)
    return requests


def with_breakpoints(params: dict[str, Any]) -> dict[str, Any]:
    users = [m for m in params["messages"] if m["role"] == "user"]
    for message in users[-2:]:
        message["content"][-1]["cache_control"] = {"type": "ephemeral"}
    return params


async def replay(
    client: anthropic.AsyncAnthropic, request: common_pb2.ClaudeRequest, policy: Policy | None
) -> list[Turn]:
    optimizer = ConversationOptimizer()
    turns: list[Turn] = []
    for partial in turns_of(request):
        if policy is None:
            outcome = Outcome(partial, 0, 0, 0, "", [])
        else:
            outcome = await optimizer.optimize(partial, policy)
        params = with_breakpoints(request_to_params(outcome.request))
        params["model"] = MODEL
        message = await client.messages.create(**params)
        usage = message.usage
        turns.append(
            Turn(
                outcome,
                usage.cache_read_input_tokens or 0,
                usage.cache_creation_input_tokens or 0,
                usage.input_tokens,
            )
        )
    return turns


def extends(previous: Outcome, current: Outcome) -> bool:
    """`current` starts with `previous` up to its verbatim tail (same system prompt too)."""
    stable = previous.stable_messages
    return list(previous.request.system) == list(current.request.system) and list(
        current.request.messages[:stable]
    ) == list(previous.request.messages[:stable])


def input_cost(turns: list[Turn]) -> float:
    """In units of the plain input price: cache reads at 0.1x, writes at 1.25x."""
    return sum(t.uncached + 0.1 * t.cache_read + 1.25 * t.cache_write for t in turns)


@pytest.fixture
async def client() -> AsyncIterator[tuple[EmulatorServer, anthropic.AsyncAnthropic]]:
    async with (
        EmulatorServer() as server,
        anthropic.AsyncAnthropic(base_url=server.base_url, api_key="k", max_retries=0) as sdk,
    ):
        yield server, sdk


async def test_with_prompt_caching_the_optimized_conversation_costs_less_than_caching_alone(
    client: tuple[EmulatorServer, anthropic.AsyncAnthropic],
    long_crm_request: common_pb2.ClaudeRequest,
) -> None:
    server, sdk = client
    unoptimized = await replay(sdk, long_crm_request, None)
    server.reset()
    optimized = await replay(sdk, long_crm_request, Policy().for_prompt_caching())
    assert any(t.outcome.changed for t in optimized), "the conversation was never optimized"
    assert input_cost(optimized) < input_cost(unoptimized)
    for previous, current in itertools.pairwise(optimized):
        if (
            previous.outcome.changed
            and current.outcome.changed
            and current.outcome.sealed_exchanges == previous.outcome.sealed_exchanges
        ):
            assert extends(previous.outcome, current.outcome)
            if previous.cache_read > 0:
                # The compressed history keeps being read back from the cache.
                assert current.cache_read > 0
    assert server.stats.usage_totals["cache_read_input_tokens"] > 0


async def test_chunked_pruning_reads_more_from_the_cache_than_pruning_every_turn(
    client: tuple[EmulatorServer, anthropic.AsyncAnthropic],
    long_crm_request: common_pb2.ClaudeRequest,
) -> None:
    server, sdk = client
    chunked = await replay(sdk, long_crm_request, Policy(chunk_exchanges=3))
    server.reset()
    every_turn = await replay(sdk, long_crm_request, Policy(chunk_exchanges=1))

    def read_share(turns: list[Turn]) -> float:
        read = sum(t.cache_read for t in turns)
        return read / sum(t.cache_read + t.cache_write + t.uncached for t in turns)

    assert read_share(chunked) > read_share(every_turn) + 0.1
