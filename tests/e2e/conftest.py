"""Fixtures of the end-to-end tests of the gateway's HTTP door."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import pytest

from tests.conftest import ADMIN_KEY, FullSuite, set_tenant_budget


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
