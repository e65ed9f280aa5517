"""Every refusal the gateway makes is the right status with a sentence a person understands."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from tests.conftest import Suite
from tollgate.client import TollgateClient, TollgateError

GOOD: dict[str, Any] = {
    "messages": [{"role": "user", "content": "Hello"}],
    "max_tokens": 50,
}


async def _refusal(client: TollgateClient, **kwargs: Any) -> TollgateError:
    with pytest.raises(TollgateError) as caught:
        await client.complete(**{**GOOD, **kwargs})
    return caught.value


@pytest.mark.parametrize(
    ("api_key", "sentence"),
    [
        ("", "Malformed authorization metadata"),
        ("tg_wrong_key", "Invalid API key"),
    ],
)
async def test_unknown_keys_are_unauthenticated(suite: Suite, api_key: str, sentence: str) -> None:
    async with suite.client(api_key) as client:
        error = await _refusal(client)
    assert error.code == grpc.StatusCode.UNAUTHENTICATED
    assert sentence in error.message


async def test_missing_authorization_is_unauthenticated(suite: Suite) -> None:
    async with grpc.aio.insecure_channel(suite.gateway.address) as channel:
        from tollgate.v1 import gateway_pb2, gateway_pb2_grpc

        stub = gateway_pb2_grpc.GatewayServiceStub(channel)
        request = gateway_pb2.CompleteRequest(completion=TollgateClient.completion(**GOOD))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Complete(request)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "Missing API key" in (caught.value.details() or "")


TOOL_USE = {
    "type": "tool_use",
    "id": "toolu_1",
    "name": "find_listings",
    "input": {"city": "Austin"},
}
TOOL_RESULT = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "3 listings"}

CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("no messages", {"messages": []}, "has no messages", "completion.request.messages"),
    (
        "assistant first",
        {"messages": [{"role": "assistant", "content": "Hi"}]},
        "Roles out of order at message 0",
        "completion.request.messages[0].role",
    ),
    (
        "two user turns",
        {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]},
        "Roles out of order at message 1",
        "completion.request.messages[1].role",
    ),
    (
        "over the size limit",
        {"messages": [{"role": "user", "content": "x" * 5_000_000}]},
        "the limit is",
        "completion",
    ),
    (
        "unknown model",
        {"model": "gpt-4o"},
        "Unknown model 'gpt-4o'",
        "completion.request.model",
    ),
    (
        "max_tokens zero",
        {"max_tokens": 0},
        "max_tokens must be between 1",
        "completion.request.max_tokens",
    ),
    (
        "max_tokens too large",
        {"max_tokens": 10_000_000},
        "max_tokens must be between 1",
        "completion.request.max_tokens",
    ),
    (
        "tool_result without tool_use",
        {"messages": [{"role": "user", "content": [TOOL_RESULT]}]},
        "has no matching tool_use",
        "completion.request.messages[0].content[0]",
    ),
    (
        "tool_result answering an older turn",
        {
            "messages": [
                {"role": "user", "content": "Find listings"},
                {"role": "assistant", "content": [TOOL_USE]},
                {"role": "user", "content": [TOOL_RESULT]},
                {"role": "assistant", "content": "Here they are"},
                {"role": "user", "content": [TOOL_RESULT]},
            ]
        },
        "has no matching tool_use",
        "completion.request.messages[4].content[0]",
    ),
    (
        "temperature out of range",
        {"temperature": 1.5},
        "temperature must be between 0 and 1",
        "completion.request.temperature",
    ),
    (
        "empty text",
        {"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]},
        "empty text block",
        "completion.request.messages[0].content[0]",
    ),
]


@pytest.mark.parametrize(("case", "change", "sentence", "field"), CASES, ids=[c[0] for c in CASES])
async def test_invalid_requests_are_refused_with_a_clear_sentence(
    suite: Suite, case: str, change: dict[str, Any], sentence: str, field: str
) -> None:
    async with suite.client() as client:
        error = await _refusal(client, **change)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT, case
    assert sentence in error.message
    assert field in error.field_violations
    assert "Traceback" not in error.message
    # Nothing reached Claude.
    assert not [r for r in suite.emulator.stats.requests if r.path == "/v1/messages"]


async def test_a_valid_tool_round_trip_is_accepted(suite: Suite) -> None:
    async with suite.client() as client:
        result = await client.complete(
            messages=[
                {"role": "user", "content": "Find listings in Austin"},
                {"role": "assistant", "content": [TOOL_USE]},
                {"role": "user", "content": [TOOL_RESULT]},
            ],
            tools=[
                {
                    "name": "find_listings",
                    "description": "Search listings",
                    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
                }
            ],
            max_tokens=100,
        )
    assert result.account.usage.input_tokens > 0
