"""A fast, calibrated estimate of a request's input tokens, computed straight from the protos.

Claude's tokenizer is not public, so Tollgate's reference counter is the one its Anthropic API
emulator bills with (`tollgate.emulator.tokens`). Running that counter costs a Python-level regex
pass over every character; the optimizer counts every request, several times while it searches
for a cut that fits a target, so it uses a linear model over features that C-level string methods
give in one pass each:

    tokens(text) ≈ C0·chars + C1·spaces + C2·newlines + C3·punctuation + C4·digits
                   + C5·extra UTF-8 bytes + C6

The coefficients were fitted by least squares on the text blocks of the evaluation conversations
(bench/data/crm_conversations.jsonl) plus English package descriptions, and the error is measured
on held-out text by `python -m bench.token_estimate`, which also refits them
(docs/conversation_optimizer.md has the figures). A request's structure (per-message and
per-block framing, the tools preamble, images, the assistant-turn suffix) follows the reference
counter's layout, so only text is estimated.

The optimizer, the orchestrator (routing, cache breakpoints) and the gateway (budget holds, with
a safety margin) all use it; billing never does, it comes from Claude's usage (a stream that
broke off mid-answer is charged with `token_bound`'s upper bound instead). Where the exact
figure matters, CountTokens with `exact` asks the Anthropic API instead.

The framing functions take the text counter as a parameter, so `tollgate.common.token_bound`
lays out a request the same way with a counter that never underestimates.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from google.protobuf import struct_pb2

from tollgate.v1 import common_pb2

# Fitted by `python -m bench.token_estimate --fit` (see the module docstring).
CHARS = 0.234
SPACES = -0.089
NEWLINES = 0.775
PUNCTUATION = 0.792
DIGITS = 0.144
EXTRA_UTF8_BYTES = 0.382
PER_TEXT = 0.712

# Framing, as laid out by the reference counter.
TOOLS_PREAMBLE_TOKENS = 40
TOOL_OVERHEAD_TOKENS = 4
MESSAGE_OVERHEAD_TOKENS = 4
BLOCK_OVERHEAD_TOKENS = 2
IMAGE_TOKENS = 1600
REQUEST_OVERHEAD_TOKENS = 3

_PUNCTUATION_BYTES = bytes(
    code for code in range(128) if not chr(code).isalnum() and not chr(code).isspace()
)
_DIGIT_BYTES = b"0123456789"

TextCounter = Callable[[str], int]


def text_features(text: str) -> tuple[int, int, int, int, int, int]:
    """(chars, spaces, newlines, punctuation, digits, extra UTF-8 bytes) of `text`."""
    encoded = text.encode()
    size = len(encoded)
    return (
        len(text),
        text.count(" "),
        text.count("\n"),
        size - len(encoded.translate(None, _PUNCTUATION_BYTES)),
        size - len(encoded.translate(None, _DIGIT_BYTES)),
        size - len(text),
    )


def estimate_text(text: str) -> int:
    """Estimated tokens of one piece of text (0 for the empty string)."""
    if not text:
        return 0
    chars, spaces, newlines, punctuation, digits, extra = text_features(text)
    value = (
        CHARS * chars
        + SPACES * spaces
        + NEWLINES * newlines
        + PUNCTUATION * punctuation
        + DIGITS * digits
        + EXTRA_UTF8_BYTES * extra
        + PER_TEXT
    )
    return max(1, round(value))


def struct_to_python(value: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as plain Python values (much faster than json_format for small inputs)."""
    return {key: _value_to_python(item) for key, item in value.fields.items()}


def _value_to_python(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return struct_to_python(value.struct_value)
    if kind == "list_value":
        return [_value_to_python(item) for item in value.list_value.values]
    if kind == "number_value":
        number = value.number_value
        return int(number) if number.is_integer() else number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    return None


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def estimate_block(block: common_pb2.ContentBlock, text: TextCounter = estimate_text) -> int:
    """Estimated tokens of one content block, framing included."""
    kind = block.WhichOneof("block")
    if kind == "text":
        body = text(block.text.text)
    elif kind == "image":
        body = IMAGE_TOKENS
    elif kind == "tool_use":
        body = (
            text(block.tool_use.id)
            + text(block.tool_use.name)
            + text(canonical_json(struct_to_python(block.tool_use.input)))
        )
    elif kind == "tool_result":
        body = text(block.tool_result.tool_use_id) + sum(
            estimate_block(inner, text) for inner in block.tool_result.content
        )
    else:
        body = 0
    return BLOCK_OVERHEAD_TOKENS + body


def estimate_message(message: common_pb2.Message, text: TextCounter = estimate_text) -> int:
    return MESSAGE_OVERHEAD_TOKENS + sum(estimate_block(block, text) for block in message.content)


def estimate_messages(
    messages: Iterable[common_pb2.Message], text: TextCounter = estimate_text
) -> int:
    return sum(estimate_message(message, text) for message in messages)


def estimate_tool(tool: common_pb2.Tool, text: TextCounter = estimate_text) -> int:
    definition: dict[str, Any] = {
        "name": tool.name,
        "input_schema": struct_to_python(tool.input_schema) or {"type": "object"},
    }
    if tool.description:
        definition["description"] = tool.description
    return TOOL_OVERHEAD_TOKENS + text(canonical_json(definition))


def estimate_frame(request: common_pb2.ClaudeRequest, text: TextCounter = estimate_text) -> int:
    """Tokens of everything but the messages: tools, system prompt and the request suffix."""
    tools = sum(estimate_tool(tool, text) for tool in request.tools)
    if request.tools:
        tools += TOOLS_PREAMBLE_TOKENS
    system = sum(estimate_block(block, text) for block in request.system)
    return tools + system + REQUEST_OVERHEAD_TOKENS


def estimate_request(request: common_pb2.ClaudeRequest, text: TextCounter = estimate_text) -> int:
    """Estimated input tokens of a whole request."""
    return estimate_frame(request, text) + estimate_messages(request.messages, text)
