"""Prompt-cache breakpoints and exact cost with cache writes and reads, against the emulator.

Hand-computed prices of claude-sonnet-5-5, in micro-dollars per token: input 2, output 10,
5-minute cache write 2.5, 1-hour cache write 4, cache read 0.1; each component is rounded up to a
whole micro-dollar.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest

from tollgate.common.token_estimate import estimate_messages
from tollgate.orchestrator.prompt_cache import place_breakpoints
from tollgate.v1 import common_pb2, orchestrator_pb2, orchestrator_pb2_grpc

Stub = orchestrator_pb2_grpc.OrchestratorServiceStub
MakeSpec = Callable[..., orchestrator_pb2.GenerationSpec]

SENTENCE = (
    "Agents of Harbor Realty answer buyers and sellers politely, quote only listed prices, "
    "and always offer a viewing within three working days of the request. "
)


def long_system(topic: str) -> str:
    # About 9,000 characters: well past sonnet's 1,024-token minimum cacheable prefix.
    return f"Playbook for {topic}. " + SENTENCE * 60


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def expected_components(usage: common_pb2.Usage) -> tuple[int, int, int, int]:
    """(input, output, cache write, cache read) micro-dollars, computed by hand."""
    return (
        usage.input_tokens * 2,
        usage.output_tokens * 10,
        ceil_div(usage.cache_creation_5m_input_tokens * 5, 2)
        + usage.cache_creation_1h_input_tokens * 4,
        ceil_div(usage.cache_read_input_tokens, 10),
    )


def assert_cost_is_exact(result: orchestrator_pb2.GenerationResult) -> None:
    cost = result.cost
    parts = expected_components(result.response.usage)
    assert (
        cost.input_micros,
        cost.output_micros,
        cost.cache_write_micros,
        cost.cache_read_micros,
    ) == parts
    assert cost.total_micros == sum(parts)


async def _generate(stub: Stub, spec: orchestrator_pb2.GenerationSpec) -> Any:
    return (await stub.Generate(orchestrator_pb2.GenerateRequest(spec=spec), timeout=20)).result


async def test_without_prompt_caching_nothing_is_written_and_cost_is_plain(
    make_spec: MakeSpec, orchestrator: Stub
) -> None:
    result = await _generate(orchestrator, make_spec(system=long_system("no cache")))
    usage = result.response.usage
    assert result.cache_breakpoints == 0
    assert usage.cache_creation_input_tokens == usage.cache_read_input_tokens == 0
    assert usage.input_tokens > 1024
    assert_cost_is_exact(result)
    assert result.cost.total_micros == usage.input_tokens * 2 + usage.output_tokens * 10


async def test_a_repeated_long_system_prompt_is_written_for_5_minutes_then_read(
    make_spec: MakeSpec, orchestrator: Stub
) -> None:
    spec = make_spec(
        system=long_system("five minutes"),
        prompt_caching=True,
        prompt_cache_ttl=common_pb2.CACHE_TTL_5M,
    )
    first = await _generate(orchestrator, spec)
    second = await _generate(orchestrator, spec)

    assert first.cache_breakpoints == second.cache_breakpoints == 1
    written = first.response.usage
    assert written.cache_creation_5m_input_tokens > 1024
    assert written.cache_creation_1h_input_tokens == written.cache_read_input_tokens == 0
    assert_cost_is_exact(first)
    assert first.cost.cache_write_micros == ceil_div(written.cache_creation_5m_input_tokens * 5, 2)

    read = second.response.usage
    assert read.cache_read_input_tokens == written.cache_creation_5m_input_tokens
    assert read.cache_creation_input_tokens == 0
    assert_cost_is_exact(second)
    assert second.cost.cache_read_micros == ceil_div(read.cache_read_input_tokens, 10)
    assert second.cost.total_micros < first.cost.total_micros


async def test_a_one_hour_write_is_charged_at_twice_the_input_rate(
    make_spec: MakeSpec, orchestrator: Stub
) -> None:
    spec = make_spec(
        system=long_system("one hour"),
        prompt_caching=True,
        prompt_cache_ttl=common_pb2.CACHE_TTL_1H,
    )
    result = await _generate(orchestrator, spec)
    usage = result.response.usage
    assert usage.cache_creation_1h_input_tokens > 1024
    assert usage.cache_creation_5m_input_tokens == 0
    assert_cost_is_exact(result)
    assert result.cost.cache_write_micros == usage.cache_creation_1h_input_tokens * 4


async def test_a_streamed_cache_read_costs_the_same_as_the_unary_one(
    make_spec: MakeSpec, orchestrator: Stub
) -> None:
    spec = make_spec(system=long_system("streamed"), prompt_caching=True)
    await _generate(orchestrator, spec)
    unary = await _generate(orchestrator, spec)
    results = [
        item.result
        async for item in orchestrator.StreamGenerate(
            orchestrator_pb2.StreamGenerateRequest(spec=spec), timeout=20
        )
        if item.WhichOneof("item") == "result"
    ]
    assert len(results) == 1
    streamed = results[0]
    assert streamed.response.usage.cache_read_input_tokens > 1024
    assert_cost_is_exact(streamed)
    assert streamed.cost == unary.cost


def _text(text: str) -> common_pb2.ContentBlock:
    return common_pb2.ContentBlock(text=common_pb2.TextBlock(text=text))


def _message(role: common_pb2.Role.ValueType, text: str) -> common_pb2.Message:
    return common_pb2.Message(role=role, content=[_text(text)])


def _conversation(turns: int, turn_text: str) -> list[common_pb2.Message]:
    roles = [common_pb2.ROLE_USER, common_pb2.ROLE_ASSISTANT]
    return [_message(roles[i % 2], f"{i}: {turn_text}") for i in range(turns)]


def test_breakpoints_go_on_tools_system_long_context_and_older_turns() -> None:
    request = common_pb2.ClaudeRequest(
        tools=[common_pb2.Tool(name="search", description=SENTENCE * 10)],
        system=[_text("short"), _text(SENTENCE * 20)],
        messages=_conversation(5, SENTENCE * 5),
    )
    placed = place_breakpoints(request, 100, common_pb2.CACHE_TTL_1H)

    assert placed == 4
    assert request.tools[0].cache_control.ttl == common_pb2.CACHE_TTL_1H
    assert not request.system[0].HasField("cache_control")
    assert request.system[1].HasField("cache_control")
    marked = [m.content[0].HasField("cache_control") for m in request.messages]
    # First turn (long context) and the turn before the newest (older turns); never the newest.
    assert marked == [True, False, False, True, False]


def test_no_breakpoint_where_the_prefix_is_shorter_than_the_model_minimum() -> None:
    request = common_pb2.ClaudeRequest(
        system=[_text("You are a helpful assistant.")],
        messages=_conversation(3, "Hello there."),
    )
    assert place_breakpoints(request, 1024, common_pb2.CACHE_TTL_5M) == 0
    assert not request.system[0].HasField("cache_control")


def test_breakpoints_the_caller_placed_count_towards_the_four() -> None:
    request = common_pb2.ClaudeRequest(
        tools=[common_pb2.Tool(name="search", description=SENTENCE * 10)],
        system=[_text(SENTENCE * 20)],
        messages=_conversation(5, SENTENCE * 5),
    )
    for message in request.messages[1:4]:
        message.content[0].cache_control.ttl = common_pb2.CACHE_TTL_5M
    placed = place_breakpoints(request, 100, common_pb2.CACHE_TTL_5M)

    assert placed == 1
    assert request.tools[0].HasField("cache_control")
    assert not request.system[0].HasField("cache_control")


def test_an_optimized_conversations_breakpoint_ends_its_stable_prefix() -> None:
    request = common_pb2.ClaudeRequest(
        system=[_text(SENTENCE * 20)], messages=_conversation(7, SENTENCE * 5)
    )
    placed = place_breakpoints(request, 100, common_pb2.CACHE_TTL_5M, stable_messages=4)

    assert placed == 2
    assert request.system[0].HasField("cache_control")
    marked = [m.content[0].HasField("cache_control") for m in request.messages]
    # Only where the stable prefix ends: the turns after it are sent condensed next time, so a
    # write there (the older-turns breakpoint) would never be read; message 0 is inside it.
    assert marked == [False, False, False, True, False, False, False]


def test_a_stable_prefix_under_the_minimum_gets_no_breakpoint() -> None:
    request = common_pb2.ClaudeRequest(messages=_conversation(5, SENTENCE * 5))
    assert place_breakpoints(request, 100_000, common_pb2.CACHE_TTL_5M, stable_messages=2) == 0
    assert not any(m.content[0].HasField("cache_control") for m in request.messages)


async def test_the_next_turn_reads_the_stable_prefix_of_the_previous_one(
    make_spec: MakeSpec, orchestrator: Stub
) -> None:
    """Turn by turn as the optimizer sends it: the stable prefix grows by the exchange that left
    the verbatim tail, and the new turn reads what the previous turn's breakpoint wrote."""
    history = _conversation(9, SENTENCE * 5)
    first = make_spec(prompt_caching=True, stable_prefix_messages=6)
    first.request.ClearField("messages")
    first.request.messages.extend(history)
    second = make_spec(prompt_caching=True, stable_prefix_messages=8)
    second.request.ClearField("messages")
    condensed = [
        _message(common_pb2.ROLE_USER, "6: short"),
        _message(common_pb2.ROLE_ASSISTANT, "7"),
    ]
    second.request.messages.extend([*history[:6], *condensed, *_conversation(3, "new turn")])

    written = (await _generate(orchestrator, first)).response.usage
    read = (await _generate(orchestrator, second)).response.usage

    assert written.cache_creation_input_tokens > 1024
    assert read.cache_read_input_tokens == written.cache_creation_input_tokens


async def test_a_stable_prefix_longer_than_the_request_is_refused(
    make_spec: MakeSpec, upstream_calls: Callable[[], list[Any]], orchestrator: Stub
) -> None:
    spec = make_spec(prompt_caching=True, stable_prefix_messages=2)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _generate(orchestrator, spec)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "stable_prefix_messages is 2 but the request has only 1 messages" in (
        caught.value.details() or ""
    )
    assert upstream_calls() == []


def test_the_prefix_is_counted_with_its_framing_as_the_api_counts_it() -> None:
    """Role markers count towards the minimum: a prefix that reaches it only with them is
    still marked (counting blocks alone, it looked too short and went uncached)."""
    request = common_pb2.ClaudeRequest(messages=_conversation(4, SENTENCE * 5))
    minimum = estimate_messages(request.messages[:3])

    assert place_breakpoints(request, minimum, common_pb2.CACHE_TTL_5M) == 1
    assert request.messages[2].content[0].HasField("cache_control")
