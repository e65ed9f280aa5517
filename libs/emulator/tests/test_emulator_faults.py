from __future__ import annotations

import asyncio

import anthropic
import httpx2
import pytest

from tollgate.emulator import (
    EmulatorConfig,
    EmulatorServer,
    FaultKind,
    FaultRates,
    LatencyConfig,
    ScriptedFault,
)

SONNET = "claude-sonnet-4-6"
HAIKU = "claude-haiku-4-5"
MESSAGES: list[anthropic.types.MessageParam] = [
    {"role": "user", "content": "Summarize the new leads"}
]


async def create(client: anthropic.AsyncAnthropic, model: str = SONNET) -> anthropic.types.Message:
    return await client.messages.create(model=model, max_tokens=30, messages=MESSAGES)


async def test_scripted_429_carries_retry_after_headers(
    server: EmulatorServer, client: anthropic.AsyncAnthropic
) -> None:
    server.config.fault_script.append(ScriptedFault(FaultKind.RATE_LIMIT, retry_after_s=2.5))
    with pytest.raises(anthropic.RateLimitError) as caught:
        await create(client)
    error = caught.value
    assert error.status_code == 429
    assert error.response.headers["retry-after"] == "3"
    assert error.response.headers["retry-after-ms"] == "2500"
    assert error.response.headers["request-id"].startswith("req_")
    assert isinstance(error.body, dict)
    assert error.body["error"]["type"] == "rate_limit_error"
    assert server.stats.status_counts[429] == 1
    assert server.stats.faults_injected["rate_limit"] == 1


async def test_scripted_529_and_500(
    server: EmulatorServer, client: anthropic.AsyncAnthropic
) -> None:
    server.config.fault_script.extend(
        [ScriptedFault(FaultKind.OVERLOADED), ScriptedFault(FaultKind.API_ERROR)]
    )
    with pytest.raises(anthropic.InternalServerError) as overloaded:
        await create(client)
    assert overloaded.value.status_code == 529
    assert isinstance(overloaded.value.body, dict)
    assert overloaded.value.body["error"]["type"] == "overloaded_error"
    with pytest.raises(anthropic.InternalServerError) as failed:
        await create(client)
    assert failed.value.status_code == 500
    assert isinstance(failed.value.body, dict)
    assert failed.value.body["error"]["type"] == "api_error"
    assert (await create(client)).stop_reason is not None


async def test_dropped_connection_is_a_connection_error(
    server: EmulatorServer, client: anthropic.AsyncAnthropic
) -> None:
    server.config.fault_script.append(ScriptedFault(FaultKind.CONNECTION_DROP))
    with pytest.raises(anthropic.APIConnectionError):
        await create(client)
    assert server.stats.connections_dropped == 1
    [record] = server.stats.of_path("/v1/messages")
    assert record.status is None
    assert record.fault == "connection_drop"
    assert (await create(client)).content


async def test_stream_drop_cuts_the_stream_midway(
    server: EmulatorServer, client: anthropic.AsyncAnthropic
) -> None:
    server.config.fault_script.append(ScriptedFault(FaultKind.STREAM_DROP))
    seen: list[str] = []

    async def consume() -> None:
        stream = await client.messages.create(
            model=SONNET, max_tokens=200, messages=MESSAGES, stream=True
        )
        async for event in stream:
            seen.append(event.type)

    with pytest.raises((httpx2.TransportError, anthropic.APIConnectionError)):
        await consume()
    assert seen[0] == "message_start"
    assert "content_block_delta" in seen
    assert "message_stop" not in seen
    assert server.stats.connections_dropped == 1
    assert server.stats.streams_completed == 0


async def test_stream_error_event_midway(
    server: EmulatorServer, client: anthropic.AsyncAnthropic
) -> None:
    server.config.fault_script.append(ScriptedFault(FaultKind.STREAM_ERROR))
    seen: list[str] = []

    async def consume() -> None:
        async with client.messages.stream(
            model=SONNET, max_tokens=200, messages=MESSAGES
        ) as stream:
            async for event in stream:
                seen.append(event.type)

    with pytest.raises(anthropic.APIStatusError) as caught:
        await consume()
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["error"]["type"] == "overloaded_error"
    assert "content_block_delta" in seen
    assert server.stats.streams_completed == 0
    server.config.fault_script.append(ScriptedFault(FaultKind.STREAM_ERROR))
    with pytest.raises(anthropic.InternalServerError) as plain:
        await create(client)
    assert plain.value.status_code == 529


async def test_script_is_consumed_in_order_and_by_model(
    server: EmulatorServer, client: anthropic.AsyncAnthropic
) -> None:
    server.config.fault_script.extend(
        [
            ScriptedFault(FaultKind.OVERLOADED, model=HAIKU),
            ScriptedFault(FaultKind.RATE_LIMIT),
            ScriptedFault(FaultKind.NONE),
            ScriptedFault(FaultKind.API_ERROR),
        ]
    )
    outcomes: list[int | str] = []
    for model in (SONNET, SONNET, SONNET, HAIKU, SONNET):
        try:
            await create(client, model)
            outcomes.append("ok")
        except anthropic.APIStatusError as error:
            outcomes.append(error.status_code)
    # sonnet skips the haiku-only entry; "none" lets one request through.
    assert outcomes == [429, "ok", 500, 529, "ok"]
    assert server.config.fault_script == []


async def test_invalid_requests_do_not_consume_the_script(
    server: EmulatorServer, client: anthropic.AsyncAnthropic
) -> None:
    server.config.fault_script.append(ScriptedFault(FaultKind.OVERLOADED))
    with pytest.raises(anthropic.BadRequestError):
        await client.messages.create(model=SONNET, max_tokens=0, messages=MESSAGES)
    with pytest.raises(anthropic.InternalServerError):
        await create(client)


async def outcomes_for(seed: int, count: int) -> list[int | str]:
    config = EmulatorConfig(seed=seed, faults=FaultRates(overloaded=0.3, rate_limit=0.2))
    results: list[int | str] = []
    async with (
        EmulatorServer(config) as server,
        anthropic.AsyncAnthropic(base_url=server.base_url, api_key="k", max_retries=0) as client,
    ):
        for _ in range(count):
            try:
                await create(client)
                results.append("ok")
            except anthropic.APIStatusError as error:
                results.append(error.status_code)
    return results


async def test_rate_faults_are_reproducible_by_seed() -> None:
    first = await outcomes_for(seed=11, count=30)
    again = await outcomes_for(seed=11, count=30)
    other = await outcomes_for(seed=12, count=30)
    assert first == again
    assert first != other
    assert {"ok", 429, 529} <= set(first)


async def test_concurrency_limit_rejects_beyond_n(
    server: EmulatorServer, client: anthropic.AsyncAnthropic
) -> None:
    server.config.max_concurrency = 2
    server.config.latency = LatencyConfig(ttft_ms=300)
    results = await asyncio.gather(*(create(client) for _ in range(4)), return_exceptions=True)
    succeeded = [r for r in results if isinstance(r, anthropic.types.Message)]
    limited = [r for r in results if isinstance(r, anthropic.RateLimitError)]
    assert len(succeeded) == 2
    assert len(limited) == 2
    assert limited[0].response.headers["retry-after"] == "1"
    assert server.stats.peak_in_flight == 2
    assert server.stats.in_flight == 0
    assert server.stats.faults_injected["concurrency_limit"] == 2
