"""Planning one request's cut: compress the older exchanges, then choose how many to drop.

The planner estimates tokens once per message and reuses the figures: the frame (tools and
system prompt), each exchange as it is and as compressed, the verbatim tail. Dropping chunks
oldest first, it stops at the policy's minimum, or, with a target, at the first cut that fits
(counting the facts note, which grows with what is dropped, and any summary budget). With
prompt caching, a conversation whose condensed form would be too short to cache keeps its
oldest exchanges verbatim up to the cache minimum (`cache_cost`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from tollgate.common.token_estimate import (
    BLOCK_OVERHEAD_TOKENS,
    estimate_frame,
    estimate_message,
    estimate_request,
    estimate_text,
    struct_to_python,
)
from tollgate.conversation_optimizer.cache_cost import cut_pays, verbatim_head
from tollgate.conversation_optimizer.compression import (
    CompressedExchange,
    CompressionOptions,
    compress_exchange,
)
from tollgate.conversation_optimizer.conversation import Conversation
from tollgate.conversation_optimizer.facts_note import FactsNote, NoteSource
from tollgate.conversation_optimizer.layout import Layout, plan_layout
from tollgate.conversation_optimizer.low_value import SentenceHistory
from tollgate.conversation_optimizer.policy import Policy, Strategy
from tollgate.v1 import common_pb2


@dataclass
class Plan:
    layout: Layout
    dropped: int
    # Estimated tokens of the request's frame (tools, system prompt without the note), of the
    # sealed exchanges kept (compressed where compression applies) and of the verbatim tail.
    frame_tokens: int
    kept_tokens: int
    tail_tokens: int
    compressed: dict[int, CompressedExchange] = field(default_factory=dict)
    note: FactsNote | None = None
    # Turns (messages) in the verbatim tail.
    tail_turns: int = 0
    # Oldest exchanges kept verbatim so that the stable part can be cached (`cache_cost`).
    head: int = 0


def _texts(message: common_pb2.Message) -> list[str]:
    return [b.text.text for b in message.content if b.WhichOneof("block") == "text"]


def _tool_call_text(block: common_pb2.ToolUseBlock) -> str:
    arguments = "; ".join(f"{k}={v}" for k, v in struct_to_python(block.input).items())
    return f"called {block.name}: {arguments}"


def note_sources(
    messages: Sequence[common_pb2.Message], tool_names: dict[str, str], tool_results: bool
) -> list[NoteSource]:
    """What the note may draw on from one dropped exchange, in order."""
    sources: list[NoteSource] = []
    for message in messages:
        user = message.role == common_pb2.ROLE_USER
        speaker = "user" if user else "assistant"
        for block in message.content:
            kind = block.WhichOneof("block")
            if kind == "text":
                sources.append(NoteSource(speaker, block.text.text, states_requirements=user))
            elif kind == "tool_use":
                sources.append(NoteSource("assistant", _tool_call_text(block.tool_use)))
            elif kind == "tool_result" and tool_results:
                name = tool_names.get(block.tool_result.tool_use_id, "tool")
                for inner in block.tool_result.content:
                    if inner.WhichOneof("block") == "text":
                        sources.append(NoteSource(f"tool {name}", inner.text.text))
    return sources


def _tool_names(messages: Sequence[common_pb2.Message]) -> dict[str, str]:
    return {
        b.tool_use.id: b.tool_use.name
        for m in messages
        for b in m.content
        if b.WhichOneof("block") == "tool_use"
    }


def note_block_tokens(note_text: str) -> int:
    """Tokens the note adds as a system block."""
    return BLOCK_OVERHEAD_TOKENS + estimate_text(note_text) if note_text else 0


class Planner:
    """Chooses how many chunks to drop and compresses what stays (one request)."""

    def __init__(
        self,
        request: common_pb2.ClaudeRequest,
        conversation: Conversation,
        policy: Policy,
        layout: Layout | None = None,
    ) -> None:
        self.request = request
        self.conversation = conversation
        self.policy = policy
        self.layout = layout if layout is not None else plan_layout(conversation, policy)
        self.exchanges = conversation.exchanges
        self.frame_tokens = estimate_frame(request)
        message_tokens = [estimate_message(m) for m in conversation.messages]
        self.exchange_tokens = [
            sum(message_tokens[ex.start : ex.end]) for ex in conversation.exchanges
        ]

    @cached_property
    def tool_names(self) -> dict[str, str]:
        # Only compression and the note need them: a conversation with nothing older than its
        # verbatim tail never looks.
        return _tool_names(self.conversation.messages)

    @property
    def original_tokens(self) -> int:
        if self.conversation.merged:
            return estimate_request(self.request)
        return self.frame_tokens + sum(self.exchange_tokens)

    def _compress(self) -> dict[int, CompressedExchange]:
        policy = self.policy
        options = CompressionOptions(
            drop_low_value=policy.uses(Strategy.DROP_LOW_VALUE),
            truncate_tool_results=policy.uses(Strategy.TRUNCATE_TOOL_RESULTS),
            tool_result_max_tokens=policy.tool_result_max_tokens,
            note_tool_results=policy.note_tool_results,
            condense_replies=policy.uses(Strategy.CONDENSE_REPLIES),
            reply_max_tokens=policy.reply_max_tokens,
        )
        if not options.any_enabled:
            return {}
        history = SentenceHistory.empty()
        compressed: dict[int, CompressedExchange] = {}
        for exchange in self.exchanges[: self.layout.verbatim_from]:
            messages = self.conversation.exchange_messages(exchange)
            if exchange.index >= self.layout.min_dropped:
                compressed[exchange.index] = compress_exchange(
                    messages,
                    self.exchange_tokens[exchange.index],
                    history,
                    options,
                    self.tool_names,
                )
            texts = [text for m in messages for text in _texts(m)]
            if options.drop_low_value:
                history.remember(texts)
            if options.condense_replies:
                history.remember_facts(texts)
        return compressed

    def _kept_tokens(self, compressed: dict[int, CompressedExchange]) -> list[int]:
        """kept[d]: tokens of exchanges [d, verbatim_from) as they would be sent."""
        end = self.layout.verbatim_from
        kept = [0] * (end + 1)
        for i in range(end - 1, -1, -1):
            c = compressed.get(i)
            kept[i] = kept[i + 1] + (c.tokens if c is not None else self.exchange_tokens[i])
        return kept

    def plan(self, summary_reserve: int) -> Plan:
        """The cut; `summary_reserve` is counted per dropped chunk while fitting the target."""
        layout = self.layout
        tail = sum(self.exchange_tokens[layout.verbatim_from :])
        tail_turns = sum(ex.size for ex in self.exchanges[layout.verbatim_from :])
        if layout.verbatim_from == 0:
            return Plan(layout, 0, self.frame_tokens, 0, tail, tail_turns=tail_turns)
        compressed = self._compress()
        kept = self._kept_tokens(compressed)
        head = self._verbatim_head(kept)
        if head:
            compressed = {i: c for i, c in compressed.items() if i >= head}
            kept = self._kept_tokens(compressed)
        note: FactsNote | None = None
        if self.policy.uses(Strategy.FACTS_NOTE):
            note = FactsNote()
        target = self.policy.target_tokens
        noted = 0
        dropped = layout.min_dropped
        for candidate in layout.drop_candidates(bool(target)):
            if note is not None:
                for exchange in self.exchanges[noted:candidate]:
                    note.add_all(self._sources(exchange.index))
                noted = candidate
            dropped = candidate
            if not target:
                break
            reserve = (candidate // layout.chunk) * summary_reserve
            note_tokens = note_block_tokens(
                note.render(self.policy.note_max_tokens) if note else ""
            )
            if self.frame_tokens + note_tokens + reserve + kept[candidate] + tail <= target:
                break
        if note is not None and self.policy.note_tool_results:
            for i in range(dropped, layout.verbatim_from):
                if i in compressed:
                    note.add_all(compressed[i].removed_tool_output)
        return Plan(
            layout,
            dropped,
            self.frame_tokens,
            kept[dropped],
            tail,
            {i: c for i, c in compressed.items() if i >= dropped},
            note,
            tail_turns,
            head,
        )

    def _verbatim_head(self, kept: list[int]) -> int:
        """Exchanges to keep verbatim at the start (0: condense them all). Only with prompt
        caching, when nothing is dropped by policy, the request is within its target (the
        target comes first) and the fully condensed stable part could not be cached."""
        policy = self.policy
        if not policy.prompt_caching or self.layout.min_dropped:
            return 0
        if 0 < policy.target_tokens < self.original_tokens:
            return 0
        minimum = policy.cached_min_prompt_tokens
        if cut_pays(self.original_tokens, self.frame_tokens + kept[0], minimum):
            return 0
        older = self.exchange_tokens[: self.layout.verbatim_from]
        return verbatim_head(self.frame_tokens, older, minimum)

    def _sources(self, index: int) -> list[NoteSource]:
        messages = self.conversation.exchange_messages(self.exchanges[index])
        return note_sources(messages, self.tool_names, self.policy.note_tool_results)
