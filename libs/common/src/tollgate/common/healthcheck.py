"""Asks a service's gRPC health service whether it is SERVING; exits 0 only if it is.

Kubernetes' native gRPC probes cannot speak TLS, so a pod whose service serves TLS probes itself
with this command instead (an exec probe):

    python -m tollgate.common.healthcheck --env-prefix TOLLGATE_CACHE_ --service NAME

It reads the service's own settings from the environment (`<prefix>PORT` and the `<prefix>TLS_*`
files of `tollgate.common.tls`), so it speaks exactly what the service serves: plaintext, TLS, or
mutual TLS presenting the service's own client certificate. The certificate is verified, with
`--ca-file` when given (a missing file means: the system's public roots), else the service's CA.
The probe dials 127.0.0.1, which is not a name the certificate holds, so it checks the
certificate against `--server-name`, else the first DNS name of `--server-name-from` or of the
service's own certificate. `--target`, `--tls` and `--wait` let a client outside the service
(the chart's `helm test` Pod) use it too.

Only grpcio and the health stubs are imported: an exec probe starts a fresh interpreter each time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

SERVING = "SERVING"
# Stands in for the wildcard label when the certificate holds only `*.<domain>` names.
_WILDCARD_LABEL = "healthcheck"


class ProbeConfigError(Exception):
    """The environment or arguments cannot describe a connection (exit code 2)."""


@dataclass(frozen=True)
class ProbeTarget:
    """Where and how to dial: address, and TLS material (None: plaintext)."""

    address: str
    credentials: grpc.ChannelCredentials | None
    server_name: str | None


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ProbeConfigError(f"cannot read the TLS {what} {path!r}: {exc.strerror}") from exc


def certificate_dns_names(cert_file: str) -> list[str]:
    """DNS subject alternative names of the first certificate in a PEM file."""
    # The standard library has no public certificate parser; this one has been in CPython's _ssl
    # since 2.7 and is what its own tests use. Avoids a dependency for one field.
    import _ssl

    decode = getattr(_ssl, "_test_decode_cert")  # noqa: B009 - private, untyped
    try:
        decoded = decode(cert_file)
    except (OSError, ValueError) as exc:
        raise ProbeConfigError(f"cannot decode the TLS certificate {cert_file!r}: {exc}") from exc
    return [value for kind, value in decoded.get("subjectAltName", ()) if kind == "DNS"]


def name_to_verify(cert_file: str) -> str | None:
    """A name the certificate is valid for: its first DNS name, wildcards made concrete."""
    for name in certificate_dns_names(cert_file):
        return f"{_WILDCARD_LABEL}{name[1:]}" if name.startswith("*.") else name
    return None


def probe_target(
    env: Mapping[str, str],
    prefix: str,
    *,
    target: str | None = None,
    ca_file: str | None = None,
    server_name: str | None = None,
    server_name_from: str | None = None,
    force_tls: bool = False,
) -> ProbeTarget:
    """How to reach the service `prefix` configures, from its environment."""

    def setting(name: str) -> str:
        return env.get(f"{prefix}{name}", "").strip()

    if target is None:
        port = setting("PORT")
        if not port.isdigit():
            raise ProbeConfigError(f"{prefix}PORT is {port!r}, not a port: pass --target")
        target = f"127.0.0.1:{port}"
    cert_file, key_file = setting("TLS_CERT_FILE"), setting("TLS_KEY_FILE")
    if not (cert_file or force_tls):
        return ProbeTarget(target, None, None)

    if ca_file is not None:
        roots = _read(ca_file, "CA") if Path(ca_file).exists() else None
    else:
        own_ca = setting("TLS_CA_FILE") or setting("TLS_CLIENT_CA_FILE")
        roots = _read(own_ca, "CA") if own_ca else None
    # Present the certificate the service presents to the others, so that mTLS servers answer.
    client_cert = setting("TLS_CLIENT_CERT_FILE") or cert_file
    client_key = setting("TLS_CLIENT_KEY_FILE") or key_file
    pair = (client_cert and client_key) or None
    credentials = grpc.ssl_channel_credentials(
        root_certificates=roots,
        private_key=_read(client_key, "client key") if pair else None,
        certificate_chain=_read(client_cert, "client certificate") if pair else None,
    )
    names_from = server_name_from or cert_file
    if server_name is None and names_from:
        server_name = name_to_verify(names_from)
    return ProbeTarget(target, credentials, server_name)


def check_once(probe: ProbeTarget, service: str, timeout: float) -> str:
    """The serving status name, or the gRPC status code's name when the call failed."""
    options = [("grpc.ssl_target_name_override", probe.server_name)] if probe.server_name else []
    channel = (
        grpc.secure_channel(probe.address, probe.credentials, options=options)
        if probe.credentials is not None
        else grpc.insecure_channel(probe.address)
    )
    with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError as error:
            return str(error.code().name)
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


def wait_for_serving(
    probe: ProbeTarget, services: Sequence[str], timeout: float, wait: float
) -> bool:
    """True once every service is SERVING; retries for `wait` seconds (0: one try each)."""
    deadline = time.monotonic() + wait
    for service in services:
        while True:
            status = check_once(probe, service, timeout)
            print(f"{probe.address} {service or '(overall)'}: {status}", flush=True)
            if status == SERVING:
                break
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
    return True


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tollgate.common.healthcheck",
        description="Exit 0 only when the service's gRPC health service answers SERVING.",
    )
    parser.add_argument(
        "--env-prefix",
        required=True,
        help="the service's settings prefix, e.g. TOLLGATE_CACHE_ (its PORT and TLS_* are read)",
    )
    parser.add_argument(
        "--service",
        action="append",
        help="health service name to ask for; repeatable; default: the overall status ('')",
    )
    parser.add_argument("--target", help="host:port to dial; default: 127.0.0.1:<prefix>PORT")
    parser.add_argument(
        "--ca-file", help="CA to verify the server with; a missing file means the public roots"
    )
    parser.add_argument("--server-name", help="name to verify the server's certificate against")
    parser.add_argument(
        "--server-name-from",
        help="certificate whose first DNS name to verify against; default: the service's own",
    )
    parser.add_argument(
        "--tls", action="store_true", help="use TLS even though the service's env has no cert"
    )
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds per health call")
    parser.add_argument("--wait", type=float, default=0.0, help="retry for this many seconds")
    return parser


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        probe = probe_target(
            os.environ if env is None else env,
            args.env_prefix,
            target=args.target,
            ca_file=args.ca_file,
            server_name=args.server_name,
            server_name_from=args.server_name_from,
            force_tls=args.tls,
        )
    except ProbeConfigError as error:
        print(f"healthcheck: {error}", file=sys.stderr)
        return 2
    services = args.service if args.service else [""]
    return 0 if wait_for_serving(probe, services, args.timeout, args.wait) else 1


if __name__ == "__main__":
    sys.exit(main())
