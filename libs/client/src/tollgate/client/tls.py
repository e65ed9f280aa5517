"""TLS for callers of the gateway: verify its certificate (against a CA file, else the system's
roots) and, when the gateway requires client certificates (mutual TLS), present one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the TLS {what} {path!r}: {exc.strerror}") from exc


@dataclass(frozen=True)
class ClientTls:
    # PEM of the CA that signed the gateway's certificate; empty: the system's trusted roots.
    ca_file: str = ""
    # A client certificate and its key, for a gateway that requires them; both or neither.
    cert_file: str = ""
    key_file: str = ""

    def __post_init__(self) -> None:
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError("a TLS client certificate needs both its certificate and key file")

    def credentials(self) -> grpc.ChannelCredentials:
        """Channel credentials, for grpc.aio and plain grpc channels alike."""
        return grpc.ssl_channel_credentials(
            root_certificates=_read(self.ca_file, "CA") if self.ca_file else None,
            private_key=_read(self.key_file, "client key") if self.key_file else None,
            certificate_chain=_read(self.cert_file, "client certificate")
            if self.cert_file
            else None,
        )
