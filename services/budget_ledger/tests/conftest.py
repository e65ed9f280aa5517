"""Fixtures of the budget ledger tests: a ledger served in-process on a fresh database, and a
small client that speaks its API in the terms the tests use."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
import grpc
import pytest

from tollgate.budget_ledger.service import build_service
from tollgate.budget_ledger.settings import Settings
from tollgate.common.health import wait_until_serving
from tollgate.common.testing import serving
from tollgate.v1 import budget_ledger_pb2 as pb
from tollgate.v1 import budget_ledger_pb2_grpc, common_pb2

TENANT = "acme"


def ledger_settings_for(dsn: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 0,
        "database_url": dsn,
        "migrate_on_start": True,
        "pool_min_size": 1,
        "pool_max_size": 4,
        "sweep_interval_seconds": 0.2,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@dataclass
class LedgerClient:
    """A ledger stub plus shorthands for building requests."""

    stub: budget_ledger_pb2_grpc.BudgetLedgerServiceStub
    tenant: str = TENANT

    def context(
        self, request_id: str, api_key: str = "", contact: str = "", tenant: str | None = None
    ) -> common_pb2.RequestContext:
        return common_pb2.RequestContext(
            tenant_id=self.tenant if tenant is None else tenant,
            request_id=request_id,
            api_key_id=api_key,
            contact_id=contact,
        )

    async def budget(
        self,
        limit_micros: int,
        *,
        kind: int = pb.SCOPE_KIND_TENANT,
        subject: str = "",
        period: int = pb.BUDGET_PERIOD_DAY,
        limit_tokens: int = 0,
        thresholds: tuple[int, ...] = (50, 80, 100),
        tenant: str | None = None,
    ) -> pb.BudgetState:
        reply = await self.stub.UpsertBudget(
            pb.UpsertBudgetRequest(
                budget=pb.Budget(
                    scope=pb.BudgetScope(
                        kind=kind, tenant_id=tenant or self.tenant, subject_id=subject
                    ),
                    period=period,
                    limit_micros=limit_micros,
                    limit_tokens=limit_tokens,
                    alert_thresholds_percent=list(thresholds),
                ),
                actor="finance@acme.test",
            )
        )
        return reply.state

    async def reserve(
        self, request_id: str, micros: int, tokens: int = 0, **scopes: str
    ) -> pb.ReserveResponse:
        return await self.stub.Reserve(
            pb.ReserveRequest(
                context=self.context(request_id, **scopes), amount_micros=micros, tokens=tokens
            )
        )

    async def commit(
        self, request_id: str, micros: int, tokens: int = 0, **scopes: str
    ) -> pb.CommitResponse:
        return await self.stub.Commit(
            pb.CommitRequest(
                context=self.context(request_id, **scopes),
                actual_micros=micros,
                actual_tokens=tokens,
            )
        )

    async def release(self, request_id: str, **scopes: str) -> pb.ReleaseResponse:
        return await self.stub.Release(
            pb.ReleaseRequest(context=self.context(request_id, **scopes))
        )

    async def states(self, tenant: str | None = None) -> list[pb.BudgetState]:
        reply = await self.stub.ListBudgetStates(
            pb.ListBudgetStatesRequest(tenant_id=tenant or self.tenant)
        )
        return list(reply.states)


@pytest.fixture
def ledger_settings(postgres_dsn: str) -> Settings:
    return ledger_settings_for(postgres_dsn)


@pytest.fixture
async def ledger_address(ledger_settings: Settings) -> AsyncIterator[str]:
    async with serving(await build_service(ledger_settings), ledger_settings) as running:
        yield running.address


@pytest.fixture
async def ledger(ledger_address: str) -> AsyncIterator[LedgerClient]:
    async with grpc.aio.insecure_channel(ledger_address) as channel:
        yield LedgerClient(budget_ledger_pb2_grpc.BudgetLedgerServiceStub(channel))


@pytest.fixture
async def db(postgres_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the ledger's database, to check what was really written."""
    conn = await asyncpg.connect(postgres_dsn)
    try:
        yield conn
    finally:
        await conn.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LedgerProcess:
    process: subprocess.Popen[bytes]
    address: str


