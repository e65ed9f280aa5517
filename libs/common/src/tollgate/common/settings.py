"""Typed service settings read from environment variables.

Every service subclasses `ServiceSettings` with its own `env_prefix` (e.g. `TOLLGATE_GATEWAY_`),
so one process environment can configure several services without clashes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """What every gRPC service needs to start, drain and be observed."""

    model_config = SettingsConfigDict(env_prefix="TOLLGATE_", extra="ignore")

    host: str = "0.0.0.0"
    port: int = Field(default=50051, ge=0, le=65535)
    # 0 disables the Prometheus endpoint (tests run many services in one process).
    metrics_port: int = Field(default=0, ge=0, le=65535)
    log_level: str = "INFO"
    # Which Deployment this process belongs to; a label on its RPC metrics, so a canary's error
    # rate and latency can be compared with stable's (the chart sets it).
    track: Literal["stable", "canary"] = "stable"
    # How long SIGTERM waits for in-flight calls before cancelling them: at least the longest
    # call (a generation may take 120 s), so a rollout drains long answers instead of cutting them.
    shutdown_grace_seconds: float = Field(default=125.0, ge=0)
    max_message_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    # Per HTTP/2 connection, and across the whole server (0: no limit).
    max_concurrent_streams: int = Field(default=100, ge=1)
    max_concurrent_rpcs: int = Field(default=0, ge=0)
    # Keep the caller's W3C baggage, which then rides along to every service this one calls. On
    # for the internal services, whose callers are the suite's own; off at the gateway. The trace
    # itself (traceparent) is always continued.
    keep_caller_baggage: bool = True
    # A plaintext port serving only the health service (0: none), for Kubernetes' native gRPC
    # probes, which cannot speak TLS, when the main port serves TLS.
    health_port: int = Field(default=0, ge=0, le=65535)
    # Recycle connections so that clients re-resolve and new replicas get traffic.
    max_connection_age_seconds: int = Field(default=300, ge=1)
    # Calls open on a recycled connection get this long to finish: at least the longest call.
    max_connection_age_grace_seconds: int = Field(default=125, ge=1)
    keepalive_time_seconds: int = Field(default=30, ge=1)
    keepalive_timeout_seconds: int = Field(default=10, ge=1)

    # TLS (see tollgate.common.tls). Empty: plaintext. Certificate and key: serve TLS; with a
    # client CA as well: require client certificates that CA signed (mutual TLS).
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_client_ca_file: str = ""
    # Calls to the other services: over TLS, verified with this CA, when set. They present the
    # client certificate below, else the server one above, for services that require mTLS.
    tls_ca_file: str = ""
    tls_client_cert_file: str = ""
    tls_client_key_file: str = ""
    # Serve only callers whose client certificate names one of these (CN or DNS SAN); needs
    # mutual TLS (tls_client_ca_file). Empty: any caller the TLS settings admit.
    allowed_callers: list[str] = Field(default_factory=list)
