"""StreamTally: what a stream that broke off is charged for."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tollgate.common.token_bound import upper_bound_text
from tollgate.emulator.tokens import count_text_tokens
from tollgate.gateway.broken_stream import StreamTally
from tollgate.v1 import common_pb2

TEXT = "The listing at 12 Oak Street has three bedrooms"


def _start(input_tokens: int = 120, output_tokens: int = 1) -> common_pb2.StreamEvent:
    return common_pb2.StreamEvent(
        message_start=common_pb2.MessageStartEvent(
            id="msg_1",
            model="claude-sonnet-5-5",
            usage=common_pb2.Usage(
                input_tokens=input_tokens,
                cache_read_input_tokens=40,
                output_tokens=output_tokens,
            ),
        )
    )


def _text(text: str) -> common_pb2.StreamEvent:
    return common_pb2.StreamEvent(
        content_block_delta=common_pb2.ContentBlockDeltaEvent(index=0, text=text)
    )


def _output_reported(tokens: int) -> common_pb2.StreamEvent:
    return common_pb2.StreamEvent(
        message_delta=common_pb2.MessageDeltaEvent(usage=common_pb2.Usage(output_tokens=tokens))
    )


def test_before_message_start_nothing_was_produced() -> None:
    tally = StreamTally()
    assert not tally.started
    with pytest.raises(ValueError, match="before message_start"):
        tally.response()


def test_the_input_as_reported_and_the_output_bounded_from_the_text_that_arrived() -> None:
    tally = StreamTally()
    for event in (_start(), _text(TEXT[:20]), _text(TEXT[20:])):
        tally.observe(event)
    response = tally.response()
    assert (response.id, response.model) == ("msg_1", "claude-sonnet-5-5")
    assert response.usage.input_tokens == 120
    assert response.usage.cache_read_input_tokens == 40
    # Each delta's bound less its end boundary, plus the block's: not below the whole text's.
    assert response.usage.output_tokens >= upper_bound_text(TEXT)
    assert response.usage.output_tokens == (
        upper_bound_text(TEXT[:20]) + upper_bound_text(TEXT[20:]) - 1
    )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.text(st.sampled_from([*"aZq \t\n09.,{}\"'", "é", "中", "😀"]), max_size=12),
        max_size=12,
    )
)
def test_the_output_bound_is_never_below_the_reference_count_however_the_text_is_cut(
    deltas: list[str],
) -> None:
    tally = StreamTally()
    tally.observe(_start(output_tokens=0))
    for delta in deltas:
        tally.observe(_text(delta))
    whole = "".join(deltas)
    charged = tally.response().usage.output_tokens
    assert charged >= count_text_tokens(whole)
    assert charged >= upper_bound_text(whole)


def test_a_reported_output_larger_than_the_bound_is_charged() -> None:
    tally = StreamTally()
    for event in (_start(), _text("Hi"), _output_reported(500)):
        tally.observe(event)
    assert tally.response().usage.output_tokens == 500


def test_tool_input_counts_as_output() -> None:
    tally = StreamTally()
    tally.observe(_start(output_tokens=0))
    tally.observe(
        common_pb2.StreamEvent(
            content_block_delta=common_pb2.ContentBlockDeltaEvent(
                index=0, partial_json='{"city": "Austin"}'
            )
        )
    )
    assert tally.response().usage.output_tokens == upper_bound_text('{"city": "Austin"}')


def test_each_content_block_ends_a_piece() -> None:
    tally = StreamTally()
    tally.observe(_start(output_tokens=0))
    for index, text in enumerate(("Hi", "there")):
        tally.observe(
            common_pb2.StreamEvent(
                content_block_delta=common_pb2.ContentBlockDeltaEvent(index=index, text=text)
            )
        )
    expected = upper_bound_text("Hi") + upper_bound_text("there")
    assert tally.response().usage.output_tokens == expected


async def test_watch_passes_every_item_on_and_closes_the_upstream() -> None:
    closed = []
    result = object()

    async def upstream() -> AsyncGenerator[object, None]:
        try:
            yield _start()
            yield _text(TEXT)
            yield result
        finally:
            closed.append(True)

    tally = StreamTally()
    seen = [item async for item in tally.watch(upstream())]
    assert len(seen) == 3
    assert seen[2] is result
    assert tally.started
    assert closed == [True]
