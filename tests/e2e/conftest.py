"""Fixtures of the end-to-end tests of the gateway's HTTP door."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import grpc
import pytest

from tests.conftest import ADMIN_KEY, FullSuite, set_tenant_budget
from tollgate.client import TollgateClient, TollgateError


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


async def answers(address: str, secret: str) -> bool:
    """True when the gateway at `address` answers with this key; False when it refuses the key
    (UNAUTHENTICATED); any other refusal is raised."""
    async with TollgateClient(address, secret, timeout=30) as client:
        try:
            await client.complete(messages=[{"role": "user", "content": "hi"}], max_tokens=20)
        except TollgateError as error:
            if error.code == grpc.StatusCode.UNAUTHENTICATED:
                return False
            raise
    return True
