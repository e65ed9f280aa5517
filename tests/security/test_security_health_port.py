"""The plaintext health port of a TLS service: the health service only, with the same status as
the TLS port, so Kubernetes' native gRPC probes work without opening the API in plaintext."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.security.conftest import Certificates
from tollgate.cli.local_suite import free_port
from tollgate.common.server import start_server
from tollgate.orchestrator.service import build_service as build_orchestrator
from tollgate.orchestrator.settings import Settings as OrchestratorSettings
from tollgate.v1 import orchestrator_pb2, orchestrator_pb2_grpc

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def test_a_tls_service_is_probed_in_plaintext_on_its_health_port_only(
    certificates: Certificates,
) -> None:
    health_port = free_port()
    settings = OrchestratorSettings(
        host="127.0.0.1",
        port=0,
        health_port=health_port,
        tls_cert_file=str(certificates.cert),
        tls_key_file=str(certificates.key),
    )
    running = await start_server(await build_orchestrator(settings), settings)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{health_port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            reply = await health.Check(health_pb2.HealthCheckRequest(service=""))
            assert reply.status == SERVING
            named = await health.Check(
                health_pb2.HealthCheckRequest(service="tollgate.v1.OrchestratorService")
            )
            assert named.status == SERVING
            # Nothing but health answers here: the API stays behind TLS.
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await orchestrator_pb2_grpc.OrchestratorServiceStub(channel).GetBatch(
                    orchestrator_pb2.GetBatchRequest(batch_id="b")
                )
            assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
            # Draining (the first step of a stop) shows on the health port too, so the pod
            # leaves the endpoints while in-flight calls finish.
            await running.health.enter_graceful_shutdown()
            reply = await health.Check(health_pb2.HealthCheckRequest(service=""))
            assert reply.status == NOT_SERVING
    finally:
        await running.stop(grace=0)


async def test_no_health_port_unless_asked_for() -> None:
    settings = OrchestratorSettings(host="127.0.0.1", port=0)
    running = await start_server(await build_orchestrator(settings), settings)
    try:
        assert running.health_server is None
    finally:
        await running.stop(grace=0)
