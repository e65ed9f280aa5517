from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import pytest

from tollgate.emulator import EmulatorServer, ManualClock, count_request_tokens
from tollgate.emulator.tokens import (
    BLOCK_OVERHEAD_TOKENS,
    MESSAGE_OVERHEAD_TOKENS,
    REQUEST_OVERHEAD_TOKENS,
    count_text_tokens,
)

SONNET = "claude-sonnet-4-6"
HAIKU = "claude-haiku-4-5"


def cached_system(text: str, ttl: str | None = None) -> list[anthropic.types.TextBlockParam]:
    control: dict[str, Any] = {"type": "ephemeral"}
    if ttl is not None:
        control["ttl"] = ttl
    return [{"type": "text", "text": text, "cache_control": control}]


async def send(
    client: anthropic.AsyncAnthropic,
    system: list[anthropic.types.TextBlockParam],
    question: str = "Which of these leads should I call first?",
    model: str = SONNET,
) -> anthropic.types.Usage:
    message = await client.messages.create(
        model=model,
        max_tokens=50,
        system=system,
        messages=[{"role": "user", "content": question}],
    )
    usage = message.usage
    total = count_request_tokens(
        {"system": system, "messages": [{"role": "user", "content": question}]}
    )
    # The real API's identity: the three input counters add up to the whole prompt.
    assert (
        usage.input_tokens
        + (usage.cache_read_input_tokens or 0)
        + (usage.cache_creation_input_tokens or 0)
        == total
    )
    return usage


def system_tokens(text: str) -> int:
    return BLOCK_OVERHEAD_TOKENS + count_text_tokens(text)


async def test_write_then_read_5m(
    client: anthropic.AsyncAnthropic, long_notes: Callable[[int], str]
) -> None:
    notes = long_notes(1200)
    first = await send(client, cached_system(notes))
    assert first.cache_creation_input_tokens == system_tokens(notes)
    assert first.cache_creation is not None
    assert first.cache_creation.ephemeral_5m_input_tokens == system_tokens(notes)
    assert first.cache_creation.ephemeral_1h_input_tokens == 0
    assert first.cache_read_input_tokens == 0
    second = await send(client, cached_system(notes), question="And who is the least urgent?")
    assert second.cache_read_input_tokens == system_tokens(notes)
    assert second.cache_creation_input_tokens == 0
    assert second.input_tokens == first.input_tokens + count_text_tokens(
        "And who is the least urgent?"
    ) - count_text_tokens("Which of these leads should I call first?")


async def test_1h_write_survives_5m_but_not_1h(
    client: anthropic.AsyncAnthropic, clock: ManualClock, long_notes: Callable[[int], str]
) -> None:
    notes = long_notes(1100)
    first = await send(client, cached_system(notes, ttl="1h"))
    assert first.cache_creation is not None
    assert first.cache_creation.ephemeral_1h_input_tokens == system_tokens(notes)
    assert first.cache_creation.ephemeral_5m_input_tokens == 0
    clock.advance(1800)
    assert (await send(client, cached_system(notes, ttl="1h"))).cache_read_input_tokens > 0
    clock.advance(3601)
    expired = await send(client, cached_system(notes, ttl="1h"))
    assert expired.cache_read_input_tokens == 0
    assert expired.cache_creation_input_tokens == system_tokens(notes)


async def test_5m_ttl_expires_and_reads_refresh_it(
    client: anthropic.AsyncAnthropic, clock: ManualClock, long_notes: Callable[[int], str]
) -> None:
    system = cached_system(long_notes(1100))
    await send(client, system)
    clock.advance(200)
    assert (await send(client, system)).cache_read_input_tokens > 0  # refreshed to t=500
    clock.advance(200)
    assert (await send(client, system)).cache_read_input_tokens > 0  # t=400 < 600
    clock.advance(301)
    expired = await send(client, system)
    assert expired.cache_read_input_tokens == 0
    assert (expired.cache_creation_input_tokens or 0) > 0


async def test_minimum_cacheable_length_per_family(
    client: anthropic.AsyncAnthropic, long_notes: Callable[[int], str]
) -> None:
    notes = long_notes(1500)  # above sonnet's 1024, below haiku's 2048
    for model in (HAIKU, HAIKU):
        usage = await send(client, cached_system(notes), model=model)
        assert usage.cache_creation_input_tokens == 0
        assert usage.cache_read_input_tokens == 0
    usage = await send(client, cached_system(notes), model=SONNET)
    assert usage.cache_creation_input_tokens == system_tokens(notes)


async def test_cache_is_scoped_by_api_key_and_model(
    server: EmulatorServer, client: anthropic.AsyncAnthropic, long_notes: Callable[[int], str]
) -> None:
    system = cached_system(long_notes(2100))
    await send(client, system)
    async with anthropic.AsyncAnthropic(
        base_url=server.base_url, api_key="another-key", max_retries=0
    ) as other:
        assert (await send(other, system)).cache_read_input_tokens == 0
    assert (await send(client, system, model=HAIKU)).cache_read_input_tokens == 0
    assert (await send(client, system)).cache_read_input_tokens > 0


