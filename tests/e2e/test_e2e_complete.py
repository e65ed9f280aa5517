"""Client → gateway → orchestrator → emulator → back, unary and streamed, with exact accounting."""

from __future__ import annotations

import asyncio
import gc
import sys
from types import AsyncGeneratorType

import anthropic

from tests.conftest import Suite, both_modes
from tollgate.common.pricing import PriceTable
from tollgate.v1 import common_pb2

QUESTION = "Which 3-bedroom listings in Austin are under $500,000 and near a good school?"
SYSTEM = "You are the assistant of a real-estate CRM."


def _expected_micros(tokens: int, price_per_million: int) -> int:
    # Hand-computed: a component costs tokens x price / 1e6, rounded up to a whole micro-dollar.
    return -(-tokens * price_per_million // 1_000_000)


async def _direct(suite: Suite, **params: object) -> anthropic.types.Message:
    """The same request sent straight to the emulator with the official SDK."""
    async with anthropic.AsyncAnthropic(
        base_url=suite.emulator.base_url, api_key="direct", max_retries=0
    ) as client:
        return await client.messages.create(**params)  # type: ignore[call-overload,no-any-return]


@both_modes
async def test_unary_answer_usage_and_cost_match_the_emulator(suite: Suite) -> None:
    async with suite.client() as client:
        result = await client.complete(
            model="claude-sonnet-5-5",
            system=SYSTEM,
            messages=[{"role": "user", "content": QUESTION}],
            max_tokens=200,
            contact_id="lead-7",
        )
    direct = await _direct(
        suite,
        model="claude-sonnet-5-5",
        system=[{"type": "text", "text": SYSTEM}],
        messages=[{"role": "user", "content": [{"type": "text", "text": QUESTION}]}],
        max_tokens=200,
    )
    assert result.text == direct.content[0].text  # type: ignore[union-attr]
    usage = result.account.usage
    assert usage.input_tokens == direct.usage.input_tokens > 0
    assert usage.output_tokens == direct.usage.output_tokens > 0

    price = PriceTable.load().price("claude-sonnet-5-5")
    expected_input = _expected_micros(usage.input_tokens, price.input)
    expected_output = _expected_micros(usage.output_tokens, price.output)
    cost = result.account.cost
    assert (cost.input_micros, cost.output_micros) == (expected_input, expected_output)
    assert cost.total_micros == expected_input + expected_output
    assert cost.prices_as_of == PriceTable.load().as_of
    assert result.account.model == "claude-sonnet-5-5"
    assert len(result.account.trace_id) == 32
    assert result.account.request_id.startswith("req_")
    assert result.account.baseline_cost_micros == cost.total_micros


@both_modes
async def test_streamed_answer_equals_unary_answer_and_ends_with_the_account(suite: Suite) -> None:
    kwargs = {
        "model": "claude-haiku-5-5",
        "messages": [{"role": "user", "content": QUESTION}],
        "max_tokens": 150,
    }
    async with suite.client() as client:
        unary = await client.complete(**kwargs)
        stream = client.stream(**kwargs)
        kinds = []
        text = []
        async for event in stream:
            kinds.append(event.WhichOneof("event"))
            if event.WhichOneof("event") == "content_block_delta":
                text.append(event.content_block_delta.text)
    assert "".join(text) == unary.text
    assert kinds[0] == "message_start"
    assert kinds[-1] == "message_stop"
    assert kinds.count("content_block_delta") > 1
    assert stream.account is not None
    assert stream.account.usage == unary.account.usage
    assert stream.account.cost == unary.account.cost
    assert stream.account.cost.total_micros > 0


async def test_request_id_is_kept_and_the_task_routes_the_model(suite: Suite) -> None:
    async with suite.client() as client:
        result = await client.complete(
            messages=[{"role": "user", "content": "Is this lead hot or cold?"}],
            max_tokens=20,
            task="classification",
            request_id="req-fixed-1",
        )
    assert result.account.request_id == "req-fixed-1"
    assert result.account.model == "claude-haiku-5-5"
    assert result.response.stop_reason in (
        common_pb2.STOP_REASON_END_TURN,
        common_pb2.STOP_REASON_MAX_TOKENS,
    )
    seen = [r for r in suite.emulator.stats.requests if r.path == "/v1/messages"]
    assert seen[-1].model == "claude-haiku-5-5"


@both_modes
async def test_many_callers_looping_on_one_channel_are_all_served(suite: Suite) -> None:
    """80 callers each sending the next call as the last returns, all on one channel (fewer than
    the gateway's 500 calls at once). gRPC's server counts a stream until it is fully closed, so
    the connection holds more streams than calls; at the gateway's former limit of 100 streams
    per connection some of these calls were refused (UNAVAILABLE, checked)."""
    async with suite.client() as client:

        async def caller(number: int) -> int:
            for turn in range(4):
                await client.complete(
                    messages=[{"role": "user", "content": f"Caller {number}, question {turn}"}],
                    max_tokens=20,
                )
            return 4

        assert sum(await asyncio.gather(*(caller(n) for n in range(80)))) == 320


@both_modes
async def test_requests_close_every_async_generator_they_open(suite: Suite) -> None:
    """A generator of ours left suspended when its request ends is closed by the event loop's
    finalizer when it is collected: in a task of its own, one more for every request. Each is
    closed by the code that opened it (the gateway's relay of the orchestrator's reply was not)."""
    left: list[str] = []
    firstiter, finalizer = sys.get_asyncgen_hooks()

    def record(generator: AsyncGeneratorType[object, object]) -> None:
        # By module, not by file path: a checkout's folder (and the .venv inside it) may itself
        # be named tollgate.
        module = generator.ag_frame.f_globals.get("__name__", "") if generator.ag_frame else ""
        if module.startswith("tollgate."):
            left.append(f"{module}.{generator.__qualname__}")
        if finalizer is not None:
            finalizer(generator)

    sys.set_asyncgen_hooks(firstiter, record)
    try:
        async with suite.client() as client:
            for turn in range(3):
                await client.complete(
                    messages=[{"role": "user", "content": f"Question {turn}"}], max_tokens=20
                )
            async for _ in client.stream(
                messages=[{"role": "user", "content": "A streamed question"}], max_tokens=20
            ):
                pass
        gc.collect()
    finally:
        sys.set_asyncgen_hooks(firstiter, finalizer)
    assert left == []
