"""Budget ledger throughput: reserve + commit pairs at 1, 16, 64 and 256 callers, with exactness.

Each cell runs pairs on fresh tenants (one hot tenant, or 100 tenants the callers spread over),
in process (the Ledger class on its own pool) and over gRPC (a ledger server in its own process,
as a replica runs, with the service's default settings): one RPC per call, and as the gateway
calls it (its ledger stub, tollgate.gateway.ledger_coalescing, through its breaker path: the
calls of concurrent requests share Settle RPCs). Group commit is on and — as the baseline in the
same run, on the hot tenant — off (one transaction per call, the previous design). A cell stops
after `--pairs` pairs or `--seconds` seconds, whichever comes first: 10,000 pairs, so that a fast
cell measures seconds of steady state and not the ramp of its first batches and the wait for its
last (2,000 pairs lasted under half a second at 64 callers). Before every cell the
planner's statistics are refreshed (ANALYZE), as autovacuum does in production. After every cell
the run checks exactness against Postgres: the sum the bench committed equals the ledger's
entries and its counters' `spent`, nothing is left held, and no budget is over its limit. A last
row per mode storms one tenant's budget edge (more reservations than fit, at once) and checks
that exactly the ones that fit were granted.

    uv run python -m bench.ledger [--quick] [--pairs 10000] [--seconds 8] [--callers 1 16 64 256]

`--quick` (for development: about two minutes on a loaded machine) measures fewer pairs per
cell and the baseline at 64 callers only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

import asyncpg
import grpc

from bench.suite_tools import cpu_seconds
from tollgate.budget_ledger.alerts import AlertRaiser
from tollgate.budget_ledger.database import Database
from tollgate.budget_ledger.ledger import Ledger
from tollgate.budget_ledger.migrate import apply_migrations
from tollgate.budget_ledger.model import Requester
from tollgate.budget_ledger.settings import Settings
from tollgate.budget_ledger.validation import CommitInput, ReserveInput
from tollgate.common.breaker import CircuitBreaker
from tollgate.common.errors import ServiceError
from tollgate.common.health import wait_until_serving
from tollgate.common.stores import EmbeddedStores, resolve_postgres_dsn
from tollgate.gateway import dependencies
from tollgate.gateway.ledger_coalescing import CoalescedLedgerStub
from tollgate.gateway.routing import Track
from tollgate.gateway.settings import Settings as GatewaySettings
from tollgate.v1 import budget_ledger_pb2 as pb
from tollgate.v1 import budget_ledger_pb2_grpc, common_pb2

CALLERS = (1, 16, 64, 256)
TENANT_SPREADS = (1, 100)
HOLD_MICROS = 5_000
# What each pair commits: varied, and sometimes above the hold (posted in full, flagged).
ACTUALS = (4_000, 1_234, 5_000, 6_001, 17)
IN_PROCESS = "in process"
OVER_GRPC = "over gRPC, one RPC per call"
COALESCED = "over gRPC, as the gateway calls it (Settle, coalesced, commit in the background)"
GOALS = {IN_PROCESS: 5_000, OVER_GRPC: 2_000, COALESCED: 2_000}
EDGE_CALLERS = 256
EDGE_FITS = 100

# One reserve + commit on (tenant, request id), returning the micro-dollars it committed.
Pair = Callable[[str, str], Awaitable[int]]
# One reserve; whether it was granted.
Reserve = Callable[[str, str], Awaitable[bool]]


@dataclass
class Run:
    pairs: int
    pairs_per_second: float
    p50_ms: float
    p99_ms: float
    committed_micros: int
    # CPU milliseconds per pair of the ledger's process, of the calling process (the same
    # process in process) and of the Postgres backends serving the ledger.
    ledger_cpu_ms: float = 0.0
    caller_cpu_ms: float = 0.0
    postgres_cpu_ms: float = 0.0

    def capacity(self, in_process: bool, cores: int = 2) -> float:
        """Pairs/s that `cores` fully available cores could carry at these CPU costs."""
        caller = 0.0 if in_process else self.caller_cpu_ms
        return cores * 1000 / (self.ledger_cpu_ms + caller + self.postgres_cpu_ms)


async def _nothing_running() -> None:
    """A path whose pairs leave nothing running when they return."""


@dataclass
class Calls:
    """How one path makes a pair or a lone reserve, and reads its ledger process's CPU time."""

    pair: Pair
    reserve: Reserve
    ledger_cpu: Callable[[], float]
    # Waits for the calls a pair left running (the gateway's commits, sent in the background).
    settled: Callable[[], Awaitable[None]] = _nothing_running


