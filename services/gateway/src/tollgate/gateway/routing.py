"""Which deployment of each backend serves a request: stable, or the canary by its weight.

The split is sticky per tenant + contact (the same bucketing as flags), so one conversation does
not flip between versions. gRPC connections are long-lived, so addresses are headless-Service
DNS names balanced client-side (`round_robin`), never a ClusterIP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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


@dataclass
class Track:
    """One deployment of a backend: its address, channel, stub and circuit breaker."""

    backend: str
    name: str
    address: str
    channel: grpc.aio.Channel
    stub: Any
    breaker: CircuitBreaker


@dataclass
class Backend:
    name: str
    stable: Track
    canary: Track | None = None

    def tracks(self) -> list[Track]:
        return [self.stable, *([self.canary] if self.canary else [])]


@dataclass
class BackendRouter:
    backends: dict[str, Backend] = field(default_factory=dict)

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

    def route(self, backend: str, config: GatewayConfig, tenant: str, contact: str) -> Track:
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


def _track(backend: str, name: str, address: str, settings: Settings) -> Track:
    channel = open_channel(address, settings.max_message_bytes, channel_credentials(settings))
    breaker = CircuitBreaker(settings.breaker_failure_threshold, settings.breaker_open_seconds)
    return Track(backend, name, address, channel, STUBS[backend](channel), breaker)
