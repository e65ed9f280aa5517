"""Which deployment of each backend serves a request: stable, or the canary by its weight.

The split is sticky per tenant + contact (the same bucketing as flags), so one conversation does
not flip between versions. gRPC connections are long-lived, so addresses are headless-Service
DNS names balanced client-side (`round_robin`), never a ClusterIP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import grpc

from tollgate.common.breaker import CircuitBreaker
from tollgate.common.bucketing import bucket
from tollgate.common.channels import open_channel
from tollgate.common.tls import channel_credentials
from tollgate.gateway.flags_config import BACKENDS, GatewayConfig
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


@dataclass
class Backend(Generic[Stub]):
    name: str
    stable: Track[Stub]
    canary: Track[Stub] | None = None

    def tracks(self) -> list[Track[Stub]]:
        return [self.stable, *([self.canary] if self.canary else [])]


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

    def route(self, backend: str, config: GatewayConfig, tenant: str, contact: str) -> Track[Any]:
        entry = self.backends[backend]
        if entry.canary is None:
            return entry.stable
        weight = config.canary_weight(backend)
        in_canary = bucket(f"canary:{backend}", tenant, contact) < weight
        return entry.canary if in_canary else entry.stable

    async def close(self) -> None:
        for entry in self.backends.values():
            for track in entry.tracks():
                await track.channel.close()


def _track(backend: str, name: str, address: str, settings: Settings) -> Track[Any]:
    channel = open_channel(address, settings.max_message_bytes, channel_credentials(settings))
    breaker = CircuitBreaker(settings.breaker_failure_threshold, settings.breaker_open_seconds)
    return Track(backend, name, address, channel, STUBS[backend](channel), breaker)


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

    def _pick(self, backend: str) -> Track[Any]:
        if backend not in self._chosen:
            track = self._router.route(backend, self._config, self._tenant, self._contact)
            self._chosen[backend] = track
            self.served_by.append(common_pb2.ServedBy(service=backend, track=track.name))
        return self._chosen[backend]

    def orchestrator(self) -> Track[orchestrator_pb2_grpc.OrchestratorServiceAsyncStub]:
        return self._pick("orchestrator")

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
