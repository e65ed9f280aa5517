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

A conversation shortened by the conversation optimizer says how many of its first messages are
its stable prefix (`stable_messages`): the next turn's request starts with them byte for byte,
while the turns after them are sent condensed next time. Then the messages' breakpoint ends at
that prefix instead of at the older turns (a write there would never be read), and no long-context
breakpoint is placed inside it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tollgate.common.token_estimate import (
    MESSAGE_OVERHEAD_TOKENS,
    TOOLS_PREAMBLE_TOKENS,
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


def _message_roles(message_count: int, stable_messages: int) -> dict[int, str]:
    """Messages whose last block may end a stable prefix, and why."""
    if stable_messages:
        return {stable_messages - 1: "stable prefix"}
    stable = message_count - 1  # the newest message changes every call
    roles = {0: "long context"} if stable > 1 else {}
    if stable > 0:
        roles[stable - 1] = "older turns"
    return roles


def _segments(
    request: common_pb2.ClaudeRequest, shared_system_blocks: int = 0, stable_messages: int = 0
) -> Iterator[_Segment]:
    # Counted as the API counts the prefix, framing included (the tools' preamble, each
    # message's role markers): without it a prefix just over the minimum looked shorter than it
    # is and went without a breakpoint.
    total = TOOLS_PREAMBLE_TOKENS if request.tools else 0
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
    roles = _message_roles(len(request.messages), stable_messages)
    for m, message in enumerate(request.messages):
        total += MESSAGE_OVERHEAD_TOKENS
        for b, block in enumerate(message.content):
            total += estimate_block(block)
            last_block = b == len(message.content) - 1
            yield _Segment(block, total, roles.get(m) if last_block else None)


def place_breakpoints(
    request: common_pb2.ClaudeRequest,
    min_cacheable_tokens: int,
    ttl: common_pb2.CacheTtl,
    *,
    shared_system_blocks: int = 0,
    stable_messages: int = 0,
) -> int:
    """Marks breakpoints on `request` in place; returns how many it placed.

    `shared_system_blocks`: how many system blocks all agents share (those before the agent
    profile block); 0 when there is no profile block. `stable_messages` (0: not known) must be at
    most the request's number of messages.
    """
    segments = list(_segments(request, shared_system_blocks, stable_messages))
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
