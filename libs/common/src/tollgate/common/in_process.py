"""Calls to a service in the same process, through its own handlers and interceptors.

The single-process suite (`tollgate.single_process`) runs every service on one event loop.
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

Each call starts at once, as a grpc.aio call does, and its handler runs in a task of its own
with a context of its own, as a server's handler does: the handler's span and log fields never
leak into the caller (not even between two items of a stream), its deadline and its cancellation
are the handler task's, never the caller's. A stream's handler runs up to STREAM_BUFFER replies
ahead of its reader. tests: libs/common/tests/test_common_in_process.py runs the same assertions
against a real gRPC server and an in-process one.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import logging
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Generator,
    Iterable,
    Sequence,
)
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
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}
        self._generic: list[grpc.GenericRpcHandler] = []
        self.stopped = False
        # Chained once: the first interceptor is the outermost, as grpc.aio.server runs them.
        resolve: Continuation = self._find
        for interceptor in reversed(tuple(interceptors)):
            resolve = _chain(interceptor, resolve)
        self._resolve = resolve

    def stop(self) -> None:
        """From now on every call is UNAVAILABLE, as calls to a stopped server are: channels
        already open to it hold the server, so unregistering alone would not stop them."""
        self.stopped = True

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
        return await self._resolve(_CallDetails(method, metadata))

    async def _find(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        found = self._handlers.get(details.method)
        for generic in self._generic if found is None else ():
            found = generic.service(details)
            if found is not None:
                break
        return found


Continuation = Callable[[grpc.HandlerCallDetails], Awaitable["grpc.RpcMethodHandler | None"]]


def _chain(interceptor: grpc.aio.ServerInterceptor, inner: Continuation) -> Continuation:
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
        self._initial = Metadata()
        self._initial_sent = asyncio.Event()

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
        # A handler may send it to say it is ready (the ledger's StreamAlerts: "subscribed"),
        # so the caller's `initial_metadata()` waits for it, as over the network.
        if not self._initial_sent.is_set():
            self._initial = Metadata(*initial_metadata)
            self.initial_metadata_sent()

    def initial_metadata_sent(self) -> None:
        """The initial metadata is final: sent, or implied by a reply or the end of the call."""
        self._initial_sent.set()

    async def sent_initial_metadata(self) -> Metadata:
        await self._initial_sent.wait()
        return self._initial

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

    def cancel(self) -> None:
        """The caller cancelled the call, or its deadline passed."""
        self._cancelled = True

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
    # (key, value) pairs already, from a list or grpc.aio.Metadata: copied, not rebuilt.
    return tuple(metadata or ())


def _failed(code: grpc.StatusCode, details: str) -> AioRpcError:
    return AioRpcError(code, Metadata(), Metadata(), details)


def _unexpected(method: str, exc: BaseException) -> AioRpcError:
    # A real server answers UNKNOWN with the exception's text; the suite's interceptor turns
    # every handler exception into a status first, so this is reached only without it.
    log.error("in-process handler failed", exc_info=exc, extra={"method": method})
    return _failed(grpc.StatusCode.UNKNOWN, f"Unexpected {type(exc).__name__}")


def _deadline_exceeded() -> AioRpcError:
    return _failed(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")


def _handler_task(work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    # The handler runs in a task of its own, in a context of its own, as on a gRPC server:
    # - the interceptor's span and log fields (context variables) never become the caller's,
    #   not even between two items of a stream, and are reset in the context that set them;
    # - the deadline cancels the handler, never the caller's task;
    # - cancelling the call (from any task) cancels the handler's task.
    return asyncio.get_running_loop().create_task(work, context=contextvars.Context())


class _Call:
    """What every in-process call shares: the handler's task, its outcome, done callbacks."""

    def __init__(self, task: asyncio.Task[Any], context: InProcessContext) -> None:
        self._task = task
        self._context = context
        self._code: grpc.StatusCode | None = None
        self._details = ""
        self._trailing: Metadata = Metadata()
        self._callbacks: list[DoneCallback] = []
        self._cancelled = False
        task.add_done_callback(self._handler_ended)

    def _handler_ended(self, task: asyncio.Task[Any]) -> None:
        self._context.initial_metadata_sent()
        if task.cancelled():
            self._end(grpc.StatusCode.CANCELLED)
            return
        # Read here, so an outcome nobody awaits is never logged as "never retrieved".
        error = task.exception()
        if isinstance(error, AioRpcError):
            self._end(error.code(), error)
        elif error is not None:
            self._end(grpc.StatusCode.UNKNOWN)
        else:
            self._end(grpc.StatusCode.OK)

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

    def cancel(self) -> bool:
        if self._task.done():
            # Its outcome may be read already (a stream's end, an awaited reply) while the
            # task's done callbacks wait for the next loop turn: a finished call stays as it
            # ended, as on the network (the gateway cancels every stream it has read).
            self._handler_ended(self._task)
        if self._code is not None:
            return False
        self._cancelled = True
        self._context.cancel()
        self._task.cancel()
        self._end(grpc.StatusCode.CANCELLED)
        return True

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
        return self._context.time_remaining()

    async def wait_for_connection(self) -> None:
        """Nothing to connect to."""

    async def _finished(self) -> None:
        if not self._task.done():
            await asyncio.wait([self._task])
        # The task's done callbacks run a loop turn after it ends: the outcome is read now.
        self._handler_ended(self._task)

    async def code(self) -> grpc.StatusCode | None:
        await self._finished()
        return self._code

    async def details(self) -> str:
        await self._finished()
        return self._details

    async def initial_metadata(self) -> Metadata:
        return await self._context.sent_initial_metadata()

    async def trailing_metadata(self) -> Metadata:
        await self._finished()
        return self._trailing


