"""The exec-probe health check against real gRPC servers: plaintext, TLS and mutual TLS, with
certificates made by openssl for the test; it exits 0 only on SERVING."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from tollgate.common.healthcheck import main, name_to_verify

PREFIX = "TOLLGATE_CACHE_"
SERVICE = "tollgate.v1.CacheService"
HOST = "tg-tollgate-cache.ns.svc.cluster.local"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _authority(folder: Path, name: str) -> Path:
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={name}",
        cwd=folder,
    )  # fmt: skip
    return folder / f"{name}.pem"


def _issue(folder: Path, name: str, ca: str, dns: str) -> tuple[Path, Path]:
    """A certificate for DNS name `dns` only: no IP, so dialing 127.0.0.1 needs the override."""
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=folder,
    )  # fmt: skip
    (folder / f"{name}.ext").write_text(
        f"subjectAltName=DNS:{dns}\nextendedKeyUsage=serverAuth,clientAuth\n"
    )
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
        "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
        cwd=folder,
    )  # fmt: skip
    return folder / f"{name}.pem", folder / f"{name}.key"


@dataclass(frozen=True)
class Pki:
    ca: Path
    cert: Path
    key: Path
    wildcard_cert: Path
    wildcard_key: Path
    rogue_ca: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("healthcheck-tls")
    ca = _authority(folder, "internal-ca")
    cert, key = _issue(folder, "cache", "internal-ca", HOST)
    wildcard_cert, wildcard_key = _issue(folder, "wild", "internal-ca", "*.ns.svc.cluster.local")
    rogue_ca = _authority(folder, "rogue-ca")
    return Pki(ca, cert, key, wildcard_cert, wildcard_key, rogue_ca)


@dataclass
class HealthServer:
    port: int
    health: health.HealthServicer


def _serve(credentials: grpc.ServerCredentials | None) -> Iterator[HealthServer]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    address = "127.0.0.1:0"
    port = (
        server.add_secure_port(address, credentials)
        if credentials is not None
        else server.add_insecure_port(address)
    )
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    servicer.set(SERVICE, health_pb2.HealthCheckResponse.SERVING)
    server.start()
    try:
        yield HealthServer(port, servicer)
    finally:
        server.stop(None)


@pytest.fixture
def plain_server() -> Iterator[HealthServer]:
    yield from _serve(None)


@pytest.fixture
def mtls_server(pki: Pki) -> Iterator[HealthServer]:
    credentials = grpc.ssl_server_credentials(
        [(pki.key.read_bytes(), pki.cert.read_bytes())],
        root_certificates=pki.ca.read_bytes(),
        require_client_auth=True,
    )
    yield from _serve(credentials)


@pytest.fixture
def wildcard_server(pki: Pki) -> Iterator[HealthServer]:
    credentials = grpc.ssl_server_credentials(
        [(pki.wildcard_key.read_bytes(), pki.wildcard_cert.read_bytes())]
    )
    yield from _serve(credentials)


def mtls_env(pki: Pki, port: int) -> dict[str, str]:
    """What the chart gives a backend under tls.internal."""
    return {
        f"{PREFIX}PORT": str(port),
        f"{PREFIX}TLS_CERT_FILE": str(pki.cert),
        f"{PREFIX}TLS_KEY_FILE": str(pki.key),
        f"{PREFIX}TLS_CLIENT_CA_FILE": str(pki.ca),
        f"{PREFIX}TLS_CA_FILE": str(pki.ca),
        f"{PREFIX}TLS_CLIENT_CERT_FILE": str(pki.cert),
        f"{PREFIX}TLS_CLIENT_KEY_FILE": str(pki.key),
    }


def probe(env: dict[str, str], *args: str) -> int:
    return main(["--env-prefix", PREFIX, "--timeout", "5", *args], env=env)


def test_plaintext_serving_exits_zero(plain_server: HealthServer) -> None:
    env = {f"{PREFIX}PORT": str(plain_server.port)}
    assert probe(env) == 0
    assert probe(env, "--service", SERVICE) == 0


def test_not_serving_and_unknown_services_exit_one(plain_server: HealthServer) -> None:
    env = {f"{PREFIX}PORT": str(plain_server.port)}
    plain_server.health.set(SERVICE, health_pb2.HealthCheckResponse.NOT_SERVING)
    assert probe(env, "--service", SERVICE) == 1
    # The overall status is still SERVING: liveness and readiness ask different questions.
    assert probe(env) == 0
    assert probe(env, "--service", "tollgate.v1.NoSuchService") == 1


def test_nothing_listening_exits_one(plain_server: HealthServer) -> None:
    port = plain_server.port
    plain_server.health.enter_graceful_shutdown()
    assert probe({f"{PREFIX}PORT": str(port)}) == 1


def test_mutual_tls_with_the_services_own_certificate_exits_zero(
    pki: Pki, mtls_server: HealthServer
) -> None:
    env = mtls_env(pki, mtls_server.port)
    assert probe(env, "--service", SERVICE) == 0
    assert probe(env, "--server-name", HOST) == 0


def test_mutual_tls_refuses_a_probe_without_a_client_certificate(
    pki: Pki, mtls_server: HealthServer
) -> None:
    env = {f"{PREFIX}PORT": str(mtls_server.port), f"{PREFIX}TLS_CA_FILE": str(pki.ca)}
    assert probe(env, "--tls", "--server-name", HOST) == 1


def test_a_plaintext_probe_of_a_tls_server_fails(mtls_server: HealthServer) -> None:
    assert probe({f"{PREFIX}PORT": str(mtls_server.port)}) == 1


def test_the_certificate_is_verified(pki: Pki, mtls_server: HealthServer) -> None:
    env = mtls_env(pki, mtls_server.port)
    assert probe(env, "--ca-file", str(pki.rogue_ca)) == 1
    assert probe(env, "--server-name", "someone-else.example.com") == 1


def test_wildcard_certificates_are_checked_against_a_concrete_name(
    pki: Pki, wildcard_server: HealthServer
) -> None:
    assert name_to_verify(str(pki.wildcard_cert)) == "healthcheck.ns.svc.cluster.local"
    env = {
        f"{PREFIX}PORT": str(wildcard_server.port),
        f"{PREFIX}TLS_CERT_FILE": str(pki.wildcard_cert),
        f"{PREFIX}TLS_KEY_FILE": str(pki.wildcard_key),
    }
    assert probe(env, "--ca-file", str(pki.ca)) == 0


def test_a_missing_ca_file_falls_back_to_public_roots(
    pki: Pki, wildcard_server: HealthServer, tmp_path: Path
) -> None:
    """A gateway certificate from a public CA has no ca.crt; our test CA is not public."""
    env = {
        f"{PREFIX}PORT": str(wildcard_server.port),
        f"{PREFIX}TLS_CERT_FILE": str(pki.wildcard_cert),
        f"{PREFIX}TLS_KEY_FILE": str(pki.wildcard_key),
    }
    assert probe(env, "--ca-file", str(tmp_path / "ca.crt")) == 1


def test_a_client_without_the_services_env_can_wait_for_serving(
    pki: Pki, wildcard_server: HealthServer
) -> None:
    """How the chart's `helm test` Pod uses it: a target, the CA, the served certificate."""
    wildcard_server.health.set(SERVICE, health_pb2.HealthCheckResponse.NOT_SERVING)
    target = f"127.0.0.1:{wildcard_server.port}"
    client = ["--target", target, "--tls", "--ca-file", str(pki.ca)]
    named = [*client, "--server-name-from", str(pki.wildcard_cert)]
    assert probe({}, *named, "--service", "") == 0
    assert probe({}, *named, "--service", "", "--service", SERVICE, "--wait", "0.5") == 1
    # Without a name to verify, 127.0.0.1 does not match the certificate.
    assert probe({}, *client) == 1
    wildcard_server.health.set(SERVICE, health_pb2.HealthCheckResponse.SERVING)
    assert probe({}, *named, "--service", "", "--service", SERVICE) == 0