@pytest.fixture
def ledger_processes(postgres_dsn: str) -> Iterator[list[LedgerProcess]]:
    """Start ledger processes on demand (`start(n)`); every one still alive is stopped after."""
    started: list[LedgerProcess] = []
    yield started
    for ledger_process in started:
        if ledger_process.process.poll() is None:
            ledger_process.process.kill()
        ledger_process.process.wait(timeout=10)


async def start_ledger_processes(
    started: list[LedgerProcess], dsn: str, count: int, **env_overrides: str
) -> list[LedgerProcess]:
    """Start `count` ledger processes on free ports against `dsn`; wait until they serve."""
    new: list[LedgerProcess] = []
    for _ in range(count):
        port = free_port()
        env = {
            **os.environ,
            "TOLLGATE_BUDGET_LEDGER_HOST": "127.0.0.1",
            "TOLLGATE_BUDGET_LEDGER_PORT": str(port),
            "TOLLGATE_BUDGET_LEDGER_DATABASE_URL": dsn,
            "TOLLGATE_BUDGET_LEDGER_MIGRATE_ON_START": "true",
            "TOLLGATE_BUDGET_LEDGER_POOL_MIN_SIZE": "1",
            "TOLLGATE_BUDGET_LEDGER_POOL_MAX_SIZE": "6",
            "TOLLGATE_BUDGET_LEDGER_METRICS_PORT": "0",
            "TOLLGATE_BUDGET_LEDGER_LOG_LEVEL": "WARNING",
            **env_overrides,
        }
        process = subprocess.Popen(  # noqa: ASYNC220 - starting is instant; we await health
            [sys.executable, "-m", "tollgate.budget_ledger"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        new.append(LedgerProcess(process, f"127.0.0.1:{port}"))
    started.extend(new)
    for ledger_process in new:
        try:
            await wait_until_serving(ledger_process.address, timeout=60)
        except TimeoutError:
            ledger_process.process.kill()
            _, err = ledger_process.process.communicate(timeout=10)
            raise AssertionError(f"ledger did not start: {err.decode()[-2000:]}") from None
    return new


def error_info(error: grpc.aio.AioRpcError) -> dict[str, str]:
    """The google.rpc.ErrorInfo metadata a ledger error carries (empty when none)."""
    from google.rpc import error_details_pb2, status_pb2

    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return dict(info.metadata)
    return {}


@pytest.fixture
def details_of() -> object:
    return error_info


@pytest.fixture
def start_processes(ledger_processes: list[LedgerProcess], postgres_dsn: str) -> object:
    async def start(count: int, **env: str) -> list[LedgerProcess]:
        return await start_ledger_processes(ledger_processes, postgres_dsn, count, **env)

    return start


@pytest.fixture
def settings_for(postgres_dsn: str) -> object:
    def make(**overrides: object) -> Settings:
        return ledger_settings_for(postgres_dsn, **overrides)

    return make


POISON = "poison"


@pytest.fixture
def poisoned_batches(monkeypatch: pytest.MonkeyPatch) -> str:
    """Make any group commit that carries the request id returned fail unexpectedly (a bug, not
    a refusal), to check that such a call fails alone."""
    from tollgate.budget_ledger import ledger as ledger_module

    real_settle = ledger_module.settle

    async def fragile(conn, calls, alerts):  # type: ignore[no-untyped-def]
        if any(call.request_id == POISON for call in calls):
            raise RuntimeError("a call this ledger cannot handle")
        return await real_settle(conn, calls, alerts)

    monkeypatch.setattr(ledger_module, "settle", fragile)
    return POISON
