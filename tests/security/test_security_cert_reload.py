"""A renewed certificate is served without a restart: new connections get the new one."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
from pathlib import Path

from tests.security.conftest import Certificates, _issue
from tollgate.common.testing import serving
from tollgate.orchestrator.service import build_service as build_orchestrator
from tollgate.orchestrator.settings import Settings as OrchestratorSettings


def _served_name(port: int, ca: Path) -> str:
    """The common name of the certificate a fresh TLS connection is shown."""
    context = ssl.create_default_context(cafile=str(ca))
    context.set_alpn_protocols(["h2"])
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    with context.wrap_socket(raw, server_hostname="localhost") as connection:
        subject = dict(item[0] for item in connection.getpeercert()["subject"])
    return str(subject["commonName"])


async def test_a_rewritten_certificate_is_served_to_new_connections(
    certificates: Certificates, tmp_path: Path
) -> None:
    folder = certificates.ca.parent
    _issue(folder, "renewed-service", "tollgate-test-ca")
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    shutil.copyfile(certificates.cert, cert)
    shutil.copyfile(certificates.key, key)
    settings = OrchestratorSettings(
        host="127.0.0.1", port=0, tls_cert_file=str(cert), tls_key_file=str(key)
    )
    async with serving(await build_orchestrator(settings), settings) as server:
        port = int(server.address.rsplit(":", 1)[1])
        assert await asyncio.to_thread(_served_name, port, certificates.ca) == "tollgate-service"
        # As a Secret update does: both files replaced.
        shutil.copyfile(folder / "renewed-service.pem", cert)
        shutil.copyfile(folder / "renewed-service.key", key)
        assert await asyncio.to_thread(_served_name, port, certificates.ca) == "renewed-service"


async def test_an_unreadable_renewal_keeps_the_old_certificate(
    certificates: Certificates, tmp_path: Path
) -> None:
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    shutil.copyfile(certificates.cert, cert)
    shutil.copyfile(certificates.key, key)
    settings = OrchestratorSettings(
        host="127.0.0.1", port=0, tls_cert_file=str(cert), tls_key_file=str(key)
    )
    async with serving(await build_orchestrator(settings), settings) as server:
        port = int(server.address.rsplit(":", 1)[1])
        key.unlink()  # mid-rewrite
        assert await asyncio.to_thread(_served_name, port, certificates.ca) == "tollgate-service"