@dataclass
class Exactness:
    ok: bool
    note: str


async def measure(
    callers: int,
    total: int,
    tenants: list[str],
    calls: Calls,
    postgres: asyncpg.Connection | None = None,
    seconds: float = float("inf"),
) -> Run:
    latencies: list[float] = []
    committed = 0
    remaining = total
    stop_at = time.perf_counter() + seconds

    async def caller(index: int) -> None:
        nonlocal remaining, committed
        n = index
        while remaining > 0 and time.perf_counter() < stop_at:
            remaining -= 1
            started = time.perf_counter()
            actual = await calls.pair(tenants[n % len(tenants)], secrets.token_hex(8))
            committed += actual
            latencies.append(time.perf_counter() - started)
            n += callers

    backends = await backend_cpu(postgres)
    began, cpu, ledger_began = time.perf_counter(), time.process_time(), calls.ledger_cpu()
    await asyncio.gather(*(caller(i) for i in range(callers)))
    await calls.settled()  # the run ends when every call it made is settled
    elapsed = time.perf_counter() - began
    ledger_used, caller_used = calls.ledger_cpu() - ledger_began, time.process_time() - cpu
    backends_after = await backend_cpu(postgres)
    postgres_used = sum(t - backends.get(pid, 0.0) for pid, t in backends_after.items())
    n = len(latencies)
    quantiles = statistics.quantiles(latencies, n=100) if n > 1 else latencies * 99
    return Run(
        n,
        n / elapsed,
        quantiles[49] * 1000,
        quantiles[98] * 1000,
        committed,
        ledger_used / n * 1000,
        caller_used / n * 1000,
        postgres_used / n * 1000,
    )


async def backend_cpu(conn: asyncpg.Connection | None) -> dict[int, float]:
    """CPU seconds so far of each Postgres backend connected to the bench's database, except
    the one asking (it only checks the results)."""
    if conn is None:
        return {}
    pids = await conn.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()"
    )
    used: dict[int, float] = {}
    for row in pids:
        with contextlib.suppress(OSError):
            used[int(row["pid"])] = process_cpu(int(row["pid"]))()
    return used


async def refresh_statistics(conn: asyncpg.Connection) -> None:
    """Bring the planner's statistics up to date before a cell, as autovacuum keeps a production
    database's (the Postgres the bench runs against may run without it).

    The bench's database is new and grows by thousands of holds and entries a cell. Without
    fresh statistics, the plans the ledger's connections cached while the tables were nearly
    empty scan every hold and entry for each batch, a cost that grows with the tables instead of
    the batch. ANALYZE also makes those connections plan again.
    """
    await conn.execute("ANALYZE")


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
    assert row is not None  # an aggregate always returns a row
    spent, held, over = int(row["spent"]), int(row["held"]), int(row["over"])
    ok = posted == spent == committed and held == 0 and over <= 0
    return Exactness(
        ok, f"{committed:,} = {posted:,} = {spent:,}, held {held}, over {max(over, 0)}"
    )


def tenant_names(cell: str, spread: int) -> list[str]:
    return [f"{cell}-{i}" for i in range(spread)]


def in_process_calls(ledger: Ledger) -> Calls:
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

    return Calls(pair, reserve, time.process_time)


class LedgerCaller(Protocol):
    async def reserve(self, request: pb.ReserveRequest) -> pb.ReserveResponse: ...
    async def commit(self, request: pb.CommitRequest) -> object: ...


