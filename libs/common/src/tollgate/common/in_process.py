"""Calls to a service in the same process, through its own handlers and interceptors.

The single-process suite (`tollgate.cli.single_process`) runs every service on one event loop.
The gateway still reaches each backend through the backend's generated stub and the same channel
interface, but an `InProcessChannel` hands the call to the backend's registered handler instead
of a socket: no HTTP/2 framing, no completion-queue thread, no second event loop. Everything a
caller can observe is kept:

- the backend's server interceptors run (access line, span, metrics, error mapping), as they
  would on its gRPC server;
- request and reply cross the boundary serialized, so neither side ever holds the other's
  objects;
- the deadline is the backend's `time_remaining()` and is enforced (DEADLINE_EXCEEDED);
- a caller that is cancelled or stops reading a stream cancels the handler;
- a failure reaches the caller as `grpc.aio.AioRpcError`, with the code, details and trailing
  metadata the backend set; an exception the backend let escape is UNKNOWN, as on a real server.

A unary call runs when it is awaited, in the awaiting task (a grpc.aio call starts at once); a
stream runs as it is read. Every caller in the suite awaits or reads its calls at once.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Sequence
from typing import Any

import grpc
from grpc.aio import AbortError, AioRpcError, Metadata

log = logging.getLogger("tollgate.in_process")

Serializer = Callable[[Any], bytes] | None
Deserializer = Callable[[bytes], Any] | None
DoneCallback = Callable[[Any], None]

PEER = "in-process"


class _CallDetails(grpc.HandlerCallDetails):
    def __init__(self, method: str, metadata: tuple[tuple[str, str | bytes], ...]) -> None:
        self.method = method
        self.invocation_metadata = metadata


class InProcessServer:
    """The part of `grpc.aio.Server` that generated `add_*_to_server` functions use: it keeps
    each method's handler, and resolves a call through the server interceptors."""

    def __init__(self, interceptors: Sequence[grpc.aio.ServerInterceptor] = ()) -> None:
        self._interceptors = tuple(interceptors)
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}
        self._generic: list[grpc.GenericRpcHandler] = []

    def add_registered_method_handlers(
        self, service_name: str, method_handlers: dict[str, grpc.RpcMethodHandler]
    ) -> None:
        for name, handler in method_handlers.items():
            self._handlers[f"/{service_name}/{name}"] = handler

    def add_generic_rpc_handlers(self, handlers: Iterable[grpc.GenericRpcHandler]) -> None:
        self._generic.extend(handlers)

    async def handler(
        self, method: str, metadata: tuple[tuple[str, str | bytes], ...]
    ) -> grpc.RpcMethodHandler | None:
        details = _CallDetails(method, metadata)

        async def find(details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
            found = self._handlers.get(details.method)
            for generic in self._generic if found is None else ():
                found = generic.service(details)
                if found is not None:
                    break
            return found

        continuation = find
        # The first interceptor is the outermost, as grpc.aio.server(interceptors=...) runs them.
        for interceptor in reversed(self._interceptors):
            continuation = _chain(interceptor, continuation)
        return await continuation(details)


def _chain(interceptor: grpc.aio.ServerInterceptor, inner: Any) -> Any:
    async def resolve(details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        return await interceptor.intercept_service(inner, details)

    return resolve


class InProcessContext(grpc.aio.ServicerContext):
    """What a handler is given instead of a gRPC server's context."""

    def __init__(
        self, metadata: tuple[tuple[str, str | bytes], ...], deadline: float | None
    ) -> None:
        self._metadata = metadata
        self._deadline = deadline
        self._code: grpc.StatusCode | None = None
        self._details: str | None = None
        self._trailing: tuple[tuple[str, str | bytes], ...] = ()
        self._cancelled = False

    def invocation_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        return self._metadata

    def time_remaining(self) -> float | None:
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - asyncio.get_running_loop().time())

    async def abort(
        self,
        code: grpc.StatusCode,
        details: str = "",
        trailing_metadata: Any = (),
    ) -> Any:
        if code == grpc.StatusCode.OK:
            raise ValueError("abort() needs a code other than OK")
        self._code = code
        self._details = details
        self._trailing = tuple(trailing_metadata or ())
        raise AbortError(details)

    async def abort_with_status(self, status: Any) -> Any:
        await self.abort(status.code, status.details, status.trailing_metadata)

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code

    def set_details(self, details: str) -> None:
        self._details = details

    def set_trailing_metadata(self, trailing_metadata: Any) -> None:
        self._trailing = tuple(trailing_metadata or ())

    async def send_initial_metadata(self, initial_metadata: Any) -> None:
        """Nothing the suite's callers read: accepted and dropped."""

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def details(self) -> str | None:
        return self._details

    def trailing_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        return self._trailing

    def peer(self) -> str:
        return PEER

    def peer_identities(self) -> None:
        return None

    def peer_identity_key(self) -> None:
        return None

    def auth_context(self) -> dict[str, list[bytes]]:
        return {}

    def cancelled(self) -> bool:
        return self._cancelled

    def done(self) -> bool:
        return self._code is not None

    def add_done_callback(self, callback: Any) -> None:
        raise NotImplementedError("in-process calls take no done callbacks on the server side")

    def set_compression(self, compression: grpc.Compression) -> None:
        """No wire, nothing to compress."""

    def disable_next_message_compression(self) -> None:
        """No wire, nothing to compress."""

    async def read(self) -> Any:
        raise NotImplementedError("in-process calls carry one request")

    async def write(self, message: Any) -> None:
        raise NotImplementedError("an in-process handler yields its replies")

    def error(self) -> AioRpcError:
        """The caller's view of how the handler ended with a status other than OK."""
        code = self._code or grpc.StatusCode.UNKNOWN
        return AioRpcError(code, Metadata(), Metadata(*self._trailing), self._details or "")


def _metadata(metadata: Any) -> tuple[tuple[str, str | bytes], ...]:
    return tuple((key, value) for key, value in metadata or ())


def _failed(code: grpc.StatusCode, details: str) -> AioRpcError:
    return AioRpcError(code, Metadata(), Metadata(), details)


def _unexpected(method: str, exc: BaseException) -> AioRpcError:
    # A real server answers UNKNOWN with the exception's text; the suite's interceptor turns
    # every handler exception into a status first, so this is reached only without it.
    log.error("in-process handler failed", exc_info=exc, extra={"method": method})
    return _failed(grpc.StatusCode.UNKNOWN, f"Unexpected {type(exc).__name__}")


class _Call:
    """What every in-process call shares: its outcome and its done callbacks."""

    def __init__(self) -> None:
        self._code: grpc.StatusCode | None = None
        self._details = ""
        self._trailing: Metadata = Metadata()
        self._callbacks: list[DoneCallback] = []
        self._cancelled = False

    def _end(self, code: grpc.StatusCode, error: AioRpcError | None = None) -> None:
        if self._code is not None:
            return
        self._code = code
        if error is not None:
            self._details = error.details() or ""
            self._trailing = error.trailing_metadata() or Metadata()
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(self)

    def add_done_callback(self, callback: DoneCallback) -> None:
        if self._code is not None:
            callback(self)
        else:
            self._callbacks.append(callback)

    def done(self) -> bool:
        return self._code is not None

    def cancelled(self) -> bool:
        return self._cancelled

    def time_remaining(self) -> float | None:
        return None

    async def code(self) -> grpc.StatusCode | None:
        return self._code

    async def details(self) -> str:
        return self._details

    async def initial_metadata(self) -> Metadata:
        return Metadata()

    async def trailing_metadata(self) -> Metadata:
        return self._trailing


class _UnaryUnaryCall(_Call):
    def __init__(self, run: Any) -> None:
        super().__init__()
        self._run = run

    def cancel(self) -> bool:
        if self._code is not None:
            return False
        self._cancelled = True
        self._run.close()
        self._end(grpc.StatusCode.CANCELLED)
        return True

    def __await__(self) -> Generator[Any, None, Any]:
        if self._cancelled:
            raise asyncio.CancelledError()
        try:
            reply = yield from self._run.__await__()
        except AioRpcError as error:
            self._end(error.code(), error)
            raise
        except asyncio.CancelledError:
            self._cancelled = True
            self._end(grpc.StatusCode.CANCELLED)
            raise
        self._end(grpc.StatusCode.OK)
        return reply


class _UnaryStreamCall(_Call):
    def __init__(self, items: AsyncIterator[Any]) -> None:
        super().__init__()
        self._items = items
        self._closing: asyncio.Task[None] | None = None

    def cancel(self) -> bool:
        if self._code is not None:
            return False
        self._cancelled = True
        self._end(grpc.StatusCode.CANCELLED)
        # The handler is suspended at a yield: closing it runs its cleanup (and its
        # interceptor records CANCELLED), as a real server cancels an abandoned stream.
        aclose = getattr(self._items, "aclose", None)
        if aclose is not None:
            self._closing = asyncio.ensure_future(aclose())
        return True

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._read()

    async def _read(self) -> AsyncIterator[Any]:
        try:
            async for item in self._items:
                if self._cancelled:
                    break
                yield item
        except AioRpcError as error:
            self._end(error.code(), error)
            raise
        except (asyncio.CancelledError, GeneratorExit):
            self._cancelled = True
            self._end(grpc.StatusCode.CANCELLED)
            raise
        self._end(grpc.StatusCode.OK)


class _Method:
    """One method's callable on an in-process channel: the stub's `channel.unary_unary(...)`."""

    def __init__(
        self,
        server: InProcessServer,
        method: str,
        request_serializer: Serializer,
        response_deserializer: Deserializer,
    ) -> None:
        self._server = server
        self._method = method
        self._serialize = request_serializer or (lambda request: request)
        self._deserialize = response_deserializer or (lambda reply: reply)

    def _start(
        self, request: Any, timeout: float | None, metadata: Any
    ) -> tuple[bytes, InProcessContext]:
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        return self._serialize(request), InProcessContext(_metadata(metadata), deadline)

    async def _resolve(self, context: InProcessContext) -> grpc.RpcMethodHandler:
        handler = await self._server.handler(self._method, context.invocation_metadata())
        if handler is None:
            raise _failed(grpc.StatusCode.UNIMPLEMENTED, f"Method not found: {self._method}")
        return handler


def _deadline_exceeded() -> AioRpcError:
    return _failed(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")


class _UnaryUnary(_Method, grpc.aio.UnaryUnaryMultiCallable):
    def __call__(
        self,
        request: Any,
        *,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: Any = None,
        wait_for_ready: bool | None = None,
        compression: Any = None,
    ) -> Any:
        payload, context = self._start(request, timeout, metadata)
        return _UnaryUnaryCall(self._invoke(payload, context, timeout))

    async def _invoke(
        self, payload: bytes, context: InProcessContext, timeout: float | None
    ) -> Any:
        handler = await self._resolve(context)
        behavior = handler.unary_unary
        if behavior is None:
            raise _failed(grpc.StatusCode.UNIMPLEMENTED, f"{self._method} is not unary")
        try:
            async with asyncio.timeout(timeout):
                reply = await behavior(handler.request_deserializer(payload), context)
        except AbortError:
            raise context.error() from None
        except TimeoutError:
            raise _deadline_exceeded() from None
        except Exception as exc:
            raise _unexpected(self._method, exc) from exc
        if context.code() not in (None, grpc.StatusCode.OK):
            # The handler set a status and returned instead of aborting.
            raise context.error()
        return self._deserialize(handler.response_serializer(reply))


class _UnaryStream(_Method, grpc.aio.UnaryStreamMultiCallable):
    def __call__(
        self,
        request: Any,
        *,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: Any = None,
        wait_for_ready: bool | None = None,
        compression: Any = None,
    ) -> Any:
        payload, context = self._start(request, timeout, metadata)
        return _UnaryStreamCall(self._items(payload, context, timeout))

    async def _items(
        self, payload: bytes, context: InProcessContext, timeout: float | None
    ) -> AsyncIterator[Any]:
        handler = await self._resolve(context)
        behavior = handler.unary_stream
        if behavior is None:
            raise _failed(grpc.StatusCode.UNIMPLEMENTED, f"{self._method} is not a stream")
        replies = behavior(handler.request_deserializer(payload), context)
        serialize = handler.response_serializer
        try:
            async with asyncio.timeout(timeout):
                async for reply in replies:
                    yield self._deserialize(serialize(reply))
        except AbortError:
            raise context.error() from None
        except TimeoutError:
            raise _deadline_exceeded() from None
        except Exception as exc:
            raise _unexpected(self._method, exc) from exc
        finally:
            await replies.aclose()
        if context.code() not in (None, grpc.StatusCode.OK):
            raise context.error()


class InProcessChannel(grpc.aio.Channel):
    """A channel whose calls are answered by `server`'s handlers in this process."""

    def __init__(self, server: InProcessServer) -> None:
        self._server = server

    async def __aenter__(self) -> InProcessChannel:
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        await self.close()

    async def close(self, grace: float | None = None) -> None:
        """Nothing to close: the services' lifetimes are the suite's."""

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        return grpc.ChannelConnectivity.READY

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity) -> None:
        raise NotImplementedError("an in-process channel is always READY")

    async def channel_ready(self) -> None:
        """Always ready."""

    def unary_unary(
        self,
        method: str,
        request_serializer: Serializer = None,
        response_deserializer: Deserializer = None,
        _registered_method: bool | None = False,
    ) -> Any:
        return _UnaryUnary(self._server, method, request_serializer, response_deserializer)

    def unary_stream(
        self,
        method: str,
        request_serializer: Serializer = None,
        response_deserializer: Deserializer = None,
        _registered_method: bool | None = False,
    ) -> Any:
        return _UnaryStream(self._server, method, request_serializer, response_deserializer)

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("no Tollgate backend takes a client stream")

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("no Tollgate backend takes a client stream")


# The in-process servers of this process, by address. An address names its service and is
# unique in the process (tests run several suites in one), so a stale one cannot reach a newer
# server; `open_channel` recognises the scheme.
SCHEME = "in-process:"
_servers: dict[str, InProcessServer] = {}
_registered = itertools.count(1)


def register(name: str, server: InProcessServer) -> str:
    """Make `server` reachable in this process; returns its address (`in-process:<name>/<n>`)."""
    address = f"{SCHEME}{name}/{next(_registered)}"
    _servers[address] = server
    return address


def unregister(address: str) -> None:
    _servers.pop(address, None)


def channel(target: str) -> InProcessChannel:
    server = _servers.get(target)
    if server is None:
        raise ValueError(
            f"{target}: no such service in this process (in-process addresses are made by the "
            "single-process suite, python -m tollgate.single_process)"
        )
    return InProcessChannel(server)
