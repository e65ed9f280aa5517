"""TLS wherever a client connects to the gateway: TollgateClient, `tollgate report` and the
official Anthropic SDK on the HTTP door, with the server's certificate verified, and with a client
certificate when the gateway requires one (mutual TLS)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.conftest import ADMIN_KEY, ALL_ON, API_KEY, FullSuite, running_full_suite
from tollgate.cli.main import build_parser
from tollgate.cli.report import run as run_report
from tollgate.client import ClientTls, TollgateClient, TollgateError
from tollgate.emulator import EmulatorServer

ASK: dict[str, Any] = {
    "model": "claude-sonnet-5-5",
    "max_tokens": 200,
    "messages": [{"role": "user", "content": "Is 7 Birch Road still listed?"}],
}


@contextlib.asynccontextmanager
async def tls_gateway(
    emulator: EmulatorServer, workdir: Path, stores: tuple[str, str, str], **tls: str
) -> AsyncIterator[tuple[FullSuite, str]]:
    redis_url, prefix, dsn = stores
    async with running_full_suite(
        emulator, workdir, redis_url, prefix, dsn, ALL_ON, http_enabled=True, http_port=0, **tls
    ) as suite:
        yield suite, suite.http_url


@pytest.fixture
def stores(redis_url: str, redis_namespace: str, postgres_dsn: str) -> tuple[str, str, str]:
    return redis_url, redis_namespace, postgres_dsn


def _sdk(base_url: str, context: ssl.SSLContext) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=base_url,
        api_key=API_KEY,
        max_retries=0,
        http_client=anthropic.DefaultAsyncHttpxClient(verify=context),
    )


async def test_clients_verify_the_gateway_over_tls(
    emulator: EmulatorServer, tmp_path: Path, certificates: Any, stores: tuple[str, str, str]
) -> None:
    async with tls_gateway(
        emulator,
        tmp_path,
        stores,
        tls_cert_file=str(certificates.cert),
        tls_key_file=str(certificates.key),
    ) as (suite, base_url):
        assert base_url.startswith("https://")
        trusted = ClientTls(ca_file=str(certificates.ca))
        async with TollgateClient(suite.gateway.address, API_KEY, tls=trusted) as client:
            answer = await client.complete(**ASK)
        assert answer.text
        # Plaintext to a TLS gateway fails; so does a client that trusts another CA.
        async with TollgateClient(suite.gateway.address, API_KEY, timeout=3) as plain:
            with pytest.raises(TollgateError):
                await plain.complete(**ASK)

        verify = ssl.create_default_context(cafile=str(certificates.ca))
        message = await _sdk(base_url, verify).messages.create(**ASK)
        assert message.content
        with pytest.raises(anthropic.APIConnectionError):
            await _sdk(base_url, ssl.create_default_context()).messages.create(**ASK)

        await suite.settled()
        arguments = [
            "report", "--gateway", suite.gateway.address, "--api-key", ADMIN_KEY,
            "--tenant", "acme", "--tls-ca", str(certificates.ca),
        ]  # fmt: skip
        out = io.StringIO()
        # The CLI is synchronous: it runs in a thread while the servers answer in this loop.
        code = await asyncio.to_thread(run_report, build_parser().parse_args(arguments), out)
        assert code == 0
        assert "acme" in out.getvalue()


async def test_a_gateway_requiring_client_certificates_accepts_only_them(
    emulator: EmulatorServer, tmp_path: Path, certificates: Any, stores: tuple[str, str, str]
) -> None:
    async with tls_gateway(
        emulator,
        tmp_path,
        stores,
        tls_cert_file=str(certificates.cert),
        tls_key_file=str(certificates.key),
        tls_client_ca_file=str(certificates.ca),
    ) as (suite, base_url):
        with_cert = ClientTls(str(certificates.ca), str(certificates.cert), str(certificates.key))
        async with TollgateClient(suite.gateway.address, API_KEY, tls=with_cert) as client:
            assert (await client.complete(**ASK)).text
        verify = ssl.create_default_context(cafile=str(certificates.ca))
        with pytest.raises(anthropic.APIConnectionError):
            await _sdk(base_url, verify).messages.create(**ASK)
        verify.load_cert_chain(str(certificates.cert), str(certificates.key))
        assert (await _sdk(base_url, verify).messages.create(**ASK)).content
