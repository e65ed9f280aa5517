"""bench.stack_floor answers the gateway's API for real, in both of its shapes: a floor that
failed its calls, or answered without calling the upstream, would measure nothing."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from bench.overhead import body
from bench.peer import FLOOR_FRONT, FLOOR_HOP, MODEL, floor_servers
from tollgate.client import TollgateClient

# `python -m bench.stack_floor` from any working directory: the benchmarks are not installed.
ROOT = str(Path(__file__).resolve().parents[2])
QUESTION = "Request 7: summarise the listing at 7 Oak Street for a buyer in two sentences."


@pytest.mark.parametrize("hop", [False, True], ids=["one process", "behind a hop"])
async def test_the_floor_answers_with_the_upstreams_answer(tmp_path: Path, hop: bool) -> None:
    env = {**os.environ, "PYTHONPATH": ROOT}
    async with floor_servers(tmp_path, env, hop) as servers:
        async with TollgateClient(servers.address, "any key", timeout=30) as client:
            result = await client.complete(task="chat", **body(QUESTION))
        async with httpx.AsyncClient(base_url=servers.emulator.url, timeout=30) as http:
            stats = (await http.get("/_emulator/stats", params={"bodies": "1"})).json()
    assert list(servers.processes) == ([FLOOR_FRONT, FLOOR_HOP] if hop else [FLOOR_FRONT])
    assert result.text
    assert result.response.usage.input_tokens > 0
    assert result.response.model == MODEL
    # The call reached the emulator once, as the Messages API request it stands for.
    assert (stats["requests_total"], stats["status_counts"]) == (1, {"200": 1}), stats
    assert QUESTION in str(stats["requests"][0]), stats["requests"][0]
