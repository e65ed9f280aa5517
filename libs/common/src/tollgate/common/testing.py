"""Pytest fixtures shared by every test directory (loaded from the root conftest.py).

Tests talk to real servers: the machine's Redis and Postgres when they answer, else embedded
ones started once per session. Each test gets its own Redis database prefix or Postgres
database so tests never see each other's data.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest

from tollgate.common import in_process
from tollgate.common.server import GrpcService, RunningServer, in_process_server, start_server
from tollgate.common.settings import ServiceSettings
from tollgate.common.stores import EmbeddedStores, resolve_postgres_dsn, resolve_redis_url


@pytest.fixture(scope="session")
def embedded_stores() -> Iterator[EmbeddedStores]:
    stores = EmbeddedStores()
    yield stores
    stores.close()


@pytest.fixture(scope="session")
def redis_url(embedded_stores: EmbeddedStores) -> str:
    """A real Redis: TOLLGATE_TEST_REDIS_URL, else the machine's, else embedded."""
    return resolve_redis_url(
        os.environ.get("TOLLGATE_TEST_REDIS_URL"), embedded_stores, prefer_local=True
    )


@pytest.fixture
def redis_namespace() -> str:
    """A key prefix unique to one test, so tests sharing a Redis never collide."""
    return "t" + secrets.token_hex(4)


@pytest.fixture(scope="session")
def postgres_server_dsn(embedded_stores: EmbeddedStores) -> str:
    """A real Postgres: TOLLGATE_TEST_POSTGRES_DSN, else the machine's, else embedded."""
    return resolve_postgres_dsn(
        os.environ.get("TOLLGATE_TEST_POSTGRES_DSN"), embedded_stores, prefer_local=True
    )


@pytest.fixture
async def postgres_dsn(postgres_server_dsn: str) -> AsyncIterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    import asyncpg

    name = "tollgate_t_" + secrets.token_hex(6)
    admin = await asyncpg.connect(postgres_server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield _with_database(postgres_server_dsn, name)
    admin = await asyncpg.connect(postgres_server_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _with_database(dsn: str, database: str) -> str:
    """`dsn` pointing at another database (handles both `/db?query` and socket-host forms)."""
    base, _, query = dsn.partition("?")
    head, _, _ = base.rpartition("/")
    return f"{head}/{database}" + (f"?{query}" if query else "")


@contextlib.asynccontextmanager
async def serving(
    service: GrpcService, settings: ServiceSettings | None = None
) -> AsyncIterator[RunningServer]:
    """Run `service` in this event loop on a free loopback port for the duration of the block."""
    settings = settings or ServiceSettings(host="127.0.0.1", port=0)
    running = await start_server(service, settings)
    try:
        yield running
    finally:
        await running.stop(grace=0.5)


class InProcessRunning:
    """A service served in this process (`tollgate.common.in_process`), as the single-process
    suite serves its backends: its address, and a stop after which its calls are UNAVAILABLE."""

    def __init__(self, service: GrpcService, settings: ServiceSettings) -> None:
        self.service = service
        self._server = in_process_server(service, settings)
        self.address = in_process.register(service.name, self._server)

    async def stop(self, grace: float = 0) -> None:
        """Refuse new calls and run the stop hooks; `grace` is accepted as RunningServer's is,
        and ignored: an in-process server has no connections to drain."""
        if self._server.stopped:
            return
        self._server.stop()
        in_process.unregister(self.address)
        for hook in reversed(self.service.on_stop):
            await hook()


@contextlib.asynccontextmanager
async def serving_in_process(
    service: GrpcService, settings: ServiceSettings | None = None
) -> AsyncIterator[InProcessRunning]:
    """`serving`'s twin: `service` reachable in this process at an `in-process:` address."""
    for hook in service.on_start:
        await hook()
    running = InProcessRunning(service, settings or ServiceSettings())
    try:
        yield running
    finally:
        await running.stop()


def metric_total(name: str, **labels: str) -> float:
    """The sum of the Prometheus samples `name` with these labels, in this process (collected
    now, so every observable instrument's callback runs first)."""
    import prometheus_client

    return sum(
        sample.value
        for family in prometheus_client.REGISTRY.collect()
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )
