"""Fixtures of the end-to-end tests of the gateway's HTTP door."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TextIO

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


async def run_command(
    suite: FullSuite,
    run: Callable[[Any, TextIO], int],
    command: str,
    key: str,
    *arguments: str,
) -> tuple[int, str]:
    """`tollgate <command> --gateway <suite's> --api-key <key> <arguments>`: exit code, stdout."""
    from tollgate.cli.main import build_parser

    args = build_parser().parse_args(
        [command, "--gateway", suite.gateway.address, "--api-key", key, *arguments]
    )
    out = io.StringIO()
    # The CLI is synchronous: it runs in a thread while the servers answer in this loop.
    code = await asyncio.to_thread(run, args, out)
    return code, out.getvalue()
