"""Calls to the Messages API through the official SDK, with as little per-call work as it allows.

While spans are exported (`telemetry.spans_exported`), a call is `messages.create` on the traced
client, so the SDK records its `anthropic.messages.create` span. Otherwise it is the SDK's generic
`post` on an untraced copy of the client (same HTTP client, pool and transport): the same request
pipeline (headers, auth, timeout, errors as `anthropic.APIError`, SSE decoding), minus what only
serves typed calls. The body is serialized once with `json.dumps` from the parameters instead of
being walked, copied and encoded by the SDK, and the URL is parsed once here instead of on every
call. About 0.1 ms less CPU per call than `messages.create`, measured against an in-memory
transport, of which the SDK's own call span (attributes and trace headers built before it finds out
nobody records it) is 0.07-0.13 ms. Once a span processor is attached, the traced client makes the
calls again, so the trace (server span, SDK span, HTTP span) is unchanged whenever anyone receives
it.
"""

from __future__ import annotations

import json
from typing import Any, cast

import anthropic
import httpx2 as httpx  # the HTTP library the anthropic SDK is built on
from anthropic.types import Message, RawMessageStreamEvent

from tollgate.common.telemetry import spans_exported

MessageStream = anthropic.AsyncStream[RawMessageStreamEvent]


def request_body(params: dict[str, Any]) -> bytes:
    """The JSON body `messages.create(**params)` sends: `extra_body` merged over the rest,
    encoded as the SDK encodes it (compact, UTF-8, no NaN)."""
    fields = {key: value for key, value in params.items() if key != "extra_body"}
    fields.update(params.get("extra_body") or {})
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


class MessagesClient:
    def __init__(self, client: anthropic.AsyncAnthropic) -> None:
        self.traced = client
        self.untraced = client.with_options(open_telemetry=False)
        # The SDK appends the path to its base URL (which may carry a path of its own).
        # The SDK types the path as a string; a parsed URL goes through its pipeline as is.
        self.url = cast(str, httpx.URL(str(client.base_url).rstrip("/") + "/v1/messages"))

    async def create(self, params: dict[str, Any], timeout: float) -> bytes:
        """A unary call's raw JSON body (the caller parses it once, into protobuf)."""
        if spans_exported():
            raw = await self.traced.messages.with_raw_response.create(**params, timeout=timeout)
            return await raw.read()
        response = await self.untraced.post(
            self.url,
            cast_to=httpx.Response,
            content=request_body(params),
            options={"timeout": timeout},
        )
        return response.content

    async def stream(self, params: dict[str, Any], timeout: float) -> MessageStream:
        """A streamed call's events, as `messages.create(stream=True)` returns them."""
        if spans_exported():
            return await self.traced.messages.create(**params, stream=True, timeout=timeout)
        return await self.untraced.post(
            self.url,
            cast_to=Message,
            content=request_body({**params, "stream": True}),
            options={"timeout": timeout},
            stream=True,
            stream_cls=MessageStream,
        )
