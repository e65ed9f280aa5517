"""Server interceptor: a JSON access-log line, metrics and a trace span per RPC; error mapping.

Handlers raise `ServiceError` for failures the caller should see; this layer turns them into a
status with a sentence and `google.rpc` details. Any other exception is logged with its traceback
and reaches the caller only as INTERNAL with a reference id, never as a stack trace.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind

from tollgate.common import telemetry
from tollgate.common.errors import ServiceError
from tollgate.common.ids import new_request_id

log = logging.getLogger("tollgate.access")

_log_fields: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("tollgate_log_fields")

STATUS_DETAILS_KEY = "grpc-status-details-bin"


def annotate(**fields: Any) -> None:
    """Add fields (tenant, request id, ...) to the current RPC's access-log line."""
    current = _log_fields.get(None)
    if current is not None:
        current.update({k: v for k, v in fields.items() if v not in (None, "")})


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


async def _abort_with(context: grpc.aio.ServicerContext, error: ServiceError) -> None:
    await context.abort(
        error.code, error.message, trailing_metadata=((STATUS_DETAILS_KEY, status_details(error)),)
    )


class ServerInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, service: str) -> None:
        self._service = service

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return None
        method: str = details.method
        if method.startswith(("/grpc.health.", "/grpc.reflection.")):
            return handler
        metadata = details.invocation_metadata or ()
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(method, metadata, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(method, metadata, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _wrap_unary(
        self, method: str, metadata: Any, behavior: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            async with _RpcScope(self._service, method, metadata, context) as scope:
                try:
                    return await behavior(request, context)
                except Exception as exc:
                    await scope.fail(exc)
            return None

        return wrapped

    def _wrap_stream(
        self, method: str, metadata: Any, behavior: Callable[..., AsyncIterator[Any]]
    ) -> Callable[..., AsyncIterator[Any]]:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            async with _RpcScope(self._service, method, metadata, context) as scope:
                try:
                    async for item in behavior(request, context):
                        yield item
                except Exception as exc:
                    await scope.fail(exc)

        return wrapped


class _RpcScope:
    """Span, log fields, metrics and error mapping around one RPC."""

    def __init__(
        self, service: str, method: str, metadata: Any, context: grpc.aio.ServicerContext
    ) -> None:
        self._service = service
        self._method = method
        self._metadata = metadata
        self._context = context
        self._code = grpc.StatusCode.OK
        self._fields: dict[str, Any] = {}

    async def __aenter__(self) -> _RpcScope:
        self._start = time.perf_counter()
        meta = {k: v for k, v in self._metadata if isinstance(v, str)}
        self._fields = {"request_id": meta.get("x-request-id", "")}
        self._fields_token = _log_fields.set(self._fields)
        self._otel_token = otel_context.attach(telemetry.extract_context(self._metadata))  # type: ignore[arg-type]
        self._span_cm = telemetry.tracer().start_as_current_span(
            self._method, kind=SpanKind.SERVER, attributes={"rpc.system": "grpc"}
        )
        self._span = self._span_cm.__enter__()
        return self

    async def fail(self, exc: Exception) -> None:
        if isinstance(exc, grpc.aio.AbortError):
            # The handler aborted on its own; its status is already set.
            self._code = self._context.code() or grpc.StatusCode.UNKNOWN
            raise exc
        if isinstance(exc, ServiceError):
            self._code = exc.code
            self._fields["error"] = exc.message
            await _abort_with(self._context, exc)
        reference = new_request_id().replace("req_", "err_")
        self._code = grpc.StatusCode.INTERNAL
        log.exception(
            "unhandled error", extra={"method": self._method, "error_reference": reference}
        )
        await _abort_with(
            self._context,
            ServiceError(f"Internal error; quote reference {reference} when reporting it."),
        )

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        duration = time.perf_counter() - self._start
        if exc_type is not None and self._code == grpc.StatusCode.OK:
            self._code = (
                grpc.StatusCode.CANCELLED
                if exc_type.__name__ == "CancelledError"
                else self._context.code() or grpc.StatusCode.UNKNOWN
            )
        code_name = self._code.name
        self._span.set_attribute("rpc.grpc.status_code", self._code.value[0])
        self._span_cm.__exit__(exc_type, exc, tb)
        otel_context.detach(self._otel_token)
        _log_fields.reset(self._fields_token)
        instruments = telemetry.rpc_instruments()
        labels = {"service": self._service, "method": self._method, "code": code_name}
        instruments.requests.add(1, labels)
        instruments.duration.record(duration, {"service": self._service, "method": self._method})
        log.info(
            "rpc",
            extra={
                "method": self._method,
                "code": code_name,
                "duration_ms": round(duration * 1000, 3),
                **self._fields,
            },
        )
