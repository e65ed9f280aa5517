"""Budget ledger throughput and latency: reserve + commit pairs at 1, 16 and 64 callers.

Baseline, same run, same pool: a bare `SELECT 1` round trip. Every pair charges the same tenant
budget, so all callers contend for one counter row (the worst case a hot tenant creates). A
second series measures the same pairs through the gRPC service.

    uv run python -m bench.ledger [--pairs 400]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import grpc

from tollgate.budget_ledger.alerts import AlertRaiser
from tollgate.budget_ledger.budgets import BudgetAdmin
from tollgate.budget_ledger.database import Database
from tollgate.budget_ledger.ledger import Ledger
from tollgate.budget_ledger.migrate import apply_migrations
from tollgate.budget_ledger.model import BudgetDefinition, Period, Requester, Scope, ScopeKind
from tollgate.budget_ledger.service import build_service
from tollgate.budget_ledger.settings import Settings
from tollgate.budget_ledger.validation import CommitInput, ReserveInput
from tollgate.common.stores import EmbeddedStores, resolve_postgres_dsn
from tollgate.common.testing import serving
from tollgate.v1 import budget_ledger_pb2 as pb
from tollgate.v1 import budget_ledger_pb2_grpc, common_pb2

CALLERS = (1, 16, 64)
TENANT = "bench"


@dataclass
class Run:
    ops_per_second: float
    p50_ms: float
    p99_ms: float


async def measure(callers: int, total: int, op: Callable[[], Awaitable[None]]) -> Run:
    latencies: list[float] = []
    remaining = total

    async def caller() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            await op()
            latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    elapsed = time.perf_counter() - began
    quantiles = statistics.quantiles(latencies, n=100)
    return Run(len(latencies) / elapsed, quantiles[49] * 1000, quantiles[98] * 1000)


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


async def bench(pairs: int) -> list[str]:
    embedded = EmbeddedStores()
    server_dsn = resolve_postgres_dsn(None, embedded, prefer_local=True)
    name, dsn = await fresh_database(server_dsn)
    settings = Settings(host="127.0.0.1", port=0, database_url=dsn, migrate_on_start=True)
    rows = [
        "| path | callers | pairs/s | p50 ms | p99 ms | SELECT 1 p50 ms | p50 ratio | "
        "throughput ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    try:
        await apply_migrations(dsn)
        database = Database(settings)
        await database.open()
        raiser = AlertRaiser()
        ledger = Ledger(database, raiser)
        await BudgetAdmin(database, raiser).upsert(
            BudgetDefinition(Scope(ScopeKind.TENANT, TENANT), Period.DAY, 10**15, 0, (50,)),
            "bench",
        )
        who = Requester(TENANT, "key-1", "lead-1")
        record = pb.UsageRecord(model="claude-sonnet-4-6")

        async def select_one() -> None:
            async with database.pool.acquire() as conn:
                await conn.fetchval("SELECT 1")

        async def pair() -> None:
            request_id = secrets.token_hex(8)
            await ledger.reserve(ReserveInput(who, request_id, 5_000, 0, 300.0))
            await ledger.commit(CommitInput(who, request_id, 4_000, 0, record))

        baselines: dict[int, Run] = {}
        for callers in CALLERS:
            await measure(callers, min(pairs, 50), pair)  # warm the pool and statement caches
            baselines[callers] = await measure(callers, pairs * 2, select_one)
            run = await measure(callers, pairs, pair)
            rows.append(_row("ledger in-process", callers, run, baselines[callers]))

        async with (
            serving(await build_service(settings), settings) as running,
            grpc.aio.insecure_channel(running.address) as channel,
        ):
            stub = budget_ledger_pb2_grpc.BudgetLedgerServiceStub(channel)

            async def rpc_pair() -> None:
                context = common_pb2.RequestContext(
                    tenant_id=TENANT, api_key_id="key-1", request_id=secrets.token_hex(8)
                )
                await stub.Reserve(pb.ReserveRequest(context=context, amount_micros=5_000))
                await stub.Commit(pb.CommitRequest(context=context, actual_micros=4_000))

            for callers in CALLERS:
                await measure(callers, min(pairs, 50), rpc_pair)
                run = await measure(callers, pairs, rpc_pair)
                rows.append(_row("ledger over gRPC", callers, run, baselines[callers]))
        await database.close()
    finally:
        await drop_database(server_dsn, name)
        embedded.close()
    return rows


def _row(path: str, callers: int, run: Run, baseline: Run) -> str:
    return (
        f"| {path} | {callers} | {run.ops_per_second:,.0f} | {run.p50_ms:.2f} | "
        f"{run.p99_ms:.2f} | {baseline.p50_ms:.3f} | {run.p50_ms / baseline.p50_ms:.1f}x | "
        f"{baseline.ops_per_second / run.ops_per_second:.1f}x fewer |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ledger")
    parser.add_argument("--pairs", type=int, default=400, help="pairs measured per caller count")
    args = parser.parse_args()
    rows = asyncio.run(bench(args.pairs))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