class _UnaryUnaryCall(_Call):
    def __await__(self) -> Generator[Any, None, Any]:
        try:
            return (yield from self._task.__await__())
        except asyncio.CancelledError:
            # The awaiting task was cancelled (awaiting a task cancels it too), or the call was.
            self.cancel()
            raise


# Replies a stream's handler may be ahead of its reader, as a network call's buffers let it be.
STREAM_BUFFER = 8


class _StreamEnd:
    """Follows a stream's last reply: how the handler ended."""

    def __init__(self, error: AioRpcError | None) -> None:
        self.error = error


class _Replies:
    """From a stream's handler to its reader: at most STREAM_BUFFER replies waiting, then the
    end, which never waits (a handler that has ended must not hang on a reader that left)."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._room = asyncio.Semaphore(STREAM_BUFFER)

    async def put(self, reply: Any) -> None:
        await self._room.acquire()
        self._queue.put_nowait(reply)

    def end(self, error: AioRpcError | None) -> None:
        self._queue.put_nowait(_StreamEnd(error))

    async def get(self) -> Any:
        item = await self._queue.get()
        if not isinstance(item, _StreamEnd):
            self._room.release()
        return item


class _UnaryStreamCall(_Call):
    def __init__(
        self, task: asyncio.Task[Any], context: InProcessContext, replies: _Replies
    ) -> None:
        super().__init__(task, context)
        self._replies = replies
        self._end_read: _StreamEnd | None = None

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._read_all()

    async def _read_all(self) -> AsyncIterator[Any]:
        while (reply := await self.read()) is not grpc.aio.EOF:
            yield reply

    async def read(self) -> Any:
        if self._end_read is None:
            if self._cancelled:
                raise asyncio.CancelledError()
            try:
                item = await self._replies.get()
            except asyncio.CancelledError:
                # A reader cancelled mid-stream cancels the call, as grpc.aio's reader does.
                self.cancel()
                raise
            if not isinstance(item, _StreamEnd):
                return item
            self._end_read = item
        if self._end_read.error is not None:
            raise self._end_read.error
        return grpc.aio.EOF


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
        # The call starts at once, as a grpc.aio call does, whether or not it is awaited.
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        context = InProcessContext(_metadata(metadata), deadline)
        return self._begin(self._serialize(request), context, timeout)

    def _begin(self, payload: bytes, context: InProcessContext, timeout: float | None) -> Any:
        """The call object, its handler started in a task of its own."""
        raise NotImplementedError

    async def _behavior(
        self, context: InProcessContext, kind: str
    ) -> tuple[grpc.RpcMethodHandler, Callable[..., Any]]:
        """The method's handler (through the interceptors) and its `kind` of behavior."""
        if self._server.stopped:
            raise _failed(grpc.StatusCode.UNAVAILABLE, "the service has stopped")
        handler = await self._server.handler(self._method, context.invocation_metadata())
        if handler is None:
            raise _failed(grpc.StatusCode.UNIMPLEMENTED, f"Method not found: {self._method}")
        behavior = getattr(handler, kind)
        if behavior is None:
            raise _failed(grpc.StatusCode.UNIMPLEMENTED, f"{self._method} is not {kind}")
        return handler, behavior

    @contextlib.asynccontextmanager
    async def _status(
        self, context: InProcessContext, timeout: float | None
    ) -> AsyncIterator[None]:
        """The deadline around the handler, and how the handler ended as the caller sees it."""
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                yield
        except AbortError:
            raise context.error() from None
        except TimeoutError:
            if not deadline.expired():
                raise _unexpected(self._method, TimeoutError()) from None
            raise _deadline_exceeded() from None
        except asyncio.CancelledError:
            context.cancel()
            raise
        except AioRpcError:
            raise
        except Exception as exc:
            raise _unexpected(self._method, exc) from exc
        if context.code() not in (None, grpc.StatusCode.OK):
            # The handler set a status and returned instead of aborting.
            raise context.error()


