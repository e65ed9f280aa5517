"""Budget ledger throughput: reserve + commit pairs at 1, 16, 64 and 256 callers, with exactness.

Each cell runs pairs on fresh tenants (one hot tenant, or 100 tenants the callers spread over),
in process (the Ledger class on its own pool) and over gRPC (a ledger server in its own process,
as a replica runs, with the service's default settings), with group commit on and — as the
baseline in the same run — off (one transaction per call, the previous design). After every cell
the run checks exactness against Postgres: the sum the bench committed equals the ledger's
entries and its counters' `spent`, nothing is left held, and no budget is over its limit. A last
row per mode storms one tenant's budget edge (more reservations than fit, at once) and checks
that exactly the ones that fit were granted.

    uv run python -m bench.ledger [--pairs 1000] [--callers 1 16 64 256]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import grpc

from tollgate.budget_ledger.alerts import AlertRaiser
from tollgate.budget_ledger.database import Database
from tollgate.budget_ledger.ledger import Ledger
from tollgate.budget_ledger.migrate import apply_migrations
from tollgate.budget_ledger.model import Requester
from tollgate.budget_ledger.settings import Settings
from tollgate.budget_ledger.validation import CommitInput, ReserveInput
from tollgate.common.errors import ServiceError
from tollgate.common.health import wait_until_serving
from tollgate.common.stores import EmbeddedStores, resolve_postgres_dsn
from tollgate.v1 import budget_ledger_pb2 as pb
from tollgate.v1 import budget_ledger_pb2_grpc, common_pb2

CALLERS = (1, 16, 64, 256)
TENANT_SPREADS = (1, 100)
HOLD_MICROS = 5_000
# What each pair commits: varied, and sometimes above the hold (posted in full, flagged).
ACTUALS = (4_000, 1_234, 5_000, 6_001, 17)
GOALS = {"in process": 5_000, "over gRPC": 2_000}
EDGE_CALLERS = 256
EDGE_FITS = 100

# One reserve + commit on (tenant, request id), returning the micro-dollars it committed.
Pair = Callable[[str, str], Awaitable[int]]
# One reserve; whether it was granted.
Reserve = Callable[[str, str], Awaitable[bool]]


@dataclass
class Run:
    pairs_per_second: float
    p50_ms: float
    p99_ms: float
    committed_micros: int


@dataclass
class Exactness:
    ok: bool
    note: str


async def measure(callers: int, total: int, tenants: list[str], pair: Pair) -> Run:
    latencies: list[float] = []
    committed = 0
    remaining = total

    async def caller(index: int) -> None:
        nonlocal remaining, committed
        n = index
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            actual = await pair(tenants[n % len(tenants)], secrets.token_hex(8))
            committed += actual
            latencies.append(time.perf_counter() - started)
            n += callers

    began = time.perf_counter()
    await asyncio.gather(*(caller(i) for i in range(callers)))
    elapsed = time.perf_counter() - began
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return Run(len(latencies) / elapsed, quantiles[49] * 1000, quantiles[98] * 1000, committed)


async def define_budgets(conn: asyncpg.Connection, tenants: list[str], limit: int) -> None:
    await conn.executemany(
        "INSERT INTO budgets (tenant_id, scope_kind, subject_id, period, limit_micros) "
        "VALUES ($1, 1, '', 1, $2)",
        [(tenant, limit) for tenant in tenants],
    )


async def check_exactness(
    conn: asyncpg.Connection, tenants: list[str], committed: int
) -> Exactness:
    posted = int(
        await conn.fetchval(
            "SELECT COALESCE(sum(cost_micros), 0) FROM ledger_entries WHERE tenant_id = ANY($1)",
            tenants,
        )
    )
    row = await conn.fetchrow(
        "SELECT COALESCE(sum(c.spent_micros), 0) AS spent, COALESCE(sum(c.held_micros), 0) AS held,"
        " COALESCE(max(c.spent_micros + c.held_micros - b.limit_micros), 0) AS over"
        " FROM budget_counters c JOIN budgets b ON b.id = c.budget_id"
        " WHERE b.tenant_id = ANY($1)",
        tenants,
    )
    spent, held, over = int(row["spent"]), int(row["held"]), int(row["over"])
    ok = posted == spent == committed and held == 0 and over <= 0
    return Exactness(
        ok, f"{committed:,} = {posted:,} = {spent:,}, held {held}, over {max(over, 0)}"
    )


def tenant_names(cell: str, spread: int) -> list[str]:
    return [f"{cell}-{i}" for i in range(spread)]


def in_process_calls(ledger: Ledger) -> tuple[Pair, Reserve]:
    record = pb.UsageRecord(model="claude-sonnet-4-6")

    async def pair(tenant: str, request_id: str) -> int:
        who = Requester(tenant, "key-1", "")
        actual = ACTUALS[hash(request_id) % len(ACTUALS)]
        await ledger.reserve(ReserveInput(who, request_id, HOLD_MICROS, 0, 300.0))
        await ledger.commit(CommitInput(who, request_id, actual, 0, record))
        return actual

    async def reserve(tenant: str, request_id: str) -> bool:
        try:
            await ledger.reserve(
                ReserveInput(Requester(tenant, "key-1", ""), request_id, HOLD_MICROS, 0, 300.0)
            )
        except ServiceError:
            return False
        return True

    return pair, reserve


def grpc_calls(stub: budget_ledger_pb2_grpc.BudgetLedgerServiceStub) -> tuple[Pair, Reserve]:
    async def pair(tenant: str, request_id: str) -> int:
        context = common_pb2.RequestContext(
            tenant_id=tenant, api_key_id="key-1", request_id=request_id
        )
        actual = ACTUALS[hash(request_id) % len(ACTUALS)]
        reply = await stub.Reserve(pb.ReserveRequest(context=context, amount_micros=HOLD_MICROS))
        if reply.outcome != pb.RESERVE_OUTCOME_RESERVED:
            raise AssertionError(f"a fresh request id was not reserved: {reply}")
        await stub.Commit(pb.CommitRequest(context=context, actual_micros=actual))
        return actual

    async def reserve(tenant: str, request_id: str) -> bool:
        context = common_pb2.RequestContext(
            tenant_id=tenant, api_key_id="key-1", request_id=request_id
        )
        try:
            await stub.Reserve(pb.ReserveRequest(context=context, amount_micros=HOLD_MICROS))
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                raise
            return False
        return True

    return pair, reserve


@contextlib.asynccontextmanager
async def in_process(dsn: str, group_commit: bool) -> AsyncIterator[tuple[Pair, Reserve]]:
    settings = Settings(database_url=dsn, group_commit=group_commit)
    database = Database(settings)
    await database.open()
    max_batch, workers = settings.batching
    ledger = Ledger(database, AlertRaiser(), max_batch=max_batch, workers=workers)
    try:
        yield in_process_calls(ledger)
    finally:
        await ledger.stop()
        await database.close()


@contextlib.asynccontextmanager
async def over_grpc(dsn: str, group_commit: bool) -> AsyncIterator[tuple[Pair, Reserve]]:
    port = free_port()
    env = {
        **os.environ,
        "TOLLGATE_BUDGET_LEDGER_HOST": "127.0.0.1",
        "TOLLGATE_BUDGET_LEDGER_PORT": str(port),
        "TOLLGATE_BUDGET_LEDGER_DATABASE_URL": dsn,
        "TOLLGATE_BUDGET_LEDGER_GROUP_COMMIT": str(group_commit).lower(),
        "TOLLGATE_BUDGET_LEDGER_METRICS_PORT": "0",
    }
    server = subprocess.Popen(  # noqa: ASYNC220 - starting is instant; we await health
        [sys.executable, "-m", "tollgate.budget_ledger"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    address = f"127.0.0.1:{port}"
    try:
        await wait_until_serving(address, timeout=60)
        async with grpc.aio.insecure_channel(address) as channel:
            yield grpc_calls(budget_ledger_pb2_grpc.BudgetLedgerServiceStub(channel))
    finally:
        server.terminate()
        server.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def fresh_database(server_dsn: str) -> tuple[str, str]:
    name = "tollgate_bench_" + secrets.token_hex(4)
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base, _, query = server_dsn.partition("?")
    head, _, _ = base.rpartition("/")
    return name, f"{head}/{name}" + (f"?{query}" if query else "")


async def drop_database(server_dsn: str, name: str) -> None:
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def series(
    path: str,
    group_commit: bool,
    calls: tuple[Pair, Reserve],
    conn: asyncpg.Connection,
    pairs: int,
    callers_list: tuple[int, ...],
) -> tuple[list[str], dict[tuple[int, int], float]]:
    pair, reserve = calls
    mode = "on" if group_commit else "off (baseline)"
    rows: list[str] = []
    rates: dict[tuple[int, int], float] = {}
    warm = tenant_names(f"warm-{path}-{group_commit}", 1)
    await define_budgets(conn, warm, 10**15)
    await measure(16, 100, warm, pair)
    for spread in TENANT_SPREADS:
        for callers in callers_list:
            tenants = tenant_names(secrets.token_hex(3), spread)
            await define_budgets(conn, tenants, 10**15)
            run = await measure(callers, pairs, tenants, pair)
            exact = await check_exactness(conn, tenants, run.committed_micros)
            rates[(spread, callers)] = run.pairs_per_second
            rows.append(
                f"| {path} | {mode} | {spread} | {callers} | {run.pairs_per_second:,.0f} | "
                f"{run.p50_ms:.1f} | {run.p99_ms:.1f} | {'yes' if exact.ok else 'NO'} | "
                f"{exact.note} |"
            )
    # The budget edge: more reservations at once than fit; exactly the ones that fit win.
    (tenant,) = tenant_names(secrets.token_hex(3), 1)
    await define_budgets(conn, [tenant], EDGE_FITS * HOLD_MICROS)
    granted = await asyncio.gather(
        *(reserve(tenant, secrets.token_hex(8)) for _ in range(EDGE_CALLERS * 2))
    )
    held = await conn.fetchval(
        "SELECT held_micros FROM budget_counters c JOIN budgets b ON b.id = c.budget_id "
        "WHERE b.tenant_id = $1",
        tenant,
    )
    edge_ok = sum(granted) == EDGE_FITS and held == EDGE_FITS * HOLD_MICROS
    rows.append(
        f"| {path} | {mode} | 1 (edge) | {EDGE_CALLERS * 2} | - | - | - | "
        f"{'yes' if edge_ok else 'NO'} | {sum(granted)} of {EDGE_CALLERS * 2} granted, "
        f"{EDGE_FITS} fit; held {held:,} of {EDGE_FITS * HOLD_MICROS:,} |"
    )
    return rows, rates


async def bench(pairs: int, callers_list: tuple[int, ...]) -> list[str]:
    embedded = EmbeddedStores()
    server_dsn = resolve_postgres_dsn(None, embedded, prefer_local=True)
    name, dsn = await fresh_database(server_dsn)
    rows = [
        "| path | group commit | tenants | callers | pairs/s | p50 ms | p99 ms | exact | "
        "committed = entries = spent; held; over limit |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    rates: dict[tuple[str, bool], dict[tuple[int, int], float]] = {}
    try:
        await apply_migrations(dsn)
        conn = await asyncpg.connect(dsn)
        try:
            for path, runner in (("in process", in_process), ("over gRPC", over_grpc)):
                for group_commit in (False, True):
                    async with runner(dsn, group_commit) as calls:
                        new_rows, new_rates = await series(
                            path, group_commit, calls, conn, pairs, callers_list
                        )
                    rows.extend(new_rows)
                    rates[(path, group_commit)] = new_rates
        finally:
            await conn.close()
    finally:
        await drop_database(server_dsn, name)
        embedded.close()
    rows.extend(["", *verdicts(rates, callers_list)])
    return rows


def verdicts(
    rates: dict[tuple[str, bool], dict[tuple[int, int], float]], callers_list: tuple[int, ...]
) -> list[str]:
    lines = [
        "| goal (issue 22): pairs/s at 64 callers, one hot tenant | measured | baseline (off) "
        "| speed-up | verdict |",
        "|---|---:|---:|---:|---|",
    ]
    if 64 not in callers_list:
        return []
    for path, goal in GOALS.items():
        on = rates[(path, True)][(1, 64)]
        off = rates[(path, False)][(1, 64)]
        verdict = "met" if on >= goal else "NOT met"
        lines.append(
            f"| {path} ≥ {goal:,} | {on:,.0f} | {off:,.0f} | {on / off:.1f}x | {verdict} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ledger")
    parser.add_argument("--pairs", type=int, default=1000, help="pairs measured per cell")
    parser.add_argument("--callers", type=int, nargs="*", default=list(CALLERS))
    args = parser.parse_args()
    rows = asyncio.run(bench(args.pairs, tuple(args.callers)))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
