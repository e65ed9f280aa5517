"""Faults under load: start the suite, drive a steady load through the gateway, inject faults.

Every store and backend the gateway depends on sits behind a FaultProxy, so a fault is a real
outage as the clients see it (refused connections, reset calls), and the emulator plays Claude in
a 429 storm or answering 500s. Each fault gets its own tenant, so that afterwards the ledger can be
checked per fault: the committed costs must equal the costs of the answers actually returned,
and no hold may be left open once the gateway has settled its holds.

    uv run python -m tests.faults.harness            # every fault, rewrites docs/reliability.md
    uv run python -m tests.faults.harness --quick    # shorter phases

The short tests in tests/faults run a few faults with the same machinery.
"""

from __future__ import annotations

# Before gRPC is imported (it reads the setting once): `tollgate.cli` turns gRPC's fork handlers
# off. The harness starts an embedded Postgres, whose initdb and pg_ctl fork, while gRPC's
# threads may already be polling (docs/contributing.md).
import tollgate.cli  # noqa: F401

# isort: split

import argparse
import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import grpc
import yaml

from tests.faults.attacks import (
    ATTACK_NAMES,
    ATTACKER_TENANT,
    BAD_REPORTS,
    MEMORY,
    SHARED_IDS,
    bad_reports,
    memory_flood,
    shared_request_ids,
)
from tests.faults.proxy import FaultProxy
from tollgate.common.auth import hash_api_key
from tollgate.common.server import RunningServer
from tollgate.common.stores import EmbeddedStores, resolve_postgres_dsn, resolve_redis_url
from tollgate.common.testing import serving
from tollgate.emulator import EmulatorServer
from tollgate.v1 import budget_ledger_pb2, common_pb2, gateway_pb2, gateway_pb2_grpc

ADMIN_SECRET = "tg_faults_admin_" + "0" * 16
FLAGS: dict[str, Any] = {
    "version": 1,
    "flags": {
        "exact_cache": {"enabled": True, "rolloutPercent": 100, "mode": "enforce"},
        "conversation_optimization": {"enabled": True, "rolloutPercent": 100, "mode": "enforce"},
        "semantic_cache": {"enabled": True, "rolloutPercent": 100, "mode": "enforce"},
        "prompt_caching": {"enabled": True, "rolloutPercent": 100, "mode": "enforce"},
        "budget_enforcement": {
            "enabled": True,
            "rolloutPercent": 100,
            "mode": "enforce",
            "parameters": {"failMode": "closed"},
        },
    },
}
QUESTIONS = [
    f"Lead {n}: what should the agent ask next about the {kind} on {street} Street?"
    for n, (kind, street) in enumerate(
        [(k, s) for k in ("condo", "townhouse", "bungalow") for s in ("Elm", "Oak", "Pine", "Ash")]
    )
]
# What every other call says first: with it the call is a conversation, which the gateway sends
# to the conversation optimizer (a single message it does not), so that service's fault is felt.
EARLIER_EXCHANGE = (
    (common_pb2.ROLE_USER, "We are helping a family of four move closer to school."),
    (common_pb2.ROLE_ASSISTANT, "Noted: a family of four, near a school."),
)


@dataclass(frozen=True)
class Outcome:
    started: float
    finished: float
    code: grpc.StatusCode
    cost_micros: int


@dataclass
class FaultResult:
    name: str
    tenant: str
    total: int = 0
    succeeded: int = 0
    recovery_seconds: float | None = None
    succeeded_after_heal: int = 0
    returned_micros: int = 0
    committed_micros: int = 0
    # Of the committed: the semantic cache's verification calls, charged under their own request
    # ids ("<id>:verify") and in no answer's account, by design
    # (gateway/steps/semantic_verification.py).
    verification_micros: int = 0
    held_micros: int = 0
    codes: dict[str, int] = field(default_factory=dict)

    @property
    def success_rate(self) -> float:
        return self.succeeded / self.total if self.total else 0.0

    @property
    def ledger_exact(self) -> bool:
        answers = self.committed_micros - self.verification_micros
        return answers == self.returned_micros and self.held_micros == 0


@dataclass(frozen=True)
class Fault:
    name: str
    inject: Callable[[], Awaitable[None]]
    heal: Callable[[], Awaitable[None]]


def _with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", int(parts.port or 0)


