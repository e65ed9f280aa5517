"""Authentication before the request body is read.

gRPC reads a unary request's message before it calls the handler, so a key checked in the
handler comes too late: an unauthenticated caller could make the gateway hold 8 MiB per call
(60 calls took it past its memory limit). Interceptors run when the headers arrive. This one
checks the key from the metadata there and, when it is missing or wrong, answers with a handler
that takes the request as a stream and never reads it: the call ends UNAUTHENTICATED while the
body is still in flight, and HTTP/2 flow control keeps it out of memory.

It is registered as the outermost interceptor. The servicer authenticates again (it needs the
key's tenant and role); the hash of a key is cheap.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

import grpc

from tollgate.common.auth import ApiKey
from tollgate.common.errors import ServiceError
from tollgate.common.interceptors import Continuation, abort_with

log = logging.getLogger("tollgate.access")

# Calls anyone may make: probes and API discovery.
OPEN_METHOD_PREFIXES = ("/grpc.health.", "/grpc.reflection.")


def _authorization(details: grpc.HandlerCallDetails) -> str | None:
    for key, value in details.invocation_metadata or ():
        if key == "authorization":
            # grpc hands over a value that is not UTF-8 decoded as Latin-1: still a str, and
            # then simply a key that matches nothing.
            return value if isinstance(value, str) else None
    return None


def _refusal(handler: grpc.RpcMethodHandler, error: ServiceError) -> grpc.RpcMethodHandler:
    """A handler of the same response kind that aborts without reading the request."""

    async def refuse(_requests: Any, context: grpc.aio.ServicerContext) -> None:
        await abort_with(context, error)

    async def refuse_stream(
        _requests: Any, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        await abort_with(context, error)
        yield  # an async generator that never yields a response

    if handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(
            refuse_stream, response_serializer=handler.response_serializer
        )
    return grpc.stream_unary_rpc_method_handler(
        refuse, response_serializer=handler.response_serializer
    )


class Authenticates(Protocol):
    """The keys in force (a KeyRing, or the reloading KeyFile)."""

    def authenticate(self, authorization: str | None) -> ApiKey: ...


class AuthenticationGate(grpc.aio.ServerInterceptor):
    def __init__(self, keys: Authenticates) -> None:
        self._keys = keys

    async def intercept_service(
        self,
        continuation: Continuation,
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method: str = details.method
        if handler is None or method.startswith(OPEN_METHOD_PREFIXES):
            return handler
        try:
            self._keys.authenticate(_authorization(details))
        except ServiceError as error:
            log.info(
                "rpc", extra={"method": method, "code": error.code.name, "error": error.message}
            )
            return _refusal(handler, error)
        return handler
