"""Client channels between services: round-robin over every resolved address, keepalive,
message-size limits, and the trace context on every call.

The trace context is added where a call is made, by `TracedChannel`'s callables, rather than by a
grpc.aio client interceptor: an intercepted call runs the interceptor in a task of its own on top
of the call's task, and that machinery cost more CPU per call than the metadata it adds
(bench/grpc_hop.py). A CLIENT span is started only while spans are exported
(`telemetry.spans_exported`); otherwise the callee's parent is the caller's current span, which
carries the same trace id, so log lines and traces join up exactly as before.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import grpc
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from tollgate.common import in_process, telemetry

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


class _Traced:
    """One method's callable: the channel's own, called with the trace context in its metadata.

    Every call type takes the same keyword arguments, so one class serves all four; the span (when
    there is one) ends when the call does, so a streamed call's span covers the whole stream and
    the callee's spans are its children.
    """

    __slots__ = ("_attributes", "_inner", "_name")

    def __init__(self, inner: Any, method: str | bytes) -> None:
        self._inner = inner
        method = method.decode() if isinstance(method, bytes) else method
        self._name, self._attributes = telemetry.rpc_span(method)

    def __call__(
        self,
        request: Any,
        *,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        span = None
        if telemetry.spans_exported():
            span = telemetry.tracer().start_span(
                self._name, kind=SpanKind.CLIENT, attributes=self._attributes
            )
        outgoing = telemetry.inject_metadata(span=span)
        if metadata:
            outgoing = [*metadata, *outgoing]
        call = self._inner(
            request,
            timeout=timeout,
            metadata=outgoing,
            credentials=credentials,
            wait_for_ready=wait_for_ready,
            compression=compression,
        )
        if span is not None:
            call.add_done_callback(_ender(span))
        return call


def _ender(span: Span) -> Callable[[Any], None]:
    def done(call: Any) -> None:
        # grpc.aio's `code()` is a coroutine even once the call is over.
        task = asyncio.ensure_future(_finish(span, call))
        _finishing.add(task)
        task.add_done_callback(_finishing.discard)

    return done


async def _finish(span: Span, call: Any) -> None:
    code = grpc.StatusCode.CANCELLED if call.cancelled() else await call.code()
    span.set_attribute("rpc.grpc.status_code", code.value[0])
    if code in telemetry.SERVER_ERROR_CODES:
        span.set_status(Status(StatusCode.ERROR, code.name))
    span.end()


# Span-ending tasks in flight, held so they are not collected before they run.
_finishing: set[asyncio.Future[None]] = set()


class _TracedUnaryUnary(_Traced, grpc.aio.UnaryUnaryMultiCallable):
    __slots__ = ()


class _TracedUnaryStream(_Traced, grpc.aio.UnaryStreamMultiCallable):
    __slots__ = ()


class _TracedStreamUnary(_Traced, grpc.aio.StreamUnaryMultiCallable):
    __slots__ = ()


class _TracedStreamStream(_Traced, grpc.aio.StreamStreamMultiCallable):
    __slots__ = ()


class TracedChannel(grpc.aio.Channel):
    """A grpc.aio channel whose calls carry the caller's trace context (see the module doc).
    Everything but making callables is the wrapped channel's own."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._channel = channel

    async def __aenter__(self) -> TracedChannel:
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        await self._channel.close(None)

    async def close(self, grace: float | None = None) -> None:
        await self._channel.close(grace)

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        return self._channel.get_state(try_to_connect)

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity) -> None:
        await self._channel.wait_for_state_change(last_observed_state)

    async def channel_ready(self) -> None:
        await self._channel.channel_ready()

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _TracedUnaryUnary(self._channel.unary_unary(method, *args, **kwargs), method)

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _TracedUnaryStream(self._channel.unary_stream(method, *args, **kwargs), method)

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _TracedStreamUnary(self._channel.stream_unary(method, *args, **kwargs), method)

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _TracedStreamStream(self._channel.stream_stream(method, *args, **kwargs), method)


def open_channel(
    target: str,
    max_message_bytes: int = 8 * 1024 * 1024,
    credentials: grpc.ChannelCredentials | None = None,
) -> grpc.aio.Channel:
    """A channel to another service of the suite: TLS with `credentials`, else plaintext (inside
    the cluster network; see tollgate.common.tls.channel_credentials)."""
    if target.startswith(in_process.SCHEME):
        # The single-process suite: the service runs in this process, reached without a socket.
        return TracedChannel(in_process.channel(target))
    options = channel_options(max_message_bytes)
    if credentials is not None:
        return TracedChannel(grpc.aio.secure_channel(target, credentials, options=options))
    return TracedChannel(grpc.aio.insecure_channel(target, options=options))
