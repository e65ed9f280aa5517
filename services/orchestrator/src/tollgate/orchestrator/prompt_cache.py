"""Places Anthropic prompt-cache breakpoints (`cache_control`) on a request's stable prefix.

Anthropic caches the prompt prefix that ends at a breakpoint, in the order tools → system →
messages, and allows at most four breakpoints. The stable parts, in order: the tool definitions,
the system prompt, a long opening context (the first turn of a longer conversation) and the older
turns (everything before the newest message, which is what the next call will share). When
the system prompt ends with a per-agent profile block, the block before it ends the shared
instructions, the prefix every agent of the tenant has in common, and is a candidate too. A
breakpoint is placed only where the prefix up to it reaches the model's minimum cacheable length
(a shorter one is not cached and would only waste a slot) and grows past the previous breakpoint.
Breakpoints the caller placed are kept and count towards the four.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tollgate.common.token_estimate import (
    estimate_block,
    estimate_tool,
)
from tollgate.v1 import common_pb2

MAX_BREAKPOINTS = 4

Markable = common_pb2.ContentBlock | common_pb2.Tool


@dataclass(frozen=True)
class _Segment:
    target: Markable
    # Estimated tokens of the prompt up to and including this segment.
    prefix_tokens: int
    # Why this segment ends a stable prefix; None when it is not a candidate.
    role: str | None


def _segments(request: common_pb2.ClaudeRequest, shared_system_blocks: int) -> Iterator[_Segment]:
    total = 0
    for i, tool in enumerate(request.tools):
        total += estimate_tool(tool)
        yield _Segment(tool, total, "tools" if i == len(request.tools) - 1 else None)
    for i, block in enumerate(request.system):
        total += estimate_block(block)
        role = None
        if i == len(request.system) - 1:
            role = "system"
        elif i == shared_system_blocks - 1:
            role = "shared instructions"
        yield _Segment(block, total, role)
    stable_messages = len(request.messages) - 1  # the newest message changes every call
    for m, message in enumerate(request.messages):
        for b, block in enumerate(message.content):
            total += estimate_block(block)
            last_block = b == len(message.content) - 1
            role = None
            if last_block and m < stable_messages:
                if m == stable_messages - 1:
                    role = "older turns"
                elif m == 0:
                    role = "long context"
            yield _Segment(block, total, role)


def place_breakpoints(
    request: common_pb2.ClaudeRequest,
    min_cacheable_tokens: int,
    ttl: common_pb2.CacheTtl,
    shared_system_blocks: int = 0,
) -> int:
    """Marks breakpoints on `request` in place; returns how many it placed.

    `shared_system_blocks`: how many system blocks all agents share (those before the agent
    profile block); 0 when there is no profile block.
    """
    segments = list(_segments(request, shared_system_blocks))
    existing = sum(1 for segment in segments if segment.target.HasField("cache_control"))
    budget = MAX_BREAKPOINTS - existing
    placed = 0
    covered = 0
    for segment in segments:
        if segment.target.HasField("cache_control"):
            covered = segment.prefix_tokens
            continue
        if placed >= budget or segment.role is None:
            continue
        if segment.prefix_tokens < min_cacheable_tokens or segment.prefix_tokens <= covered:
            continue
        segment.target.cache_control.ttl = ttl
        covered = segment.prefix_tokens
        placed += 1
    return placed
