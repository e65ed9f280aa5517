"""Server interceptor: a JSON access-log line, metrics and a trace span per RPC; error mapping.

Handlers raise `ServiceError` for failures the caller should see; this layer turns them into a
status with a sentence and `google.rpc` details. Any other exception is logged with its traceback
and reaches the caller only as INTERNAL with a reference id, never as a stack trace. Every error
response carries the request id and the trace id in its trailing metadata, so a caller can quote
them.

Spans follow OpenTelemetry's RPC conventions: named `package.Service/Method`, with `rpc.system`,
`rpc.service`, `rpc.method` and `rpc.grpc.status_code`. A caller's mistake (INVALID_ARGUMENT,
UNAUTHENTICATED, a budget refusal, ...) is not a server error: only the codes that mean the server
failed mark the span ERROR, and its status carries the message, never a stack trace.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from opentelemetry import baggage
from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer, set_span_in_context

from tollgate.common import telemetry
from tollgate.common.errors import ServiceError
from tollgate.common.ids import new_request_id
from tollgate.common.logs import annotate, request_fields

__all__ = ["STATUS_DETAILS_KEY", "ServerInterceptor", "annotate", "status_details"]

log = logging.getLogger("tollgate.access")

STATUS_DETAILS_KEY = "grpc-status-details-bin"
REQUEST_ID_KEY = "x-request-id"
TRACE_ID_KEY = "x-trace-id"

# What a server interceptor's intercept_service is handed to reach the next one.
Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]]


def status_details(error: ServiceError) -> bytes:
    """`google.rpc.Status` with BadRequest / ErrorInfo details, serialized for trailing metadata."""
    status = status_pb2.Status(code=error.code.value[0], message=error.message)
    if error.field_violations:
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=path, description=text)
                for path, text in error.field_violations
            ]
        )
        detail = any_pb2.Any()
        detail.Pack(bad_request)
        status.details.append(detail)
    if error.metadata or error.reason:
        info = error_details_pb2.ErrorInfo(
            reason=error.reason or error.code.name,
            domain="tollgate",
            metadata=error.metadata,
        )
        detail = any_pb2.Any()
        detail.Pack(info)
        status.details.append(detail)
    return status.SerializeToString()


def _correlation_metadata() -> tuple[tuple[str, str], ...]:
    """The current request id and trace id, for an error's trailing metadata."""
    pairs = []
    request_id = str(request_fields.get({}).get("request_id") or "")
    # Metadata values must be printable ASCII; a hostile id is left out rather than breaking the
    # error response itself.
    if request_id and request_id.isascii() and request_id.isprintable():
        pairs.append((REQUEST_ID_KEY, request_id))
    trace_id = telemetry.current_trace_id()
    if trace_id:
        pairs.append((TRACE_ID_KEY, trace_id))
    return tuple(pairs)


def _error_trailers(error: ServiceError) -> tuple[tuple[str, str | bytes], ...]:
    return ((STATUS_DETAILS_KEY, status_details(error)), *_correlation_metadata())


async def abort_with(context: grpc.aio.ServicerContext, error: ServiceError) -> None:
    await context.abort(error.code, error.message, trailing_metadata=_error_trailers(error))


# Keys that carry a remote trace context; without them extraction can only give an empty context.
_PROPAGATION_KEYS = frozenset({"traceparent", "tracestate", "baggage"})


def _parent_context(metadata: Any, keep_baggage: bool = True) -> otel_context.Context:
    """The caller's trace context, from metadata that carries one; without its baggage unless
    `keep_baggage` (whatever is in the context is injected into every call this RPC makes to
    other services)."""
    parent: otel_context.Context = telemetry.extract_context(metadata)  # type: ignore[assignment]
    return parent if keep_baggage else baggage.clear(parent)


