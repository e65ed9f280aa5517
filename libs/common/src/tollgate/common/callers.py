"""Which services may call this one: by the name in the caller's client certificate.

Mutual TLS proves a caller holds a certificate the suite's CA signed; it does not say which
service it is. A service with `allowed_callers` set (e.g. the orchestrator: the gateway, lead
scoring and the conversation optimizer) serves only callers whose certificate names one of them,
as its subject common name or a DNS subject alternative name, and answers anyone else
PERMISSION_DENIED. It needs mutual TLS: without a verified client certificate there is no name.
Health and reflection stay open, for probes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import grpc

from tollgate.common.errors import permission_denied
from tollgate.common.interceptors import Continuation, abort_with

_OPEN_METHOD_PREFIXES = ("/grpc.health.", "/grpc.reflection.")
_NAME_PROPERTIES = ("x509_common_name", "x509_subject_alternative_name")


def caller_names(context: grpc.aio.ServicerContext) -> set[str]:
    """The names the caller's verified client certificate carries (empty without one)."""
    auth = context.auth_context() or {}
    names: set[str] = set()
    for prop in _NAME_PROPERTIES:
        for value in auth.get(prop, ()):
            names.add(value.decode() if isinstance(value, bytes) else str(value))
    return names


class CallerAllowlist(grpc.aio.ServerInterceptor):
    def __init__(self, allowed: Iterable[str]) -> None:
        self._allowed = frozenset(allowed)
        if not self._allowed:
            raise ValueError("an allowlist of callers needs at least one name")

    def _check(self, context: grpc.aio.ServicerContext) -> str | None:
        """None when the caller may proceed, else the refusal's sentence."""
        names = caller_names(context)
        if names & self._allowed:
            return None
        shown = ", ".join(sorted(names)) or "no client certificate"
        return (
            f"This service serves {', '.join(sorted(self._allowed))} only; the caller "
            f"presented {shown}."
        )

    async def intercept_service(
        self,
        continuation: Continuation,
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or details.method.startswith(_OPEN_METHOD_PREFIXES):
            return handler
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._guard_unary(handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._guard_stream(handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        raise ValueError(f"{details.method}: only unary requests are served behind an allowlist")

    def _guard_unary(
        self, behavior: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
            refusal = self._check(context)
            if refusal is not None:
                await abort_with(context, permission_denied(refusal))
            return await behavior(request, context)

        return guarded

    def _guard_stream(
        self, behavior: Callable[..., AsyncIterator[Any]]
    ) -> Callable[..., AsyncIterator[Any]]:
        async def guarded(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            refusal = self._check(context)
            if refusal is not None:
                await abort_with(context, permission_denied(refusal))
            async for item in behavior(request, context):
                yield item

        return guarded
