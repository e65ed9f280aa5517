"""The SDK's call span is built only while spans are exported, and the untraced path sends the
same request and reads the same answer as `messages.create`."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2 as httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from tollgate.common.telemetry import RecordWhileExported, spans_exported
from tollgate.orchestrator import messages_client
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
EVENTS = [
    {"type": "message_start", "message": {**ANSWER, "content": []}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Yes"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "message_stop"},
]
PARAMS: dict[str, Any] = {
    "model": "claude-sonnet-5-5",
    "max_tokens": 64,
    "system": [{"type": "text", "text": "Be brief. ✓", "cache_control": {"type": "ephemeral"}}],
    "messages": [{"role": "user", "content": [{"type": "text", "text": "Is it for sale?"}]}],
    "extra_body": {"temperature": 0.5},
}


class Upstream:
    """Answers like the Messages API and keeps every request it was sent; with `fails`, raises
    that instead of answering."""

    def __init__(self, status: int = 200, fails: Exception | None = None) -> None:
        self.status = status
        self.fails = fails
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fails is not None:
            raise self.fails
        if self.status != 200:
            error = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}}
            return httpx.Response(self.status, json=error, headers={"retry-after": "3"})
        if json.loads(request.content).get("stream"):
            sse = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in EVENTS)
            return httpx.Response(
                200, content=sse.encode(), headers={"content-type": "text/event-stream"}
            )
        return httpx.Response(200, json=ANSWER)


def client_over(upstream: Upstream, base_url: str = "http://api.test/proxy") -> MessagesClient:
    http = anthropic.DefaultAsyncHttpxClient(transport=httpx.MockTransport(upstream))
    sdk = anthropic.AsyncAnthropic(api_key="k", base_url=base_url, max_retries=0, http_client=http)
    return MessagesClient(sdk)


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


async def test_both_paths_send_the_same_request_and_read_the_same_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    upstream = Upstream()
    client = client_over(upstream)
    bodies = []
    for on in (True, False):
        exporting(monkeypatch, on)
        bodies.append(json.loads(await client.create(PARAMS, 12.5)))
    assert bodies == [ANSWER, ANSWER]
    traced, untraced = upstream.requests
    assert str(untraced.url) == str(traced.url) == "http://api.test/proxy/v1/messages"
    assert json.loads(untraced.content) == json.loads(traced.content)
    assert json.loads(untraced.content)["temperature"] == 0.5
    assert "extra_body" not in json.loads(untraced.content)
    # The same headers, but the marker the raw-response wrapper adds for its own use.
    assert dict(untraced.headers) == {
        name: value
        for name, value in traced.headers.items()
        if name not in ("x-stainless-raw-response", "traceparent", "tracestate")
    }
    assert untraced.extensions["timeout"] == traced.extensions["timeout"]


async def test_both_paths_stream_the_same_events(monkeypatch: pytest.MonkeyPatch) -> None:
    upstream = Upstream()
    client = client_over(upstream, "http://api.test")
    seen = []
    for on in (True, False):
        exporting(monkeypatch, on)
        async with await client.stream(PARAMS, 12.5) as events:
            seen.append([event.model_dump() async for event in events])
    assert seen[0] == seen[1]
    assert [event["type"] for event in seen[1]] == [event["type"] for event in EVENTS]
    traced, untraced = upstream.requests
    assert json.loads(untraced.content) == json.loads(traced.content)
    assert json.loads(untraced.content)["stream"] is True


@pytest.mark.parametrize(
    ("upstream", "error"),
    [
        (Upstream(status=429), anthropic.RateLimitError),
        (Upstream(status=529), anthropic.OverloadedError),
        (Upstream(status=500), anthropic.InternalServerError),
        (Upstream(status=400), anthropic.BadRequestError),
        (Upstream(fails=httpx.ReadTimeout("slow")), anthropic.APITimeoutError),
        (Upstream(fails=httpx.ConnectError("refused")), anthropic.APIConnectionError),
    ],
)
@pytest.mark.parametrize("streamed", [False, True])
async def test_both_paths_raise_the_sdks_errors(
    monkeypatch: pytest.MonkeyPatch,
    upstream: Upstream,
    error: type[anthropic.APIError],
    streamed: bool,
) -> None:
    client = client_over(upstream)
    call = client.stream if streamed else client.create
    raised = []
    for on in (True, False):
        exporting(monkeypatch, on)
        with pytest.raises(error) as caught:
            await call(PARAMS, 5.0)
        raised.append(caught.value)
    traced, untraced = raised
    assert type(untraced) is type(traced)
    assert str(untraced) == str(traced)
    if isinstance(traced, anthropic.APIStatusError):
        assert isinstance(untraced, anthropic.APIStatusError)
        assert untraced.body == traced.body
        # What the retries read the server's hint from.
        assert untraced.response.headers["retry-after"] == "3"
