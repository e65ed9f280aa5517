from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

import aiohttp
import anthropic
import pytest

from tollgate.emulator import EmulatorServer, FaultKind
from tollgate.emulator.control_client import configure

SONNET = "claude-sonnet-4-6"


async def call(session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> Any:
    async with session.request(method, url, **kwargs) as response:
        return response.status, await response.json()


async def test_control_api_steers_a_running_emulator(
    server: EmulatorServer, client: anthropic.AsyncAnthropic
) -> None:
    base = f"{server.base_url}/_emulator"
    async with aiohttp.ClientSession() as session:
        status, config = await call(
            session,
            "POST",
            f"{base}/config",
            json={
                "latency": {"ttft_ms": 5},
                "fault_script": ["overloaded", {"kind": "rate_limit", "retry_after_s": 4}],
                "max_concurrency": 8,
                "seed": 3,
            },
        )
        assert status == 200
        assert config["latency"] == {"ttft_ms": 5.0, "tokens_per_second": 0.0}
        assert server.config.max_concurrency == 8
        assert server.config.seed == 3
        assert [fault.kind for fault in server.config.fault_script] == [
            FaultKind.OVERLOADED,
            FaultKind.RATE_LIMIT,
        ]

        statuses: list[int] = []
        for _ in range(3):
            try:
                await client.messages.create(
                    model=SONNET, max_tokens=10, messages=[{"role": "user", "content": "hi"}]
                )
                statuses.append(200)
            except anthropic.APIStatusError as error:
                statuses.append(error.status_code)
        assert statuses == [529, 429, 200]

        status, stats = await call(session, "GET", f"{base}/stats?bodies=1")
        assert status == 200
        assert stats["status_counts"] == {"200": 1, "429": 1, "529": 1}
        assert stats["faults_injected"] == {"overloaded": 1, "rate_limit": 1}
        assert stats["requests_total"] == 3
        assert stats["requests"][-1]["body"]["max_tokens"] == 10
        assert stats["config"]["max_concurrency"] == 8

        status, error = await call(
            session, "POST", f"{base}/config", json={"faults": {"overloaded": 2}}
        )
        assert status == 400
        assert error["error"]["type"] == "invalid_request_error"
        assert server.config.faults.overloaded == 0

        status, _ = await call(session, "POST", f"{base}/clock/advance", json={"seconds": 10})
        assert status == 200
        assert server.clock.now() == 10

        status, _ = await call(session, "POST", f"{base}/reset")
        assert status == 200
        assert server.stats.requests_total == 0
        assert server.config.max_concurrency == 8
        status, _ = await call(session, "POST", f"{base}/reset", json={"config": True})
        assert status == 200
        assert server.config.max_concurrency is None
        assert server.config.latency.ttft_ms == 0


async def test_unknown_route_is_a_json_404(server: EmulatorServer) -> None:
    async with aiohttp.ClientSession() as session:
        status, body = await call(
            session, "GET", f"{server.base_url}/v1/nothing", headers={"x-api-key": "k"}
        )
    assert status == 404
    assert body["type"] == "error"
    assert body["error"]["type"] == "not_found_error"


async def test_cli_serves_and_stops_on_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tollgate.emulator",
        "--port",
        "0",
        "--ttft-ms",
        "1",
        "--max-concurrency",
        "4",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=20)).decode()
        assert line.startswith("emulator listening on http://127.0.0.1:")
        base_url = line.split(" on ", 1)[1].strip()
        async with anthropic.AsyncAnthropic(
            base_url=base_url, api_key="k", max_retries=0
        ) as client:
            message = await client.messages.create(
                model=SONNET, max_tokens=10, messages=[{"role": "user", "content": "hi"}]
            )
        assert message.usage.output_tokens > 0
        async with aiohttp.ClientSession() as session:
            _, config = await call(session, "GET", f"{base_url}/_emulator/config")
        assert config["max_concurrency"] == 4
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_scripted_answers_replace_the_composed_text(
    server: EmulatorServer, client: anthropic.AsyncAnthropic
) -> None:
    async with aiohttp.ClientSession() as session:
        status, _ = await call(
            session,
            "POST",
            f"{server.base_url}/_emulator/config",
            json={"scripted_answers": {"listing price": "The listing price is $450,000."}},
        )
        bad, _ = await call(
            session,
            "POST",
            f"{server.base_url}/_emulator/config",
            json={"scripted_answers": {"listing price": ""}},
        )
    assert (status, bad) == (200, 400)

    async def ask(question: str, max_tokens: int = 100) -> str:
        message = await client.messages.create(
            model=SONNET, max_tokens=max_tokens, messages=[{"role": "user", "content": question}]
        )
        block = message.content[0]
        assert block.type == "text"
        return block.text

    assert await ask("What is the LISTING PRICE of 12 Oak Street?") == (
        "The listing price is $450,000."
    )
    assert await ask("What is the listing price?", max_tokens=2) != (
        "The listing price is $450,000."
    )
    assert "450,000" not in await ask("How many bedrooms does 12 Oak Street have?")


async def test_the_control_client_patches_the_config_and_raises_on_a_refused_patch(
    server: EmulatorServer,
) -> None:
    await configure(server.base_url, {"latency": {"tokens_per_second": 40}})
    assert server.config.latency.tokens_per_second == 40
    with pytest.raises(aiohttp.ClientResponseError) as refused:
        await configure(server.base_url, {"scripted_answers": {"listing price": ""}})
    assert refused.value.status == 400
    assert server.config.latency.tokens_per_second == 40  # a refused patch changes nothing