STORM = "Claude 429 storm"
ERRORS = "Claude 500s"


def outage_targets(semantic: bool) -> list[str]:
    names = ["redis", "postgres", "conversation_optimizer", "orchestrator"]
    if semantic:
        names.insert(2, "semantic_cache")
    return names


def fault_names(semantic: bool) -> list[str]:
    return [*(f"{name} down" for name in outage_targets(semantic)), STORM, ERRORS, *ATTACK_NAMES]


class FaultSuite:
    """The whole suite in this process, each dependency of the gateway behind a proxy."""

    def __init__(
        self,
        workdir: Path,
        redis_url: str,
        postgres_dsn: str,
        semantic: bool,
    ) -> None:
        self.workdir = workdir
        self.redis_url = redis_url
        self.postgres_dsn = postgres_dsn
        self.semantic = semantic
        self.emulator = EmulatorServer()
        self.servers: dict[str, RunningServer] = {}
        self.proxies: dict[str, FaultProxy] = {}
        self.tenant_keys: dict[str, str] = {}

    def key_for(self, tenant: str) -> str:
        return self.tenant_keys[tenant]

    async def _proxy(self, name: str, host: str, port: int) -> FaultProxy:
        proxy = FaultProxy(host, port)
        await proxy.start()
        self.proxies[name] = proxy
        return proxy

    async def _serve(
        self, stack: contextlib.AsyncExitStack, name: str, build: Any, settings: Any
    ) -> str:
        self.servers[name] = await stack.enter_async_context(
            serving(await build(settings), settings)
        )
        proxy = await self._proxy(name, "127.0.0.1", self.servers[name].port)
        return proxy.address

    @contextlib.asynccontextmanager
    async def running(self, tenants: list[str]) -> AsyncIterator[FaultSuite]:
        from tollgate.budget_ledger.service import build_service as build_ledger
        from tollgate.budget_ledger.settings import Settings as LedgerSettings
        from tollgate.cache.service import build_service as build_cache
        from tollgate.cache.settings import Settings as CacheSettings
        from tollgate.conversation_optimizer.service import build_service as build_optimizer
        from tollgate.conversation_optimizer.settings import Settings as OptimizerSettings
        from tollgate.gateway.service import build_service as build_gateway
        from tollgate.gateway.settings import Settings as GatewaySettings
        from tollgate.orchestrator.service import build_service as build_orchestrator
        from tollgate.orchestrator.settings import Settings as OrchestratorSettings

        local = {"host": "127.0.0.1", "port": 0}
        async with contextlib.AsyncExitStack() as stack:
            await self.emulator.start()
            stack.push_async_callback(self.emulator.stop)
            redis_proxy = await self._proxy("redis", *_host_port(self.redis_url))
            postgres_proxy = await self._proxy("postgres", *_host_port(self.postgres_dsn))
            orchestrator = await self._serve(
                stack,
                "orchestrator",
                build_orchestrator,
                OrchestratorSettings(
                    **local, anthropic_base_url=self.emulator.base_url, anthropic_api_key="emulator"
                ),
            )
            cache = await self._serve(
                stack,
                "cache",
                build_cache,
                CacheSettings(
                    **local,
                    redis_url=_with_port(self.redis_url, redis_proxy.port),
                    key_prefix="faults" + secrets.token_hex(3),
                    lookup_timeout_seconds=1.0,
                    write_timeout_seconds=1.0,
                ),
            )
            ledger = await self._serve(
                stack,
                "budget_ledger",
                build_ledger,
                LedgerSettings(
                    **local,
                    database_url=_with_port(self.postgres_dsn, postgres_proxy.port),
                    migrate_on_start=True,
                    sweep_interval_seconds=0.5,
                    statement_timeout_seconds=2.0,
                ),
            )
            optimizer = await self._serve(
                stack, "conversation_optimizer", build_optimizer, OptimizerSettings(**local)
            )
            semantic = "127.0.0.1:9"
            if self.semantic:
                from tollgate.semantic_cache.service import build_service as build_semantic
                from tollgate.semantic_cache.settings import Settings as SemanticSettings

                semantic = await self._serve(
                    stack,
                    "semantic_cache",
                    build_semantic,
                    SemanticSettings(**local, data_dir=str(self.workdir / "vectors")),
                )
            for proxy in self.proxies.values():
                stack.push_async_callback(proxy.stop)
            flags = self.workdir / "flags.yaml"
            flags.write_text(yaml.safe_dump(FLAGS))
            keys = [
                {
                    "id": "ops",
                    "tenant": "ops",
                    "sha256": hash_api_key(ADMIN_SECRET),
                    "role": "operator",
                }
            ]
            for tenant in [*tenants, ATTACKER_TENANT]:
                secret = f"tg_faults_{tenant}_{secrets.token_hex(8)}"
                self.tenant_keys[tenant] = secret
                keys.append(
                    {"id": f"{tenant}-app", "tenant": tenant, "sha256": hash_api_key(secret)}
                )
            (self.workdir / "keys.yaml").write_text(yaml.safe_dump({"keys": keys}))
            gateway_settings = GatewaySettings(
                **local,
                api_keys_file=str(self.workdir / "keys.yaml"),
                flags_file=str(flags),
                orchestrator_addr=orchestrator,
                cache_addr=cache,
                budget_ledger_addr=ledger,
                conversation_optimizer_addr=optimizer,
                semantic_cache_addr=semantic,
                lead_scoring_addr="127.0.0.1:9",
                # One event loop runs every server here: production-tight deadlines would turn
                # a busy loop into false outages.
                cache_timeout_seconds=1.0,
                semantic_cache_timeout_seconds=2.0,
                conversation_optimizer_timeout_seconds=2.0,
                budget_ledger_timeout_seconds=2.0,
                orchestrator_timeout_seconds=15.0,
                breaker_open_seconds=1.0,
            )
            self.servers["gateway"] = await stack.enter_async_context(
                serving(await build_gateway(gateway_settings), gateway_settings)
            )
            for tenant in tenants:
                await self.set_budget(tenant, 10**12)
            yield self

    @property
    def gateway_address(self) -> str:
        return self.servers["gateway"].address

    async def _admin(self, method: str, request: Any) -> Any:
        async with grpc.aio.insecure_channel(self.gateway_address) as channel:
            stub = gateway_pb2_grpc.GatewayServiceStub(channel)
            metadata = (("authorization", f"Bearer {ADMIN_SECRET}"),)
            return await getattr(stub, method)(request, metadata=metadata, timeout=10)

    async def set_budget(self, tenant: str, limit_micros: int) -> None:
        budget = budget_ledger_pb2.Budget(
            scope=budget_ledger_pb2.BudgetScope(
                kind=budget_ledger_pb2.SCOPE_KIND_TENANT, tenant_id=tenant
            ),
            period=budget_ledger_pb2.BUDGET_PERIOD_MONTH,
            limit_micros=limit_micros,
        )
        await self._admin("SetBudget", gateway_pb2.SetBudgetRequest(budget=budget))

    async def ledger_state(self, tenant: str) -> tuple[int, int, int]:
        """(committed, of it the verification calls', still held) micro-dollars of `tenant`."""
        usage = await self._admin(
            "GetUsageReport",
            gateway_pb2.GetUsageReportRequest(
                tenant_id=tenant, group_by=[budget_ledger_pb2.USAGE_DIMENSION_CACHE_STATUS]
            ),
        )
        verification = sum(
            row.cost_micros
            for row in usage.report.rows
            if row.group.get("cache_status") == "verification"
        )
        budgets = await self._admin("GetBudgets", gateway_pb2.GetBudgetsRequest(tenant_id=tenant))
        held = sum(state.held_micros for state in budgets.states)
        return usage.report.totals.cost_micros, verification, held

    async def settled(self) -> None:
        await self.servers["gateway"].service.registrations[0].servicer.pipeline.background.drain()

    # ---- faults ------------------------------------------------------------------------------

    def faults(self) -> list[Fault]:
        def outage(name: str) -> Fault:
            proxy = self.proxies[name]
            return Fault(f"{name} down", proxy.cut, proxy.restore)

        async def storm() -> None:
            self.emulator.config.faults.rate_limit = 1.0

        async def errors() -> None:
            self.emulator.config.faults.api_error = 1.0

        async def calm() -> None:
            self.emulator.config.faults.rate_limit = 0.0
            self.emulator.config.faults.api_error = 0.0

        attacker = self.key_for(ATTACKER_TENANT)
        reports = bad_reports(self.gateway_address, attacker)
        shared = shared_request_ids(self.gateway_address, attacker)
        flood = memory_flood(self.gateway_address)
        return [
            *(outage(name) for name in outage_targets(self.semantic)),
            Fault(STORM, storm, calm),
            Fault(ERRORS, errors, calm),
            Fault(BAD_REPORTS, reports.inject, reports.heal),
            Fault(SHARED_IDS, shared.inject, shared.heal),
            Fault(MEMORY, flood.inject, flood.heal),
        ]