class ServerInterceptor(grpc.aio.ServerInterceptor):
    """One per server. Wrapped handlers are built once per method and reused for every call,
    and the tracer and metric attributes are looked up once, not per RPC: measured by
    bench/interceptor.py, the per-call lookups were a third of the interceptor's cost."""

    def __init__(
        self, service: str, track: str = "stable", keep_caller_baggage: bool = True
    ) -> None:
        self._service = service
        self._track = track
        self._keep_baggage = keep_caller_baggage
        self._tracer = telemetry.tracer()
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Continuation,
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return None
        method: str = details.method
        if method.startswith(("/grpc.health.", "/grpc.reflection.")):
            return handler
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(method, handler)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        labels = _MethodLabels(self._service, method, self._track, self._keep_baggage)
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(labels, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(labels, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _wrap_unary(
        self, labels: _MethodLabels, behavior: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        tracer = self._tracer

        # try/except/finally around the handler rather than an `async with`: the scope's enter
        # and exit need no awaiting, and two coroutines per RPC are measurable at this rate.
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            scope = _RpcScope(tracer, labels, context)
            try:
                return await behavior(request, context)
            except Exception as exc:
                await scope.fail(exc)
            except BaseException as exc:
                scope.interrupted(exc)
                raise
            finally:
                scope.close()
            return None

        return wrapped

    def _wrap_stream(
        self, labels: _MethodLabels, behavior: Callable[..., AsyncIterator[Any]]
    ) -> Callable[..., AsyncIterator[Any]]:
        tracer = self._tracer

        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            scope = _RpcScope(tracer, labels, context)
            try:
                async for item in behavior(request, context):
                    yield item
            except Exception as exc:
                await scope.fail(exc)
            except BaseException as exc:  # cancelled, or the stream closed early
                scope.interrupted(exc)
                raise
            finally:
                scope.close()

        return wrapped


class _MethodLabels:
    """What one method's RPCs share, built once: span name and attributes, metric series."""

    __slots__ = ("keep_baggage", "method", "series", "span_attributes", "span_name")

    def __init__(self, service: str, method: str, track: str, keep_baggage: bool = True) -> None:
        self.method = method
        # Whether the caller's W3C baggage stays in the context (and so rides to the backends).
        self.keep_baggage = keep_baggage
        self.span_name, self.span_attributes = telemetry.rpc_span(method)
        self.series = telemetry.rpc_instruments().series(service, method, track)


# Metadata keys the scope reads: the request id, and those carrying a remote trace context.
_SCOPE_KEYS = _PROPAGATION_KEYS | {REQUEST_ID_KEY}


class _RpcScope:
    """Span, log fields, metrics and error mapping around one RPC: opened by the constructor,
    closed by `close` whatever the outcome."""

    __slots__ = (
        "_closed",
        "_code",
        "_context",
        "_fields",
        "_fields_token",
        "_labels",
        "_otel_token",
        "_span",
        "_start",
    )

    def __init__(
        self, tracer: Tracer, labels: _MethodLabels, context: grpc.aio.ServicerContext
    ) -> None:
        self._start = time.perf_counter()
        self._closed = False
        self._labels = labels
        self._context = context
        self._code = grpc.StatusCode.OK
        metadata = context.invocation_metadata() or ()
        # One pass over the metadata: the first request id, and whether a trace context came.
        request_id = ""
        remote = False
        for key, value in metadata:
            if key in _SCOPE_KEYS and isinstance(value, str):
                if key != REQUEST_ID_KEY:
                    remote = True
                elif not request_id:
                    request_id = value
        self._fields: dict[str, Any] = {"request_id": request_id} if request_id else {}
        self._fields_token = request_fields.set(self._fields)
        # Without a trace context in the metadata extraction could only give an empty context.
        parent = (
            _parent_context(metadata, labels.keep_baggage) if remote else otel_context.Context()
        )
        # One context switch instead of two: the remote parent and the server span together.
        self._span = tracer.start_span(
            labels.span_name,
            context=parent,
            kind=SpanKind.SERVER,
            attributes=labels.span_attributes,
        )
        self._otel_token = otel_context.attach(set_span_in_context(self._span, parent))

    async def fail(self, exc: Exception) -> None:
        if isinstance(exc, grpc.aio.AbortError):
            # The handler aborted on its own; its status is already set.
            self._code = self._context.code() or grpc.StatusCode.UNKNOWN
            raise exc
        if isinstance(exc, ServiceError):
            self._code = exc.code
            self._fields["error"] = exc.message
            error = exc
        else:
            reference = new_request_id().replace("req_", "err_")
            self._code = grpc.StatusCode.INTERNAL
            self._fields["error"] = f"unhandled {type(exc).__name__} ({reference})"
            if self._span.is_recording():
                # The traceback goes on the span as an exception event, not into its status.
                self._span.record_exception(exc)
            log.exception(
                "unhandled error",
                extra={"method": self._labels.method, "error_reference": reference},
            )
            error = ServiceError(f"Internal error; quote reference {reference} when reporting it.")
        # The trailers name the request id and trace id, so they are read while both are current.
        trailers = _error_trailers(error)
        # `abort` sends the status before it raises: closing first means the span, the metrics
        # and the access line are complete by the time the caller can see the error.
        self.close()
        await self._context.abort(error.code, error.message, trailing_metadata=trailers)

    def interrupted(self, exc: BaseException) -> None:
        """The RPC ended by something other than an exception (cancelled, the stream closed)."""
        if self._code == grpc.StatusCode.OK:
            self._code = (
                grpc.StatusCode.CANCELLED
                if isinstance(exc, asyncio.CancelledError)
                else self._context.code() or grpc.StatusCode.UNKNOWN
            )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        duration = time.perf_counter() - self._start
        code = self._code
        span = self._span
        labels = self._labels
        otel_context.detach(self._otel_token)
        if span.is_recording():
            if code in telemetry.SERVER_ERROR_CODES:
                span.set_status(Status(StatusCode.ERROR, self._fields.get("error") or code.name))
            span.set_attribute("rpc.grpc.status_code", code.value[0])
            span.end()
        request_fields.reset(self._fields_token)
        labels.series.record(code, duration)
        if log.isEnabledFor(logging.INFO):
            fields = {
                "method": labels.method,
                "code": code.name,
                "duration_ms": round(duration * 1000, 3),
                **self._fields,
            }
            # The span's ids, as `trace_fields` gives them while it is current.
            span_context = span.get_span_context()
            if span_context.is_valid:
                fields["trace_id"] = format(span_context.trace_id, "032x")
                fields["span_id"] = format(span_context.span_id, "016x")
            # `handle` of a ready record skips `Logger.findCaller`'s stack walk; the JSON line
            # carries no source location, so nothing is lost.
            log.handle(log.makeRecord(log.name, logging.INFO, "", 0, "rpc", (), None, extra=fields))
