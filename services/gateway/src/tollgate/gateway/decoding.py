"""Registers the gateway's servicer so that bytes which do not decode are refused politely.

gRPC decodes a request before any handler or interceptor runs; when decoding fails (invalid UTF-8
in a string, nesting deeper than the decoder allows, truncated or junk bytes) it answers UNKNOWN
and logs a traceback. The gateway is the public face of the suite, so it decodes requests itself
and turns such bytes into INVALID_ARGUMENT with a sentence, through the usual error mapping.

It also holds each method to its own size: gRPC has one receive limit per server (set to the
largest, a completion's), while a usage report or a budget change is a few hundred bytes. A body
past its method's limit is refused before it is parsed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import DecodeError

from tollgate.common.errors import ServiceError, invalid_argument

# Methods with no limit of their own in `tolerant_adder`'s mapping take this one.
DEFAULT_METHOD_LIMIT_BYTES = 64 * 1024


@dataclass(frozen=True)
class Undecodable:
    """Stands in for a request whose bytes did not decode, or were too many for its method."""

    type_name: str
    size: int = 0
    limit: int = 0


def _refusal(request: Undecodable) -> ServiceError:
    if request.limit:
        return invalid_argument(
            f"The {request.type_name} is {request.size:,} bytes; the limit is "
            f"{request.limit:,} bytes for this method."
        )
    return invalid_argument(
        f"The request could not be decoded as {request.type_name}: strings must be valid UTF-8, "
        "messages may nest at most 100 levels deep, and the bytes must be a complete message."
    )


def _deserializer(message_class: Any, limit: int) -> Callable[[bytes], Any]:
    name = message_class.DESCRIPTOR.full_name

    def deserialize(data: bytes) -> Any:
        if len(data) > limit:
            return Undecodable(name, len(data), limit)
        try:
            return message_class.FromString(data)
        except DecodeError:
            return Undecodable(name)

    return deserialize


def _unary(behavior: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def handle(request: Any, context: grpc.aio.ServicerContext) -> Any:
        if isinstance(request, Undecodable):
            raise _refusal(request)
        return await behavior(request, context)

    return handle


def _stream(behavior: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
    async def handle(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        if isinstance(request, Undecodable):
            raise _refusal(request)
        async for item in behavior(request, context):
            yield item

    return handle


def tolerant_adder(
    service: ServiceDescriptor,
    limits: Mapping[str, int] | None = None,
    default_limit: int = DEFAULT_METHOD_LIMIT_BYTES,
) -> Callable[[Any, grpc.aio.Server], None]:
    """An add-to-server function for `service` (unary and server-streaming methods); `limits`
    maps method names to the most bytes their request may have."""
    limits = limits or {}

    def add(servicer: Any, server: grpc.aio.Server) -> None:
        handlers: dict[str, grpc.RpcMethodHandler] = {}
        for method in service.methods:
            if method.client_streaming:
                raise ValueError(f"{method.full_name}: client streaming is not supported here")
            behavior = getattr(servicer, method.name)
            deserialize = _deserializer(
                message_factory.GetMessageClass(method.input_type),
                limits.get(method.name, default_limit),
            )
            serialize = message_factory.GetMessageClass(method.output_type).SerializeToString
            if method.server_streaming:
                handlers[method.name] = grpc.unary_stream_rpc_method_handler(
                    _stream(behavior), deserialize, serialize
                )
            else:
                handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                    _unary(behavior), deserialize, serialize
                )
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service.full_name, handlers),)
        )

    return add