class UnaryCaller:
    """One RPC per call."""

    def __init__(self, stub: budget_ledger_pb2_grpc.BudgetLedgerServiceStub) -> None:
        self._stub = stub

    async def reserve(self, request: pb.ReserveRequest) -> pb.ReserveResponse:
        return await self._stub.Reserve(request)

    async def commit(self, request: pb.CommitRequest) -> pb.CommitResponse:
        return await self._stub.Commit(request)


def grpc_calls(
    ledger: LedgerCaller,
    ledger_cpu: Callable[[], float],
    settled: Callable[[], Awaitable[None]] = _nothing_running,
) -> Calls:
    async def pair(tenant: str, request_id: str) -> int:
        context = common_pb2.RequestContext(
            tenant_id=tenant, api_key_id="key-1", request_id=request_id
        )
        actual = ACTUALS[hash(request_id) % len(ACTUALS)]
        reply = await ledger.reserve(pb.ReserveRequest(context=context, amount_micros=HOLD_MICROS))
        if reply.outcome != pb.RESERVE_OUTCOME_RESERVED:
            raise AssertionError(f"a fresh request id was not reserved: {reply}")
        await ledger.commit(pb.CommitRequest(context=context, actual_micros=actual))
        return actual

    async def reserve(tenant: str, request_id: str) -> bool:
        context = common_pb2.RequestContext(
            tenant_id=tenant, api_key_id="key-1", request_id=request_id
        )
        try:
            await ledger.reserve(pb.ReserveRequest(context=context, amount_micros=HOLD_MICROS))
        except (grpc.aio.AioRpcError, ServiceError) as error:
            code = error.code() if isinstance(error, grpc.aio.AioRpcError) else error.code
            if code != grpc.StatusCode.RESOURCE_EXHAUSTED:
                raise
            return False
        return True

    return Calls(pair, reserve, ledger_cpu, settled)


def process_cpu(pid: int) -> Callable[[], float]:
    """CPU seconds (user + system) another process has used so far."""
    return functools.partial(cpu_seconds, pid)


@contextlib.asynccontextmanager
async def in_process(dsn: str, group_commit: bool) -> AsyncIterator[Calls]:
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
async def over_grpc(dsn: str, group_commit: bool) -> AsyncIterator[Calls]:
    async with ledger_server(dsn, group_commit) as (stub, cpu):
        yield grpc_calls(UnaryCaller(stub), cpu)


class GatewayCaller:
    """The gateway's way: its ledger stub (calls of concurrent requests share Settle RPCs)
    behind its call path (breaker, deadline, metrics), with its default ledger timeout. As in
    the gateway, a commit is background work: the caller goes on to its next request while the
    commit waits (it lingers for the next reserve's Settle), and `settled` waits for them all."""

    def __init__(self, stub: budget_ledger_pb2_grpc.BudgetLedgerServiceStub) -> None:
        settings = GatewaySettings()
        self.stub = CoalescedLedgerStub(stub, rpc_timeout=settings.budget_ledger_timeout_seconds)
        self._timeout = settings.budget_ledger_timeout_seconds
        breaker = CircuitBreaker(settings.breaker_failure_threshold, settings.breaker_open_seconds)
        # The stub owns the channel here: the track carries only the stub and the breaker.
        no_channel = cast(grpc.aio.Channel, None)
        self._track: Track[Any] = Track(
            "budget_ledger", "stable", "bench", no_channel, self.stub, breaker
        )
        self._commits: set[asyncio.Task[Any]] = set()

    async def reserve(self, request: pb.ReserveRequest) -> pb.ReserveResponse:
        return await self._call("Reserve", request)

    async def commit(self, request: pb.CommitRequest) -> None:
        task = asyncio.create_task(self._call("Commit", request))
        self._commits.add(task)
        task.add_done_callback(self._commits.discard)

    async def settled(self) -> None:
        """Every commit sent so far has landed (a failed one raises)."""
        await asyncio.gather(*self._commits)

    async def _call(self, method: str, request: Any) -> Any:
        rpc = getattr(self.stub, method)
        try:
            return await dependencies.call(self._track, method, rpc, request, self._timeout)
        except grpc.aio.AioRpcError as error:  # a refusal: the caller's, as in the gateway
            code, message, metadata = dependencies.status_of(error)
            raise ServiceError(message, code, metadata=metadata) from error


