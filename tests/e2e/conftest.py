"""Fixtures of the end-to-end tests of the gateway's HTTP door."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TextIO

import pytest

from tests.conftest import ADMIN_KEY, ALL_ON, FullSuite, running_full_suite, set_tenant_budget
from tollgate.emulator import EmulatorServer


@contextlib.asynccontextmanager
async def http_suite(
    emulator: EmulatorServer,
    tmp_path: Path,
    redis_url: str,
    redis_namespace: str,
    postgres_dsn: str,
    flags: dict[str, Any] | None = None,
    **gateway_overrides: Any,
) -> AsyncIterator[tuple[FullSuite, str]]:
    """The full suite with the HTTP door open (flags: every flag on unless given); its base
    URL."""
    async with running_full_suite(
        emulator,
        tmp_path,
        redis_url,
        redis_namespace,
        postgres_dsn,
        flags or ALL_ON,
        http_enabled=True,
        http_port=0,
        **gateway_overrides,
    ) as suite:
        yield suite, suite.http_url


@pytest.fixture
async def door(
    emulator: EmulatorServer,
    tmp_path: Path,
    redis_url: str,
    redis_namespace: str,
    postgres_dsn: str,
) -> AsyncIterator[tuple[FullSuite, str]]:
    async with http_suite(emulator, tmp_path, redis_url, redis_namespace, postgres_dsn) as door:
        yield door


async def set_acme_budget(suite: FullSuite, limit_micros: int) -> None:
    """A monthly budget for tenant acme (the default test key's), through the admin API."""
    async with suite.client(ADMIN_KEY) as admin:
        await set_tenant_budget(admin, "acme", limit_micros)


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
