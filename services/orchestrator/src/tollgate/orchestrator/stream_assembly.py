"""Rebuilds the complete ClaudeResponse from the events of a streamed answer."""

from __future__ import annotations

import json

from google.protobuf import struct_pb2

from tollgate.common.anthropic_format import merge_usage
from tollgate.v1 import common_pb2


class StreamAssembler:
    """Feed every StreamEvent in order; `response` is the full message once the stream ends."""

    def __init__(self) -> None:
        self.response = common_pb2.ClaudeResponse()
        self._partial_json: dict[int, list[str]] = {}

    def add(self, event: common_pb2.StreamEvent) -> None:
        kind = event.WhichOneof("event")
        if kind == "message_start":
            self.response.id = event.message_start.id
            self.response.model = event.message_start.model
            self.response.usage.CopyFrom(event.message_start.usage)
        elif kind == "content_block_start":
            self.response.content.append(event.content_block_start.content_block)
        elif kind == "content_block_delta":
            self._add_delta(event.content_block_delta)
        elif kind == "content_block_stop":
            self._finish_block(event.content_block_stop.index)
        elif kind == "message_delta":
            self.response.stop_reason = event.message_delta.stop_reason
            self.response.stop_sequence = event.message_delta.stop_sequence
            self.response.usage.CopyFrom(
                merge_usage(self.response.usage, event.message_delta.usage)
            )

    def _add_delta(self, delta: common_pb2.ContentBlockDeltaEvent) -> None:
        block = self.response.content[delta.index]
        if delta.WhichOneof("delta") == "text":
            block.text.text += delta.text
        else:
            self._partial_json.setdefault(delta.index, []).append(delta.partial_json)

    def _finish_block(self, index: int) -> None:
        parts = self._partial_json.pop(index, None)
        if parts is None:
            return
        raw = "".join(parts)
        tool_input = struct_pb2.Struct()
        tool_input.update(json.loads(raw) if raw else {})
        self.response.content[index].tool_use.input.CopyFrom(tool_input)
