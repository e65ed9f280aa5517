"""What the optimizer does to a conversation: the strategy chain and its parameters, per task.

Strategies (names as callers send them in `OptimizeConversationRequest.strategies`):

- `keep_recent`: keep the system prompt and the last `keep_last_turns` turns; older exchanges are
  dropped in whole chunks of `chunk_exchanges`, keeping the newest `compressed_chunks` chunks in
  compressed form, and more chunks go when the request is still over its token target. Requests
  sent with prompt caching use `cached_chunk_exchanges` and `cached_compressed_chunks` instead.
- `drop_low_value`: in old, kept turns, remove greetings, thanks, acknowledgements and sentences
  repeated from earlier; an exchange left with nothing to say is removed.
- `condense_replies`: in old, kept turns, the assistant's replies keep only their fact sentences
  and closing question, within `reply_max_tokens` each (the user's words stay as they are).
- `truncate_tool_results`: in old, kept turns, cut tool results over `tool_result_max_tokens`.
- `facts_note`: the facts of removed turns go into a "facts so far" note, appended to the system
  prompt.
- `summarize`: each removed chunk is also summarised by a cheap model through the orchestrator
  (cached; skipped whenever the orchestrator is not configured or does not answer in time).

The chain is a set: strategies always run in the order above, because the note and the summary
describe what the others removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tollgate.common.errors import invalid_argument
from tollgate.common.lru import LruCache
from tollgate.v1 import common_pb2


class Strategy(StrEnum):
    KEEP_RECENT = "keep_recent"
    DROP_LOW_VALUE = "drop_low_value"
    CONDENSE_REPLIES = "condense_replies"
    TRUNCATE_TOOL_RESULTS = "truncate_tool_results"
    FACTS_NOTE = "facts_note"
    SUMMARIZE = "summarize"


STRATEGY_ORDER: tuple[Strategy, ...] = tuple(Strategy)
DEFAULT_CHAIN: tuple[Strategy, ...] = (
    Strategy.KEEP_RECENT,
    Strategy.DROP_LOW_VALUE,
    Strategy.CONDENSE_REPLIES,
    Strategy.TRUNCATE_TOOL_RESULTS,
    Strategy.FACTS_NOTE,
)


class Policy(BaseModel):
    """The optimizer's parameters for one kind of task."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategies: tuple[Strategy, ...] = DEFAULT_CHAIN
    # Input tokens to fit into; 0 applies the chain without a target.
    target_tokens: int = Field(default=0, ge=0)
    # Turns (messages) at the end that are always sent as they are.
    keep_last_turns: int = Field(default=2, ge=1)
    # Older exchanges are compressed and dropped this many at a time, so the prompt prefix only
    # changes once every `chunk_exchanges` exchanges (and Anthropic's prompt cache keeps hitting).
    chunk_exchanges: int = Field(default=3, ge=1)
    # Chunks of older exchanges kept in compressed form before the oldest are dropped.
    compressed_chunks: int = Field(default=1, ge=0)
    # The same two for requests sent with prompt caching. Every cut rewrites the cache from the
    # cut onwards (at 1.25x the input price) while an unchanged prefix is read at 0.1x, so with
    # caching the cut moves less often: bench/pruning_eval measures the trade-off.
    cached_chunk_exchanges: int = Field(default=10, ge=1)
    cached_compressed_chunks: int = Field(default=100, ge=0)
    # The shortest prompt the API caches (1024 tokens for Sonnet and Opus, 2048 for Haiku). With
    # prompt caching, while the fully condensed stable part would be shorter, the oldest
    # exchanges stay verbatim up to it (`cache_cost`): a shortened prompt under this minimum is
    # billed in full on every turn.
    cached_min_prompt_tokens: int = Field(default=1024, ge=0)
    # Set by `for_prompt_caching`: the request goes out with cache breakpoints.
    prompt_caching: bool = False
    tool_result_max_tokens: int = Field(default=150, ge=20)
    # Per condensed assistant reply: room for a few new facts and the closing question.
    reply_max_tokens: int = Field(default=100, ge=10)
    # Facts found in tool results also go into the note (off: the assistant's replies carry what
    # mattered in them, and listings would crowd the note).
    note_tool_results: bool = False
    # 0: no limit. Over the limit, the oldest fact lines are left out.
    note_max_tokens: int = Field(default=0, ge=0)
    summary_max_tokens: int = Field(default=200, ge=16)

    def with_request(self, strategies: list[str], target_tokens: int) -> Policy:
        """This policy with a request's own chain and target, when it sets them."""
        changes: dict[str, Any] = {}
        if strategies:
            changes["strategies"] = parse_strategies(strategies)
        if target_tokens:
            changes["target_tokens"] = target_tokens
        return self.model_copy(update=changes) if changes else self

    def for_prompt_caching(self) -> Policy:
        """This policy for a request that will be sent with prompt-cache breakpoints."""
        return self.model_copy(
            update={
                "chunk_exchanges": self.cached_chunk_exchanges,
                "compressed_chunks": self.cached_compressed_chunks,
                "prompt_caching": True,
            }
        )

    def uses(self, strategy: Strategy) -> bool:
        return strategy in self.strategies