@contextlib.asynccontextmanager
async def over_grpc_coalesced(dsn: str, group_commit: bool) -> AsyncIterator[Calls]:
    async with ledger_server(dsn, group_commit) as (stub, cpu):
        caller = GatewayCaller(stub)
        try:
            yield grpc_calls(caller, cpu, caller.settled)
        finally:
            await caller.stub.aclose()


@contextlib.asynccontextmanager
async def ledger_server(
    dsn: str, group_commit: bool
) -> AsyncIterator[tuple[budget_ledger_pb2_grpc.BudgetLedgerServiceStub, Callable[[], float]]]:
    """A ledger replica in its own process, with the service's default settings."""
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
            yield budget_ledger_pb2_grpc.BudgetLedgerServiceStub(channel), process_cpu(server.pid)
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


@dataclass(frozen=True)
class Plan:
    pairs: int
    seconds: float
    callers: tuple[int, ...]
    # Caller counts of the baseline (group commit off), on the hot tenant only: it is slow.
    baseline_callers: tuple[int, ...]

    def cells(self, group_commit: bool) -> list[tuple[int, int]]:
        if not group_commit:
            return [(1, callers) for callers in self.baseline_callers]
        return [(spread, callers) for spread in TENANT_SPREADS for callers in self.callers]


async def series(
    path: str,
    group_commit: bool,
    calls: Calls,
    conn: asyncpg.Connection,
    plan: Plan,
) -> tuple[list[str], dict[tuple[int, int], Run]]:
    mode = "on" if group_commit else "off (baseline)"
    rows: list[str] = []
    rates: dict[tuple[int, int], Run] = {}
    warm = tenant_names(f"warm-{path}-{group_commit}", 1)
    await define_budgets(conn, warm, 10**15)
    await measure(16, 100, warm, calls)
    for spread, callers in plan.cells(group_commit):
        tenants = tenant_names(secrets.token_hex(3), spread)
        await define_budgets(conn, tenants, 10**15)
        await refresh_statistics(conn)
        run = await measure(callers, plan.pairs, tenants, calls, conn, plan.seconds)
        exact = await check_exactness(conn, tenants, run.committed_micros)
        rates[(spread, callers)] = run
        rows.append(
            f"| {path} | {mode} | {spread} | {callers} | {run.pairs:,} | "
            f"{run.pairs_per_second:,.0f} | "
            f"{run.p50_ms:.1f} | {run.p99_ms:.1f} | {run.ledger_cpu_ms:.3f} | "
            f"{cpu_of_caller(path, run)} | {run.postgres_cpu_ms:.3f} | "
            f"{run.capacity(path == IN_PROCESS):,.0f} | {'yes' if exact.ok else 'NO'} | "
            f"{exact.note} |"
        )
        print(rows[-1], file=sys.stderr, flush=True)
    # The budget edge: more reservations at once than fit; exactly the ones that fit win.
    (tenant,) = tenant_names(secrets.token_hex(3), 1)
    await define_budgets(conn, [tenant], EDGE_FITS * HOLD_MICROS)
    granted = await asyncio.gather(
        *(calls.reserve(tenant, secrets.token_hex(8)) for _ in range(EDGE_CALLERS * 2))
    )
    held = await conn.fetchval(
        "SELECT held_micros FROM budget_counters c JOIN budgets b ON b.id = c.budget_id "
        "WHERE b.tenant_id = $1",
        tenant,
    )
    edge_ok = sum(granted) == EDGE_FITS and held == EDGE_FITS * HOLD_MICROS
    rows.append(
        f"| {path} | {mode} | 1 (edge) | {EDGE_CALLERS * 2} | - | - | - | - | - | - | - | - | "
        f"{'yes' if edge_ok else 'NO'} | {sum(granted)} of {EDGE_CALLERS * 2} granted, "
        f"{EDGE_FITS} fit; held {held:,} of {EDGE_FITS * HOLD_MICROS:,} |"
    )
    return rows, rates


