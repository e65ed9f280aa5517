"""The HTTP door serves TLS exactly when the gateway's gRPC port does, from the same settings
(tollgate.common.tls): a certificate and key, and with a client CA, client certificates
required (mutual TLS)."""

from __future__ import annotations

import ssl

from tollgate.gateway.settings import Settings


def server_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if not (settings.tls_cert_file and settings.tls_key_file):
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
    if settings.tls_client_ca_file:
        context.load_verify_locations(settings.tls_client_ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    return context
