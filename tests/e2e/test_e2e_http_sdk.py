"""The HTTP front door driven by the official `anthropic` Python SDK, unchanged except its
`base_url` and key: messages (sync and async), streams, tool use, count_tokens, models, every
error status, and Tollgate's account in headers (and, for a stream, one event the SDK skips)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anthropic
import httpx
import pytest

from tests.conftest import (
    ADMIN_KEY,
    API_KEY,
    OTHER_TENANT_KEY,
    FullSuite,
    both_modes,
)
from tests.e2e.conftest import set_acme_budget
from tollgate.v1 import gateway_pb2

MODEL = "claude-sonnet-5-5"
ASK: dict[str, Any] = {
    "model": MODEL,
    # Large enough that answers end on their own: cut-off answers are not cached.
    "max_tokens": 1000,
    # This SDK has no `temperature` argument any more; Tollgate caches only deterministic
    # answers, so the tests send it the way the SDK passes any extra field.
    "extra_body": {"temperature": 0.0},
    "messages": [{"role": "user", "content": "Which neighbourhoods suit a family of four?"}],
}
RAW_ASK = {
    **{name: value for name, value in ASK.items() if name != "extra_body"},
    **ASK["extra_body"],
}
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def _async(base_url: str, key: str = API_KEY) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=base_url, api_key=key, max_retries=0)


def _sync(base_url: str, key: str = API_KEY) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=base_url, api_key=key, max_retries=0)


async def test_sync_sdk_message_then_an_exact_cache_hit_with_the_account_headers(
    door: tuple[FullSuite, str],
) -> None:
    suite, base_url = door
    client = _sync(base_url)
    # The sync client blocks: it runs in a thread while the servers answer in this loop.
    first = await asyncio.to_thread(client.messages.with_raw_response.create, **ASK)
    await suite.settled()
    second = await asyncio.to_thread(client.messages.with_raw_response.create, **ASK)
    assert first.headers["x-tollgate-cache"] == "miss"
    assert int(first.headers["x-tollgate-cost-micros"]) > 0
    assert second.headers["x-tollgate-cache"] == "exact"
    assert second.headers["x-tollgate-cost-micros"] == "0"
    assert int(second.headers["x-tollgate-saved-micros"]) > 0
    assert "exact_cache" in second.headers["x-tollgate-optimizations"]
    assert second.parse().content[0].text == first.parse().content[0].text  # type: ignore[union-attr]
    assert suite.upstream_calls() == 1


async def test_async_sdk_message_carries_usage_and_the_budget_left(
    door: tuple[FullSuite, str],
) -> None:
    suite, base_url = door
    await set_acme_budget(suite, 10_000_000)
    raw = await _async(base_url).messages.with_raw_response.create(**ASK)
    message = await raw.parse()
    await suite.settled()
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens > 0
    assert raw.headers["x-tollgate-budget-scope"]
    assert int(raw.headers["x-tollgate-budget-remaining-micros"]) < 10_000_000


@both_modes
async def test_stream_assembles_in_the_sdk_and_the_account_event_is_skipped(
    door: tuple[FullSuite, str],
) -> None:
    _, base_url = door
    client = _async(base_url)
    async with client.messages.stream(**ASK) as stream:
        texts = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(texts) == final.content[0].text  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"
    # The same stream read as raw server-sent events: the account is there, inside the message.
    async with (
        httpx.AsyncClient() as http,
        http.stream(
            "POST",
            f"{base_url}/v1/messages",
            json={**RAW_ASK, "stream": True},
            headers={"x-api-key": API_KEY, "anthropic-version": "2023-06-01"},
        ) as response,
    ):
        body = (await response.aread()).decode()
    kinds = [
        line.removeprefix("event: ") for line in body.splitlines() if line.startswith("event:")
    ]
    assert kinds[0] == "message_start"
    assert kinds[-2:] == ["tollgate_account", "message_stop"]
    account_line = body.split("event: tollgate_account\ndata: ")[1].split("\n")[0]
    account = json.loads(account_line)["account"]
    # Asked a second time: replayed from the exact cache, and the account says so.
    assert account["cache_status"] == "CACHE_STATUS_EXACT"


async def test_sync_stream_in_a_thread(door: tuple[FullSuite, str]) -> None:
    _, base_url = door

    def read() -> str:
        with _sync(base_url).messages.stream(**ASK) as stream:
            return stream.get_final_text()

    assert await asyncio.to_thread(read)


async def test_tool_use_plain_and_streamed(door: tuple[FullSuite, str]) -> None:
    _, base_url = door
    client = _async(base_url)
    ask = {
        **ASK,
        "tools": [WEATHER_TOOL],
        "messages": [{"role": "user", "content": "Use get_weather: what is it like in Paris?"}],
    }
    message = await client.messages.create(**ask)
    assert message.stop_reason == "tool_use"
    call = next(block for block in message.content if block.type == "tool_use")
    assert call.name == "get_weather"
    assert isinstance(call.input, dict)
    async with client.messages.stream(**ask) as stream:
        streamed = await stream.get_final_message()
    streamed_call = next(block for block in streamed.content if block.type == "tool_use")
    assert streamed_call.input == call.input
    # The answer to the call goes back the way the Anthropic docs show.
    follow_up = await client.messages.create(
        **{
            **ask,
            "messages": [
                *ask["messages"],
                {"role": "assistant", "content": [block.model_dump() for block in message.content]},
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18°C"}],
                },
            ],
        }
    )
    assert follow_up.content


async def test_count_tokens_and_models(door: tuple[FullSuite, str]) -> None:
    _, base_url = door
    client = _async(base_url)
    counted = await client.messages.count_tokens(model=MODEL, messages=ASK["messages"])
    longer = await client.messages.count_tokens(
        model=MODEL, messages=[{"role": "user", "content": "Which neighbourhoods? " * 50}]
    )
    assert 0 < counted.input_tokens < longer.input_tokens
    models = [model.id async for model in client.models.list()]
    assert MODEL in models
    assert (await client.models.retrieve(MODEL)).id == MODEL


@both_modes
async def test_each_error_status_reaches_the_sdk_as_its_exception(
    door: tuple[FullSuite, str],
) -> None:
    suite, base_url = door
    client = _async(base_url)
    with pytest.raises(anthropic.AuthenticationError) as unauthenticated:
        await _async(base_url, "tg_not_a_key").messages.create(**ASK)
    assert unauthenticated.value.status_code == 401
    assert unauthenticated.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError) as bad:
        await client.messages.create(**{**ASK, "model": "claude-unknown"})
    assert "Unknown model" in bad.value.message
    with pytest.raises(anthropic.BadRequestError):
        await client.messages.create(**{**ASK, "max_tokens": 0})
    with pytest.raises(anthropic.NotFoundError):
        await client.models.retrieve("claude-unknown")
    too_big = "x" * (suite.gateway_settings.max_request_bytes + 1)
    with pytest.raises(anthropic.APIStatusError) as large:
        await client.messages.create(**{**ASK, "messages": [{"role": "user", "content": too_big}]})
    assert large.value.status_code == 413
    assert large.value.body["error"]["type"] == "request_too_large"  # type: ignore[index]
    suite.emulator.config.faults.overloaded = 1.0
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        await client.messages.create(**{**ASK, "extra_body": {"temperature": 0.5}})
    suite.emulator.config.faults.overloaded = 0.0
    assert overloaded.value.status_code == 529
    assert overloaded.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


@both_modes
async def test_a_budget_refusal_is_a_429_with_retry_after_and_the_budget_state(
    door: tuple[FullSuite, str],
) -> None:
    suite, base_url = door
    await set_acme_budget(suite, 100)  # less than any request
    with pytest.raises(anthropic.RateLimitError) as refused:
        await _async(base_url).messages.create(**ASK)
    headers = refused.value.response.headers
    assert int(headers["retry-after"]) > 0
    assert headers["x-tollgate-limit-micros"] == "100"
    assert "x-tollgate-remaining-micros" in headers
    assert refused.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    # Streamed, the refusal comes before any event, as an HTTP status the SDK raises on.
    with pytest.raises(anthropic.RateLimitError):
        async with _async(base_url).messages.stream(**ASK) as stream:
            await stream.get_final_message()
    assert suite.upstream_calls() == 0


async def test_bad_json_and_unknown_paths_answer_in_the_error_shape(
    door: tuple[FullSuite, str],
) -> None:
    _, base_url = door
    async with httpx.AsyncClient(base_url=base_url, headers={"x-api-key": API_KEY}) as http:
        not_json = await http.post("/v1/messages", content=b"{not json")
        nowhere = await http.get("/v1/nowhere")
        bearer = await http.get("/v1/models", headers={"authorization": f"Bearer {API_KEY}"})
    assert not_json.status_code == 400
    assert not_json.json()["error"]["type"] == "invalid_request_error"
    assert nowhere.status_code == 404
    assert nowhere.json() == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "There is no endpoint /v1/nowhere."},
    }
    assert bearer.status_code == 200


async def _ended(
    client: anthropic.AsyncAnthropic, batch_id: str
) -> anthropic.types.messages.MessageBatch:
    for _ in range(200):
        batch = await client.messages.batches.retrieve(batch_id)
        if batch.processing_status == "ended":
            return batch
        await asyncio.sleep(0.05)
    raise AssertionError(f"batch {batch_id} did not end")


async def test_a_batch_from_create_to_results_holds_and_settles_at_the_batch_price(
    door: tuple[FullSuite, str],
) -> None:
    suite, base_url = door
    await set_acme_budget(suite, 10_000_000)
    client = _async(base_url)
    questions = {"budget": "What is my budget?", "timeline": "When can I move in?"}
    batch = await client.messages.batches.create(
        requests=[
            {
                "custom_id": custom_id,
                "params": {
                    "model": MODEL,
                    "max_tokens": 200,
                    "messages": [{"role": "user", "content": question}],
                },
            }
            for custom_id, question in questions.items()
        ]
    )
    assert batch.processing_status in ("in_progress", "ended")
    ended = await _ended(client, batch.id)
    assert ended.request_counts.succeeded == 2
    results = {
        entry.custom_id: entry async for entry in await client.messages.batches.results(batch.id)
    }
    assert set(results) == set(questions)
    assert all(entry.result.type == "succeeded" for entry in results.values())
    assert batch.id in [listed.id async for listed in client.messages.batches.list()]
    await suite.settled()
    async with suite.client(ADMIN_KEY) as admin:
        states = await admin.stub.GetBudgets(
            gateway_pb2.GetBudgetsRequest(tenant_id="acme"), metadata=admin.metadata
        )
    state = states.states[0]
    assert state.held_micros == 0, "the batch's hold was left open after its results were read"
    assert state.spent_micros > 0
    # Another tenant sees no such batch.
    with pytest.raises(anthropic.NotFoundError):
        await _async(base_url, OTHER_TENANT_KEY).messages.batches.retrieve(batch.id)


async def test_a_batch_can_be_canceled(door: tuple[FullSuite, str]) -> None:
    suite, base_url = door
    suite.emulator.config.batch_processing_delay_s = 30.0
    client = _async(base_url)
    batch = await client.messages.batches.create(
        requests=[
            {
                "custom_id": "one",
                "params": {
                    "model": MODEL,
                    "max_tokens": 50,
                    "messages": [{"role": "user", "content": "Hello"}],
                },
            }
        ]
    )
    canceled = await client.messages.batches.cancel(batch.id)
    assert canceled.processing_status in ("canceling", "ended")
    ended = await _ended(client, batch.id)
    assert ended.request_counts.canceled == 1
    results = [entry async for entry in await client.messages.batches.results(batch.id)]
    assert [entry.result.type for entry in results] == ["canceled"]
    with pytest.raises(anthropic.BadRequestError):
        await client.messages.batches.create(requests=[])


async def test_the_batch_list_is_paged_and_the_sdk_walks_every_page(
    door: tuple[FullSuite, str],
) -> None:
    _, base_url = door
    client = _async(base_url)
    one = {
        "custom_id": "one",
        "params": {
            "model": MODEL,
            "max_tokens": 50,
            "messages": [{"role": "user", "content": "Hi"}],
        },
    }
    created = [(await client.messages.batches.create(requests=[one])).id for _ in range(5)]
    newest_first = created[::-1]

    first = await client.messages.batches.list(limit=2)
    assert [b.id for b in first.data] == newest_first[:2]
    assert (first.has_more, first.first_id, first.last_id) == (True, *newest_first[:2])
    # The SDK's auto-pagination follows after_id (forwards) and before_id (backwards).
    assert [b.id async for b in client.messages.batches.list(limit=2)] == newest_first
    backwards = client.messages.batches.list(limit=2, before_id=newest_first[4])
    assert [b.id async for b in backwards] == newest_first[2:4] + newest_first[:2]
    sync_walk = await asyncio.to_thread(
        lambda: [b.id for b in _sync(base_url).messages.batches.list(limit=3)]
    )
    assert sync_walk == newest_first
    # Another tenant's list is its own, and its cursors are not ours.
    assert [b.id async for b in _async(base_url, OTHER_TENANT_KEY).messages.batches.list()] == []

    async with httpx.AsyncClient(base_url=base_url, headers={"x-api-key": API_KEY}) as http:
        for query in (
            "limit=abc",
            "limit=0",
            "limit=-3",
            "limit=1001",
            "after_id=msgbatch_nope",
            f"before_id={created[0]}&after_id={created[1]}",
        ):
            refused = await http.get(f"/v1/messages/batches?{query}")
            assert refused.status_code == 400, query
            assert refused.json()["error"]["type"] == "invalid_request_error", query
        # Another tenant's batch id is no cursor for this tenant: refused like a missing one.
        stranger = await http.get(
            f"/v1/messages/batches?after_id={created[0]}", headers={"x-api-key": OTHER_TENANT_KEY}
        )
    assert stranger.status_code == 400
    assert created[0] in stranger.json()["error"]["message"]
