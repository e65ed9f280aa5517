"""The suite with TLS on: the gateway serves TLS to callers, every backend requires mutual TLS,
and the gateway reaches them with its client certificate. Plaintext callers, callers without a
certificate and callers with a certificate from another CA are turned away."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.conftest import ALL_ON, API_KEY, write_keys_file
from tollgate.common.server import RunningServer
from tollgate.common.testing import serving
from tollgate.emulator import EmulatorServer
from tollgate.v1 import (
    budget_ledger_pb2,
    budget_ledger_pb2_grpc,
    common_pb2,
    gateway_pb2,
    gateway_pb2_grpc,
)

METADATA = (("authorization", f"Bearer {API_KEY}"),)


@contextlib.asynccontextmanager
async def mtls_suite(
    emulator: EmulatorServer,
    workdir: Path,
    certificates: Any,
    redis_url: str,
    redis_prefix: str,
    postgres_dsn: str,
) -> AsyncIterator[dict[str, RunningServer]]:
    from tollgate.budget_ledger.service import build_service as build_ledger
    from tollgate.budget_ledger.settings import Settings as LedgerSettings
    from tollgate.cache.service import build_service as build_cache
    from tollgate.cache.settings import Settings as CacheSettings
    from tollgate.gateway.service import build_service as build_gateway
    from tollgate.gateway.settings import Settings as GatewaySettings
    from tollgate.orchestrator.service import build_service as build_orchestrator
    from tollgate.orchestrator.settings import Settings as OrchestratorSettings

    backend_tls = {
        "host": "127.0.0.1",
        "port": 0,
        "tls_cert_file": str(certificates.cert),
        "tls_key_file": str(certificates.key),
        "tls_client_ca_file": str(certificates.ca),
    }
    servers: dict[str, RunningServer] = {}
    async with contextlib.AsyncExitStack() as stack:
        for name, build, settings in (
            (
                "orchestrator",
                build_orchestrator,
                OrchestratorSettings(
                    **backend_tls,
                    anthropic_base_url=emulator.base_url,
                    anthropic_api_key="emulator-key",
                ),
            ),
            (
                "cache",
                build_cache,
                CacheSettings(**backend_tls, redis_url=redis_url, key_prefix=redis_prefix),
            ),
            (
                "budget_ledger",
                build_ledger,
                LedgerSettings(**backend_tls, database_url=postgres_dsn, migrate_on_start=True),
            ),
        ):
            servers[name] = await stack.enter_async_context(
                serving(await build(settings), settings)  # type: ignore[operator]
            )
        flags = workdir / "flags.yaml"
        flags.write_text(yaml.safe_dump(ALL_ON))
        gateway_settings = GatewaySettings(
            host="127.0.0.1",
            port=0,
            # TLS to callers, without client certificates (they authenticate with API keys) ...
            tls_cert_file=str(certificates.cert),
            tls_key_file=str(certificates.key),
            # ... and mutual TLS to the backends.
            tls_ca_file=str(certificates.ca),
            api_keys_file=str(write_keys_file(workdir / "keys.yaml")),
            flags_file=str(flags),
            cache_timeout_seconds=2.0,
            orchestrator_addr=servers["orchestrator"].address,
            cache_addr=servers["cache"].address,
            budget_ledger_addr=servers["budget_ledger"].address,
            conversation_optimizer_addr="127.0.0.1:9",
            semantic_cache_addr="127.0.0.1:9",
            lead_scoring_addr="127.0.0.1:9",
        )
        servers["gateway"] = await stack.enter_async_context(
            serving(await build_gateway(gateway_settings), gateway_settings)
        )
        yield servers


def _credentials(certificates: Any, client: str | None) -> grpc.ChannelCredentials:
    if client is None:
        return grpc.ssl_channel_credentials(certificates.ca.read_bytes())
    cert, key = (
        (certificates.cert, certificates.key)
        if client == "trusted"
        else (certificates.rogue_cert, certificates.rogue_key)
    )
    return grpc.ssl_channel_credentials(
        certificates.ca.read_bytes(), key.read_bytes(), cert.read_bytes()
    )


async def _health(address: str, credentials: grpc.ChannelCredentials | None) -> grpc.StatusCode:
    channel = (
        grpc.aio.secure_channel(address, credentials)
        if credentials is not None
        else grpc.aio.insecure_channel(address)
    )
    try:
        await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=3)
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    finally:
        await channel.close()
    return grpc.StatusCode.OK


async def test_the_suite_answers_over_mutual_tls(
    emulator: EmulatorServer,
    tmp_path: Path,
    certificates: Any,
    redis_url: str,
    redis_namespace: str,
    postgres_dsn: str,
) -> None:
    async with mtls_suite(
        emulator, tmp_path, certificates, redis_url, redis_namespace, postgres_dsn
    ) as servers:
        gateway = servers["gateway"]
        request = gateway_pb2.CompleteRequest(
            completion=gateway_pb2.Completion(
                request=common_pb2.ClaudeRequest(
                    model="claude-sonnet-5-5",
                    max_tokens=1000,
                    temperature=0.0,
                    messages=[
                        common_pb2.Message(
                            role=common_pb2.ROLE_USER,
                            content=[
                                common_pb2.ContentBlock(
                                    text=common_pb2.TextBlock(text="Is 7 Birch Road still listed?")
                                )
                            ],
                        )
                    ],
                )
            )
        )
        channel = grpc.aio.secure_channel(gateway.address, _credentials(certificates, None))
        try:
            stub = gateway_pb2_grpc.GatewayServiceStub(channel)
            first = await stub.Complete(request, metadata=METADATA)
            await gateway.service.registrations[0].servicer.pipeline.background.drain()
            second = await stub.Complete(request, metadata=METADATA)
        finally:
            await channel.close()
        # Claude answered through the orchestrator, the ledger charged it, the cache served it.
        assert first.response.content[0].text.text
        assert first.account.cost.total_micros > 0
        ledger_channel = grpc.aio.secure_channel(
            servers["budget_ledger"].address, _credentials(certificates, "trusted")
        )
        try:
            usage = await budget_ledger_pb2_grpc.BudgetLedgerServiceStub(ledger_channel).QueryUsage(
                budget_ledger_pb2.QueryUsageRequest(tenant_id="acme")
            )
        finally:
            await ledger_channel.close()
        assert usage.report.totals.cost_micros == first.account.cost.total_micros
        assert second.account.cache_status == common_pb2.CACHE_STATUS_EXACT

        # Plaintext to the gateway is refused; TLS without a client certificate is enough there.
        assert await _health(gateway.address, None) == grpc.StatusCode.UNAVAILABLE
        assert await _health(gateway.address, _credentials(certificates, None)) == (
            grpc.StatusCode.OK
        )
        # A backend accepts only a client certificate from the suite's CA.
        for name in ("cache", "budget_ledger", "orchestrator"):
            address = servers[name].address
            assert await _health(address, None) == grpc.StatusCode.UNAVAILABLE, name
            assert await _health(address, _credentials(certificates, None)) == (
                grpc.StatusCode.UNAVAILABLE
            ), name
            assert await _health(address, _credentials(certificates, "rogue")) == (
                grpc.StatusCode.UNAVAILABLE
            ), name
            assert await _health(address, _credentials(certificates, "trusted")) == (
                grpc.StatusCode.OK
            ), name


def test_tls_settings_that_cannot_work_are_refused_at_start(tmp_path: Path) -> None:
    from tollgate.common.settings import ServiceSettings
    from tollgate.common.tls import server_credentials

    with pytest.raises(RuntimeError, match="both a certificate file and a key file"):
        server_credentials(ServiceSettings(tls_cert_file=str(tmp_path / "a.pem")))
    with pytest.raises(RuntimeError, match="no server certificate"):
        server_credentials(ServiceSettings(tls_client_ca_file=str(tmp_path / "ca.pem")))
    with pytest.raises(RuntimeError, match="cannot read the TLS key"):
        server_credentials(
            ServiceSettings(
                tls_cert_file=str(tmp_path / "a.pem"), tls_key_file=str(tmp_path / "a.key")
            )
        )
