"""Fixtures for tests across services: the emulator, an in-process gateway → orchestrator path."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tollgate.client import TollgateClient
from tollgate.common.auth import hash_api_key
from tollgate.common.server import RunningServer
from tollgate.common.testing import InProcessRunning, serving, serving_in_process
from tollgate.emulator import EmulatorServer
from tollgate.gateway.service import build_service as build_gateway
from tollgate.gateway.settings import Settings as GatewaySettings
from tollgate.orchestrator.service import build_service as build_orchestrator
from tollgate.orchestrator.settings import Settings as OrchestratorSettings
from tollgate.v1 import budget_ledger_pb2, gateway_pb2, lead_scoring_pb2

API_KEY = "tg_test_app_key_0123456789"
ADMIN_KEY = "tg_test_admin_key_0123456789"
OTHER_TENANT_KEY = "tg_test_other_key_0123456789"
# An admin of tenant acme only (role admin), unlike ADMIN_KEY (role operator: every tenant).
TENANT_ADMIN_KEY = "tg_test_acme_admin_key_0123456789"


def write_keys_file(path: Path) -> Path:
    keys = [
        {"id": "acme-app", "tenant": "acme", "sha256": hash_api_key(API_KEY)},
        {"id": "globex-app", "tenant": "globex", "sha256": hash_api_key(OTHER_TENANT_KEY)},
        {
            "id": "acme-admin",
            "tenant": "acme",
            "sha256": hash_api_key(TENANT_ADMIN_KEY),
            "role": "admin",
        },
        {"id": "ops", "tenant": "ops", "sha256": hash_api_key(ADMIN_KEY), "role": "operator"},
    ]
    path.write_text(yaml.safe_dump({"keys": keys}))
    return path


async def set_tenant_budget(admin: TollgateClient, tenant: str, limit_micros: int) -> None:
    """A monthly budget for `tenant`, set through the gateway's admin API."""
    budget = budget_ledger_pb2.Budget(
        scope=budget_ledger_pb2.BudgetScope(
            kind=budget_ledger_pb2.SCOPE_KIND_TENANT, tenant_id=tenant
        ),
        period=budget_ledger_pb2.BUDGET_PERIOD_MONTH,
        limit_micros=limit_micros,
    )
    await admin.stub.SetBudget(gateway_pb2.SetBudgetRequest(budget=budget), metadata=admin.metadata)


# How a full suite's backends are served: each on a gRPC server of its own over loopback, or
# in-process (tollgate.common.in_process) as the single-process suite serves them. The gateway is
# a real gRPC server either way: it is what clients reach.
SUITE_MODES = ("network", "in_process")

# A test that must hold in both modes: `@both_modes` (the suite fixtures read `suite_mode`).
both_modes = pytest.mark.parametrize("suite_mode", SUITE_MODES, indirect=True)


@pytest.fixture
def suite_mode(request: pytest.FixtureRequest) -> str:
    """How the suite fixtures serve the backends: "network" unless a test asks (`both_modes`)."""
    return str(getattr(request, "param", "network"))


@dataclass
class Suite:
    emulator: EmulatorServer
    orchestrator: RunningServer | InProcessRunning
    gateway: RunningServer

    def client(self, api_key: str = API_KEY) -> TollgateClient:
        return TollgateClient(self.gateway.address, api_key)


@pytest.fixture
async def emulator() -> AsyncIterator[EmulatorServer]:
    async with EmulatorServer() as server:
        yield server


@contextlib.asynccontextmanager
async def running_suite(
    emulator: EmulatorServer, workdir: Path, in_process: bool = False, **both: Any
) -> AsyncIterator[Suite]:
    """Emulator, orchestrator and gateway; `both` are settings given to both servers; with
    `in_process` the orchestrator is served in-process (see SUITE_MODES)."""
    serve_backend = serving_in_process if in_process else serving
    orchestrator_settings = OrchestratorSettings(
        host="127.0.0.1",
        port=0,
        anthropic_base_url=emulator.base_url,
        anthropic_api_key="emulator-key",
        **both,
    )
    async with serve_backend(
        await build_orchestrator(orchestrator_settings), orchestrator_settings
    ) as orchestrator:
        gateway_settings = GatewaySettings(
            host="127.0.0.1",
            port=0,
            api_keys_file=str(write_keys_file(workdir / "keys.yaml")),
            orchestrator_addr=orchestrator.address,
            **both,
        )
        async with serving(await build_gateway(gateway_settings), gateway_settings) as gateway:
            yield Suite(emulator, orchestrator, gateway)


@pytest.fixture
async def suite(emulator: EmulatorServer, tmp_path: Path, suite_mode: str) -> AsyncIterator[Suite]:
    async with running_suite(emulator, tmp_path, in_process=suite_mode == "in_process") as running:
        yield running


ALL_ON: dict[str, Any] = {
    "version": 1,
    "flags": {
        "exact_cache": {"enabled": True, "rolloutPercent": 100, "mode": "enforce"},
        "budget_enforcement": {
            "enabled": True,
            "rolloutPercent": 100,
            "mode": "enforce",
            "parameters": {"failMode": "closed"},
        },
        "prompt_caching": {"enabled": True, "rolloutPercent": 100, "mode": "enforce"},
        "lead_reasoning": {"enabled": True, "rolloutPercent": 100, "mode": "enforce"},
    },
}


@dataclass
class FullSuite:
    """Emulator, orchestrator, cache, ledger and gateway, each a real server in this process
    (or, `in_process`, the backends served as the single-process suite serves them)."""

    emulator: EmulatorServer
    servers: dict[str, RunningServer | InProcessRunning]
    flags_path: Path
    gateway_settings: GatewaySettings

    @property
    def gateway(self) -> RunningServer:
        gateway = self.servers["gateway"]
        assert isinstance(gateway, RunningServer)
        return gateway

    def client(self, api_key: str = API_KEY) -> TollgateClient:
        return TollgateClient(self.gateway.address, api_key)

    @property
    def http_url(self) -> str:
        """Base URL of the gateway's HTTP door (a suite started with http_enabled=True)."""
        door = self.gateway.service.registrations[0].servicer.http_door
        assert door is not None, "the HTTP door is off: start the suite with http_enabled=True"
        return str(door.base_url)

    def write_flags(self, flags: dict[str, Any]) -> None:
        self.flags_path.write_text(yaml.safe_dump(flags))

    async def settled(self) -> None:
        """Wait for the gateway's work after the answer (ledger commits, cache stores)."""
        await self.gateway.service.registrations[0].servicer.pipeline.background.drain()

    def upstream_calls(self) -> int:
        return sum(1 for r in self.emulator.stats.requests if r.path == "/v1/messages")


@contextlib.asynccontextmanager
async def running_full_suite(
    emulator: EmulatorServer,
    workdir: Path,
    redis_url: str,
    redis_prefix: str,
    postgres_dsn: str,
    flags: dict[str, Any],
    with_semantic_cache: bool = False,
    semantic_overrides: dict[str, Any] | None = None,
    in_process: bool = False,
    lead_overrides: dict[str, Any] | None = None,
    orchestrator_overrides: dict[str, Any] | None = None,
    ledger_overrides: dict[str, Any] | None = None,
    **gateway_overrides: Any,
) -> AsyncIterator[FullSuite]:
    from tollgate.budget_ledger.service import build_service as build_ledger
    from tollgate.budget_ledger.settings import Settings as LedgerSettings
    from tollgate.cache.service import build_service as build_cache
    from tollgate.cache.settings import Settings as CacheSettings
    from tollgate.conversation_optimizer.service import build_service as build_optimizer
    from tollgate.conversation_optimizer.settings import Settings as OptimizerSettings
    from tollgate.lead_scoring.service import build_service as build_lead_scoring
    from tollgate.lead_scoring.settings import Settings as LeadScoringSettings

    flags_path = workdir / "flags.yaml"
    flags_path.write_text(yaml.safe_dump(flags))
    local = {"host": "127.0.0.1", "port": 0}
    serve_backend = serving_in_process if in_process else serving
    servers: dict[str, RunningServer | InProcessRunning] = {}
    async with contextlib.AsyncExitStack() as stack:
        orchestrator_settings = OrchestratorSettings(
            **local,
            anthropic_base_url=emulator.base_url,
            anthropic_api_key="emulator-key",
            **(orchestrator_overrides or {}),
        )
        # Every server and the test's clients share one event loop here, so the cache's
        # production-tight Redis timeouts would turn a busy loop into misses.
        cache_settings = CacheSettings(
            **local,
            redis_url=redis_url,
            key_prefix=redis_prefix,
            lookup_timeout_seconds=2.0,
            write_timeout_seconds=2.0,
        )
        ledger_settings = LedgerSettings(
            **local,
            database_url=postgres_dsn,
            migrate_on_start=True,
            sweep_interval_seconds=0.5,
            **(ledger_overrides or {}),
        )
        servers["orchestrator"] = await stack.enter_async_context(
            serve_backend(await build_orchestrator(orchestrator_settings), orchestrator_settings)
        )
        # The optimizer's optional `summarize` strategy asks Claude through the orchestrator.
        optimizer_settings = OptimizerSettings(
            **local, orchestrator_address=servers["orchestrator"].address
        )
        for name, build, settings in (
            ("cache", build_cache, cache_settings),
            ("budget_ledger", build_ledger, ledger_settings),
            ("conversation_optimizer", build_optimizer, optimizer_settings),
        ):
            servers[name] = await stack.enter_async_context(
                serve_backend(await build(settings), settings)  # type: ignore[arg-type]
            )
        semantic_addr = "127.0.0.1:9"  # nothing listens: skipped (fail open) unless asked for
        if with_semantic_cache:
            from tollgate.semantic_cache.service import build_service as build_semantic
            from tollgate.semantic_cache.settings import Settings as SemanticSettings

            semantic_settings = SemanticSettings(
                **local, data_dir=str(workdir / "vectors"), **(semantic_overrides or {})
            )
            servers["semantic_cache"] = await stack.enter_async_context(
                serve_backend(await build_semantic(semantic_settings), semantic_settings)
            )
            semantic_addr = servers["semantic_cache"].address
        lead_settings = LeadScoringSettings(
            **local, orchestrator_addr=servers["orchestrator"].address, **(lead_overrides or {})
        )
        servers["lead_scoring"] = await stack.enter_async_context(
            serve_backend(await build_lead_scoring(lead_settings), lead_settings)
        )
        gateway_settings = GatewaySettings(
            **local,
            api_keys_file=str(write_keys_file(workdir / "keys.yaml")),
            flags_file=str(flags_path),
            flags_poll_seconds=0.2,
            # Long, unless a test asks otherwise: see the cache's Redis timeouts above. The
            # ledger's too: budgets fail closed, so on a busy two-core `make test` one ledger
            # call over the production deadline (1 s) failed a burst of 56 requests.
            cache_timeout_seconds=gateway_overrides.pop("cache_timeout_seconds", 2.0),
            budget_ledger_timeout_seconds=gateway_overrides.pop(
                "budget_ledger_timeout_seconds", 3.0
            ),
            orchestrator_addr=servers["orchestrator"].address,
            cache_addr=servers["cache"].address,
            budget_ledger_addr=servers["budget_ledger"].address,
            conversation_optimizer_addr=servers["conversation_optimizer"].address,
            # Loading the embedding model takes a while, so only the tests that need the
            # semantic cache start it; its own tests and the local suite always run it.
            semantic_cache_addr=semantic_addr,
            lead_scoring_addr=servers["lead_scoring"].address,
            # A stopping gateway waits this long for its commits and releases to land. With the
            # ledger stopped for good (the degradation tests) they retry for minutes, as in
            # production; these suites stop sooner. Shutdown itself is tested on whole processes
            # with the default grace (tests/e2e/test_e2e_shutdown_commits.py).
            shutdown_grace_seconds=gateway_overrides.pop("shutdown_grace_seconds", 10.0),
            **gateway_overrides,
        )
        servers["gateway"] = await stack.enter_async_context(
            serving(await build_gateway(gateway_settings), gateway_settings)
        )
        yield FullSuite(emulator, servers, flags_path, gateway_settings)


@pytest.fixture
def start_suite(
    emulator: EmulatorServer,
    tmp_path: Path,
    redis_url: str,
    redis_namespace: str,
    postgres_dsn: str,
    suite_mode: str,
) -> Callable[..., AbstractAsyncContextManager[FullSuite]]:
    """Start the full suite with `flags`, its backends served as `suite_mode` says; keyword
    arguments go to running_full_suite (gateway settings among them)."""

    def start(flags: dict[str, Any], **overrides: Any) -> AbstractAsyncContextManager[FullSuite]:
        return running_full_suite(
            emulator,
            tmp_path,
            redis_url,
            redis_namespace,
            postgres_dsn,
            flags,
            in_process=suite_mode == "in_process",
            **overrides,
        )

    return start


@pytest.fixture
def start_door(
    start_suite: Callable[..., AbstractAsyncContextManager[FullSuite]],
) -> Callable[..., AbstractAsyncContextManager[FullSuite]]:
    """Start the full suite with the HTTP door on (every flag on unless `flags` are given);
    keyword arguments override gateway settings."""

    def start(
        flags: dict[str, Any] | None = None, **gateway_overrides: Any
    ) -> AbstractAsyncContextManager[FullSuite]:
        return start_suite(flags or ALL_ON, http_enabled=True, http_port=0, **gateway_overrides)

    return start


@pytest.fixture
async def full_suite(
    start_suite: Callable[..., AbstractAsyncContextManager[FullSuite]],
) -> AsyncIterator[FullSuite]:
    async with start_suite(ALL_ON) as running:
        yield running


def qualified_lead(lead_id: str) -> lead_scoring_pb2.Lead:
    """A web lead with every qualification answer given: one that lead reasoning would explain."""
    return lead_scoring_pb2.Lead(
        profile=lead_scoring_pb2.LeadProfile(lead_id=lead_id, source="web"),
        answers=lead_scoring_pb2.QualificationAnswers(
            budget="$450,000", timeline="3 months", location="Austin", pre_approval="yes"
        ),
    )
