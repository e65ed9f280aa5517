"""Prefix stability against the emulator: a growing conversation keeps hitting the prompt cache.

The conversation is replayed turn by turn, as an application would send it; each optimized
request goes to the Anthropic API emulator through the official SDK with the breakpoints the
orchestrator places: for an optimized request, at the end of its stable prefix (which the next
turn reads back), else on the older turns. The emulator accounts cache reads exactly as the API
does.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import anthropic
import pytest

from tollgate.common.anthropic_format import request_to_params
from tollgate.conversation_optimizer.optimizer import ConversationOptimizer, Outcome
from tollgate.conversation_optimizer.policy import Policy
from tollgate.emulator import EmulatorServer
from tollgate.orchestrator.prompt_cache import place_breakpoints
from tollgate.v1 import common_pb2

MODEL = "claude-sonnet-4-6"
TurnsOf = Callable[[common_pb2.ClaudeRequest], list[common_pb2.ClaudeRequest]]
# The emulator's minimum cacheable prefix for Sonnet.
MIN_CACHEABLE_TOKENS = 1024


@dataclass
class Turn:
    outcome: Outcome
    cache_read: int
    cache_write: int
    uncached: int


def with_breakpoints(outcome: Outcome) -> dict[str, Any]:
    """The request as the orchestrator sends it with prompt caching: its own breakpoints, ending
    at the optimized request's stable prefix as the gateway forwards it."""
    request = common_pb2.ClaudeRequest()
    request.CopyFrom(outcome.request)
    request.model = MODEL
    stable = outcome.stable_messages if outcome.changed else 0
    place_breakpoints(
        request, MIN_CACHEABLE_TOKENS, common_pb2.CACHE_TTL_5M, stable_messages=stable
    )
    return request_to_params(request)


async def replay(
    client: anthropic.AsyncAnthropic,
    requests: list[common_pb2.ClaudeRequest],
    policy: Policy | None,
) -> list[Turn]:
    """`requests`, one per turn, optimized under `policy` (None: sent as they are)."""
    optimizer = ConversationOptimizer()
    turns: list[Turn] = []
    for partial in requests:
        if policy is None:
            outcome = Outcome(partial, 0, 0, 0, "", [])
        else:
            outcome = await optimizer.optimize(partial, policy)
        message = await client.messages.create(**with_breakpoints(outcome))
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
    turns_of: TurnsOf,
) -> None:
    server, sdk = client
    unoptimized = await replay(sdk, turns_of(long_crm_request), None)
    server.reset()
    optimized = await replay(sdk, turns_of(long_crm_request), Policy().for_prompt_caching())
    assert any(t.outcome.changed for t in optimized), "the conversation was never optimized"
    assert input_cost(optimized) < input_cost(unoptimized)
    for previous, current in itertools.pairwise(optimized):
        if (
            previous.outcome.changed
            and current.outcome.changed
            and current.outcome.sealed_exchanges == previous.outcome.sealed_exchanges
            and current.outcome.verbatim_head == previous.outcome.verbatim_head
        ):
            assert extends(previous.outcome, current.outcome)
            if previous.cache_read > 0:
                # The compressed history keeps being read back from the cache.
                assert current.cache_read > 0
    assert server.stats.usage_totals["cache_read_input_tokens"] > 0


async def test_chunked_pruning_reads_more_from_the_cache_than_pruning_every_turn(
    client: tuple[EmulatorServer, anthropic.AsyncAnthropic],
    long_crm_request: common_pb2.ClaudeRequest,
    turns_of: TurnsOf,
) -> None:
    server, sdk = client
    chunked = await replay(sdk, turns_of(long_crm_request), Policy(chunk_exchanges=3))
    server.reset()
    every_turn = await replay(sdk, turns_of(long_crm_request), Policy(chunk_exchanges=1))

    def read_share(turns: list[Turn]) -> float:
        read = sum(t.cache_read for t in turns)
        return read / sum(t.cache_read + t.cache_write + t.uncached for t in turns)

    assert read_share(chunked) > read_share(every_turn) + 0.1
