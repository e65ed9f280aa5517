"""Inside the cluster (issue 17, finding 10): mutual TLS proves a caller holds a certificate the
suite's CA signed, not which service it is. The orchestrator, the only caller of Claude, serves
only the services named in `allowed_callers`, by the name in their client certificate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from tests.security.conftest import Certificates, issue_certificate
from tollgate.client import TollgateClient
from tollgate.common.server import RunningServer
from tollgate.common.testing import serving
from tollgate.emulator import EmulatorServer
from tollgate.orchestrator.service import build_service
from tollgate.orchestrator.settings import Settings
from tollgate.v1 import common_pb2, orchestrator_pb2, orchestrator_pb2_grpc

ALLOWED = ["gateway", "lead-scoring", "conversation-optimizer"]


@pytest.fixture
async def orchestrator(
    emulator: EmulatorServer, certificates: Certificates
) -> AsyncIterator[RunningServer]:
    settings = Settings(
        host="127.0.0.1",
        port=0,
        anthropic_base_url=emulator.base_url,
        anthropic_api_key="emulator-key",
        tls_cert_file=str(certificates.cert),
        tls_key_file=str(certificates.key),
        tls_client_ca_file=str(certificates.ca),
        allowed_callers=ALLOWED,
    )
    async with serving(await build_service(settings), settings) as running:
        yield running


def _channel(address: str, certificates: Certificates, name: str) -> grpc.aio.Channel:
    cert, key = issue_certificate(certificates, name)
    credentials = grpc.ssl_channel_credentials(
        certificates.ca.read_bytes(), key.read_bytes(), cert.read_bytes()
    )
    return grpc.aio.secure_channel(address, credentials)


def _generate() -> orchestrator_pb2.GenerateRequest:
    completion = TollgateClient.completion(
        model="claude-haiku-5-5", max_tokens=20, messages=[{"role": "user", "content": "Hi"}]
    )
    context = common_pb2.RequestContext(tenant_id="acme", request_id="req-internal-1")
    spec = orchestrator_pb2.GenerationSpec(context=context, request=completion.request)
    return orchestrator_pb2.GenerateRequest(spec=spec)


async def test_f10_a_pod_with_a_valid_certificate_but_another_name_cannot_call_claude(
    orchestrator: RunningServer, certificates: Certificates, emulator: EmulatorServer
) -> None:
    async with _channel(orchestrator.address, certificates, "intruder") as channel:
        stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Generate(_generate(), timeout=10)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "intruder" in (caught.value.details() or "")
    assert not [r for r in emulator.stats.requests if r.path == "/v1/messages"]


@pytest.mark.parametrize("caller", ALLOWED)
async def test_f10_the_allowed_services_are_served(
    orchestrator: RunningServer, certificates: Certificates, emulator: EmulatorServer, caller: str
) -> None:
    async with _channel(orchestrator.address, certificates, caller) as channel:
        stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
        reply = await stub.Generate(_generate(), timeout=30)
    assert reply.result.response.content
    assert len([r for r in emulator.stats.requests if r.path == "/v1/messages"]) == 1


async def test_f10_an_allowlist_without_mutual_tls_stops_the_start(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    settings = Settings(
        host="127.0.0.1",
        port=0,
        anthropic_base_url=emulator.base_url,
        anthropic_api_key="emulator-key",
        allowed_callers=ALLOWED,
    )
    with pytest.raises(RuntimeError, match="needs mutual TLS"):
        async with serving(await build_service(settings), settings):
            pass
