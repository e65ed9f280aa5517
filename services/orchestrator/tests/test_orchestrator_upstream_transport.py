"""The one transport layer under the SDK: a span per request, pacing reports only when paced,
for requests through httpx and for the ones it posts directly alike."""

from __future__ import annotations

import aiohttp
import httpx2 as httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

from tollgate.orchestrator.deadline import Deadline
from tollgate.orchestrator.http_tracing import UpstreamTransport
from tollgate.orchestrator.pacing import calling
from tollgate.orchestrator.ratelimit_headers import Allowance, RateLimitState

LIMITS = {
    "anthropic-ratelimit-requests-limit": "50",
    "anthropic-ratelimit-requests-remaining": "49",
}


class RecordingPacer:
    def __init__(self) -> None:
        self.answers: list[tuple[str, RateLimitState, bool]] = []
        self.landings: list[str] = []

    async def admit(self, model: str, deadline: Deadline) -> bool:
        return True

    async def answered(self, model: str, state: RateLimitState, *, counted: bool) -> None:
        self.answers.append((model, state, counted))

    async def landed(self, model: str) -> None:
        self.landings.append(model)


def answering(status: int = 200, headers: dict[str, str] | None = None) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers or {}, content=b'{"id": "msg_1"}')

    return httpx.MockTransport(handle)


async def test_a_paced_messages_response_reports_its_limits_and_the_body_still_reads() -> None:
    pacer = RecordingPacer()
    transport = UpstreamTransport(answering(headers=LIMITS), pacer)
    async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as client:
        async with calling(pacer, "claude-a", counted=True):
            response = await client.post("/v1/messages", content=b"{}")
        assert response.content == b'{"id": "msg_1"}'
        # A request made outside a paced call (or to another path) reports nothing.
        await client.post("/v1/messages", content=b"{}")
        async with calling(pacer, "claude-a", counted=True):
            await client.get("/v1/models")
    assert pacer.answers == [
        ("claude-a", RateLimitState(requests=Allowance(50, 49)), True),
    ]
    # The models request was not the paced call: it never went out, so the slot is given back.
    assert pacer.landings == ["claude-a"]


async def test_a_failed_paced_request_leaves_the_in_flight_count() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    pacer = RecordingPacer()
    transport = UpstreamTransport(httpx.MockTransport(fail), pacer)
    async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as client:
        with pytest.raises(httpx.ConnectError):
            async with calling(pacer, "claude-a", counted=True):
                await client.post("/v1/messages", content=b"{}")
    assert pacer.landings == ["claude-a"]
    assert pacer.answers == []


async def test_without_a_pacer_the_response_passes_through() -> None:
    transport = UpstreamTransport(answering(status=429, headers=LIMITS))
    async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as client:
        response = await client.post("/v1/messages?beta=true", content=b"{}")
    assert response.status_code == 429
    assert response.content == b'{"id": "msg_1"}'


async def test_a_direct_post_is_paced_like_a_request_through_httpx() -> None:
    async def handle(request: web.Request) -> web.Response:
        return web.Response(body=b'{"id": "msg_1"}', headers=LIMITS)

    app = web.Application()
    app.router.add_post("/v1/messages", handle)
    pacer = RecordingPacer()
    transport = UpstreamTransport(pacer=pacer)
    assert transport.posts_directly
    async with TestServer(app, host="127.0.0.1") as server:
        url = server.make_url("/v1/messages")
        async with calling(pacer, "claude-a", counted=True):
            answer = await transport.post(url, {}, b"{}", 5.0)
        # Outside a paced call, nothing is reported.
        await transport.post(url, {}, b"{}", 5.0)
    await transport.aclose()
    assert (answer.status, answer.body) == (200, b'{"id": "msg_1"}')
    assert pacer.answers == [
        ("claude-a", RateLimitState(requests=Allowance(50, 49)), True),
    ]
    assert pacer.landings == []


async def test_a_failed_direct_post_leaves_the_in_flight_count() -> None:
    pacer = RecordingPacer()
    transport = UpstreamTransport(pacer=pacer)
    with pytest.raises(aiohttp.ClientConnectionError):
        async with calling(pacer, "claude-a", counted=True):
            await transport.post(URL("http://127.0.0.1:9/v1/messages"), {}, b"{}", 5.0)
    await transport.aclose()
    assert pacer.landings == ["claude-a"]
    assert pacer.answers == []
