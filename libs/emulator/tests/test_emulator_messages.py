from __future__ import annotations

import json
from typing import Any

import aiohttp
import anthropic
import pytest

from tollgate.emulator import EmulatorServer, count_request_tokens, count_text_tokens

SONNET = "claude-sonnet-4-6"
QUESTION = "Which leads in Riverside have a budget above $500k for a three-bedroom listing?"


def ask(text: str = QUESTION) -> list[anthropic.types.MessageParam]:
    return [{"role": "user", "content": text}]


async def test_json_message_has_real_shape(client: anthropic.AsyncAnthropic) -> None:
    raw = await client.messages.with_raw_response.create(
        model=SONNET, max_tokens=400, messages=ask()
    )
    assert raw.headers["request-id"].startswith("req_")
    message = await raw.parse()
    assert message.id.startswith("msg_")
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.model == SONNET
    assert message.stop_reason == "end_turn"
    assert message.stop_sequence is None
    [block] = message.content
    assert block.type == "text"
    assert "Riverside" in block.text
    assert message.usage.output_tokens == count_text_tokens(block.text)
    assert message.usage.input_tokens == count_request_tokens({"model": SONNET, "messages": ask()})
    assert message.usage.cache_creation is not None
    assert message.usage.cache_creation.ephemeral_5m_input_tokens == 0
    assert message.usage.cache_read_input_tokens == 0
    assert message.usage.service_tier == "standard"


async def test_answers_are_deterministic_per_prompt(client: anthropic.AsyncAnthropic) -> None:
    first = await client.messages.create(model=SONNET, max_tokens=400, messages=ask())
    again = await client.messages.create(model=SONNET, max_tokens=400, messages=ask())
    other = await client.messages.create(
        model=SONNET,
        max_tokens=400,
        messages=ask("Draft a follow-up for the Maple Heights open house"),
    )
    assert first.content[0].type == again.content[0].type == other.content[0].type == "text"
    assert first.content[0].text == again.content[0].text
    assert first.id != again.id
    assert other.content[0].text != first.content[0].text
    assert "Maple Heights" in other.content[0].text


async def test_stream_helper_matches_json_answer_and_usage(
    client: anthropic.AsyncAnthropic,
) -> None:
    plain = await client.messages.create(model=SONNET, max_tokens=400, messages=ask())
    async with client.messages.stream(model=SONNET, max_tokens=400, messages=ask()) as stream:
        text = "".join([chunk async for chunk in stream.text_stream])
        final = await stream.get_final_message()
    assert plain.content[0].type == "text"
    assert text == plain.content[0].text
    assert final.content[0].type == "text"
    assert final.content[0].text == plain.content[0].text
    assert final.stop_reason == plain.stop_reason == "end_turn"
    assert final.usage.input_tokens == plain.usage.input_tokens
    assert final.usage.output_tokens == plain.usage.output_tokens


async def test_raw_stream_event_sequence(client: anthropic.AsyncAnthropic) -> None:
    stream = await client.messages.create(model=SONNET, max_tokens=400, messages=ask(), stream=True)
    kinds = [event.type async for event in stream]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(kinds[2:-3]) == {"content_block_delta"}
    assert len(kinds) > 6


async def test_sse_wire_format_includes_ping_and_usage(server: EmulatorServer) -> None:
    body = {"model": SONNET, "max_tokens": 50, "messages": ask(), "stream": True}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{server.base_url}/v1/messages", json=body, headers={"x-api-key": "k"}
        ) as response,
    ):
        assert response.status == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["request-id"].startswith("req_")
        raw = (await response.read()).decode()
    frames = [frame for frame in raw.split("\n\n") if frame]
    names = [frame.split("\n")[0].removeprefix("event: ") for frame in frames]
    datas = [json.loads(frame.split("\n")[1].removeprefix("data: ")) for frame in frames]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert all(name == data["type"] for name, data in zip(names, datas, strict=True))
    start = datas[0]["message"]
    assert start["content"] == []
    assert start["stop_reason"] is None
    assert set(start["usage"]) >= {
        "input_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "output_tokens",
    }
    delta = datas[names.index("message_delta")]
    assert delta["delta"] == {"stop_reason": "max_tokens", "stop_sequence": None}
    assert delta["usage"]["output_tokens"] == 50
    text = "".join(d["delta"]["text"] for d in datas if d["type"] == "content_block_delta")
    assert count_text_tokens(text) == 50


