"""A stored answer sent as a stream, so a streamed request answered from a cache still gets the
events a streaming client expects, in the same order Claude sends them."""

from __future__ import annotations

import json
from collections.abc import Iterator

from google.protobuf import json_format

from tollgate.v1 import common_pb2

# Text is replayed in slices of this many characters, like Claude's deltas.
DELTA_CHARS = 64


def replay_events(response: common_pb2.ClaudeResponse) -> Iterator[common_pb2.StreamEvent]:
    usage = common_pb2.Usage()
    usage.CopyFrom(response.usage)
    start_usage = common_pb2.Usage(
        input_tokens=usage.input_tokens,
        cache_read_input_tokens=usage.cache_read_input_tokens,
        cache_creation_input_tokens=usage.cache_creation_input_tokens,
    )
    yield common_pb2.StreamEvent(
        message_start=common_pb2.MessageStartEvent(
            id=response.id, model=response.model, usage=start_usage
        )
    )
    for index, block in enumerate(response.content):
        yield from _replay_block(index, block)
    yield common_pb2.StreamEvent(
        message_delta=common_pb2.MessageDeltaEvent(
            stop_reason=response.stop_reason,
            stop_sequence=response.stop_sequence,
            usage=common_pb2.Usage(output_tokens=usage.output_tokens),
        )
    )
    yield common_pb2.StreamEvent(message_stop=common_pb2.MessageStopEvent())


def _replay_block(index: int, block: common_pb2.ContentBlock) -> Iterator[common_pb2.StreamEvent]:
    kind = block.WhichOneof("block")
    start = common_pb2.ContentBlock()
    if kind == "tool_use":
        start.tool_use.id = block.tool_use.id
        start.tool_use.name = block.tool_use.name
        payload = json.dumps(json_format.MessageToDict(block.tool_use.input))
        deltas = [
            common_pb2.ContentBlockDeltaEvent(
                index=index, partial_json=payload[i : i + DELTA_CHARS]
            )
            for i in range(0, len(payload), DELTA_CHARS)
        ]
    else:
        start.text.text = ""
        text = block.text.text
        deltas = [
            common_pb2.ContentBlockDeltaEvent(index=index, text=text[i : i + DELTA_CHARS])
            for i in range(0, len(text), DELTA_CHARS)
        ]
    yield common_pb2.StreamEvent(
        content_block_start=common_pb2.ContentBlockStartEvent(index=index, content_block=start)
    )
    for delta in deltas:
        yield common_pb2.StreamEvent(content_block_delta=delta)
    yield common_pb2.StreamEvent(content_block_stop=common_pb2.ContentBlockStopEvent(index=index))
