"""Fitting a conversation into its token target: the strategies composed on one request.

1. Check and split the conversation into exchanges (`conversation`).
2. Lay out the chunk boundaries (`layout`): sealed chunks, the verbatim tail.
3. Compress every older exchange that is kept (`compression`), and drop whole chunks, oldest
   first, from the policy's minimum up to what the target needs (`planner`); the facts of
   dropped exchanges go into the "facts so far" note (`facts_note`).
4. Optionally summarise each dropped chunk through the orchestrator (`summarizer`).
5. Assemble the request: system prompt + note, kept exchanges, verbatim tail.

When nothing changes, the caller's request comes back untouched. A conversation that is all
verbatim tail (a single turn) stops after step 2: only its tokens are counted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from tollgate.common.token_estimate import estimate_request
from tollgate.conversation_optimizer.cache_cost import cut_pays
from tollgate.conversation_optimizer.conversation import Conversation, parse_conversation
from tollgate.conversation_optimizer.facts_note import FactsNote
from tollgate.conversation_optimizer.layout import plan_layout
from tollgate.conversation_optimizer.planner import Plan, Planner, note_block_tokens
from tollgate.conversation_optimizer.policy import Policy, Strategy
from tollgate.conversation_optimizer.targets import FixedParts, TargetReport, report_target
from tollgate.v1 import common_pb2


@dataclass(frozen=True)
class SummaryResult:
    # One summary per chunk, oldest first; empty when they did not all arrive (what did arrive
    # was still paid for, and is charged).
    texts: list[str]
    cost_micros: int
    usage: common_pb2.Usage = field(default_factory=common_pb2.Usage)
    model: str = ""


class ChunkSummarizer(Protocol):
    @property
    def available(self) -> bool: ...

    async def summarize(
        self,
        context: common_pb2.RequestContext,
        chunks: Sequence[Sequence[common_pb2.Message]],
        max_tokens: int,
    ) -> SummaryResult | None:
        """Summaries of `chunks`, or None when they cannot be had right now."""
        ...


@dataclass(frozen=True)
class Outcome:
    request: common_pb2.ClaudeRequest
    original_tokens: int
    optimized_tokens: int
    turns_removed: int
    facts_note: str
    strategies_applied: list[str]
    summary_cost_micros: int = 0
    # Where the conversation was cut, in exchanges (for diagnostics and tests).
    sealed_exchanges: int = 0
    dropped_exchanges: int = 0
    # Messages of `request` before the verbatim tail: the next turn's request starts with them
    # (and the same system prompt) until the cut moves. With prompt caching, the orchestrator
    # ends a cache breakpoint there.
    stable_messages: int = 0
    # Oldest exchanges sent verbatim so that the stable part can be cached (`cache_cost`).
    verbatim_head: int = 0
    summary_usage: common_pb2.Usage = field(default_factory=common_pb2.Usage)
    summary_model: str = ""
    target: TargetReport = field(default_factory=TargetReport)

    @property
    def changed(self) -> bool:
        return bool(self.strategies_applied)


# Planning takes about 70 µs of CPU per turn. Past this many turns it runs in a worker thread,
# so the event loop goes on serving other calls (health checks, short conversations) meanwhile.
THREAD_ABOVE_TURNS = 200


def _plan(
    request: common_pb2.ClaudeRequest, policy: Policy, summary_reserve: int
) -> tuple[Conversation, Planner, Plan] | Outcome:
    """The conversation, its planner and its cut; or, when there is nothing to cut, the
    unchanged outcome."""
    conversation = parse_conversation(request)
    layout = plan_layout(conversation, policy)
    if layout.verbatim_from == 0:
        # The whole conversation is its verbatim tail (a single turn, say): nothing can be
        # compressed or dropped, so only its tokens are counted. A target it misses takes the
        # planner's path, which explains the miss.
        tokens = estimate_request(request)
        if not policy.target_tokens or tokens <= policy.target_tokens:
            return _unchanged(request, tokens)
    planner = Planner(request, conversation, policy, layout)
    return conversation, planner, planner.plan(summary_reserve)


def _unchanged(
    request: common_pb2.ClaudeRequest, tokens: int, summaries: SummaryResult | None = None
) -> Outcome:
    return _charged(Outcome(request, tokens, tokens, 0, "", []), summaries)


def _charged(outcome: Outcome, summaries: SummaryResult | None) -> Outcome:
    """`outcome` with what its summaries cost (they are paid whether or not they were used)."""
    if summaries is None:
        return outcome
    return replace(
        outcome,
        summary_cost_micros=summaries.cost_micros,
        summary_usage=summaries.usage,
        summary_model=summaries.model,
    )


def _with_target(outcome: Outcome, policy: Policy, plan: Plan) -> Outcome:
    target = policy.target_tokens
    if not target or outcome.optimized_tokens <= target:
        # Met: the outcome's default report already says so (and a copy is not needed).
        return outcome
    # A conversation that is all verbatim tail is sent exactly as it came (same-role turns not
    # merged), so its tail is what it costs as sent, not the planner's estimate of the merged
    # turns: otherwise the explanation's figures would not add up to the request's.
    all_tail = plan.layout.verbatim_from == 0
    fixed = FixedParts(
        frame=plan.frame_tokens,
        tail=outcome.optimized_tokens - plan.frame_tokens if all_tail else plan.tail_tokens,
        tail_turns=plan.tail_turns,
        note=note_block_tokens(outcome.facts_note),
        can_drop=policy.uses(Strategy.KEEP_RECENT),
    )
    report = report_target(target, outcome.optimized_tokens, fixed)
    return replace(outcome, target=report)


def _unprofitable_with_caching(
    policy: Policy, original_tokens: int, optimized_tokens: int, tail_tokens: int
) -> bool:
    """With prompt caching, a cut that costs more than it saves (`cache_cost`) is not made,
    unless the request is over its target."""
    over_target = 0 < policy.target_tokens < original_tokens
    return (
        policy.prompt_caching
        and not over_target
        and not cut_pays(
            original_tokens, optimized_tokens - tail_tokens, policy.cached_min_prompt_tokens
        )
    )


class ConversationOptimizer:
    def __init__(self, summarizer: ChunkSummarizer | None = None) -> None:
        self._summarizer = summarizer

    def _summarizing(self, policy: Policy) -> bool:
        return (
            policy.uses(Strategy.SUMMARIZE)
            and self._summarizer is not None
            and self._summarizer.available
        )

    async def optimize(
        self,
        request: common_pb2.ClaudeRequest,
        policy: Policy,
        context: common_pb2.RequestContext | None = None,
    ) -> Outcome:
        """What to send instead of `request` under `policy`; INVALID_ARGUMENT if malformed."""
        summarizing = self._summarizing(policy)
        reserve = policy.summary_max_tokens if summarizing else 0
        if len(request.messages) > THREAD_ABOVE_TURNS:
            planned = await asyncio.to_thread(_plan, request, policy, reserve)
        else:
            planned = _plan(request, policy, reserve)
        if isinstance(planned, Outcome):
            return planned
        conversation, planner, plan = planned
        summaries: SummaryResult | None = None
        if summarizing and plan.dropped and self._summarizer is not None:
            summaries = await self._summarizer.summarize(
                context or common_pb2.RequestContext(),
                self._chunks(conversation, plan),
                policy.summary_max_tokens,
            )
        outcome = self._assemble(
            request, conversation, policy, plan, summaries, planner.original_tokens
        )
        return _with_target(_charged(outcome, summaries), policy, plan)

    @staticmethod
    def _chunks(conversation: Conversation, plan: Plan) -> list[list[common_pb2.Message]]:
        chunk = plan.layout.chunk
        return [
            [
                m
                for ex in conversation.exchanges[start : start + chunk]
                for m in conversation.exchange_messages(ex)
            ]
            for start in range(0, plan.dropped, chunk)
        ]

    @staticmethod
    def _assemble(
        request: common_pb2.ClaudeRequest,
        conversation: Conversation,
        policy: Policy,
        plan: Plan,
        summaries: SummaryResult | None,
        original_tokens: int,
    ) -> Outcome:
        exchanges = conversation.exchanges
        applied: set[Strategy] = set()
        turns_removed = sum(ex.size for ex in exchanges[: plan.dropped])
        if plan.dropped:
            applied.add(Strategy.KEEP_RECENT)
        messages: list[common_pb2.Message] = []
        for exchange in exchanges[plan.dropped : plan.layout.verbatim_from]:
            compressed = plan.compressed.get(exchange.index)
            if compressed is None:
                messages.extend(conversation.exchange_messages(exchange))
                continue
            if compressed.removed:
                turns_removed += exchange.size
            messages.extend(compressed.messages)
            if compressed.removed or compressed.shortened:
                applied.add(Strategy.DROP_LOW_VALUE)
            if compressed.truncated:
                applied.add(Strategy.TRUNCATE_TOOL_RESULTS)
            if compressed.condensed:
                applied.add(Strategy.CONDENSE_REPLIES)
        if not applied:
            return _unchanged(request, original_tokens)
        stable_messages = len(messages)
        for exchange in exchanges[plan.layout.verbatim_from :]:
            messages.extend(conversation.exchange_messages(exchange))
        summary_texts = summaries.texts if summaries is not None else []
        note_text = ""
        if plan.note is not None or summary_texts:
            note = plan.note if plan.note is not None else FactsNote()
            note_text = note.render(policy.note_max_tokens, [f"- {s}" for s in summary_texts])
            if note.lines:
                applied.add(Strategy.FACTS_NOTE)
            if summary_texts:
                applied.add(Strategy.SUMMARIZE)
        optimized = common_pb2.ClaudeRequest()
        optimized.CopyFrom(request)
        del optimized.messages[:]
        optimized.messages.extend(messages)
        if note_text:
            optimized.system.append(
                common_pb2.ContentBlock(text=common_pb2.TextBlock(text=note_text))
            )
        optimized_tokens = (
            plan.frame_tokens + note_block_tokens(note_text) + plan.kept_tokens + plan.tail_tokens
        )
        if optimized_tokens >= original_tokens:
            # A note longer than what it replaces (a short greeting dropped): not worth sending.
            return _unchanged(request, original_tokens)
        if _unprofitable_with_caching(policy, original_tokens, optimized_tokens, plan.tail_tokens):
            return _unchanged(request, original_tokens)
        return Outcome(
            request=optimized,
            original_tokens=original_tokens,
            optimized_tokens=optimized_tokens,
            turns_removed=turns_removed,
            facts_note=note_text,
            strategies_applied=[s.value for s in Strategy if s in applied],
            sealed_exchanges=plan.layout.sealed,
            dropped_exchanges=plan.dropped,
            stable_messages=stable_messages,
            verbatim_head=plan.head,
        )
