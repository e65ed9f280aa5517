"""Deterministic token counting that behaves roughly like Claude's tokenizer.

The emulator cannot ship Claude's real tokenizer, but everything that depends on
token counts (billing, budgets, cache thresholds, context trimming) only needs
counts that are stable, cheap and of the right magnitude. The rule:

Text (``tokenize`` / ``count_text_tokens``) is split into pieces, one piece per token.
A single space before a word, number or symbol belongs to that piece; then:

* a run of ASCII letters is one token for its first 6 letters and one more per
  started group of 4 after that (``" the"`` = 1, ``" budget"`` = 1,
  ``" listings"`` = 2, ``" neighborhood"`` = 3) -- long words cost several
  tokens, as in a BPE vocabulary;
* a run of digits is one token per started group of 3 digits;
* any other whitespace is one token per started group of 4 characters (so
  newlines and indentation cost tokens);
* every other character (punctuation, symbols, non-ASCII letters) is one token.

Ordinary English prose comes out at about 3.9 characters per token.

A request (``count_request_tokens``) is the sum of its prompt segments, laid out
in the order the prompt cache sees them -- tools, then system, then messages:

* ``TOOLS_PREAMBLE_TOKENS`` once when any tool is defined, then per tool
  ``TOOL_OVERHEAD_TOKENS`` + the text tokens of its JSON definition (compact,
  keys sorted, ``cache_control`` left out);
* per system block ``BLOCK_OVERHEAD_TOKENS`` + its text tokens;
* per message ``MESSAGE_OVERHEAD_TOKENS`` (role markers), then per content block
  ``BLOCK_OVERHEAD_TOKENS`` + its content: text tokens for text, ``IMAGE_TOKENS``
  for an image, name + JSON input for ``tool_use``, id + nested content for
  ``tool_result``, the JSON of any other block type;
* ``REQUEST_OVERHEAD_TOKENS`` at the very end (the assistant turn prefix), which
  is never cacheable -- like the real API, a fully cached prompt still reports a
  few plain ``input_tokens``.

``cache_control`` never changes a count, so moving a breakpoint keeps totals equal.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TOOLS_PREAMBLE_TOKENS = 40
TOOL_OVERHEAD_TOKENS = 4
MESSAGE_OVERHEAD_TOKENS = 4
BLOCK_OVERHEAD_TOKENS = 2
IMAGE_TOKENS = 1600
REQUEST_OVERHEAD_TOKENS = 3

_LETTERS_FIRST_TOKEN = 6
_LETTERS_PER_TOKEN = 4
_DIGITS_PER_TOKEN = 3
_SPACES_PER_TOKEN = 4

# Alternation order matters: a single space is glued to the word, number or symbol
# after it, and the whitespace alternatives leave that space to it (lazy match).
_PIECE = re.compile(r" ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]|\s+?(?= \S)|\s+", re.DOTALL)


def _chunking(run: str) -> tuple[int, int] | None:
    """How a matched run splits into tokens: (first piece's length, later pieces' length), or
    None when the run is a single token (punctuation, symbols, non-ASCII letters)."""
    body = run[1:] if run[0] == " " and len(run) > 1 else run
    lead = len(run) - len(body)
    if body.isascii() and body.isalpha():
        return lead + _LETTERS_FIRST_TOKEN, _LETTERS_PER_TOKEN
    if body.isdigit():
        return lead + _DIGITS_PER_TOKEN, _DIGITS_PER_TOKEN
    if run.isspace():
        return _SPACES_PER_TOKEN, _SPACES_PER_TOKEN
    return None


def tokenize(text: str) -> list[str]:
    """Split text into token pieces; ``"".join(tokenize(t)) == t`` always holds."""
    pieces: list[str] = []
    for match in _PIECE.finditer(text):
        run = match.group()
        chunking = _chunking(run)
        if chunking is None:
            pieces.append(run)
            continue
        first, size = chunking
        pieces.append(run[:first])
        pieces.extend(run[start : start + size] for start in range(first, len(run), size))
    return pieces


def count_text_tokens(text: str) -> int:
    """Number of tokens in a piece of text (see the module docstring): ``len(tokenize(text))``,
    counted without building the pieces (the emulator counts every prompt and answer)."""
    count = 0
    for match in _PIECE.finditer(text):
        run = match.group()
        chunking = _chunking(run)
        if chunking is None:
            count += 1
            continue
        first, size = chunking
        # The first piece, then one per started group of `size` after it.
        count += 1 + max(0, -(-(len(run) - first) // size))
    return count


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: the stable text form used for counting and hashing."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class PromptSegment:
    """One cacheable unit of a prompt, in cache-prefix order.

    ``key`` identifies the content (without ``cache_control``) so that two
    prompts share a cache prefix exactly when their segments' keys match.
    ``ttl`` is set when the block carries a ``cache_control`` breakpoint.
    ``block`` is False for framing (role markers, preambles), which the cache's
    block lookback does not count.
    """

    tokens: int
    key: str
    ttl: str | None = None
    block: bool = True


def _without_cache_control(block: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in block.items() if k != "cache_control"}


def _breakpoint_ttl(block: Mapping[str, Any]) -> str | None:
    control = block.get("cache_control")
    if not isinstance(control, Mapping):
        return None
    ttl = control.get("ttl", "5m")
    return ttl if isinstance(ttl, str) else "5m"


def _as_blocks(content: Any) -> list[Mapping[str, Any]]:
    """Content may be a bare string (one text block) or a list of blocks."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [block for block in content if isinstance(block, Mapping)]
    return []


