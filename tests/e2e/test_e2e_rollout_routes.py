"""`tollgate rollout routes` shows what a running gateway routes: the configured canary weight,
whether the canary is ready, and the weight in effect (0 until it is)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import ADMIN_KEY, API_KEY, Suite
from tollgate.cli.main import main
from tollgate.cli.rollout import read_routes


async def test_routes_come_from_the_gateway_and_need_an_admin_key(
    suite: Suite, capsys: Any
) -> None:
    routes = await asyncio.to_thread(read_routes, suite.gateway.address, ADMIN_KEY)
    orchestrator = next(r for r in routes if r["service"] == "orchestrator")
    # No canary deployed in this suite: none is ready and none gets calls.
    assert orchestrator == {
        "service": "orchestrator",
        "canary_weight": 0,
        "canary_ready": False,
        "effective_canary_weight": 0,
    }
    code = await asyncio.to_thread(
        main, ["rollout", "routes", "--gateway", suite.gateway.address, "--api-key", ADMIN_KEY]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0].split() == [
        "SERVICE",
        "CANARY",
        "WEIGHT",
        "CANARY",
        "READY",
        "CANARY",
        "GETS",
        "NOW",
    ]
    assert any(line.split()[:4] == ["orchestrator", "0%", "no", "0%"] for line in out.splitlines())
    code = await asyncio.to_thread(
        main, ["rollout", "routes", "--gateway", suite.gateway.address, "--api-key", API_KEY]
    )
    assert code == 3
    assert "PERMISSION_DENIED" in capsys.readouterr().err
