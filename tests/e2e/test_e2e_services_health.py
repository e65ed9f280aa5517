"""All seven services start, report SERVING on the standard health service, and list themselves
through reflection."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tollgate.common.server import GrpcService
from tollgate.common.settings import ServiceSettings
from tollgate.common.testing import serving

SERVICES = {
    "gateway": "tollgate.v1.GatewayService",
    "orchestrator": "tollgate.v1.OrchestratorService",
    "conversation_optimizer": "tollgate.v1.ConversationOptimizerService",
    "cache": "tollgate.v1.CacheService",
    "semantic_cache": "tollgate.v1.SemanticCacheService",
    "budget_ledger": "tollgate.v1.BudgetLedgerService",
    "lead_scoring": "tollgate.v1.LeadScoringService",
}


async def _listed_services(channel: grpc.aio.Channel) -> set[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)

    async def requests():  # type: ignore[no-untyped-def]
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    async for reply in stub.ServerReflectionInfo(requests()):
        return {s.name for s in reply.list_services_response.service}
    return set()


async def _build(module: str, settings: ServiceSettings) -> GrpcService:
    import importlib

    service_module = importlib.import_module(f"tollgate.{module}.service")
    return await service_module.build_service(settings)  # type: ignore[no-any-return]


async def test_every_service_reports_serving_and_lists_itself(
    tmp_path, redis_url: str, postgres_dsn: str
) -> None:
    import importlib

    for module, full_name in SERVICES.items():
        settings_class = importlib.import_module(f"tollgate.{module}.settings").Settings
        overrides = {"host": "127.0.0.1", "port": 0}
        fields = settings_class.model_fields
        if "redis_url" in fields:
            overrides["redis_url"] = redis_url
        if "database_url" in fields:
            overrides["database_url"] = postgres_dsn
        if "migrate_on_start" in fields:
            overrides["migrate_on_start"] = True
        settings = settings_class(**overrides)
        service = await _build(module, settings)
        async with (
            serving(service, settings) as running,
            grpc.aio.insecure_channel(running.address) as channel,
        ):
            health = health_pb2_grpc.HealthStub(channel)
            for name in ("", full_name):
                reply = await health.Check(health_pb2.HealthCheckRequest(service=name))
                assert reply.status == health_pb2.HealthCheckResponse.SERVING, (module, name)
            listed = await _listed_services(channel)
        assert full_name in listed, module
        assert "grpc.health.v1.Health" in listed
