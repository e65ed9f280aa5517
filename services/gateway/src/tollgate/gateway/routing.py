"""Which deployment of each backend serves a request: stable, or the canary by its weight.

The split is sticky per tenant + contact (the same bucketing as flags), so one conversation does
not flip between versions. gRPC connections are long-lived, so addresses are headless-Service
DNS names balanced client-side (`round_robin`), never a ClusterIP.

A canary's weight applies only while the canary is ready: its health service answers SERVING
(checked every few seconds) and its circuit breaker is closed. Until then, and whenever it stops
being ready, its share of calls goes to stable. So a weight set before the canary's pods are up,
or a canary that starts failing, never costs callers an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tollgate.common.breaker import CircuitBreaker
from tollgate.common.bucketing import bucket
from tollgate.common.channels import open_channel
from tollgate.common.tls import channel_credentials
from tollgate.gateway.batching_stub import BatchingStub
from tollgate.gateway.cache_coalescing import CoalescedCacheStub
from tollgate.gateway.flags_config import BACKENDS, GatewayConfig
from tollgate.gateway.ledger_coalescing import CoalescedLedgerStub
from tollgate.gateway.metrics import instruments
from tollgate.gateway.semantic_coalescing import CoalescedSemanticStub
from tollgate.gateway.settings import Settings
from tollgate.v1 import (
    budget_ledger_pb2_grpc,
    cache_pb2_grpc,
    common_pb2,
    conversation_optimizer_pb2_grpc,
    lead_scoring_pb2_grpc,
    orchestrator_pb2_grpc,
    semantic_cache_pb2_grpc,
)

STUBS: dict[str, Any] = {
    "orchestrator": orchestrator_pb2_grpc.OrchestratorServiceStub,
    "conversation_optimizer": conversation_optimizer_pb2_grpc.ConversationOptimizerServiceStub,
    "cache": cache_pb2_grpc.CacheServiceStub,
    "semantic_cache": semantic_cache_pb2_grpc.SemanticCacheServiceStub,
    "budget_ledger": budget_ledger_pb2_grpc.BudgetLedgerServiceStub,
    "lead_scoring": lead_scoring_pb2_grpc.LeadScoringServiceStub,
}

# The backends whose outage refuses requests instead of skipping a step: Claude's only caller,
# lead scoring, and the ledger (budgets fail closed by default).
REQUIRED_BACKENDS = frozenset({"orchestrator", "lead_scoring", "budget_ledger"})


Stub = TypeVar("Stub")


@dataclass
class Track(Generic[Stub]):
    """One deployment of a backend: its address, channel, typed stub and circuit breaker."""

    backend: str
    name: str
    address: str
    channel: grpc.aio.Channel
    stub: Stub
    breaker: CircuitBreaker


log = logging.getLogger("tollgate.gateway.routing")


@dataclass
class Backend(Generic[Stub]):
    name: str
    stable: Track[Stub]
    canary: Track[Stub] | None = None
    # Whether the canary's health service last answered SERVING.
    canary_serving: bool = False

    def tracks(self) -> list[Track[Stub]]:
        return [self.stable, *([self.canary] if self.canary else [])]

    @property
    def canary_ready(self) -> bool:
        return self.canary is not None and self.canary_serving and not self.canary.breaker.is_open


@dataclass
class BackendRouter:
    backends: dict[str, Backend[Any]] = field(default_factory=dict)

    @classmethod
    def connect(cls, settings: Settings) -> BackendRouter:
        router = cls()
        for name in BACKENDS:
            stable_addr = getattr(settings, f"{name}_addr")
            canary_addr = getattr(settings, f"{name}_canary_addr")
            stable = _track(name, "stable", stable_addr, settings)
            canary = _track(name, "canary", canary_addr, settings) if canary_addr else None
            router.backends[name] = Backend(name, stable, canary)
        return router

    _health_task: asyncio.Task[None] | None = None

    def effective_canary_weight(self, backend: str, config: GatewayConfig) -> int:
        """The percent of calls the canary gets now: its weight while it is ready, else 0."""
        entry = self.backends[backend]
        return config.canary_weight(backend) if entry.canary_ready else 0

    def route(self, backend: str, config: GatewayConfig, tenant: str, contact: str) -> Track[Any]:
        entry = self.backends[backend]
        if entry.canary is None:
            return entry.stable
        weight = self.effective_canary_weight(backend, config)
        in_canary = bucket(f"canary:{backend}", tenant, contact) < weight
        return entry.canary if in_canary else entry.stable

    async def check_canaries(self, timeout: float = 1.0) -> None:
        """Ask every canary's health service once; a canary is ready only while SERVING."""
        for entry in self.backends.values():
            if entry.canary is None:
                continue
            health = health_pb2_grpc.HealthStub(entry.canary.channel)
            try:
                reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=timeout)
                serving = reply.status == health_pb2.HealthCheckResponse.SERVING
            except grpc.aio.AioRpcError:
                serving = False
            if serving != entry.canary_serving:
                log.info(
                    "canary %s",
                    "ready" if serving else "not ready: calls go to stable",
                    extra={"backend": entry.name, "address": entry.canary.address},
                )
            entry.canary_serving = serving

    async def start(self, interval: float = 3.0) -> None:
        """Keep the canaries' readiness current in the background."""
        if not any(entry.canary for entry in self.backends.values()):
            return

        async def loop() -> None:
            while True:
                await self.check_canaries()
                await asyncio.sleep(interval)

        self._health_task = asyncio.create_task(loop())

    async def close(self) -> None:
        if self._health_task is not None:
            self._health_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._health_task
        breaker_states = instruments().breaker_states
        for entry in self.backends.values():
            for track in entry.tracks():
                breaker_states.forget(track.backend, track.name, track.breaker)
                if isinstance(track.stub, CoalescedLedgerStub | BatchingStub):
                    await track.stub.aclose()
                await track.channel.close()


def _track(backend: str, name: str, address: str, settings: Settings) -> Track[Any]:
    channel = open_channel(address, settings.max_message_bytes, channel_credentials(settings))
    breaker = CircuitBreaker(
        settings.breaker_failure_threshold,
        settings.breaker_open_seconds,
        # An open circuit of a backend the request cannot do without refuses every request that
        # needs it: such a circuit opens on a backend that keeps failing, not on one slow moment
        # seen by every request in flight (which would refuse them all for
        # `breaker_open_seconds` after the backend is back). The optional steps' circuits open
        # fast: while open they only skip an optimization.
        overlapping_failures_count=backend not in REQUIRED_BACKENDS,
    )
    # Reported as tollgate_gateway_breaker_state until the router closes.
    instruments().breaker_states.watch(backend, name, breaker)
    stub = STUBS[backend](channel)
    if backend == "budget_ledger":
        # Concurrent requests' reserves, commits and releases share Settle RPCs.
        stub = CoalescedLedgerStub(stub, rpc_timeout=settings.budget_ledger_timeout_seconds)
    if backend == "cache":
        # Concurrent requests' exact-cache lookups, stores and releases share ExactBatch RPCs.
        # The batch is given a store's time (the longest of the three); each call keeps its own.
        stub = CoalescedCacheStub(
            stub,
            rpc_timeout=settings.cache_timeout_seconds * 5,
            max_message_bytes=settings.max_message_bytes,
        )
    if backend == "semantic_cache":
        # Concurrent requests' semantic lookups and stores share SemanticBatch RPCs; the batch
        # is given a store's time, as the semantic-cache step gives its stores.
        stub = CoalescedSemanticStub(
            stub,
            rpc_timeout=settings.semantic_cache_timeout_seconds * 4,
            max_message_bytes=settings.max_message_bytes,
        )
    return Track(backend, name, address, channel, stub, breaker)


class RequestRoutes:
    """The tracks one request uses: each backend's track chosen once (stable or canary), and
    the list of which served it, in the order first used, for the account."""

    def __init__(self, router: BackendRouter, config: GatewayConfig, tenant: str, contact: str):
        self._router = router
        self._config = config
        self._tenant = tenant
        self._contact = contact
        self._chosen: dict[str, Track[Any]] = {}
        self.served_by: list[common_pb2.ServedBy] = []

    def _choose(self, backend: str) -> Track[Any]:
        track = self._chosen.get(backend)
        if track is None:
            track = self._router.route(backend, self._config, self._tenant, self._contact)
            self._chosen[backend] = track
        return track

    def _pick(self, backend: str) -> Track[Any]:
        track = self._choose(backend)
        if all(served.service != backend for served in self.served_by):
            self.served_by.append(common_pb2.ServedBy(service=backend, track=track.name))
        return track

    def orchestrator(self) -> Track[orchestrator_pb2_grpc.OrchestratorServiceAsyncStub]:
        return self._pick("orchestrator")

    def upcoming_orchestrator(self) -> Track[orchestrator_pb2_grpc.OrchestratorServiceAsyncStub]:
        """The orchestrator deployment this request's call to Claude goes to, if it makes one:
        chosen now, but not counted among those that served it (a cache hit never reaches it)."""
        return self._choose("orchestrator")

    def conversation_optimizer(
        self,
    ) -> Track[conversation_optimizer_pb2_grpc.ConversationOptimizerServiceAsyncStub]:
        return self._pick("conversation_optimizer")

    def cache(self) -> Track[cache_pb2_grpc.CacheServiceAsyncStub]:
        return self._pick("cache")

    def semantic_cache(self) -> Track[semantic_cache_pb2_grpc.SemanticCacheServiceAsyncStub]:
        return self._pick("semantic_cache")

    def budget_ledger(self) -> Track[budget_ledger_pb2_grpc.BudgetLedgerServiceAsyncStub]:
        return self._pick("budget_ledger")

    def lead_scoring(self) -> Track[lead_scoring_pb2_grpc.LeadScoringServiceAsyncStub]:
        return self._pick("lead_scoring")
