from __future__ import annotations

import asyncio
import time

import anthropic

from tollgate.emulator import EmulatorServer

SONNET = "claude-sonnet-4-6"
MESSAGES: list[anthropic.types.MessageParam] = [
    {"role": "user", "content": "Give me a long update on the Lakeview listings"}
]


async def eventually(condition: object, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        await asyncio.sleep(0.01)
    return False


async def test_cancelled_stream_is_counted_as_disconnect(
    server: EmulatorServer, client: anthropic.AsyncAnthropic
) -> None:
    server.config.latency.tokens_per_second = 40  # every answer takes well over half a second
    async with client.messages.stream(model=SONNET, max_tokens=500, messages=MESSAGES) as stream:
        async for event in stream:
            if event.type == "content_block_delta":
                break
    assert await eventually(lambda: server.stats.client_disconnects == 1)
    assert server.stats.streams_started == 1
    assert server.stats.streams_completed == 0
    [record] = server.stats.of_path("/v1/messages")
    assert record.client_disconnected is True
    assert server.stats.in_flight == 0


async def test_ttft_delays_first_token(
    server: EmulatorServer, client: anthropic.AsyncAnthropic
) -> None:
    server.config.latency.ttft_ms = 250
    started = time.monotonic()
    async with client.messages.stream(model=SONNET, max_tokens=50, messages=MESSAGES) as stream:
        async for event in stream:
            if event.type == "content_block_delta":
                break
        first_token = time.monotonic() - started
    assert first_token >= 0.25


async def test_tokens_per_second_paces_non_streamed_answer(
    server: EmulatorServer, client: anthropic.AsyncAnthropic
) -> None:
    server.config.latency.ttft_ms = 50
    server.config.latency.tokens_per_second = 200
    started = time.monotonic()
    message = await client.messages.create(model=SONNET, max_tokens=60, messages=MESSAGES)
    elapsed = time.monotonic() - started
    assert message.usage.output_tokens >= 24
    assert elapsed >= 0.05 + message.usage.output_tokens / 200


async def test_streams_complete_and_are_counted(
    server: EmulatorServer, client: anthropic.AsyncAnthropic
) -> None:
    for _ in range(3):
        async with client.messages.stream(model=SONNET, max_tokens=50, messages=MESSAGES) as stream:
            await stream.get_final_message()
    assert server.stats.streams_started == 3
    assert server.stats.streams_completed == 3
    assert server.stats.client_disconnects == 0
