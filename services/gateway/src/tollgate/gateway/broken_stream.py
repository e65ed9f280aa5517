"""What Claude had produced when its stream broke off: the charge for an answer that never ended.

A stream whose upstream fails after `message_start` (an `error` event mid-answer, a dropped
connection) brings no result and no final usage, yet Claude read the prompt and wrote part of the
answer. Releasing the hold would let that spend go unrecorded, so the request is charged instead:
the input usage `message_start` reported, and for the output the larger of the count a
`message_delta` reported and an upper bound of the text and tool input that arrived
(`token_bound`, never below the reference tokenizer's count; about 2.3x it for English prose).
The bound is summed delta by delta without keeping the text: each delta's bound less the 1 it
adds for the piece boundary at its end, plus that 1 once per content block, which is never below
the bound of the block's whole text (a run split across deltas is counted in both).
What Anthropic bills for a broken stream is not documented; the charge errs on the safe side for
everything that arrived. Tokens Claude wrote that never arrived are not known: as Claude streams
as it writes, they are the few in flight when the stream broke.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import TypeVar

from tollgate.common.token_bound import upper_bound_text
from tollgate.v1 import common_pb2

Item = TypeVar("Item")


class StreamTally:
    """Counts a stream's events as they pass: the model, the input usage and the output so far."""

    def __init__(self) -> None:
        self._start: common_pb2.MessageStartEvent | None = None
        self._reported_output = 0
        self._output_bound = 0
        self._blocks: set[int] = set()  # content blocks that received output

    @property
    def started(self) -> bool:
        """Whether Claude began its answer (`message_start` arrived)."""
        return self._start is not None

    def observe(self, event: common_pb2.StreamEvent) -> None:
        kind = event.WhichOneof("event")
        if kind == "message_start":
            self._start = event.message_start
            self._reported_output = event.message_start.usage.output_tokens
        elif kind == "content_block_delta":
            delta = event.content_block_delta
            piece = delta.text if delta.WhichOneof("delta") == "text" else delta.partial_json
            if piece:
                self._output_bound += upper_bound_text(piece) - 1
                self._blocks.add(delta.index)
        elif kind == "message_delta" and event.message_delta.HasField("usage"):
            self._reported_output = max(
                self._reported_output, event.message_delta.usage.output_tokens
            )

    async def watch(self, upstream: AsyncGenerator[Item, None]) -> AsyncGenerator[Item, None]:
        """`upstream`'s items unchanged, each stream event observed on its way."""
        try:
            async for item in upstream:
                if isinstance(item, common_pb2.StreamEvent):
                    self.observe(item)
                yield item
        finally:
            await upstream.aclose()

    def response(self) -> common_pb2.ClaudeResponse:
        """The broken answer as the ledger records it: its model and the usage charged."""
        if self._start is None:
            raise ValueError("the stream broke before message_start: nothing was produced")
        usage = common_pb2.Usage()
        usage.CopyFrom(self._start.usage)
        bound = self._output_bound + len(self._blocks)
        usage.output_tokens = max(self._reported_output, bound)
        return common_pb2.ClaudeResponse(id=self._start.id, model=self._start.model, usage=usage)