def test_broken_configuration_exits_two(pki: Pki, capsys: pytest.CaptureFixture[str]) -> None:
    assert probe({}) == 2
    assert "TOLLGATE_CACHE_PORT" in capsys.readouterr().err
    env = {
        f"{PREFIX}PORT": "50053",
        f"{PREFIX}TLS_CERT_FILE": str(pki.cert),
        f"{PREFIX}TLS_KEY_FILE": "/nonexistent/tls.key",
    }
    assert probe(env) == 2
    assert "/nonexistent/tls.key" in capsys.readouterr().err


def test_runs_as_a_module_with_the_process_environment(pki: Pki, mtls_server: HealthServer) -> None:
    command = [sys.executable, "-m", "tollgate.common.healthcheck", "--env-prefix", PREFIX]
    ok = subprocess.run(
        [*command, "--service", SERVICE],
        env=mtls_env(pki, mtls_server.port),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (ok.returncode, ok.stdout.strip()) == (
        0,
        f"127.0.0.1:{mtls_server.port} {SERVICE}: SERVING",
    )
    mtls_server.health.set(SERVICE, health_pb2.HealthCheckResponse.NOT_SERVING)
    refused = subprocess.run(
        [*command, "--service", SERVICE],
        env=mtls_env(pki, mtls_server.port),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 1
    assert "NOT_SERVING" in refused.stdout
