"""A cheap, local estimate of a prompt's size in tokens (no call to count_tokens).

About four characters of English per token; each block adds a few tokens of framing. It decides
routing, whether a prefix is worth a cache breakpoint, and (with a safety margin) how much to hold
against a budget before a call; never what anyone is billed, which comes from Claude's usage.
"""

from __future__ import annotations

import json

from google.protobuf import json_format

from tollgate.v1 import common_pb2

CHARS_PER_TOKEN = 4
BLOCK_OVERHEAD_TOKENS = 3
IMAGE_TOKENS = 1500


def estimate_text_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


def estimate_block_tokens(block: common_pb2.ContentBlock) -> int:
    kind = block.WhichOneof("block")
    if kind == "text":
        body = estimate_text_tokens(block.text.text)
    elif kind == "image":
        body = IMAGE_TOKENS
    elif kind == "tool_use":
        body = estimate_text_tokens(
            block.tool_use.name + json.dumps(json_format.MessageToDict(block.tool_use.input))
        )
    elif kind == "tool_result":
        body = sum(estimate_block_tokens(inner) for inner in block.tool_result.content)
    else:
        body = 0
    return BLOCK_OVERHEAD_TOKENS + body


def estimate_tool_tokens(tool: common_pb2.Tool) -> int:
    schema = json.dumps(json_format.MessageToDict(tool.input_schema))
    return BLOCK_OVERHEAD_TOKENS + estimate_text_tokens(tool.name + tool.description + schema)


def estimate_request_tokens(request: common_pb2.ClaudeRequest) -> int:
    return (
        sum(estimate_tool_tokens(tool) for tool in request.tools)
        + sum(estimate_block_tokens(block) for block in request.system)
        + sum(
            estimate_block_tokens(block)
            for message in request.messages
            for block in message.content
        )
    )
