"""The server-sent-event form of a message, in the real API's event order.

``message_start`` (empty content) -> per block ``content_block_start``, a
``ping`` after the first one, ``content_block_delta`` chunks and
``content_block_stop`` -> ``message_delta`` (stop reason, cumulative usage) ->
``message_stop``. Building the events is kept apart from writing them so the
sequence can be checked without a socket.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tollgate.emulator.tokens import tokenize

TOKENS_PER_DELTA = 3
# Characters of tool-argument JSON per input_json_delta chunk.
JSON_CHARS_PER_DELTA = 12


@dataclass(frozen=True)
class StreamEvent:
    name: str
    data: dict[str, Any]
    # Output tokens this event delivers; the stream is paced by these.
    tokens: int = 0

    def encode(self) -> bytes:
        payload = json.dumps(self.data, separators=(",", ":"), ensure_ascii=False)
        return f"event: {self.name}\ndata: {payload}\n\n".encode()


def error_event(body: Mapping[str, Any]) -> StreamEvent:
    return StreamEvent("error", dict(body))


def _chunks(text: str, size: int) -> Iterator[str]:
    for start in range(0, len(text), size):
        yield text[start : start + size]


def _block_events(index: int, block: Mapping[str, Any]) -> Iterator[StreamEvent]:
    if block["type"] == "tool_use":
        opened = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        yield StreamEvent(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": opened},
        )
        # The real API opens every tool input with an empty partial_json.
        arguments = json.dumps(block["input"], ensure_ascii=False)
        for chunk in ["", *_chunks(arguments, JSON_CHARS_PER_DELTA)]:
            delta = {"type": "input_json_delta", "partial_json": chunk}
            yield StreamEvent(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
                tokens=len(tokenize(chunk)),
            )
    else:
        yield StreamEvent(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "text", "text": ""},
            },
        )
        pieces = tokenize(str(block.get("text", "")))
        for start in range(0, len(pieces), TOKENS_PER_DELTA):
            group = pieces[start : start + TOKENS_PER_DELTA]
            delta = {"type": "text_delta", "text": "".join(group)}
            yield StreamEvent(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
                tokens=len(group),
            )
    yield StreamEvent("content_block_stop", {"type": "content_block_stop", "index": index})


def message_events(message: Mapping[str, Any]) -> list[StreamEvent]:
    """The full event sequence for a finished message body."""
    usage = message["usage"]
    opening = copy.deepcopy(dict(message))
    opening.update(content=[], stop_reason=None, stop_sequence=None)
    opening["usage"]["output_tokens"] = min(1, usage["output_tokens"])
    events = [StreamEvent("message_start", {"type": "message_start", "message": opening})]
    for index, block in enumerate(message["content"]):
        block_events = _block_events(index, block)
        events.append(next(block_events))
        if index == 0:
            events.append(StreamEvent("ping", {"type": "ping"}))
        events.extend(block_events)
    if not message["content"]:
        events.append(StreamEvent("ping", {"type": "ping"}))
    events.append(
        StreamEvent(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": message["stop_reason"],
                    "stop_sequence": message["stop_sequence"],
                },
                # Cumulative totals, as the real API reports them at the end.
                "usage": {
                    "input_tokens": usage["input_tokens"],
                    "cache_creation_input_tokens": usage["cache_creation_input_tokens"],
                    "cache_read_input_tokens": usage["cache_read_input_tokens"],
                    "output_tokens": usage["output_tokens"],
                },
            },
        )
    )
    events.append(StreamEvent("message_stop", {"type": "message_stop"}))
    return events
