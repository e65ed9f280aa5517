"""The gateway's request path against reused request ids (issue 17, finding 2): Claude is asked
only when the ledger made a new hold, and a hold belongs to the key that made it. Each test ends
on the ledger's exact total against what the emulator billed."""

from __future__ import annotations

import asyncio
import re
import socket
from typing import Any

import grpc
import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings
import pytest

from tests.conftest import API_KEY, TENANT_ADMIN_KEY, FullSuite
from tests.security.conftest import set_tenant_budget, upstream_cost_micros
from tollgate.client import TollgateError
from tollgate.v1 import gateway_pb2


async def test_fifty_concurrent_requests_under_one_id_never_spend_past_the_budget(
    full_suite: FullSuite, ask: Any, read_usage: Any
) -> None:
    limit = 5_000
    await set_tenant_budget(full_suite, "acme", limit)
    async with full_suite.client(API_KEY) as acme:
        # Fifty questions of the same size, so the same hold (the ledger treats them as
        # retries of one request), each different, so no cache answers them.
        calls = [
            acme.complete(
                **ask(f"Question {i} under one id.", request_id="req-one-id", max_tokens=200)
            )
            for i in range(10, 60)
        ]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
    answered = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = {o.code for o in outcomes if isinstance(o, TollgateError)}
    assert len(answered) <= 1
    assert refused <= {grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert full_suite.upstream_calls() == len(answered)
    requests, cost = await read_usage(full_suite, "acme")
    assert (requests, cost) == (len(answered), upstream_cost_micros(full_suite))
    assert 0 < cost <= limit


async def test_a_repeated_request_id_is_refused_with_a_sentence(
    full_suite: FullSuite, ask: Any, read_usage: Any
) -> None:
    async with full_suite.client(API_KEY) as acme:
        first = await acme.complete(**ask("Summarize the viewing.", request_id="req-twice"))
        with pytest.raises(TollgateError) as refused:
            await acme.complete(**ask("Something else entirely.", request_id="req-twice"))
    assert refused.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert "new request_id" in refused.value.message
    assert full_suite.upstream_calls() == 1
    assert await read_usage(full_suite, "acme") == (1, first.account.cost.total_micros)


async def test_another_key_cannot_settle_a_live_hold(
    full_suite: FullSuite, ask: Any, read_usage: Any
) -> None:
    async with full_suite.client(API_KEY) as app, full_suite.client(TENANT_ADMIN_KEY) as other:
        stream = app.stream(**ask("Write a long listing description.", request_id="req-live"))
        events = stream.__aiter__()
        await events.__anext__()  # the hold is live and Claude is answering
        with pytest.raises(TollgateError) as refused:
            await other.complete(**ask("Take it over.", request_id="req-live"))
        async for _ in events:
            pass
        account = stream.account
    assert refused.value.code in (
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert full_suite.upstream_calls() == 1
    # The first caller's hold was committed at its cost, not released by the other key.
    assert await read_usage(full_suite, "acme") == (1, upstream_cost_micros(full_suite))
    assert account is not None
    assert account.cost.total_micros == upstream_cost_micros(full_suite)


def _held_micros(account: Any) -> int:
    detail = next(r.detail for r in account.optimizations if r.optimization == "budget_enforcement")
    match = re.fullmatch(r"held (\d+) micro-dollars", detail)
    assert match, detail
    return int(match.group(1))


async def test_a_large_template_variable_is_held_at_its_cost(
    full_suite: FullSuite, ask: Any, read_usage: Any
) -> None:
    async with full_suite.client(API_KEY) as acme:
        answer = await acme.complete(
            **ask("Say hello.", max_tokens=50), template_variables={"company": "x" * 300_000}
        )
    cost = answer.account.cost.total_micros
    assert 0 < cost <= _held_micros(answer.account)
    assert await read_usage(full_suite, "acme") == (1, upstream_cost_micros(full_suite))


async def test_a_megabyte_template_variable_is_refused_before_claude(
    full_suite: FullSuite, ask: Any, read_usage: Any
) -> None:
    async with full_suite.client(API_KEY) as acme:
        with pytest.raises(TollgateError) as refused:
            await acme.complete(
                **ask("Say hello.", max_tokens=50), template_variables={"company": "x" * 1_000_000}
            )
    assert refused.value.code in (
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    )
    assert full_suite.upstream_calls() == 0
    assert await read_usage(full_suite, "acme") == (0, 0)


async def test_crafted_text_across_the_long_prompt_tier_never_costs_more_than_its_hold(
    full_suite: FullSuite, ask: Any, read_usage: Any
) -> None:
    # "a\\t" is 2 tokens per pair for the emulator: 120,000 tokens, past claude-haiku-5-5's
    # 100,000-token threshold, where every token is priced at the long-prompt rates.
    async with full_suite.client(API_KEY) as acme:
        answer = await acme.complete(**ask("a\t" * 60_000, max_tokens=50, model="claude-haiku-5-5"))
    assert answer.response.usage.input_tokens > 100_000
    cost = answer.account.cost.total_micros
    assert 0 < cost <= _held_micros(answer.account)
    assert await read_usage(full_suite, "acme") == (1, upstream_cost_micros(full_suite))


def _read_then_reset(port: int, api_key: str, completion: gateway_pb2.Completion) -> int:
    """StreamComplete over HTTP/2 with a 256-byte flow-control window, reset (RST_STREAM
    CANCEL) right after the first content_block_stop, before the account. Returns the number
    of events read."""
    body = gateway_pb2.StreamCompleteRequest(completion=completion).SerializeToString()
    connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    connection.initiate_connection()
    connection.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 256})
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        stream = connection.get_next_available_stream_id()
        connection.send_headers(
            stream,
            [
                (":method", "POST"),
                (":scheme", "http"),
                (":path", "/tollgate.v1.GatewayService/StreamComplete"),
                (":authority", "localhost"),
                ("content-type", "application/grpc"),
                ("te", "trailers"),
                ("authorization", f"Bearer {api_key}"),
            ],
        )
        connection.send_data(stream, b"\x00" + len(body).to_bytes(4, "big") + body, True)
        sock.sendall(connection.data_to_send())
        buffer, events = b"", 0
        while data := sock.recv(65536):
            for event in connection.receive_data(data):
                if not isinstance(event, h2.events.DataReceived):
                    continue
                connection.acknowledge_received_data(event.flow_controlled_length, stream)
                buffer += event.data
                while len(buffer) >= 5 and len(buffer) >= 5 + int.from_bytes(buffer[1:5]):
                    size = int.from_bytes(buffer[1:5])
                    reply = gateway_pb2.StreamCompleteResponse.FromString(buffer[5 : 5 + size])
                    buffer = buffer[5 + size :]
                    assert not reply.HasField("account"), "the account came before the reset"
                    events += 1
                    if reply.event.WhichOneof("event") == "content_block_stop":
                        connection.reset_stream(stream, h2.errors.ErrorCodes.CANCEL)
                        sock.sendall(connection.data_to_send())
                        return events
            sock.sendall(connection.data_to_send())
    raise AssertionError("the stream ended before content_block_stop")


