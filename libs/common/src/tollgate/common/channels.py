"""Client channels between services: round-robin over every resolved address, keepalive,
message-size limits, and a client span with the trace context on every call."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import grpc
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

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
        # A backend that is not listening yet (a suite starting side by side, a pod restarting)
        # sends the channel into reconnect backoff, which by default grows to 120 s: calls fail
        # fast with UNAVAILABLE long after the backend is back. Retry its address at least every
        # 2 s instead.
        ("grpc.initial_reconnect_backoff_ms", 250),
        ("grpc.min_reconnect_backoff_ms", 250),
        ("grpc.max_reconnect_backoff_ms", 2_000),
    ]


class _ClientSpan:
    """A CLIENT span around one outgoing call, with the trace context in its metadata.

    grpc.aio files an interceptor object under the first call type it implements, so each call
    type has its own class below; all of them share this one piece. The span ends when the call
    does (for a stream: when its last message or its status arrives), so a streamed call's span
    covers the whole stream and the callee's spans are its children.
    """

    @staticmethod
    def start(details: grpc.aio.ClientCallDetails) -> tuple[Span, grpc.aio.ClientCallDetails]:
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        name = method.lstrip("/")
        rpc_service, _, rpc_method = name.partition("/")
        span = telemetry.tracer().start_span(
            name,
            kind=SpanKind.CLIENT,
            attributes={"rpc.system": "grpc", "rpc.service": rpc_service, "rpc.method": rpc_method},
        )
        with trace.use_span(span, end_on_exit=False):
            metadata = [*(details.metadata or ()), *telemetry.inject_metadata()]
        return span, grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )

    @staticmethod
    def end_when_done(span: Span, call: Any) -> Any:
        def done(finished: Any) -> None:
            # grpc.aio's `code()` is a coroutine even once the call is over.
            task = asyncio.ensure_future(_ClientSpan._finish(span, finished))
            _finishing.add(task)
            task.add_done_callback(_finishing.discard)

        call.add_done_callback(done)
        return call

    @staticmethod
    async def _finish(span: Span, call: Any) -> None:
        code = grpc.StatusCode.CANCELLED if call.cancelled() else await call.code()
        span.set_attribute("rpc.grpc.status_code", code.value[0])
        if code in telemetry.SERVER_ERROR_CODES:
            span.set_status(Status(StatusCode.ERROR, code.name))
        span.end()


# Span-ending tasks in flight, held so they are not collected before they run.
_finishing: set[asyncio.Future[None]] = set()


class _UnaryUnarySpan(grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        span, details = _ClientSpan.start(details)
        return _ClientSpan.end_when_done(span, await continuation(details, request))


class _UnaryStreamSpan(grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        span, details = _ClientSpan.start(details)
        return _ClientSpan.end_when_done(span, await continuation(details, request))


class _StreamUnarySpan(grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(
        self,
        continuation: Callable[..., Any],
        details: grpc.aio.ClientCallDetails,
        request_iterator: Any,
    ) -> Any:
        span, details = _ClientSpan.start(details)
        return _ClientSpan.end_when_done(span, await continuation(details, request_iterator))


class _StreamStreamSpan(grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(
        self,
        continuation: Callable[..., Any],
        details: grpc.aio.ClientCallDetails,
        request_iterator: Any,
    ) -> Any:
        span, details = _ClientSpan.start(details)
        return _ClientSpan.end_when_done(span, await continuation(details, request_iterator))


def client_interceptors() -> list[grpc.aio.ClientInterceptor]:
    """One tracing interceptor per call type (see _ClientSpan)."""
    return [_UnaryUnarySpan(), _UnaryStreamSpan(), _StreamUnarySpan(), _StreamStreamSpan()]


def open_channel(
    target: str,
    max_message_bytes: int = 8 * 1024 * 1024,
    credentials: grpc.ChannelCredentials | None = None,
) -> grpc.aio.Channel:
    """A channel to another service of the suite: TLS with `credentials`, else plaintext (inside
    the cluster network; see tollgate.common.tls.channel_credentials)."""
    options = channel_options(max_message_bytes)
    interceptors = client_interceptors()
    if credentials is not None:
        return grpc.aio.secure_channel(
            target, credentials, options=options, interceptors=interceptors
        )
    return grpc.aio.insecure_channel(target, options=options, interceptors=interceptors)