# (path, runner, group commit); group commit off is the baseline (the previous design).
SERIES: tuple[
    tuple[str, Callable[[str, bool], contextlib.AbstractAsyncContextManager[Calls]], bool], ...
] = (
    (IN_PROCESS, in_process, False),
    (IN_PROCESS, in_process, True),
    (OVER_GRPC, over_grpc, False),
    (OVER_GRPC, over_grpc, True),
    (COALESCED, over_grpc_coalesced, True),
)


def cpu_of_caller(path: str, run: Run) -> str:
    # In process the caller is the ledger's own process: its CPU is already counted.
    return "-" if path == IN_PROCESS else f"{run.caller_cpu_ms:.2f}"


async def bench(plan: Plan) -> list[str]:
    embedded = EmbeddedStores()
    server_dsn = resolve_postgres_dsn(None, embedded, prefer_local=True)
    name, dsn = await fresh_database(server_dsn)
    rows = [
        "| path | group commit | tenants | callers | pairs | pairs/s | p50 ms | p99 ms | "
        "ledger CPU ms/pair | caller CPU ms/pair | Postgres CPU ms/pair | "
        "2-core capacity pairs/s | exact | committed = entries = spent; held; over limit |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    rates: dict[tuple[str, bool], dict[tuple[int, int], Run]] = {}
    try:
        await apply_migrations(dsn)
        conn = await asyncpg.connect(dsn)
        try:
            for path, runner, group_commit in SERIES:
                async with runner(dsn, group_commit) as calls:
                    new_rows, new_rates = await series(path, group_commit, calls, conn, plan)
                rows.extend(new_rows)
                rates[(path, group_commit)] = new_rates
        finally:
            await conn.close()
    finally:
        await drop_database(server_dsn, name)
        embedded.close()
    rows.extend(["", *verdicts(rates)])
    return rows


def verdicts(runs: dict[tuple[str, bool], dict[tuple[int, int], Run]]) -> list[str]:
    if any((1, 64) not in cells for cells in runs.values()):
        return ["(no verdicts: they need 64 callers on one tenant in every series)"]
    lines = [
        "| goal (issue 22): pairs/s at 64 callers, one hot tenant | measured | baseline (off) "
        "| speed-up | verdict on this run | 2-core capacity from CPU per pair | verdict on "
        "capacity |",
        "|---|---:|---:|---:|---|---:|---|",
    ]
    baseline_of = {COALESCED: OVER_GRPC}
    for path, goal in GOALS.items():
        on = runs[(path, True)][(1, 64)]
        off = runs[(baseline_of.get(path, path), False)][(1, 64)]
        rate, capacity = on.pairs_per_second, on.capacity(path == IN_PROCESS)
        lines.append(
            f"| {path} ≥ {goal:,} | {rate:,.0f} | {off.pairs_per_second:,.0f} | "
            f"{rate / off.pairs_per_second:.1f}x | {_verdict(rate, goal)} "
            f"| {capacity:,.0f} | {_verdict(capacity, goal)} |"
        )
    return lines


def _verdict(value: float, goal: int) -> str:
    return "met" if value >= goal else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ledger")
    parser.add_argument("--quick", action="store_true", help="a short run, for development")
    parser.add_argument("--pairs", type=int, help="most pairs measured per cell")
    parser.add_argument("--seconds", type=float, help="longest a cell measures")
    parser.add_argument("--callers", type=int, nargs="*", default=list(CALLERS))
    args = parser.parse_args()
    callers = tuple(args.callers)
    plan = Plan(
        pairs=args.pairs or (400 if args.quick else 10_000),
        seconds=args.seconds or (2.0 if args.quick else 8.0),
        callers=callers,
        baseline_callers=tuple(c for c in callers if c == 64) if args.quick else callers,
    )
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    rows = asyncio.run(bench(plan))
    print("\n".join(rows))
    print(
        f"\n{time.perf_counter() - started:.0f} s; load average (1 min) {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