async def test_count_tokens_equals_usage_total(client: anthropic.AsyncAnthropic) -> None:
    system = "You are the assistant of a real-estate CRM."
    tools: list[anthropic.types.ToolParam] = [
        {
            "name": "find_listings",
            "description": "Search listings",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    counted = await client.messages.count_tokens(
        model=SONNET, system=system, tools=tools, messages=ask()
    )
    message = await client.messages.create(
        model=SONNET, max_tokens=100, system=system, tools=tools, messages=ask()
    )
    usage = message.usage
    total = (
        usage.input_tokens
        + (usage.cache_creation_input_tokens or 0)
        + (usage.cache_read_input_tokens or 0)
    )
    assert counted.input_tokens == total
    assert counted.input_tokens == count_request_tokens(
        {"system": system, "tools": tools, "messages": ask()}
    )


async def test_a_request_is_tokenized_once_and_its_usage_counts_the_prompt_once(
    client: anthropic.AsyncAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rate limiter, the prompt cache and the usage read one count of the prompt: the
    system text is counted once per request, and the usage adds up to count_tokens."""
    from tollgate.emulator import tokens

    system = "You answer for the Lakeview office of a real-estate CRM, briefly."
    seen: list[str] = []
    real = tokens.count_text_tokens

    def counting(text: str) -> int:
        seen.append(text)
        return real(text)

    monkeypatch.setattr(tokens, "count_text_tokens", counting)
    message = await client.messages.create(
        model=SONNET, max_tokens=100, system=system, messages=ask()
    )
    assert seen.count(system) == 1
    usage = message.usage
    expected = count_request_tokens({"system": system, "messages": ask()})
    assert (usage.input_tokens, usage.cache_read_input_tokens) == (expected, 0)
    assert not usage.cache_creation_input_tokens


async def test_max_tokens_cuts_answer(client: anthropic.AsyncAnthropic) -> None:
    full = await client.messages.create(model=SONNET, max_tokens=400, messages=ask())
    cut = await client.messages.create(model=SONNET, max_tokens=7, messages=ask())
    assert full.content[0].type == cut.content[0].type == "text"
    assert cut.stop_reason == "max_tokens"
    assert cut.usage.output_tokens == 7
    assert count_text_tokens(cut.content[0].text) == 7
    assert full.content[0].text.startswith(cut.content[0].text)


async def test_stop_sequence_ends_answer(client: anthropic.AsyncAnthropic) -> None:
    full = await client.messages.create(model=SONNET, max_tokens=400, messages=ask())
    assert full.content[0].type == "text"
    words = full.content[0].text.split()
    stop = words[len(words) // 2]
    stopped = await client.messages.create(
        model=SONNET, max_tokens=400, messages=ask(), stop_sequences=["NEVER-THERE", stop]
    )
    assert stopped.stop_reason == "stop_sequence"
    assert stopped.stop_sequence == stop
    assert stopped.content[0].type == "text"
    prefix = stopped.content[0].text
    assert full.content[0].text.startswith(prefix + stop)
    assert stop not in prefix
    assert stopped.usage.output_tokens == count_text_tokens(prefix + stop)


LEAD_TOOL: anthropic.types.ToolParam = {
    "name": "update_lead",
    "description": "Update a lead in the CRM",
    "input_schema": {
        "type": "object",
        "properties": {
            "lead_id": {"type": "string"},
            "budget": {"type": "integer", "minimum": 1000},
            "status": {"type": "string", "enum": ["new", "hot", "cold"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "notes": {"type": "string"},
        },
        "required": ["lead_id", "budget", "status", "tags"],
    },
}
OTHER_TOOL: anthropic.types.ToolParam = {
    "name": "find_listings",
    "description": "Search listings",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def assert_valid_lead_call(block: Any) -> None:
    assert block.type == "tool_use"
    assert block.id.startswith("toolu_")
    assert block.name == "update_lead"
    assert set(block.input) == {"lead_id", "budget", "status", "tags"}
    assert isinstance(block.input["lead_id"], str)
    assert isinstance(block.input["budget"], int)
    assert block.input["budget"] >= 1000
    assert block.input["status"] in ("new", "hot", "cold")
    assert isinstance(block.input["tags"], list)
    assert block.input["tags"]


async def test_tool_choice_tool_forces_a_valid_call(client: anthropic.AsyncAnthropic) -> None:
    message = await client.messages.create(
        model=SONNET,
        max_tokens=400,
        tools=[OTHER_TOOL, LEAD_TOOL],
        tool_choice={"type": "tool", "name": "update_lead"},
        messages=ask("Mark the Riverside buyer as hot"),
    )
    assert message.stop_reason == "tool_use"
    [call] = message.content
    assert_valid_lead_call(call)


async def test_auto_calls_a_tool_only_when_mentioned(client: anthropic.AsyncAnthropic) -> None:
    quiet = await client.messages.create(
        model=SONNET, max_tokens=400, tools=[LEAD_TOOL], messages=ask()
    )
    assert quiet.stop_reason == "end_turn"
    assert [block.type for block in quiet.content] == ["text"]
    called = await client.messages.create(
        model=SONNET,
        max_tokens=400,
        tools=[OTHER_TOOL, LEAD_TOOL],
        messages=ask("Please use update_lead to mark Jane as hot"),
    )
    assert called.stop_reason == "tool_use"
    assert [block.type for block in called.content] == ["text", "tool_use"]
    assert_valid_lead_call(called.content[1])


async def test_tool_result_round_trip_gets_text_answer(client: anthropic.AsyncAnthropic) -> None:
    first = await client.messages.create(
        model=SONNET,
        max_tokens=400,
        tools=[LEAD_TOOL],
        tool_choice={"type": "any"},
        messages=ask("update the lead"),
    )
    call = first.content[-1]
    assert call.type == "tool_use"
    follow_up = await client.messages.create(
        model=SONNET,
        max_tokens=400,
        tools=[LEAD_TOOL],
        messages=[
            *ask("update the lead"),
            {"role": "assistant", "content": first.content},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": call.id, "content": "Lead updated"}
                ],
            },
        ],
    )
    assert follow_up.stop_reason == "end_turn"
    assert follow_up.content[0].type == "text"


async def test_streamed_tool_use_sends_input_json_deltas(client: anthropic.AsyncAnthropic) -> None:
    stream = await client.messages.create(
        model=SONNET,
        max_tokens=400,
        tools=[LEAD_TOOL],
        tool_choice={"type": "any"},
        messages=ask("update the lead"),
        stream=True,
    )
    partials = [
        event.delta.partial_json
        async for event in stream
        if event.type == "content_block_delta" and event.delta.type == "input_json_delta"
    ]
    assert partials[0] == ""
    assert len(partials) > 2
    arguments = json.loads("".join(partials))
    assert set(arguments) == {"lead_id", "budget", "status", "tags"}
    async with client.messages.stream(
        model=SONNET,
        max_tokens=400,
        tools=[LEAD_TOOL],
        tool_choice={"type": "any"},
        messages=ask("update the lead"),
    ) as helper:
        final = await helper.get_final_message()
    assert final.stop_reason == "tool_use"
    assert_valid_lead_call(final.content[0])
    assert final.content[0].type == "tool_use"
    assert final.content[0].input == arguments


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"model": SONNET, "messages": ask()}, "max_tokens: Field required"),
        ({"model": SONNET, "max_tokens": 0, "messages": ask()}, "greater than or equal to 1"),
        ({"model": SONNET, "max_tokens": 5, "messages": []}, "at least one message"),
        (
            {"model": SONNET, "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]},
            "messages.0.role",
        ),
        ({"model": SONNET, "max_tokens": 5, "messages": ask(), "foo": 1}, "foo: Extra inputs"),
        (
            {"model": SONNET, "max_tokens": 5, "messages": ask(), "temperature": 2},
            "temperature",
        ),
        (
            {
                "model": SONNET,
                "max_tokens": 5,
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "tool_result", "tool_use_id": "toolu_x"}],
                    }
                ],
            },
            "unexpected `tool_use_id`",
        ),
        (
            {
                "model": SONNET,
                "max_tokens": 5,
                "messages": ask(),
                "tool_choice": {"type": "any"},
            },
            "tool_choice",
        ),
    ],
)
async def test_invalid_requests_get_real_400s(
    server: EmulatorServer, body: dict[str, Any], fragment: str
) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{server.base_url}/v1/messages", json=body, headers={"x-api-key": "k"}
        ) as response,
    ):
        assert response.status == 400
        payload = await response.json()
    assert payload["type"] == "error"
    assert payload["error"]["type"] == "invalid_request_error"
    assert fragment in payload["error"]["message"]
    assert server.stats.status_counts[400] == 1


async def test_sdk_surfaces_bad_request(client: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        await client.messages.create(model=SONNET, max_tokens=-1, messages=ask())
    assert caught.value.status_code == 400


async def test_missing_api_key_is_401(server: EmulatorServer) -> None:
    body = {"model": SONNET, "max_tokens": 5, "messages": ask()}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.base_url}/v1/messages", json=body) as response,
    ):
        assert response.status == 401
        payload = await response.json()
    assert payload["error"]["type"] == "authentication_error"


async def test_unknown_model_is_404_and_any_claude_id_is_accepted(
    client: anthropic.AsyncAnthropic,
) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        await client.messages.create(model="gpt-4o", max_tokens=5, messages=ask())
    assert caught.value.status_code == 404
    message = await client.messages.create(
        model="claude-future-9-20991231", max_tokens=5, messages=ask()
    )
    assert message.model == "claude-future-9-20991231"
    models = await client.models.list()
    assert SONNET in [model.id for model in models.data]


async def test_requests_are_recorded_with_headers_of_interest(
    server: EmulatorServer, client: anthropic.AsyncAnthropic
) -> None:
    await client.messages.create(
        model=SONNET,
        max_tokens=5,
        messages=ask(),
        metadata={"user_id": "agent-7"},
        extra_headers={"anthropic-beta": "prompt-caching-2024-07-31"},
    )
    [record] = server.stats.of_path("/v1/messages")
    assert record.status == 200
    assert record.model == SONNET
    assert record.stream is False
    assert record.body["metadata"] == {"user_id": "agent-7"}
    assert record.headers["anthropic-beta"] == "prompt-caching-2024-07-31"
    assert "anthropic-version" in record.headers
    assert record.api_key_id is not None
    assert "test-key" not in record.api_key_id
    assert record.usage is not None
    assert record.usage["output_tokens"] == 5
    assert server.stats.status_counts[200] == 1