async def test_multiple_breakpoints_read_longest_and_write_the_rest(
    client: anthropic.AsyncAnthropic, long_notes: Callable[[int], str]
) -> None:
    notes = long_notes(1100)
    history = long_notes(300)
    messages: list[anthropic.types.MessageParam] = [
        {
            "role": "user",
            "content": [{"type": "text", "text": history, "cache_control": {"type": "ephemeral"}}],
        },
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": "Who should I call?"},
    ]
    request: dict[str, Any] = {"system": cached_system(notes), "messages": messages}
    await send(client, cached_system(notes))  # caches the system prefix only
    message = await client.messages.create(model=SONNET, max_tokens=20, **request)
    usage = message.usage
    assert usage.cache_read_input_tokens == system_tokens(notes)
    # Message header + the history block are new, written at the second breakpoint.
    assert (
        usage.cache_creation_input_tokens
        == MESSAGE_OVERHEAD_TOKENS + BLOCK_OVERHEAD_TOKENS + count_text_tokens(history)
    )
    assert usage.input_tokens + usage.cache_read_input_tokens + (
        usage.cache_creation_input_tokens or 0
    ) == count_request_tokens(request)


async def test_moving_breakpoint_reads_previous_turn_through_lookback(
    client: anthropic.AsyncAnthropic, long_notes: Callable[[int], str]
) -> None:
    """A conversation that marks only its newest user turn still reads the last turn's write."""
    notes = long_notes(1100)

    def turn(text: str) -> anthropic.types.MessageParam:
        return {
            "role": "user",
            "content": [{"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}],
        }

    first_messages: list[anthropic.types.MessageParam] = [turn(notes)]
    first = await client.messages.create(model=SONNET, max_tokens=20, messages=first_messages)
    written = first.usage.cache_creation_input_tokens or 0
    assert written == MESSAGE_OVERHEAD_TOKENS + system_tokens(notes)
    second_messages: list[anthropic.types.MessageParam] = [
        {"role": "user", "content": [{"type": "text", "text": notes}]},
        {"role": "assistant", "content": "Noted the leads."},
        turn("Who should I call first?"),
    ]
    second = await client.messages.create(model=SONNET, max_tokens=20, messages=second_messages)
    assert second.usage.cache_read_input_tokens == written
    assert (
        second.usage.cache_creation_input_tokens
        == count_request_tokens({"messages": second_messages}) - written - REQUEST_OVERHEAD_TOKENS
    )  # everything but the read prefix and the uncacheable turn prefix
    assert second.usage.input_tokens == REQUEST_OVERHEAD_TOKENS


@pytest.mark.parametrize(("blocks_between", "read"), [(19, True), (20, False)])
async def test_lookback_reaches_twenty_blocks_back_and_no_further(
    client: anthropic.AsyncAnthropic,
    long_notes: Callable[[int], str],
    blocks_between: int,
    read: bool,
) -> None:
    """As the API documents, a breakpoint finds an earlier write at a block boundary up to 20
    blocks before it, and none further back (the prefix is then written again)."""
    notes = long_notes(1100)
    marked = {"type": "text", "text": notes, "cache_control": {"type": "ephemeral"}}
    first = await client.messages.create(
        model=SONNET, max_tokens=20, messages=[{"role": "user", "content": [marked]}]
    )
    written = first.usage.cache_creation_input_tokens or 0
    assert written > 1024
    replies: list[Any] = [{"type": "text", "text": f"Note {i}."} for i in range(blocks_between)]
    second = await client.messages.create(
        model=SONNET,
        max_tokens=20,
        messages=[
            {"role": "user", "content": [{"type": "text", "text": notes}]},
            {"role": "assistant", "content": replies},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Next?", "cache_control": {"type": "ephemeral"}}
                ],
            },
        ],
    )
    assert second.usage.cache_read_input_tokens == (written if read else 0)


async def test_streamed_usage_reports_cache_counters(
    client: anthropic.AsyncAnthropic, long_notes: Callable[[int], str]
) -> None:
    system = cached_system(long_notes(1100))
    await send(client, system)
    async with client.messages.stream(
        model=SONNET,
        max_tokens=20,
        system=system,
        messages=[{"role": "user", "content": "Which of these leads should I call first?"}],
    ) as stream:
        final = await stream.get_final_message()
    assert final.usage.cache_read_input_tokens == system_tokens(system[0]["text"])
    assert final.usage.cache_creation_input_tokens == 0


async def test_more_than_four_breakpoints_is_rejected(client: anthropic.AsyncAnthropic) -> None:
    blocks = cached_system("rule one") * 5
    with pytest.raises(anthropic.BadRequestError) as caught:
        await client.messages.create(
            model=SONNET,
            max_tokens=20,
            system=blocks,
            messages=[{"role": "user", "content": "hi"}],
        )
    assert "A maximum of 4 blocks with cache_control" in str(caught.value)
    four = await client.messages.count_tokens(
        model=SONNET, system=blocks[:4], messages=[{"role": "user", "content": "hi"}]
    )
    assert four.input_tokens > 0


async def test_1h_breakpoint_after_5m_is_rejected(client: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        await client.messages.create(
            model=SONNET,
            max_tokens=20,
            system=cached_system("a") + cached_system("b", ttl="1h"),
            messages=[{"role": "user", "content": "hi"}],
        )
    assert "ttl='1h'" in str(caught.value)