class Load:
    """`workers` callers in a loop, each request recorded with its outcome."""

    def __init__(self, address: str, api_key: str, workers: int) -> None:
        self._address = address
        self._metadata = (("authorization", f"Bearer {api_key}"),)
        self._workers = workers
        self.outcomes: list[Outcome] = []
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run(n)) for n in range(self._workers)]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, worker: int) -> None:
        async with grpc.aio.insecure_channel(self._address) as channel:
            stub = gateway_pb2_grpc.GatewayServiceStub(channel)
            count = 0
            while not self._stop.is_set():
                count += 1
                question = QUESTIONS[(worker * 7 + count) % len(QUESTIONS)]
                if count % 3 == 0:
                    question += f" (variant {worker}-{count})"  # a miss for every cache
                turns = [*(EARLIER_EXCHANGE if count % 2 else ()), (common_pb2.ROLE_USER, question)]
                request = gateway_pb2.CompleteRequest(
                    completion=gateway_pb2.Completion(
                        contact_id=f"lead-{worker}",
                        request=common_pb2.ClaudeRequest(
                            model="claude-haiku-5-5",
                            max_tokens=400,
                            temperature=0.0,
                            messages=[
                                common_pb2.Message(
                                    role=role,
                                    content=[
                                        common_pb2.ContentBlock(
                                            text=common_pb2.TextBlock(text=text)
                                        )
                                    ],
                                )
                                for role, text in turns
                            ],
                        ),
                    )
                )
                started = time.monotonic()
                try:
                    reply = await stub.Complete(request, metadata=self._metadata, timeout=15)
                    outcome = Outcome(
                        started,
                        time.monotonic(),
                        grpc.StatusCode.OK,
                        reply.account.cost.total_micros,
                    )
                except grpc.aio.AioRpcError as exc:
                    outcome = Outcome(started, time.monotonic(), exc.code(), 0)
                    await asyncio.sleep(0.05)  # a failing caller backs off a little
                self.outcomes.append(outcome)


