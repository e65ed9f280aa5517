"""bench.stack_floor answers the gateway's API for real, in both of its shapes: a floor that
failed its calls, or answered without calling the upstream, would measure nothing."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bench.overhead import body
from bench.peer import MODEL, _answers, _listening, _process
from tollgate.cli.local_suite import free_ports
from tollgate.client import TollgateClient

# `python -m bench.stack_floor` from any working directory: the benchmarks are not installed.
ROOT = str(Path(__file__).resolve().parents[2])
QUESTION = "Request 7: summarise the listing at 7 Oak Street for a buyer in two sentences."


@contextlib.asynccontextmanager
async def _floor(folder: Path, hop: bool) -> AsyncIterator[tuple[str, str]]:
    """The emulator's URL and the address of a floor server in front of it."""
    emulator, front, behind = free_ports(3)
    url = f"http://127.0.0.1:{emulator}"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ROOT}

    def server(port: int, *extra: str) -> list[str]:
        command = [sys.executable, "-m", "bench.stack_floor", "--port", str(port)]
        return [*command, "--upstream", url, "--model", MODEL, *extra]

    emulator_command = [sys.executable, "-m", "tollgate.emulator", "--host", "127.0.0.1"]
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(
            _process(
                [*emulator_command, "--port", str(emulator)],
                folder / "emulator.log",
                _answers(url),
                env,
            )
        )
        extra: tuple[str, ...] = ()
        if hop:
            await stack.enter_async_context(
                _process(server(behind), folder / "hop.log", _listening(behind), env)
            )
            extra = ("--next", f"127.0.0.1:{behind}")
        await stack.enter_async_context(
            _process(server(front, *extra), folder / "front.log", _listening(front), env)
        )
        yield url, f"127.0.0.1:{front}"


@pytest.mark.parametrize("hop", [False, True], ids=["one process", "behind a hop"])
async def test_the_floor_answers_with_the_upstreams_answer(tmp_path: Path, hop: bool) -> None:
    async with _floor(tmp_path, hop) as (url, address):
        async with TollgateClient(address, "any key", timeout=30) as client:
            result = await client.complete(task="chat", **body(QUESTION))
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            stats = (await http.get("/_emulator/stats", params={"bodies": "1"})).json()
    assert result.text
    assert result.response.usage.input_tokens > 0
    assert result.response.model == MODEL
    # The call reached the emulator once, as the Messages API request it stands for.
    assert (stats["requests_total"], stats["status_counts"]) == (1, {"200": 1}), stats
    assert QUESTION in str(stats["requests"][0]), stats["requests"][0]
