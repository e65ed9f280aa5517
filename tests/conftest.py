"""Fixtures for tests across services: the emulator, an in-process gateway → orchestrator path."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tollgate.client import TollgateClient
from tollgate.common.auth import hash_api_key
from tollgate.common.server import RunningServer
from tollgate.common.testing import serving
from tollgate.emulator import EmulatorServer
from tollgate.gateway.service import build_service as build_gateway
from tollgate.gateway.settings import Settings as GatewaySettings
from tollgate.orchestrator.service import build_service as build_orchestrator
from tollgate.orchestrator.settings import Settings as OrchestratorSettings

API_KEY = "tg_test_app_key_0123456789"
ADMIN_KEY = "tg_test_admin_key_0123456789"
OTHER_TENANT_KEY = "tg_test_other_key_0123456789"


def write_keys_file(path: Path) -> Path:
    keys = [
        {"id": "acme-app", "tenant": "acme", "sha256": hash_api_key(API_KEY)},
        {"id": "globex-app", "tenant": "globex", "sha256": hash_api_key(OTHER_TENANT_KEY)},
        {"id": "ops", "tenant": "ops", "sha256": hash_api_key(ADMIN_KEY), "admin": True},
    ]
    path.write_text(yaml.safe_dump({"keys": keys}))
    return path


@dataclass
class Suite:
    emulator: EmulatorServer
    orchestrator: RunningServer
    gateway: RunningServer

    def client(self, api_key: str = API_KEY) -> TollgateClient:
        return TollgateClient(self.gateway.address, api_key)


@pytest.fixture
async def emulator() -> AsyncIterator[EmulatorServer]:
    async with EmulatorServer() as server:
        yield server


@contextlib.asynccontextmanager
async def running_suite(emulator: EmulatorServer, workdir: Path) -> AsyncIterator[Suite]:
    orchestrator_settings = OrchestratorSettings(
        host="127.0.0.1",
        port=0,
        anthropic_base_url=emulator.base_url,
        anthropic_api_key="emulator-key",
    )
    async with serving(
        await build_orchestrator(orchestrator_settings), orchestrator_settings
    ) as orchestrator:
        gateway_settings = GatewaySettings(
            host="127.0.0.1",
            port=0,
            api_keys_file=str(write_keys_file(workdir / "keys.yaml")),
            orchestrator_addr=orchestrator.address,
        )
        async with serving(await build_gateway(gateway_settings), gateway_settings) as gateway:
            yield Suite(emulator, orchestrator, gateway)


@pytest.fixture
async def suite(emulator: EmulatorServer, tmp_path: Path) -> AsyncIterator[Suite]:
    async with running_suite(emulator, tmp_path) as running:
        yield running
