"""TLS for servers and channels, from settings; plaintext stays the default.

A service serves TLS when it has a certificate and key. With a client CA as well it serves mutual
TLS: callers must present a certificate that CA signed. A service calls the others over TLS when
it has a CA to verify them with; it presents its own certificate (a dedicated client one, else
its server one) so that mTLS servers accept it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import grpc

from tollgate.common.settings import ServiceSettings

log = logging.getLogger("tollgate.tls")


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise RuntimeError(f"cannot read the TLS {what} {path!r}: {exc.strerror}") from exc


def server_credentials(settings: ServiceSettings) -> grpc.ServerCredentials | None:
    """Credentials for the listening port, or None to serve plaintext.

    The certificate, key and client CA are read again whenever one of their files changes (a
    cert-manager renewal rewrites the mounted Secret), so new connections get the new certificate
    without a restart; connections already open keep the one they were made with.
    """
    if not settings.tls_cert_file and not settings.tls_key_file:
        if settings.tls_client_ca_file:
            raise RuntimeError("a TLS client CA is set but no server certificate and key are")
        return None
    if not (settings.tls_cert_file and settings.tls_key_file):
        raise RuntimeError("TLS needs both a certificate file and a key file")
    source = _ReloadingCertificate(
        settings.tls_cert_file, settings.tls_key_file, settings.tls_client_ca_file
    )
    return grpc.dynamic_ssl_server_credentials(
        source.load(),
        source.fetch,
        require_client_authentication=bool(settings.tls_client_ca_file),
    )


class _ReloadingCertificate:
    """gRPC asks `fetch` at each handshake; it answers None (keep the current certificate) until
    a file's modification time or size changes, then the new configuration."""

    def __init__(self, cert_file: str, key_file: str, client_ca_file: str) -> None:
        self._files = [cert_file, key_file, *([client_ca_file] if client_ca_file else [])]
        self._client_ca_file = client_ca_file
        self._seen = self._stamp()

    def _stamp(self) -> tuple[tuple[int, int], ...]:
        stamps = []
        for path in self._files:
            try:
                status = Path(path).stat()
            except OSError:
                return ()  # mid-rewrite: try again at the next handshake
            stamps.append((status.st_mtime_ns, status.st_size))
        return tuple(stamps)

    def load(self) -> grpc.ServerCertificateConfiguration:
        cert_file, key_file = self._files[:2]
        pair = (_read(key_file, "key"), _read(cert_file, "certificate"))
        client_ca = _read(self._client_ca_file, "client CA") if self._client_ca_file else None
        return grpc.ssl_server_certificate_configuration([pair], root_certificates=client_ca)

    def fetch(self) -> grpc.ServerCertificateConfiguration | None:
        stamp = self._stamp()
        if not stamp or stamp == self._seen:
            return None
        try:
            configuration = self.load()
        except RuntimeError as exc:
            # A half-written Secret must not take the port down: keep serving the old pair.
            log.warning("TLS files changed but cannot be read yet: %s", exc)
            return None
        self._seen = stamp
        log.info("TLS certificate reloaded", extra={"files": self._files})
        return configuration


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