async def test_streams_reset_after_content_are_billed_for_what_claude_produced(
    full_suite: FullSuite, ask: Any, read_usage: Any
) -> None:
    async with full_suite.client(API_KEY) as acme:
        completions = [
            acme.completion(**ask(f"Write a long listing description number {i}."))
            for i in range(5)
        ]
    for completion in completions:
        assert await asyncio.to_thread(
            _read_then_reset, full_suite.gateway.port, API_KEY, completion
        )
    await full_suite.settled()
    assert full_suite.upstream_calls() == 5
    # Five entries, each at what the emulator billed; no hold was given back for free.
    assert await read_usage(full_suite, "acme") == (5, upstream_cost_micros(full_suite))


async def test_a_deadline_shorter_than_the_answer_still_pays_for_it(
    full_suite: FullSuite, ask: Any, read_usage: Any
) -> None:
    """A caller whose deadline runs out mid-stream has received part of the answer: the gateway
    reads the rest from the orchestrator and charges what Claude wrote."""
    full_suite.emulator.config.latency.ttft_ms = 50
    full_suite.emulator.config.latency.tokens_per_second = 40  # about 2.5 s for 100 tokens
    async with full_suite.client(API_KEY) as acme:
        question = {**ask("Write a long market update for Austin."), "max_tokens": 100}
        stream = acme.stream(timeout=0.8, **question)
        with pytest.raises(TollgateError) as cut:
            await stream.text()
    assert cut.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    await full_suite.settled()
    assert full_suite.upstream_calls() == 1
    assert await read_usage(full_suite, "acme") == (1, upstream_cost_micros(full_suite))
