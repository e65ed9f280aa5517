"""Compressing one old exchange: low-value sentences out, the assistant's replies condensed,
long tool results cut.

The result depends only on the exchange and on what was said before it, so an exchange is
compressed identically on every later turn. An exchange with nothing left to say (a greeting and
its reply, "thanks" and "you're welcome") is removed whole, which keeps roles alternating; a turn
that would be left empty keeps its original text, or, when it only repeated earlier sentences,
becomes a short marker saying so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tollgate.common.token_estimate import estimate_messages
from tollgate.conversation_optimizer.facts_note import NoteSource
from tollgate.conversation_optimizer.low_value import SentenceHistory, shorten
from tollgate.conversation_optimizer.replies import condense_reply
from tollgate.conversation_optimizer.tool_results import truncate_tool_result
from tollgate.v1 import common_pb2

REPEAT_MARKER = "[Repeated an earlier message.]"


@dataclass(frozen=True)
class CompressionOptions:
    drop_low_value: bool
    truncate_tool_results: bool
    tool_result_max_tokens: int
    # Assistant replies cut to their facts and closing question (`replies`), within this many
    # tokens each.
    condense_replies: bool
    reply_max_tokens: int

    @property
    def any_enabled(self) -> bool:
        return self.drop_low_value or self.truncate_tool_results or self.condense_replies

    # Keep what truncation removed as note sources (their facts go into the note).
    note_tool_results: bool


@dataclass
class CompressedExchange:
    # Empty when the whole exchange was low-value and removed.
    messages: list[common_pb2.Message]
    tokens: int
    shortened: bool = False
    truncated: bool = False
    condensed: bool = False
    removed_tool_output: list[NoteSource] = field(default_factory=list)

    @property
    def removed(self) -> bool:
        return not self.messages


def _text_block(text: str, original: common_pb2.ContentBlock) -> common_pb2.ContentBlock:
    block = common_pb2.ContentBlock(text=common_pb2.TextBlock(text=text))
    if original.HasField("cache_control"):
        block.cache_control.CopyFrom(original.cache_control)
    return block


@dataclass
class _MessageOutcome:
    blocks: list[common_pb2.ContentBlock]
    shortened: bool = False
    truncated: bool = False
    condensed: bool = False
    # Every sentence removed was a repeat (so an emptied turn says it repeated itself).
    repeats_only: bool = False

    @property
    def changed(self) -> bool:
        return self.shortened or self.truncated or self.condensed


def _compress_message(
    message: common_pb2.Message,
    history: SentenceHistory,
    options: CompressionOptions,
    tool_names: dict[str, str],
    removed_tool_output: list[NoteSource],
) -> _MessageOutcome:
    outcome = _MessageOutcome([])
    pleasantries = repeats = 0
    condense = options.condense_replies and message.role == common_pb2.ROLE_ASSISTANT
    for block in message.content:
        kind = block.WhichOneof("block")
        if kind == "text" and (options.drop_low_value or condense):
            text = block.text.text
            if options.drop_low_value:
                result = shorten(text, history)
                if result.changed:
                    outcome.shortened = True
                    pleasantries += result.removed_pleasantries
                    repeats += result.removed_repeats
                    text = result.text
            if condense and text:
                condensed = condense_reply(text, options.reply_max_tokens, history.facts)
                outcome.condensed = outcome.condensed or condensed != text
                text = condensed
            if text != block.text.text:
                if text:
                    outcome.blocks.append(_text_block(text, block))
                continue
        elif kind == "tool_result" and options.truncate_tool_results:
            cut = truncate_tool_result(block, options.tool_result_max_tokens)
            if cut is not None:
                replacement, removed = cut
                outcome.blocks.append(replacement)
                outcome.truncated = True
                if options.note_tool_results:
                    name = tool_names.get(block.tool_result.tool_use_id, "tool")
                    removed_tool_output.extend(NoteSource(f"tool {name}", t) for t in removed)
                continue
        outcome.blocks.append(block)
    outcome.repeats_only = repeats > 0 and pleasantries == 0
    return outcome


def _has_structure(messages: list[common_pb2.Message]) -> bool:
    """Anything but text (tool calls, results, images) pins an exchange in place."""
    return any(block.WhichOneof("block") != "text" for m in messages for block in m.content)


def compress_exchange(
    messages: list[common_pb2.Message],
    tokens: int,
    history: SentenceHistory,
    options: CompressionOptions,
    tool_names: dict[str, str],
) -> CompressedExchange:
    """`messages` (one exchange, `tokens` as sent) compressed; `history` holds what was said
    before it."""
    removed_tool_output: list[NoteSource] = []
    outcomes = [
        _compress_message(message, history, options, tool_names, removed_tool_output)
        for message in messages
    ]
    if not any(o.changed for o in outcomes):
        return CompressedExchange(messages, tokens)
    if not _has_structure(messages) and all(not o.blocks for o in outcomes):
        return CompressedExchange([], 0, shortened=True)
    result: list[common_pb2.Message] = []
    applied: list[_MessageOutcome] = []
    for message, outcome in zip(messages, outcomes, strict=True):
        blocks = outcome.blocks
        if not outcome.changed or (not blocks and not outcome.repeats_only):
            # Unchanged, or only courtesies that would leave the turn empty: keep it whole.
            result.append(message)
            continue
        if not blocks:
            blocks = [common_pb2.ContentBlock(text=common_pb2.TextBlock(text=REPEAT_MARKER))]
        result.append(common_pb2.Message(role=message.role, content=blocks))
        applied.append(outcome)
    if not applied:
        return CompressedExchange(messages, tokens)
    return CompressedExchange(
        result,
        estimate_messages(result),
        shortened=any(o.shortened for o in applied),
        truncated=any(o.truncated for o in applied),
        condensed=any(o.condensed for o in applied),
        removed_tool_output=removed_tool_output,
    )
