"""A canary's weight applies only while the canary is ready; otherwise its calls go to stable."""

from __future__ import annotations

from grpc_health.v1 import health_pb2

from tollgate.common.testing import serving
from tollgate.gateway.flags_config import parse_gateway_config
from tollgate.gateway.routing import BackendRouter
from tollgate.gateway.settings import Settings as GatewaySettings
from tollgate.orchestrator.service import build_service as build_orchestrator
from tollgate.orchestrator.settings import Settings as OrchestratorSettings

ALL_TO_CANARY = parse_gateway_config("version: 1\ncanaries:\n  orchestrator: {canaryWeight: 100}\n")
CONTACTS = [f"contact-{i}" for i in range(20)]


def _tracks(router: BackendRouter) -> set[str]:
    return {router.route("orchestrator", ALL_TO_CANARY, "acme", c).name for c in CONTACTS}


async def test_weight_waits_for_a_ready_canary_and_falls_back_when_it_is_not() -> None:
    settings = OrchestratorSettings(host="127.0.0.1", port=0, anthropic_api_key="unused")
    async with (
        serving(await build_orchestrator(settings), settings) as stable,
        serving(await build_orchestrator(settings), settings) as canary,
    ):
        router = BackendRouter.connect(
            GatewaySettings(
                orchestrator_addr=stable.address, orchestrator_canary_addr=canary.address
            )
        )
        try:
            # A weight of 100 before anyone has seen the canary healthy: all calls stay stable.
            assert _tracks(router) == {"stable"}
            assert router.effective_canary_weight("orchestrator", ALL_TO_CANARY) == 0
            await router.check_canaries()
            assert _tracks(router) == {"canary"}
            assert router.effective_canary_weight("orchestrator", ALL_TO_CANARY) == 100
            # The canary drains (or fails its health): its calls go back to stable.
            await canary.health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
            await router.check_canaries()
            assert _tracks(router) == {"stable"}
            # Ready again, then its breaker opens on failures: stable again.
            await canary.health.set("", health_pb2.HealthCheckResponse.SERVING)
            await router.check_canaries()
            assert _tracks(router) == {"canary"}
            breaker = router.backends["orchestrator"].canary.breaker  # type: ignore[union-attr]
            for _ in range(10):
                breaker.record_failure()
            assert _tracks(router) == {"stable"}
        finally:
            await router.close()


async def test_an_unreachable_canary_is_not_ready() -> None:
    settings = OrchestratorSettings(host="127.0.0.1", port=0, anthropic_api_key="unused")
    async with serving(await build_orchestrator(settings), settings) as stable:
        router = BackendRouter.connect(
            GatewaySettings(
                orchestrator_addr=stable.address, orchestrator_canary_addr="127.0.0.1:9"
            )
        )
        try:
            await router.check_canaries(timeout=0.5)
            assert _tracks(router) == {"stable"}
        finally:
            await router.close()