def _recovery(outcomes: list[Outcome], healed_at: float, streak: int = 10) -> float | None:
    """Seconds from the heal until the first of `streak` successes in a row (by start time)."""
    after = sorted((o for o in outcomes if o.started >= healed_at), key=lambda o: o.started)
    run: list[Outcome] = []
    for outcome in after:
        run = [*run, outcome] if outcome.code == grpc.StatusCode.OK else []
        if len(run) == streak:
            return max(0.0, run[0].started - healed_at)
    return None


async def run_fault(
    suite: FaultSuite,
    fault: Fault,
    tenant: str,
    workers: int,
    before: float,
    during: float,
    after: float,
) -> FaultResult:
    load = Load(suite.gateway_address, suite.key_for(tenant), workers)
    load.start()
    await asyncio.sleep(before)
    fault_started = time.monotonic()
    await fault.inject()
    await asyncio.sleep(during)
    healed_at = time.monotonic()
    await fault.heal()
    await asyncio.sleep(after)
    await load.stop()
    await suite.settled()
    result = FaultResult(fault.name, tenant)
    window = [o for o in load.outcomes if fault_started <= o.started < healed_at]
    result.total = len(window)
    result.succeeded = sum(1 for o in window if o.code == grpc.StatusCode.OK)
    for outcome in window:
        result.codes[outcome.code.name] = result.codes.get(outcome.code.name, 0) + 1
    result.recovery_seconds = _recovery(load.outcomes, healed_at)
    result.succeeded_after_heal = sum(
        1 for o in load.outcomes if o.started >= healed_at and o.code == grpc.StatusCode.OK
    )
    result.returned_micros = sum(o.cost_micros for o in load.outcomes)
    return result


