"""Truncating long tool results in old turns: keep the head and the tail, say what was cut.

Search results, CRM records and documents are often thousands of tokens, and once the assistant
has answered from them only their gist matters. A result over the limit keeps whole lines from
its start (two thirds of the limit) and its end (one third), with a marker between them giving
how much was left out, so the model knows the output was longer. The cut depends only on the
text and the limit, so a result is cut the same way on every later turn.
"""

from __future__ import annotations

from dataclasses import dataclass

from tollgate.common.token_estimate import estimate_text
from tollgate.v1 import common_pb2

HEAD_SHARE = 2 / 3
# The marker costs tokens too; results only a little over the limit are left alone.
MIN_SAVING_TOKENS = 40


@dataclass(frozen=True)
class Truncated:
    text: str
    removed_text: str


def _marker(lines: int, chars: int) -> str:
    unit = "line" if lines == 1 else "lines"
    return f"[... {lines} {unit} ({chars:,} characters) of tool output omitted ...]"


def _cut_by_lines(lines: list[str], head_budget: int, tail_budget: int) -> tuple[int, int]:
    """How many whole lines to keep from the start and from the end."""
    head = used = 0
    while head < len(lines) and used + estimate_text(lines[head]) <= head_budget:
        used += estimate_text(lines[head])
        head += 1
    tail = used = 0
    while tail < len(lines) - head and used + estimate_text(lines[-1 - tail]) <= tail_budget:
        used += estimate_text(lines[-1 - tail])
        tail += 1
    return head, tail


def truncate_text(text: str, max_tokens: int) -> Truncated | None:
    """`text` cut to about `max_tokens`, or None when it is short enough already."""
    total = estimate_text(text)
    if total <= max_tokens + MIN_SAVING_TOKENS:
        return None
    head_budget = int(max_tokens * HEAD_SHARE)
    tail_budget = max_tokens - head_budget
    lines = text.splitlines(keepends=True)
    head, tail = _cut_by_lines(lines, head_budget, tail_budget)
    if head + tail >= 2 and len(lines) - head - tail >= 2:
        kept_head = "".join(lines[:head])
        kept_tail = "".join(lines[len(lines) - tail :])
        removed = "".join(lines[head : len(lines) - tail])
        omitted_lines = len(lines) - head - tail
    else:
        # One long line (minified JSON, a paragraph): cut by characters instead.
        chars_per_token = len(text) / total
        head_chars = int(head_budget * chars_per_token)
        tail_chars = int(tail_budget * chars_per_token)
        kept_head = text[:head_chars]
        kept_tail = text[len(text) - tail_chars :] if tail_chars else ""
        removed = text[head_chars : len(text) - tail_chars]
        omitted_lines = removed.count("\n") + 1
    marker = _marker(omitted_lines, len(removed))
    head_part = kept_head if kept_head.endswith("\n") or not kept_head else kept_head + "\n"
    return Truncated(f"{head_part}{marker}\n{kept_tail}".rstrip("\n"), removed)


def truncate_tool_result(
    block: common_pb2.ContentBlock, max_tokens: int
) -> tuple[common_pb2.ContentBlock, list[str]] | None:
    """A copy of a tool_result block with long text cut, and the removed text; None if unchanged.

    The limit applies to each text block of the result; images are left as they are.
    """
    removed: list[str] = []
    replacement = common_pb2.ContentBlock()
    replacement.CopyFrom(block)
    for inner in replacement.tool_result.content:
        if inner.WhichOneof("block") != "text":
            continue
        cut = truncate_text(inner.text.text, max_tokens)
        if cut is not None:
            inner.text.text = cut.text
            removed.append(cut.removed_text)
    return (replacement, removed) if removed else None
