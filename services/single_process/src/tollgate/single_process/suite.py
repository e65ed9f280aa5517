"""The whole suite in one process: the gateway serves its API, the six backends run beside it.

Each backend is built exactly as its own process builds it (its `build_service`, its settings
from its own TOLLGATE_<SERVICE>_* variables) and registered on an in-process server with the
same server interceptor its gRPC server would have; the gateway reaches it through
`tollgate.common.in_process` instead of the network. What changes is the cost of a hop: no
HTTP/2, no second event loop, no serialization thread; what stays is the services' code, their
stores, their telemetry, and the gateway's breakers, deadlines and fail-open behaviour.

What it gives up is per-service scaling and canaries: every replica runs every service, and a
backend's failure is the process's. `docs/architecture.md` says when to choose it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tollgate.budget_ledger import service as budget_ledger_service
from tollgate.budget_ledger import settings as budget_ledger_settings
from tollgate.cache import service as cache_service
from tollgate.cache import settings as cache_settings
from tollgate.common import in_process
from tollgate.common.server import GrpcService, in_process_server
from tollgate.common.settings import ServiceSettings
from tollgate.conversation_optimizer import service as optimizer_service
from tollgate.conversation_optimizer import settings as optimizer_settings
from tollgate.gateway import service as gateway_service
from tollgate.gateway.flags_config import BACKENDS
from tollgate.gateway.settings import Settings as GatewaySettings
from tollgate.lead_scoring import service as lead_scoring_service
from tollgate.lead_scoring import settings as lead_scoring_settings
from tollgate.orchestrator import service as orchestrator_service
from tollgate.orchestrator import settings as orchestrator_settings
from tollgate.semantic_cache import service as semantic_cache_service
from tollgate.semantic_cache import settings as semantic_cache_settings


@dataclass(frozen=True)
class Backend:
    """How one backend is built: its settings type and its `build_service`."""

    settings: Callable[[], ServiceSettings]
    build: Callable[[Any], Awaitable[GrpcService]]
    # The setting naming the orchestrator, for a backend that calls it (summaries, lead
    # reasoning): pointed at the orchestrator in this process whenever it names one at all.
    orchestrator_setting: str = ""


# By the gateway's names for them (BACKENDS).
BACKEND_BUILDERS: dict[str, Backend] = {
    "orchestrator": Backend(orchestrator_settings.Settings, orchestrator_service.build_service),
    "conversation_optimizer": Backend(
        optimizer_settings.Settings, optimizer_service.build_service, "orchestrator_address"
    ),
    "cache": Backend(cache_settings.Settings, cache_service.build_service),
    "semantic_cache": Backend(
        semantic_cache_settings.Settings, semantic_cache_service.build_service
    ),
    "budget_ledger": Backend(budget_ledger_settings.Settings, budget_ledger_service.build_service),
    "lead_scoring": Backend(
        lead_scoring_settings.Settings, lead_scoring_service.build_service, "orchestrator_addr"
    ),
}
assert set(BACKEND_BUILDERS) == set(BACKENDS), "every backend the gateway calls is built here"


async def _backend(name: str, orchestrator: str) -> tuple[GrpcService, str]:
    builder = BACKEND_BUILDERS[name]
    settings = builder.settings()
    if builder.orchestrator_setting and getattr(settings, builder.orchestrator_setting):
        settings = settings.model_copy(update={builder.orchestrator_setting: orchestrator})
    service = await builder.build(settings)
    return service, in_process.register(name, in_process_server(service, settings))


async def build_suite() -> tuple[GrpcService, GatewaySettings]:
    """The gateway's service, with every backend built, registered in-process and started and
    stopped by the gateway's hooks (backends first up, last down)."""
    backends: list[GrpcService] = []
    # Over whatever the environment says: the backends are here, and no canary runs beside them.
    overrides: dict[str, Any] = {f"{name}_canary_addr": "" for name in BACKENDS}
    # The orchestrator first: the backends that call it are given its address.
    for name in sorted(BACKENDS, key=lambda name: name != "orchestrator"):
        orchestrator = overrides.get("orchestrator_addr", "")
        backend, overrides[f"{name}_addr"] = await _backend(name, orchestrator)
        backends.append(backend)
    settings = GatewaySettings(**overrides)
    gateway = await gateway_service.build_service(settings)
    gateway.on_start[:0] = [hook for backend in backends for hook in backend.on_start]
    # Stop hooks run last to first: the gateway's own first, then each backend's.
    gateway.on_stop[:0] = [hook for backend in backends for hook in backend.on_stop]
    return gateway, settings