async def check_ledger(suite: FaultSuite, results: list[FaultResult]) -> None:
    """Once the gateway has settled every hold it made: committed vs returned, held.

    The gateway retries each commit and release until it lands; a hold it never settled stays
    held here (it would be charged in full only when it expires, minutes later).
    """
    await suite.settled()
    for result in results:
        (
            result.committed_micros,
            result.verification_micros,
            result.held_micros,
        ) = await suite.ledger_state(result.tenant)


def table(results: list[FaultResult]) -> str:
    lines = [
        "| fault | requests during | success rate during | recovery after heal | "
        "ledger exact | committed / returned (µ$) | of the committed: verification calls (µ$) "
        "| held after settling (µ$) |",
        "|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    for r in results:
        recovery = (
            "not within the run" if r.recovery_seconds is None else f"{r.recovery_seconds:.2f} s"
        )
        lines.append(
            f"| {r.name} | {r.total} | {r.success_rate:.0%} | {recovery} | "
            f"{'yes' if r.ledger_exact else 'NO'} | {r.committed_micros:,} / {r.returned_micros:,} "
            f"| {r.verification_micros:,} | {r.held_micros:,} |"
        )
    return "\n".join(lines)


@contextlib.contextmanager
def stores() -> Any:
    embedded = EmbeddedStores()
    try:
        yield (
            resolve_redis_url(
                os.environ.get("TOLLGATE_TEST_REDIS_URL"), embedded, prefer_local=True
            ),
            resolve_postgres_dsn(
                os.environ.get("TOLLGATE_TEST_POSTGRES_DSN"), embedded, prefer_local=True
            ),
        )
    finally:
        embedded.close()


@contextlib.asynccontextmanager
async def fresh_database(server_dsn: str) -> AsyncIterator[str]:
    import asyncpg

    name = "tollgate_faults_" + secrets.token_hex(4)
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base, _, query = server_dsn.partition("?")
    head, _, _ = base.rpartition("/")
    try:
        yield f"{head}/{name}" + (f"?{query}" if query else "")
    finally:
        admin = await asyncpg.connect(server_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def run_all(
    workdir: Path,
    redis_url: str,
    postgres_server_dsn: str,
    *,
    only: list[str] | None = None,
    semantic: bool = True,
    workers: int = 6,
    before: float = 2.0,
    during: float = 5.0,
    after: float = 6.0,
) -> list[FaultResult]:
    async with fresh_database(postgres_server_dsn) as dsn:
        suite = FaultSuite(workdir, redis_url, dsn, semantic)
        names = [n for n in fault_names(semantic) if only is None or any(o in n for o in only)]
        tenants = [f"fault{index}" for index in range(len(names))]
        results: list[FaultResult] = []
        async with suite.running(tenants) as running:
            faults = {f.name: f for f in running.faults()}
            for tenant, name in zip(tenants, names, strict=True):
                results.append(
                    await run_fault(running, faults[name], tenant, workers, before, during, after)
                )
            await check_ledger(running, results)
        return results


REPORT_HEAD = """# Reliability: faults under load

Regenerated by `make faults` (`uv run python -m tests.faults.harness`). The harness starts the
whole suite in one process — emulator, orchestrator, conversation optimizer, exact cache (Redis),
semantic cache, budget ledger (Postgres), gateway — with every dependency of the gateway behind a
TCP proxy that can cut it off (listener closed, open connections reset: what clients see when a
process stops) and restore it. Claude faults are the emulator answering every call with 429
(`retry-after`) or 500. {workers} callers drive a steady load of Complete calls (a third of them
unique, the rest repeated, so caches get hits; every other one continues a conversation, so the
conversation optimizer, which is not asked about a single message, is asked about half of them);
each fault runs {before:g} s before, {during:g} s
during and {after:g} s after the fault, with its own tenant.

- **success rate during**: answered calls among those started while the fault lasted.
- **recovery after heal**: from the heal until the first of ten successes in a row.
- **ledger exact**: once the gateway has settled every hold it made (it retries each commit and
  release until it lands; a hold left unsettled would be charged in full only when it expires,
  minutes later), the tenant's committed cost equals the sum of the costs on the answers it
  received plus its semantic-cache verification calls (a sampled semantic hit is asked again of
  Claude and charged under its own request id, with cache status `verification`: in the usage
  report, in no answer's account), and nothing is held.

"""

REPORT_TAIL = """

## How each fault is absorbed

- Redis (exact cache) and the semantic cache and optimizer services fail open: the gateway skips
  them within their deadline (then the circuit breaker skips them outright) and still answers.
- Postgres (ledger) fails closed for tenants whose budgets fail closed (the default): calls that
  need a hold are refused with UNAVAILABLE rather than answered unmetered; exact-cache hits still
  answer. Commits of answers already returned retry (about 100 s of doubling delays) until the
  ledger is back; the ledger accepts them late, so every returned answer is charged.
  The ledger's circuit breaker counts evidence, not callers: a failure counts only when its call
  started after the last failure that counted, so the requests in flight together when the
  ledger had one slow moment (over `TOLLGATE_GATEWAY_BUDGET_LEDGER_TIMEOUT_SECONDS`, 1 s) count
  once. Counted per call, five of them opened the ledger's circuit and refused every governed
  request for `TOLLGATE_GATEWAY_BREAKER_OPEN_SECONDS` (5 s) after the ledger was back. A ledger
  that keeps failing still opens it: after `TOLLGATE_GATEWAY_BREAKER_FAILURE_THRESHOLD` (5)
  failures one after another, at most one deadline each
  (`services/budget_ledger/tests/test_budget_ledger_gateway_stub.py`).
- Orchestrator down: nothing can answer a cache miss; exact-cache hits still answer. Its breaker,
  and lead scoring's, count evidence as the ledger's does (`REQUIRED_BACKENDS` in
  `gateway/routing.py`): ten requests in flight when Claude stalls past the gateway's deadline
  for the orchestrator fail, and the next request is answered; five failures one after another
  open the circuit (`tests/e2e/test_e2e_degradation.py`). The optional steps' breakers (caches,
  optimizer) count every failed call: while open they only skip an optimization, so they open
  fast.
- Claude 429 storm: the orchestrator honours `retry-after` and backs off, so few calls start
  while it lasts; those that end refused release their hold, so nothing is charged.
- Attacks by another tenant (`tests/faults/attacks.py`): the measured tenant's success rate
  is the figure; the goal is at least 99 %. Malformed usage reports are refused at the gateway
  (INVALID_ARGUMENT) before the ledger sees them. Concurrent completions sharing one request id
  still reach the ledger as repeated holds until the gateway refuses or replays a repeated id and
  its breakers count only dependency failures; until then this row can fall short of the goal.
  Unauthenticated 7.9 MB requests are refused when their headers arrive, before their bodies
  are read.
- Claude 500s: after 5 failures one after another (attempts in flight together count once) the
  orchestrator's per-model circuit breaker opens for
  30 s (`TOLLGATE_ORCHESTRATOR_BREAKER_OPEN_SECONDS`), longer than this run watches after the
  heal, so misses keep failing until it closes; calls answered during the fault are cache hits,
  and a recovery measured within the run is ten cache hits in a row.

## Defects these runs found, now fixed

- A request refused at the budget step (ledger down, or over budget) kept its exact-cache fill
  lease, so identical requests waited for a fill that never came until their deadline (15 s
  hangs while Postgres was down). The gateway now gives the lease back when the hold is refused.
- Ledger commits gave up after 1.5 s of retries, so answers returned just before a Postgres
  outage were never charged (ledger inexact after "postgres down"). Commits now retry for about
  100 s.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter phases")
    parser.add_argument("--only", nargs="*", help="faults whose name contains one of these")
    parser.add_argument("--no-semantic", action="store_true", help="skip the semantic cache")
    parser.add_argument("--output", default="docs/reliability.md")
    args = parser.parse_args()
    phases = (
        {"before": 1.0, "during": 3.0, "after": 4.0}
        if args.quick
        else {"before": 2.0, "during": 5.0, "after": 6.0}
    )
    workers = 6
    import tempfile

    with stores() as (redis_url, postgres_dsn), tempfile.TemporaryDirectory() as workdir:
        results = asyncio.run(
            run_all(
                Path(workdir),
                redis_url,
                postgres_dsn,
                only=args.only,
                semantic=not args.no_semantic,
                workers=workers,
                **phases,
            )
        )
    report = table(results)
    print(report)
    head = REPORT_HEAD.format(workers=workers, **phases)
    Path(args.output).write_text(head + report + "\n" + REPORT_TAIL)
    print(f"\nwritten to {args.output}")


if __name__ == "__main__":
    main()