class _UnaryUnary(_Method, grpc.aio.UnaryUnaryMultiCallable):
    def _begin(self, payload: bytes, context: InProcessContext, timeout: float | None) -> Any:
        return _UnaryUnaryCall(_handler_task(self._invoke(payload, context, timeout)), context)

    async def _invoke(
        self, payload: bytes, context: InProcessContext, timeout: float | None
    ) -> Any:
        async with self._status(context, timeout):
            handler, behavior = await self._behavior(context, "unary_unary")
            reply = await behavior(handler.request_deserializer(payload), context)
        return self._deserialize(handler.response_serializer(reply))


class _UnaryStream(_Method, grpc.aio.UnaryStreamMultiCallable):
    def _begin(self, payload: bytes, context: InProcessContext, timeout: float | None) -> Any:
        replies = _Replies()
        task = _handler_task(self._produce(payload, context, timeout, replies))
        return _UnaryStreamCall(task, context, replies)

    async def _produce(
        self,
        payload: bytes,
        context: InProcessContext,
        timeout: float | None,
        replies: _Replies,
    ) -> None:
        """Run the handler, handing its replies to the reader; last, how it ended. A cancelled
        call cancels this task, wherever it waits (in the handler, or on a full buffer)."""
        try:
            async with self._status(context, timeout):
                handler, behavior = await self._behavior(context, "unary_stream")
                serialize = handler.response_serializer
                items = behavior(handler.request_deserializer(payload), context)
                try:
                    async for reply in items:
                        context.initial_metadata_sent()
                        await replies.put(self._deserialize(serialize(reply)))
                finally:
                    # Closed here, in the handler's own task and context, whatever ended it.
                    await items.aclose()
        except AioRpcError as error:
            replies.end(error)
            raise
        replies.end(None)


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
    if not name or "/" in name:
        raise ValueError(f"{name!r}: an in-process service needs a name without '/'")
    address = f"{SCHEME}{name}/{next(_registered)}"
    _servers[address] = server
    return address


def unregister(address: str) -> None:
    """Make the service at `address` unreachable; new channels to it are refused. An address
    that is not registered is a mistake of the caller's (a second stop, a stale address)."""
    if _servers.pop(address, None) is None:
        raise ValueError(_unknown(address))


def channel(target: str) -> InProcessChannel:
    server = _servers.get(target)
    if server is None:
        raise ValueError(_unknown(target))
    return InProcessChannel(server)


def _unknown(address: str) -> str:
    return (
        f"{address}: no such service in this process (in-process addresses are made by "
        "tollgate.common.in_process.register, e.g. in the single-process suite)"
    )
