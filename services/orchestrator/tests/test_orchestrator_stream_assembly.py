"""A streamed answer reassembles into the same message the unary call returns."""

from __future__ import annotations

from tollgate.common.anthropic_format import stream_event_from_json
from tollgate.orchestrator.stream_assembly import StreamAssembler
from tollgate.v1 import common_pb2

EVENTS = [
    {
        "type": "message_start",
        "message": {"id": "msg_1", "model": "m", "usage": {"input_tokens": 12, "output_tokens": 1}},
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Two "}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "homes."}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "content_block_start",
        "index": 1,
        "content_block": {"type": "tool_use", "id": "t1", "name": "book", "input": {}},
    },
    {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "input_json_delta", "partial_json": '{"day": '},
    },
    {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "input_json_delta", "partial_json": '"Friday"}'},
    },
    {"type": "content_block_stop", "index": 1},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}},
    {"type": "message_stop"},
]


def test_text_tool_input_stop_reason_and_usage_are_rebuilt() -> None:
    assembler = StreamAssembler()
    for raw in EVENTS:
        event = stream_event_from_json(raw)
        assert event is not None
        assembler.add(event)
    response = assembler.response
    assert response.id == "msg_1"
    assert response.content[0].text.text == "Two homes."
    assert dict(response.content[1].tool_use.input) == {"day": "Friday"}
    assert response.stop_reason == common_pb2.STOP_REASON_TOOL_USE
    assert (response.usage.input_tokens, response.usage.output_tokens) == (12, 9)
