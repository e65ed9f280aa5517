"""SIGTERM while a streamed call is in flight: the call completes and the processes exit 0."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.conftest import API_KEY, write_keys_file
from tollgate.cli.local_suite import free_port
from tollgate.client import TollgateClient
from tollgate.common.health import wait_until_serving
from tollgate.emulator import EmulatorServer
from tollgate.emulator.config import EmulatorConfig, LatencyConfig


async def _start(module: str, env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", f"tollgate.{module}", env=env, stdout=log.open("wb"), stderr=-2
    )


def _single_process_env(
    tmp_path: Path, redis_url: str, redis_namespace: str, postgres_dsn: str
) -> dict[str, str]:
    """What `python -m tollgate.single_process` needs beyond the gateway's and orchestrator's
    settings: the stores every backend in it opens."""
    return {
        "TOLLGATE_CACHE_REDIS_URL": redis_url,
        "TOLLGATE_CACHE_KEY_PREFIX": redis_namespace,
        "TOLLGATE_BUDGET_LEDGER_DATABASE_URL": postgres_dsn,
        "TOLLGATE_BUDGET_LEDGER_MIGRATE_ON_START": "true",
        "TOLLGATE_SEMANTIC_CACHE_DATA_DIR": str(tmp_path / "vectors"),
    }


@pytest.mark.parametrize("single_process", [False, True], ids=["processes", "single_process"])
async def test_sigterm_drains_an_in_flight_stream_and_exits_zero(
    tmp_path: Path,
    redis_url: str,
    redis_namespace: str,
    postgres_dsn: str,
    single_process: bool,
) -> None:
    # About 2.5 s of streaming, so the signal lands mid-answer.
    config = EmulatorConfig(latency=LatencyConfig(ttft_ms=50, tokens_per_second=40))
    async with EmulatorServer(config=config) as emulator:
        gateway_port, orchestrator_port = free_port(), free_port()
        env = {
            **os.environ,
            "TOLLGATE_ORCHESTRATOR_HOST": "127.0.0.1",
            "TOLLGATE_ORCHESTRATOR_PORT": str(orchestrator_port),
            "TOLLGATE_ORCHESTRATOR_ANTHROPIC_BASE_URL": emulator.base_url,
            "TOLLGATE_ORCHESTRATOR_ANTHROPIC_API_KEY": "emulator-key",
            "TOLLGATE_GATEWAY_HOST": "127.0.0.1",
            "TOLLGATE_GATEWAY_PORT": str(gateway_port),
            "TOLLGATE_GATEWAY_ORCHESTRATOR_ADDR": f"127.0.0.1:{orchestrator_port}",
            "TOLLGATE_GATEWAY_API_KEYS_FILE": str(write_keys_file(tmp_path / "keys.yaml")),
        }
        if single_process:
            # Every service in the one process; the orchestrator inside it, reached in-process.
            env.update(_single_process_env(tmp_path, redis_url, redis_namespace, postgres_dsn))
            gateway = await _start("single_process", env, tmp_path / "gateway.log")
            processes, ports = [gateway], [gateway_port]
        else:
            orchestrator = await _start("orchestrator", env, tmp_path / "orchestrator.log")
            gateway = await _start("gateway", env, tmp_path / "gateway.log")
            processes, ports = [gateway, orchestrator], [orchestrator_port, gateway_port]
        try:
            for port in ports:
                await wait_until_serving(f"127.0.0.1:{port}", timeout=60)
            async with TollgateClient(f"127.0.0.1:{gateway_port}", API_KEY) as client:
                stream = client.stream(
                    messages=[
                        {"role": "user", "content": "Write a long market update for Austin."}
                    ],
                    max_tokens=100,
                )
                events = aiter(stream)
                first = await anext(events)
                assert first.WhichOneof("event") == "message_start"
                for process in processes:
                    process.send_signal(signal.SIGTERM)
                rest = [event async for event in events]
            assert rest[-1].WhichOneof("event") == "message_stop"
            assert stream.account is not None
            assert stream.account.usage.output_tokens == 100
            for process in processes:
                assert await asyncio.wait_for(process.wait(), 30) == 0
            # The gateway drained and stopped rather than being cut off.
            log = (tmp_path / "gateway.log").read_text()
            assert '"msg": "shutting down"' in log
            assert '"msg": "stopped"' in log
        finally:
            for process in processes:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
