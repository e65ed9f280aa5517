"""Requests and responses survive the trip between tollgate.v1 protos and the API's JSON."""

from __future__ import annotations

from tollgate.common.anthropic_format import (
    request_from_params,
    request_to_params,
    response_from_json,
    response_to_json,
    stream_event_from_json,
)
from tollgate.v1 import common_pb2

PARAMS = {
    "model": "claude-sonnet-5-5",
    "max_tokens": 300,
    "system": [
        {
            "type": "text",
            "text": "You help agents.",
            "cache_control": {"type": "ephemeral", "ttl": "1h"},
        }
    ],
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "Find 3-bed homes in Austin"}]},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "t1",
                    "name": "search",
                    "input": {"beds": 3.0, "city": "Austin"},
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "content": [{"type": "text", "text": "2 found"}],
                    "is_error": True,
                }
            ],
        },
    ],
    "tools": [
        {
            "name": "search",
            "description": "Search listings",
            "input_schema": {"type": "object"},
            "cache_control": {"type": "ephemeral", "ttl": "5m"},
        }
    ],
    "tool_choice": {"type": "any"},
    "temperature": 0.0,
    "stop_sequences": ["END"],
}


def test_request_round_trip_is_lossless() -> None:
    assert request_to_params(request_from_params(PARAMS)) == PARAMS


def test_plain_string_content_becomes_one_text_block() -> None:
    request = request_from_params(
        {"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "Hi"}]}
    )
    assert request.messages[0].content[0].text.text == "Hi"
    assert request.messages[0].role == common_pb2.ROLE_USER


def test_response_round_trip_keeps_usage_split() -> None:
    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-5-5",
        "content": [{"type": "text", "text": "Two homes match."}],
        "stop_reason": "max_tokens",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 10,
            "output_tokens": 5,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 30,
            "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 20},
        },
    }
    response = response_from_json(body)
    assert response.stop_reason == common_pb2.STOP_REASON_MAX_TOKENS
    assert response.usage.cache_creation_1h_input_tokens == 20
    assert response_to_json(response) == body


def test_stream_events_map_and_ping_is_dropped() -> None:
    delta = stream_event_from_json(
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"a"'},
        }
    )
    assert delta is not None
    assert delta.content_block_delta.partial_json == '{"a"'
    assert delta.content_block_delta.index == 1
    assert stream_event_from_json({"type": "ping"}) is None
