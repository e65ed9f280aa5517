"""A long streamed answer outlives connection recycling: servers close connections after
`max_connection_age_seconds` so that clients re-resolve, and calls still open on them get
`max_connection_age_grace_seconds` to finish. The control case shows what a short grace does."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from tests.conftest import Suite, running_suite
from tollgate.client import TollgateError
from tollgate.emulator import EmulatorServer
from tollgate.emulator.config import EmulatorConfig, LatencyConfig
from tollgate.gateway.settings import Settings as GatewaySettings
from tollgate.orchestrator.settings import Settings as OrchestratorSettings

# About 3 s of streaming: three times the connection age below.
_SLOW = EmulatorConfig(latency=LatencyConfig(ttft_ms=50, tokens_per_second=40))


@contextlib.asynccontextmanager
async def _suite(workdir: Path, age: int, grace: int) -> AsyncIterator[Suite]:
    async with (
        EmulatorServer(config=_SLOW) as emulator,
        running_suite(
            emulator,
            workdir,
            max_connection_age_seconds=age,
            max_connection_age_grace_seconds=grace,
        ) as suite,
    ):
        yield suite


async def _long_answer(suite: Suite) -> int:
    async with suite.client() as client:
        stream = client.stream(
            messages=[{"role": "user", "content": "Write a long market update for Austin."}],
            max_tokens=120,
        )
        await stream.text()
        assert stream.account is not None
        return stream.account.usage.output_tokens


async def test_a_long_stream_survives_connection_recycling(tmp_path: Path) -> None:
    async with _suite(tmp_path, age=1, grace=30) as suite:
        assert await _long_answer(suite) == 120


async def test_a_grace_shorter_than_the_call_cuts_it(tmp_path: Path) -> None:
    async with _suite(tmp_path, age=1, grace=1) as suite:
        with pytest.raises(TollgateError) as cut:
            await _long_answer(suite)
    assert cut.value.code == grpc.StatusCode.UNAVAILABLE


def test_default_graces_cover_the_gateways_longest_call() -> None:
    gateway = GatewaySettings()
    orchestrator = OrchestratorSettings()
    for settings in (gateway, orchestrator):
        assert settings.shutdown_grace_seconds >= gateway.orchestrator_timeout_seconds
        assert settings.max_connection_age_grace_seconds >= gateway.orchestrator_timeout_seconds
