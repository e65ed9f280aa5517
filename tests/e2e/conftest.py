"""Fixtures of the end-to-end tests of the gateway's HTTP door."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN_KEY, ALL_ON, FullSuite, running_full_suite, set_tenant_budget
from tollgate.emulator import EmulatorServer


@pytest.fixture
def start_door(
    emulator: EmulatorServer,
    tmp_path: Path,
    redis_url: str,
    redis_namespace: str,
    postgres_dsn: str,
) -> Callable[..., AbstractAsyncContextManager[FullSuite]]:
    """Start the full suite with the HTTP door on; keyword arguments override gateway settings."""

    def start(**gateway_overrides: Any) -> AbstractAsyncContextManager[FullSuite]:
        return running_full_suite(
            emulator,
            tmp_path,
            redis_url,
            redis_namespace,
            postgres_dsn,
            ALL_ON,
            http_enabled=True,
            http_port=0,
            **gateway_overrides,
        )

    return start


@pytest.fixture
async def door(
    start_door: Callable[..., AbstractAsyncContextManager[FullSuite]],
) -> AsyncIterator[tuple[FullSuite, str]]:
    async with start_door() as suite:
        yield suite, suite.http_url


async def set_acme_budget(suite: FullSuite, limit_micros: int) -> None:
    """A monthly budget for tenant acme (the default test key's), through the admin API."""
    async with suite.client(ADMIN_KEY) as admin:
        await set_tenant_budget(admin, "acme", limit_micros)