def parse_strategies(names: list[str]) -> tuple[Strategy, ...]:
    known = {s.value: s for s in Strategy}
    chosen: set[Strategy] = set()
    for i, name in enumerate(names):
        strategy = known.get(name.strip().lower())
        if strategy is None:
            raise invalid_argument(
                f"Unknown strategy {name!r}; known strategies are {', '.join(known)}.",
                f"strategies[{i}]",
            )
        chosen.add(strategy)
    return tuple(s for s in STRATEGY_ORDER if s in chosen)


TASK_NAMES: dict[int, str] = {
    common_pb2.TASK_TYPE_UNSPECIFIED: "chat",
    common_pb2.TASK_TYPE_CHAT: "chat",
    common_pb2.TASK_TYPE_LEAD_ANALYSIS: "lead_analysis",
    common_pb2.TASK_TYPE_REPORT: "report",
    common_pb2.TASK_TYPE_SCRIPT: "script",
    common_pb2.TASK_TYPE_INTERVENTION: "intervention",
    common_pb2.TASK_TYPE_CLASSIFICATION: "classification",
}
KNOWN_TASKS = frozenset(TASK_NAMES.values())

# Distinct (task, chain, target, caching) policies kept by `PolicyBook.for_request`.
REQUEST_POLICIES = 1024

# Tasks that read the whole history closely keep more of it; classification needs little.
DEFAULT_TASK_OVERRIDES: dict[str, dict[str, Any]] = {
    "lead_analysis": {"keep_last_turns": 6, "compressed_chunks": 2},
    "report": {"keep_last_turns": 6, "compressed_chunks": 2},
    "classification": {"compressed_chunks": 0},
}


class PolicyBook:
    """The policy of every task: the default with each task's overrides applied."""

    def __init__(self, default: Policy, overrides: dict[str, dict[str, Any]]) -> None:
        unknown = sorted(set(overrides) - KNOWN_TASKS)
        if unknown:
            raise ValueError(
                f"task policies for unknown tasks {unknown}; known: {sorted(KNOWN_TASKS)}"
            )
        self.default = default
        self._by_task = {
            task: Policy.model_validate({**default.model_dump(), **overrides.get(task, {})})
            for task in KNOWN_TASKS
        }
        # Targets come from callers, so combinations are unbounded: the most recent are kept.
        self._by_request: LruCache[tuple[int, tuple[str, ...], int, bool], Policy] = LruCache(
            REQUEST_POLICIES
        )

    def for_task(self, task: int) -> Policy:
        return self._by_task[TASK_NAMES.get(task, "chat")]

    def for_request(
        self, task: int, strategies: Sequence[str], target_tokens: int, prompt_caching: bool
    ) -> Policy:
        """The policy of one request: its task's, with the request's chain, target and caching.

        Policies are immutable, so one is built per distinct combination and reused: deriving
        it (a pydantic copy) cost more than the rest of a short conversation's optimization.
        """
        key = (task, tuple(strategies), target_tokens, prompt_caching)
        policy = self._by_request.get(key)
        if policy is None:
            policy = self.for_task(task).with_request(list(strategies), target_tokens)
            if prompt_caching:
                policy = policy.for_prompt_caching()
            self._by_request.put(key, policy)
        return policy
