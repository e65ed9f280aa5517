"""Client channels between services: round-robin over every resolved address, keepalive,
message-size limits, and the current trace context on every call."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import grpc

from tollgate.common import telemetry

# Headless Services resolve to one address per pod; round_robin spreads calls over all of them
# instead of pinning a long-lived connection to one pod.
_SERVICE_CONFIG = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})


def channel_options(max_message_bytes: int = 8 * 1024 * 1024) -> list[tuple[str, Any]]:
    return [
        ("grpc.service_config", _SERVICE_CONFIG),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
    ]


class _TraceContextInterceptor(
    grpc.aio.UnaryUnaryClientInterceptor,
    grpc.aio.UnaryStreamClientInterceptor,
):
    """Adds W3C traceparent metadata so spans join up across services."""

    @staticmethod
    def _with_trace(details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = list(details.metadata or ())
        metadata.extend(telemetry.inject_metadata())
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._with_trace(details), request)

    async def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._with_trace(details), request)


def open_channel(
    target: str,
    max_message_bytes: int = 8 * 1024 * 1024,
    credentials: grpc.ChannelCredentials | None = None,
) -> grpc.aio.Channel:
    """A channel to another service of the suite: TLS with `credentials`, else plaintext (inside
    the cluster network; see tollgate.common.tls.channel_credentials)."""
    options = channel_options(max_message_bytes)
    interceptors = [_TraceContextInterceptor()]
    if credentials is not None:
        return grpc.aio.secure_channel(
            target, credentials, options=options, interceptors=interceptors
        )
    return grpc.aio.insecure_channel(target, options=options, interceptors=interceptors)
