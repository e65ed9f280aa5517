"""Calls to the Messages API through the official SDK, with as little per-call work as it allows.

While spans are exported (`telemetry.spans_exported`), a call is `messages.create` on the client,
so the SDK records its `anthropic.messages.create` span and the trace is unchanged whenever anyone
receives it.

Otherwise the call is sent straight on the SDK's own HTTP client (its pool and transport), as one
attempt of the SDK's request pipeline would send it, without the pipeline's per-call work: the
SDK builds its options models, copies them, walks the body, rebuilds every header and merges them
on each call, which cost about 0.45 ms of CPU per call against the emulator. Here the SDK builds
the headers once (all but the two that carry the timeout, which change per call), the JSON body
is encoded once with `json.dumps`, and the URL is parsed once. A failure is the SDK's own error,
made by the SDK: `APITimeoutError`, `APIConnectionError`, or the `APIStatusError` subclass of the
response's status (`RateLimitError`, `InternalServerError`, ...); the SDK's retries are off on
this client anyway (the orchestrator retries), so one attempt is all the SDK would send.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import aiohttp
import anthropic
import httpx2 as httpx  # the HTTP library the anthropic SDK is built on
from anthropic._models import FinalRequestOptions
from anthropic.types import RawMessageStreamEvent
from yarl import URL

from tollgate.common.anthropic_format import stream_event_from_json
from tollgate.common.telemetry import spans_exported
from tollgate.orchestrator.http_tracing import UpstreamTransport
from tollgate.v1 import common_pb2

MessageStream = anthropic.AsyncStream[RawMessageStreamEvent]
StreamEvent = common_pb2.StreamEvent

# The headers the SDK derives from a call's timeout; every other header is the same on every call.
_TIMEOUT_HEADERS = ("x-stainless-timeout", "x-stainless-read-timeout")


def request_body(params: dict[str, Any]) -> bytes:
    """The JSON body `messages.create(**params)` sends: `extra_body` merged over the rest,
    encoded as the SDK encodes it (compact, UTF-8, no NaN)."""
    fields = {key: value for key, value in params.items() if key != "extra_body"}
    fields.update(params.get("extra_body") or {})
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


class MessagesClient:
    def __init__(
        self, client: anthropic.AsyncAnthropic, upstream: UpstreamTransport | None = None
    ) -> None:
        self.traced = client
        self._http = client._client  # the SDK's HTTP client: its pool, transport and limits
        # The SDK appends the path to its base URL (which may carry a path of its own).
        self.url = httpx.URL(str(client.base_url).rstrip("/") + "/v1/messages")
        self._direct_url = URL(str(self.url), encoded=True)
        # Made on the first call: the SDK names the running async library in a header.
        self._headers: dict[str, str] | None = None
        auth = client.custom_auth
        self._send_options: dict[str, Any] = {} if auth is None else {"auth": auth}
        # Unary calls skip httpx when the transport under the SDK can send them itself (and no
        # httpx authentication flow, such as the SDK's token credentials, has to run).
        self._upstream = upstream if upstream and upstream.posts_directly and not auth else None

    async def create(self, params: dict[str, Any], timeout: float) -> bytes:
        """A unary call's raw JSON body (the caller parses it once, into protobuf)."""
        if spans_exported():
            raw = await self.traced.messages.with_raw_response.create(**params, timeout=timeout)
            return await raw.read()
        if self._upstream is not None:
            return await self._post(self._upstream, request_body(params), timeout)
        response = await self._send(request_body(params), timeout, stream=False)
        return response.content

    async def stream(self, params: dict[str, Any], timeout: float) -> EventStream:
        """A streamed call's events, as protobuf (ping and unknown events left out)."""
        if spans_exported():
            events = await self.traced.messages.create(**params, stream=True, timeout=timeout)
            return EventStream(_sdk_events(events), events.close)
        response = await self._send(request_body({**params, "stream": True}), timeout, stream=True)
        return EventStream(_sse_events(response, self.traced), response.aclose)

    async def _send(self, body: bytes, timeout: float, *, stream: bool) -> httpx.Response:
        """One attempt, as the SDK's `_attempt_request` makes it, with its errors."""
        request = self._request(self._headers_for(timeout), body, timeout)
        try:
            response = await self._http.send(request, stream=stream, **self._send_options)
        except anthropic.AnthropicError:
            raise
        except Exception as err:
            raise _sdk_error(err, request) from err
        if not response.is_success:
            if not response.is_closed:
                await response.aread()
            raise self.traced._make_status_error_from_response(response)
        return response

    async def _post(self, upstream: UpstreamTransport, body: bytes, timeout: float) -> bytes:
        """`_send` without httpx: the same request on the same aiohttp session, the same
        errors, which the SDK's transport and the SDK would have made of aiohttp's."""
        headers = self._headers_for(timeout)
        try:
            answer = await upstream.post(self._direct_url, headers, body, timeout)
        except Exception as err:
            raise _sdk_error(err, self._request(headers, body, timeout)) from err
        if 200 <= answer.status < 300 and "content-encoding" not in answer.headers:
            return answer.body
        # An error, or a compressed body: decoded and made into an error by httpx and the SDK,
        # exactly as on their path.
        response = httpx.Response(
            answer.status,
            headers=list(answer.raw_headers),
            content=answer.body,
            request=self._request(headers, body, timeout),
        )
        if response.is_success:
            return response.content
        if response.has_redirect_location:
            # The SDK's HTTP client follows redirects (the Messages API sends none): the call is
            # made again on it, which follows this one as it would have.
            return (await self._send(body, timeout, stream=False)).content
        raise self.traced._make_status_error_from_response(response)

    def _request(self, headers: dict[str, str], body: bytes, timeout: float) -> httpx.Request:
        """The call as the SDK's HTTP client sends it (on the direct path, made only for an
        error to refer to)."""
        return self._http.build_request(
            "POST", self.url, content=body, headers=headers, timeout=timeout
        )

    def _headers_for(self, timeout: float) -> dict[str, str]:
        seconds = str(timeout)
        headers = self._headers or self._fixed_headers()
        return {**headers, _TIMEOUT_HEADERS[0]: seconds, _TIMEOUT_HEADERS[1]: seconds}

    def _fixed_headers(self) -> dict[str, str]:
        """Every header of a Messages call but the per-call timeout ones (and those that follow
        from the URL and the body): the SDK's, over its HTTP client's own defaults."""
        options = FinalRequestOptions.construct(method="post", url="/v1/messages", timeout=1.0)
        built = self._http.build_request(
            "POST", self.url, headers=self.traced._build_headers(options)
        ).headers
        for name in (*_TIMEOUT_HEADERS, "host", "content-length"):
            if name in built:
                del built[name]
        # Named as httpx hands them to the transport under it (lower case).
        self._headers = dict(built.multi_items())
        return self._headers


