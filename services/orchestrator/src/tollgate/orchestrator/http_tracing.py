"""The one transport layer under the Anthropic SDK: tracing and, when on, fleet pacing.

Every HTTP request the SDK makes gets a CLIENT span: the SDK's calls are the last hop of a
request's trace, and without a span of their own the time spent waiting on Claude (and each retry,
each fallback model) is invisible inside the orchestrator's server span. The span covers the whole
response: for a streamed answer it ends when the SDK closes the body, not when the headers arrive.
No trace context is sent to Anthropic.

With a pacer (`pacing.py`), the same layer hands the rate-limit headers of every Messages response
to it. Both jobs live in one transport rather than two stacked ones because each layer is paid on
every call; without a pacer (pacing off), no header is read at all.

A unary Messages call that nobody traces does not go through httpx at all (`post`): it is sent on
the same aiohttp session the SDK's transport sends on (one pool), as that transport would send it,
paced the same way. The httpx layer, the conversion of the request into aiohttp's and of the
response back into httpx's cost about 0.2 ms of CPU per call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import aiohttp
import httpx2 as httpx  # the HTTP library the anthropic SDK is built on
from multidict import CIMultiDictProxy
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from yarl import URL

from tollgate.common import telemetry
from tollgate.orchestrator.pacing import PacedCall, Pacer, report_response, sending

try:
    from anthropic._vendor.httpx_aiohttp import AiohttpTransport
except ImportError:  # an SDK without it: httpx's own transport, and no direct path
    AiohttpTransport = None  # type: ignore[assignment,misc]

# As the SDK's own client: many concurrent generations share one pool.
_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)


def upstream_transport() -> httpx.AsyncBaseTransport:
    """The transport under the SDK: aiohttp, the SDK's own optional transport (what its
    `DefaultAioHttpClient` uses). It parses HTTP in C where httpx's default parses it in Python:
    about 0.3-0.5 ms less CPU per call, measured with the SDK against the emulator. The SDK
    keeps it in a private module; an SDK without it gets httpx's transport, as before."""
    if AiohttpTransport is None:
        return httpx.AsyncHTTPTransport(limits=_LIMITS)
    return AiohttpTransport(limits=_LIMITS)


@dataclass(frozen=True)
class RawAnswer:
    """A response as it came: the body still encoded when `Content-Encoding` says so."""

    status: int
    headers: CIMultiDictProxy[str]
    raw_headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


class UpstreamTransport(httpx.AsyncBaseTransport):
    """Traces every request; with a pacer, reports each Messages response's rate limits to it."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport | None = None, pacer: Pacer | None = None
    ) -> None:
        self._inner = inner or upstream_transport()
        self._pacer = pacer

    @property
    def posts_directly(self) -> bool:
        """Whether `post` can be used: the SDK's transport is aiohttp's."""
        return AiohttpTransport is not None and isinstance(self._inner, AiohttpTransport)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        # The SDK sends no query string to /v1/messages: the URL is then already query-free,
        # and copying it (httpx re-parses it) is skipped.
        full = str(url.copy_with(query=None)) if url.query else str(url)
        span = telemetry.tracer().start_span(
            f"{request.method} {url.path}",
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": request.method,
                "url.full": full,
                "server.address": url.host,
                "server.port": url.port or (443 if url.scheme == "https" else 80),
            },
        )
        call = sending(url.path) if self._pacer is not None else None
        try:
            try:
                response = await self._inner.handle_async_request(request)
            except Exception as exc:
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                span.end()
                raise
        except BaseException:
            await self._landed(call)
            raise
        span.set_attribute("http.response.status_code", response.status_code)
        if response.status_code >= 400:
            span.set_attribute("error.type", str(response.status_code))
            span.set_status(Status(StatusCode.ERROR))
        response.stream = _EndSpanOnClose(response.stream, span)
        await self._answered(call, response.headers)
        return response

    async def post(
        self, url: URL, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> RawAnswer:
        """A POST sent straight on the SDK transport's aiohttp session, with no span (only for
        calls nobody traces; `posts_directly` must be true), exactly as that transport sends
        it: no redirects, no compression either way, `timeout` for the connection, the pool
        and each read. Raises aiohttp's errors as they are."""
        transport = self._inner
        assert isinstance(transport, AiohttpTransport)  # see posts_directly
        if not isinstance(transport.client, aiohttp.ClientSession):
            transport.client = transport.get_client()  # as the transport does on its first call
        call = sending(url.path) if self._pacer is not None else None
        try:
            async with transport.client.request(
                "POST",
                url,
                headers=headers,
                data=body,
                allow_redirects=False,
                auto_decompress=False,
                compress=False,
                timeout=aiohttp.ClientTimeout(
                    sock_connect=timeout, sock_read=timeout, connect=timeout
                ),
            ) as response:
                answer = RawAnswer(
                    response.status, response.headers, response.raw_headers, await response.read()
                )
        except BaseException:
            await self._landed(call)
            raise
        await self._answered(call, answer.headers)
        return answer

    async def _landed(self, call: PacedCall | None) -> None:
        if call is not None and call.counted and self._pacer is not None:
            await self._pacer.landed(call.model)

    async def _answered(self, call: PacedCall | None, headers: Mapping[str, str]) -> None:
        if call is not None and self._pacer is not None:
            await report_response(self._pacer, call, headers)

    async def aclose(self) -> None:
        await self._inner.aclose()


class _EndSpanOnClose(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream | httpx.SyncByteStream, span: Span) -> None:
        assert isinstance(inner, httpx.AsyncByteStream)
        self._inner = inner
        self._span = span

    def __aiter__(self) -> AsyncIterator[bytes]:
        # The inner stream's own iterator: no generator of ours in the path of every chunk.
        return self._inner.__aiter__()

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._span.end()
