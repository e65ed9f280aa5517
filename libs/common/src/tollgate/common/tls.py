"""TLS for servers and channels, from settings; plaintext stays the default.

A service serves TLS when it has a certificate and key. With a client CA as well it serves mutual
TLS: callers must present a certificate that CA signed. A service calls the others over TLS when
it has a CA to verify them with; it presents its own certificate (a dedicated client one, else
its server one) so that mTLS servers accept it.
"""

from __future__ import annotations

from pathlib import Path

import grpc

from tollgate.common.settings import ServiceSettings


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise RuntimeError(f"cannot read the TLS {what} {path!r}: {exc.strerror}") from exc


def server_credentials(settings: ServiceSettings) -> grpc.ServerCredentials | None:
    """Credentials for the listening port, or None to serve plaintext."""
    if not settings.tls_cert_file and not settings.tls_key_file:
        if settings.tls_client_ca_file:
            raise RuntimeError("a TLS client CA is set but no server certificate and key are")
        return None
    if not (settings.tls_cert_file and settings.tls_key_file):
        raise RuntimeError("TLS needs both a certificate file and a key file")
    pair = (
        _read(settings.tls_key_file, "key"),
        _read(settings.tls_cert_file, "certificate"),
    )
    client_ca = (
        _read(settings.tls_client_ca_file, "client CA") if settings.tls_client_ca_file else None
    )
    return grpc.ssl_server_credentials(
        [pair], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def channel_credentials(settings: ServiceSettings) -> grpc.ChannelCredentials | None:
    """Credentials for calls to the other services, or None to call them in plaintext."""
    if not settings.tls_ca_file:
        return None
    cert_file = settings.tls_client_cert_file or settings.tls_cert_file
    key_file = settings.tls_client_key_file or settings.tls_key_file
    return grpc.ssl_channel_credentials(
        root_certificates=_read(settings.tls_ca_file, "CA"),
        private_key=_read(key_file, "client key") if cert_file and key_file else None,
        certificate_chain=_read(cert_file, "client certificate")
        if cert_file and key_file
        else None,
    )