def content_block_tokens(block: Mapping[str, Any]) -> int:
    """Tokens for one content block, overhead included."""
    kind = block.get("type")
    if kind == "text":
        body = count_text_tokens(str(block.get("text", "")))
    elif kind == "image":
        body = IMAGE_TOKENS
    elif kind == "tool_use":
        body = (
            count_text_tokens(str(block.get("id", "")))
            + count_text_tokens(str(block.get("name", "")))
            + count_text_tokens(canonical_json(block.get("input", {})))
        )
    elif kind == "tool_result":
        body = count_text_tokens(str(block.get("tool_use_id", ""))) + sum(
            content_block_tokens(inner) for inner in _as_blocks(block.get("content", ""))
        )
    else:
        body = count_text_tokens(canonical_json(_without_cache_control(block)))
    return BLOCK_OVERHEAD_TOKENS + body


def _block_segment(prefix: str, block: Mapping[str, Any], tokens: int) -> PromptSegment:
    return PromptSegment(
        tokens=tokens,
        key=f"{prefix}:{canonical_json(_without_cache_control(block))}",
        ttl=_breakpoint_ttl(block),
    )


def prompt_segments(request: Mapping[str, Any]) -> list[PromptSegment]:
    """The prompt of a Messages request as segments in cache order (tools, system, messages)."""
    segments: list[PromptSegment] = []
    tools = [tool for tool in request.get("tools") or [] if isinstance(tool, Mapping)]
    if tools:
        segments.append(PromptSegment(TOOLS_PREAMBLE_TOKENS, "tools-preamble", block=False))
    for tool in tools:
        tokens = TOOL_OVERHEAD_TOKENS + count_text_tokens(
            canonical_json(_without_cache_control(tool))
        )
        segments.append(_block_segment("tool", tool, tokens))
    for block in _as_blocks(request.get("system")):
        segments.append(_block_segment("system", block, content_block_tokens(block)))
    for message in request.get("messages") or []:
        if not isinstance(message, Mapping):
            continue
        role = str(message.get("role", ""))
        segments.append(PromptSegment(MESSAGE_OVERHEAD_TOKENS, f"message:{role}", block=False))
        for block in _as_blocks(message.get("content")):
            segments.append(_block_segment(role, block, content_block_tokens(block)))
    segments.append(PromptSegment(REQUEST_OVERHEAD_TOKENS, "assistant-turn", block=False))
    return segments


def count_request_tokens(request: Mapping[str, Any]) -> int:
    """Total prompt tokens of a Messages request body (a plain JSON dict).

    Pure and tolerant of partial bodies, so callers can budget a request before
    sending it; equals the emulator's ``input_tokens + cache_creation_input_tokens
    + cache_read_input_tokens`` for the same request.
    """
    return sum(segment.tokens for segment in prompt_segments(request))


def prefix_digests(scope: str, segments: Sequence[PromptSegment]) -> list[str]:
    """Running hash after each segment: digest i identifies the prompt prefix [0..i]."""
    running = hashlib.sha256(scope.encode())
    digests: list[str] = []
    for segment in segments:
        running.update(b"\x00" + segment.key.encode())
        digests.append(running.copy().hexdigest())
    return digests