def _sdk_error(err: Exception, request: httpx.Request) -> anthropic.APIError:
    """What the SDK makes of a call that got no answer, on either path: a timeout (httpx's, or
    aiohttp's connect, pool and read timeouts, which the SDK's transport turns into httpx's) is
    `APITimeoutError`, anything else `APIConnectionError`."""
    if isinstance(err, httpx.TimeoutException | aiohttp.ServerTimeoutError):
        return anthropic.APITimeoutError(request=request)
    return anthropic.APIConnectionError(request=request)


class EventStream:
    """A streamed answer's events; leaving the `async with` closes the HTTP response (which stops
    generation upstream when the answer is not finished)."""

    def __init__(
        self, events: AsyncGenerator[StreamEvent, None], close: Callable[[], Awaitable[None]]
    ) -> None:
        self._events = events
        self._close = close

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(self, *_: object) -> None:
        try:
            await self._events.aclose()
        finally:
            await self._close()

    def __aiter__(self) -> AsyncGenerator[StreamEvent, None]:
        return self._events


async def _sdk_events(events: MessageStream) -> AsyncGenerator[StreamEvent, None]:
    """The SDK's typed events (the traced path: the SDK's span observes them) as protobuf."""
    async for event in events:
        converted = stream_event_from_json(event.model_dump())
        if converted is not None:
            yield converted


async def _sse_events(
    response: httpx.Response, client: anthropic.AsyncAnthropic
) -> AsyncGenerator[StreamEvent, None]:
    """The server-sent events decoded by the SDK's own decoder and read as the SDK's stream reads
    them (`AsyncStream.__stream__`: pings and unnamed events skipped, an `error` event raised as
    the SDK's status error), each event's JSON put straight into protobuf: the SDK's typed event
    and its dump cost about 23 us of CPU per event."""
    try:
        async for sse in client._make_sse_decoder().aiter_bytes(response.aiter_bytes()):
            if sse.event is None or sse.event == "ping":
                continue
            if sse.event == "error":
                body: Any = sse.data
                try:
                    body = sse.json()
                    message = f"{body}"
                except Exception:
                    message = sse.data or f"Error code: {response.status_code}"
                raise client._make_status_error(message, body=body, response=response)
            if not sse.data:
                continue
            converted = stream_event_from_json(sse.json())
            if converted is not None:
                yield converted
    finally:
        await response.aclose()
