"""How many items go into one call, and the request that carries them.

A pack holds at most `max_items` items, at most `max_item_tokens` of their text, and no more
entries than the call's output limit can hold: an answer cut off by max_tokens would lose the
items at its end. Items keep their order; an item too long for any pack travels alone.

In the prompt an item is named by its position in the pack ("1", "2", ...), not by the caller's
id: shorter, and nothing the caller chose reaches the prompt except the items' text, which is
escaped so that it cannot close its own element.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import struct_pb2

from tollgate.common.classification import (
    CALL_OVERHEAD_TOKENS,
    AnswerRule,
    answer_tokens,
    call_max_tokens,
)
from tollgate.common.token_estimate import estimate_text
from tollgate.v1 import classification_pb2, common_pb2

TOOL_NAME = "record_answers"
ANSWERS_FIELD = "answers"
# Output is planned to fill at most this share of the limit: the estimate is not exact.
OUTPUT_HEADROOM = 0.8


@dataclass(frozen=True)
class PackLimits:
    max_items: int
    max_item_tokens: int
    max_output_tokens: int


def items_per_call(rule: AnswerRule, limits: PackLimits) -> int:
    """k: the most items one call may answer, from the output limit and the caller's cap."""
    room = int(limits.max_output_tokens * OUTPUT_HEADROOM) - CALL_OVERHEAD_TOKENS
    return max(1, min(limits.max_items, room // answer_tokens(rule)))


def max_tokens_for(rule: AnswerRule, count: int, limits: PackLimits) -> int:
    return call_max_tokens(rule, count, limits.max_output_tokens)


def pack(
    items: Sequence[classification_pb2.ClassificationItem], rule: AnswerRule, limits: PackLimits
) -> list[list[classification_pb2.ClassificationItem]]:
    k = items_per_call(rule, limits)
    packs: list[list[classification_pb2.ClassificationItem]] = []
    current: list[classification_pb2.ClassificationItem] = []
    tokens = 0
    for item in items:
        size = estimate_text(item.text)
        if current and (len(current) >= k or tokens + size > limits.max_item_tokens):
            packs.append(current)
            current, tokens = [], 0
        current.append(item)
        tokens += size
    if current:
        packs.append(current)
    return packs


def answer_rule_sentence(rule: AnswerRule) -> str:
    if rule.labels:
        return "its `label`: exactly one of the labels the tool allows"
    return "its `result`: a JSON value that fits the schema the tool gives for `result`"


def tool(rule: AnswerRule) -> common_pb2.Tool:
    answer = dict(rule.schema)
    # The caller's definitions move to the tool schema's root, where its "#/$defs/..." (or
    # "#/definitions/...") references still point once the schema sits inside each entry.
    definitions: dict[str, Any] = {
        key: answer.pop(key) for key in ("$defs", "definitions") if key in answer
    }
    entry: dict[str, Any] = {
        "type": "object",
        "properties": {"item_id": {"type": "string"}, rule.field: answer},
        "required": ["item_id", rule.field],
    }
    root: dict[str, Any] = {
        "type": "object",
        "properties": {ANSWERS_FIELD: {"type": "array", "items": entry}},
        "required": [ANSWERS_FIELD],
        **definitions,
    }
    schema = struct_pb2.Struct()
    schema.update(root)
    return common_pb2.Tool(
        name=TOOL_NAME, description="Record one answer per item.", input_schema=schema
    )


def items_message(items: Sequence[classification_pb2.ClassificationItem]) -> common_pb2.Message:
    listed = "\n".join(
        f'<item id="{position}">{html.escape(item.text, quote=False)}</item>'
        for position, item in enumerate(items, start=1)
    )
    text = f"Classify each of these {len(items)} items.\n{listed}"
    return common_pb2.Message(
        role=common_pb2.ROLE_USER,
        content=[common_pb2.ContentBlock(text=common_pb2.TextBlock(text=text))],
    )
