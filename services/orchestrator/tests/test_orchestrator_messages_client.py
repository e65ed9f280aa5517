"""The SDK's call span is built only while spans are exported, and the untraced paths (straight on
the aiohttp session, or on the SDK's httpx client when the transport is not aiohttp's) send the
same request and read the same answer, and raise the same errors, as `messages.create`."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anthropic
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from tollgate.common.telemetry import RecordWhileExported, spans_exported
from tollgate.orchestrator import messages_client
from tollgate.orchestrator.http_tracing import UpstreamTransport
from tollgate.orchestrator.messages_client import MessagesClient

ANSWER = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-5-5",
    "content": [{"type": "text", "text": "Still for sale."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 12, "output_tokens": 4},
}
USAGE = {"input_tokens": 12, "output_tokens": 1, "cache_read_input_tokens": 7}
TOOL = {"type": "tool_use", "id": "toolu_1", "name": "record", "input": {}}
EVENTS = [
    {"type": "message_start", "message": {**ANSWER, "content": [], "usage": USAGE}},
    {"type": "ping"},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Yes"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": TOOL},
    {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "input_json_delta", "partial_json": '{"a": 1}'},
    },
    {"type": "content_block_stop", "index": 1},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"output_tokens": 9},
    },
    {"type": "message_stop"},
]
# A stream the server breaks off with an error event after it began.
BROKEN_OFF = [*EVENTS[:4], {"type": "error", "error": {"type": "overloaded_error", "message": "x"}}]
PARAMS: dict[str, Any] = {
    "model": "claude-sonnet-5-5",
    "max_tokens": 64,
    "system": [{"type": "text", "text": "Be brief. ✓", "cache_control": {"type": "ephemeral"}}],
    "messages": [{"role": "user", "content": [{"type": "text", "text": "Is it for sale?"}]}],
    "extra_body": {"temperature": 0.5},
}
# Headers that differ between the SDK's call and the untraced one by design: the marker the
# raw-response wrapper adds for its own use, and trace context (never sent while untraced).
OWN_HEADERS = ("x-stainless-raw-response", "traceparent", "tracestate")
# How each client is reached: the SDK's call, straight on aiohttp, on the SDK's httpx client.
TRACED, DIRECT, HTTPX = "traced", "direct", "httpx"


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Upstream:
    """Answers like the Messages API on a local port and keeps every request it was sent."""

    status: int = 200
    # With a status of 307 or 308: where to (the server answers there).
    moved_to: str = ""
    gzip: bool = False
    delay: float = 0.0
    events: list[dict[str, Any]] = field(default_factory=lambda: EVENTS)
    requests: list[Seen] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        status = self.status
        if self.moved_to:
            if request.path != self.moved_to:
                return web.Response(status=status, headers={"location": self.moved_to})
            status = 200
        # The requests answered (a redirect is not kept).
        self.requests.append(Seen(request.path, dict(request.headers), body))
        await asyncio.sleep(self.delay)
        headers = {"retry-after": "3"}
        if status != 200:
            payload: Any = {"type": "error", "error": {"type": "some_error", "message": "slow"}}
            content, kind = json.dumps(payload).encode(), "application/json"
        elif body.get("stream"):
            sse = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in self.events)
            content, kind = sse.encode(), "text/event-stream"
        else:
            content, kind = json.dumps(ANSWER).encode(), "application/json"
        if self.gzip:
            content = gzip.compress(content)
            headers["content-encoding"] = "gzip"
        return web.Response(status=status, body=content, content_type=kind, headers=headers)


@pytest.fixture
async def serve() -> AsyncIterator[Any]:
    """`await serve(upstream)`: the base URL of a local server answering as `upstream` says."""
    servers: list[TestServer] = []

    async def start(upstream: Upstream) -> str:
        app = web.Application()
        app.router.add_post("/proxy/v1/messages", upstream.handle)
        app.router.add_post("/moved/v1/messages", upstream.handle)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return str(server.make_url("/proxy"))

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def clients_over() -> AsyncIterator[Any]:
    """`clients_over(base_url)`: one client per path, each over a transport of its own, as the
    orchestrator builds it."""
    sdks: list[anthropic.AsyncAnthropic] = []

    def make(base_url: str) -> dict[str, MessagesClient]:
        made = {}
        for path in (TRACED, DIRECT, HTTPX):
            upstream = UpstreamTransport()
            http = anthropic.DefaultAsyncHttpxClient(transport=upstream)
            sdk = anthropic.AsyncAnthropic(
                api_key="k", base_url=base_url, max_retries=0, http_client=http
            )
            sdks.append(sdk)
            made[path] = MessagesClient(sdk, upstream if path == DIRECT else None)
        return made

    yield make
    for sdk in sdks:
        await sdk.close()


async def read_into(received: list[Any], stream: Any) -> None:
    async with stream as events:
        async for event in events:
            received.append(event)


def exporting(monkeypatch: pytest.MonkeyPatch, on: bool) -> None:
    monkeypatch.setattr(messages_client, "spans_exported", lambda: on)


def test_spans_count_as_exported_once_a_processor_is_attached(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sampler = RecordWhileExported(ALWAYS_ON)
    provider = TracerProvider(sampler=sampler)
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    assert not spans_exported()
    sampler.exporting = True
    assert spans_exported()
    # Someone else's provider: the SDK keeps its spans.
    monkeypatch.setattr(trace, "get_tracer_provider", TracerProvider)
    assert spans_exported()


@pytest.mark.parametrize(
    "upstream",
    [Upstream(), Upstream(gzip=True), Upstream(status=307, moved_to="/moved/v1/messages")],
    ids=["plain", "gzip", "redirected"],
)
async def test_every_path_sends_the_same_request_and_reads_the_same_answer(
    monkeypatch: pytest.MonkeyPatch, serve: Any, clients_over: Any, upstream: Upstream
) -> None:
    clients = clients_over(await serve(upstream))
    for path, client in clients.items():
        exporting(monkeypatch, path == TRACED)
        assert json.loads(await client.create(PARAMS, 12.5)) == ANSWER
    traced, *untraced = upstream.requests[-3:]
    assert traced.path == (upstream.moved_to or "/proxy/v1/messages")
    assert traced.body["temperature"] == 0.5
    assert "extra_body" not in traced.body
    assert traced.headers["x-stainless-timeout"] == "12.5"
    expected = {k: v for k, v in traced.headers.items() if k.lower() not in OWN_HEADERS}
    for seen in untraced:
        assert (seen.path, seen.headers, seen.body) == (traced.path, expected, traced.body)


async def test_every_path_streams_the_same_events(
    monkeypatch: pytest.MonkeyPatch, serve: Any, clients_over: Any
) -> None:
    upstream = Upstream()
    seen = []
    for path, client in clients_over(await serve(upstream)).items():
        exporting(monkeypatch, path == TRACED)
        async with await client.stream(PARAMS, 12.5) as events:
            seen.append([event async for event in events])
    assert seen[0] == seen[1] == seen[2]
    # Every event but the ping, in order.
    assert [event.WhichOneof("event") for event in seen[0]] == [
        event["type"] for event in EVENTS if event["type"] != "ping"
    ]
    start, delta = seen[0][0].message_start, seen[0][-2].message_delta
    assert (start.usage.cache_read_input_tokens, delta.usage.output_tokens) == (7, 9)
    assert seen[0][5].content_block_delta.partial_json == '{"a": 1}'
    assert all(request.body == upstream.requests[0].body for request in upstream.requests)
    assert upstream.requests[0].body["stream"] is True


async def test_an_error_event_mid_stream_is_the_sdks_error_on_every_path(
    monkeypatch: pytest.MonkeyPatch, serve: Any, clients_over: Any
) -> None:
    raised = []
    for path, client in clients_over(await serve(Upstream(events=BROKEN_OFF))).items():
        exporting(monkeypatch, path == TRACED)
        received: list[Any] = []
        with pytest.raises(anthropic.APIStatusError) as caught:
            await read_into(received, await client.stream(PARAMS, 12.5))
        assert len(received) == 3  # what came before the error
        raised.append(caught.value)
    traced, *untraced = raised
    for other in untraced:
        assert (type(other), str(other), other.body) == (type(traced), str(traced), traced.body)


@pytest.mark.parametrize(
    ("upstream", "error"),
    [
        (Upstream(status=429), anthropic.RateLimitError),
        (Upstream(status=529), anthropic.OverloadedError),
        (Upstream(status=500), anthropic.InternalServerError),
        (Upstream(status=400), anthropic.BadRequestError),
        (Upstream(status=429, gzip=True), anthropic.RateLimitError),
        (Upstream(delay=1.0), anthropic.APITimeoutError),
        (None, anthropic.APIConnectionError),  # nothing listens
    ],
)
@pytest.mark.parametrize("streamed", [False, True])
async def test_every_path_raises_the_sdks_errors(
    monkeypatch: pytest.MonkeyPatch,
    serve: Any,
    clients_over: Any,
    upstream: Upstream | None,
    error: type[anthropic.APIError],
    streamed: bool,
) -> None:
    base_url = await serve(upstream) if upstream is not None else "http://127.0.0.1:9/proxy"
    raised = []
    for path, client in clients_over(base_url).items():
        exporting(monkeypatch, path == TRACED)
        call = client.stream if streamed else client.create
        with pytest.raises(error) as caught:
            await call(PARAMS, 0.3)
        raised.append(caught.value)
    traced, *untraced = raised
    for other in untraced:
        assert type(other) is type(traced)
        assert str(other) == str(traced)
        assert str(other.request.url) == str(traced.request.url)
        if isinstance(traced, anthropic.APIStatusError):
            assert isinstance(other, anthropic.APIStatusError)
            assert other.body == traced.body
            # What the retries read the server's hint from.
            assert other.response.headers["retry-after"] == "3"
