"""Evaluation of the conversation optimizer: token reduction and fact retention.

    uv run python -m bench.pruning_eval

Runs every conversation of bench/data/crm_conversations.jsonl (see `bench.crm_conversations`:
60 generated real-estate CRM conversations of 21-73 turns, with labelled facts) through the
optimizer under several strategy chains and token targets, and prints markdown tables:

- token reduction: 1 - optimized / original input tokens, summed over all conversations, as
  counted by the reference counter (the emulator's, `tollgate.emulator.tokens`), so the
  optimizer's own estimate is not grading itself;
- fact retention: labelled facts still present verbatim anywhere in the optimized request (kept
  turns, tool results, or the facts note), over all labelled facts;
- retention of removed facts: the same, over only the facts no longer found in the kept turns,
  i.e. the ones the note had to carry;
- target met: conversations whose optimized request fits the target (reference count);
- replayed turn by turn (every request an application would send as the conversation grew),
  with and without prompt caching: input tokens, the share read from the cache and the input
  cost at list prices, from the emulator's own prompt-cache accounting (`PromptCache`), and the
  share of turns whose optimized request starts byte for byte with the previous turn's (system
  prompt, note and messages), which is what lets the cache hit.

The baseline of every ratio is the unoptimized conversation of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from dataclasses import dataclass
from typing import Any

from bench.crm_conversations import LONG_DATA_FILE, generate, generate_long, load
from bench.dialogue_scoring import block_texts
from bench.progress import phase
from tollgate.common.anthropic_format import request_from_params, request_to_params
from tollgate.common.pricing import PriceTable
from tollgate.conversation_optimizer.optimizer import ConversationOptimizer
from tollgate.conversation_optimizer.policy import Policy, Strategy
from tollgate.emulator.clock import Clock
from tollgate.emulator.prompt_cache import PromptCache
from tollgate.emulator.tokens import canonical_json, count_request_tokens, prompt_segments
from tollgate.v1 import common_pb2

# `summarize` is not evaluated: its summaries are only as good as the model writing them.
K, L, T, F = (
    Strategy.KEEP_RECENT,
    Strategy.DROP_LOW_VALUE,
    Strategy.TRUNCATE_TOOL_RESULTS,
    Strategy.FACTS_NOTE,
)
DEFAULT = Policy()
# Prices of the replay (the model of the data set is priced like its predecessor when the price
# table does not list it); the emulator's minimum cacheable prefix for Sonnet.
PRICED_MODEL = "claude-sonnet-4-5"
MIN_CACHEABLE_TOKENS = 1024


@dataclass(frozen=True)
class Config:
    label: str
    policy: Policy


CONFIGS = [
    Config("drop_low_value + truncate_tool_results (no dropping)", Policy(strategies=(L, T))),
    Config("keep_recent", Policy(strategies=(K,))),
    Config("keep_recent + facts_note", Policy(strategies=(K, F))),
    Config("keep_recent + drop_low_value + facts_note", Policy(strategies=(K, L, F))),
    Config("keep_recent + truncate_tool_results + facts_note", Policy(strategies=(K, T, F))),
    Config("**default** (all four)", DEFAULT),
    Config("default, compressed_chunks=0", Policy(compressed_chunks=0)),
    Config(
        "default, keep_last_turns=8, chunk_exchanges=6",
        Policy(keep_last_turns=8, chunk_exchanges=6),
    ),
    Config(
        "default, `prompt_caching` (chunks of 10, none compressed)", DEFAULT.for_prompt_caching()
    ),
    Config("default + target 3000", Policy(target_tokens=3000)),
    Config("default + target 2000", Policy(target_tokens=2000)),
    Config("default + target 1200", Policy(target_tokens=1200)),
]


def request_text(params: dict[str, Any]) -> str:
    """Everything in a request a fact could hide in, as one string."""
    parts: list[str] = []
    for block in params.get("system") or []:
        parts.append(block.get("text", ""))
    for message in params["messages"]:
        parts.append(canonical_json(message["content"]))
        for block in message["content"]:
            parts.extend(block_texts(block))
    return "\n".join(parts)


def messages_text(params: dict[str, Any]) -> str:
    return "\n".join(t for m in params["messages"] for b in m["content"] for t in block_texts(b))


@dataclass
class Row:
    original: int = 0
    optimized: int = 0
    facts: int = 0
    retained: int = 0
    at_risk: int = 0
    rescued: int = 0
    within_target: int = 0
    conversations: int = 0
    # Tokens of the tools and system prompt, which no strategy removes.
    frame: int = 0
    per_conversation: list[float] | None = None

    def add(self, original: int, optimized: int) -> None:
        self.original += original
        self.optimized += optimized
        self.conversations += 1
        if self.per_conversation is None:
            self.per_conversation = []
        self.per_conversation.append(1 - optimized / original)

    @property
    def reduction(self) -> float:
        return 1 - self.optimized / self.original if self.original else 0.0


def bucket(turns: int) -> str:
    if turns < 40:
        return "20-39 turns"
    if turns < 60:
        return "40-59 turns"
    return "60+ turns"


async def evaluate(
    conversations: list[dict[str, Any]], config: Config
) -> tuple[Row, dict[str, Row]]:
    optimizer = ConversationOptimizer()
    overall = Row()
    buckets: dict[str, Row] = {}
    for conversation in conversations:
        request = request_from_params(conversation["request"])
        outcome = await optimizer.optimize(request, config.policy)
        original = count_request_tokens(conversation["request"])
        params = request_to_params(outcome.request)
        optimized = count_request_tokens(params)
        everything = request_text(params)
        kept_turns = messages_text(params)
        row = buckets.setdefault(bucket(len(request.messages)), Row())
        for target in (overall, row):
            target.add(original, optimized)
            target.frame += count_request_tokens({**conversation["request"], "messages": []})
            target.within_target += int(
                not config.policy.target_tokens or optimized <= config.policy.target_tokens
            )
            for fact in conversation["facts"]:
                text = fact["text"]
                target.facts += 1
                present = text in everything
                target.retained += int(present)
                if text not in kept_turns:
                    target.at_risk += 1
                    target.rescued += int(present)
    return overall, buckets


def _prefix_of(previous: common_pb2.ClaudeRequest, current: common_pb2.ClaudeRequest) -> bool:
    if list(previous.system) != list(current.system):
        return False
    if len(previous.messages) > len(current.messages):
        return False
    return all(a == b for a, b in zip(previous.messages, current.messages, strict=False))


def with_breakpoints(params: dict[str, Any]) -> dict[str, Any]:
    """cache_control on the last block of the last two user turns: the usual multi-turn
    placement (the previous turn's end is read, the new end written)."""
    users = [m for m in params["messages"] if m["role"] == "user"]
    for message in users[-2:]:
        message["content"][-1]["cache_control"] = {"type": "ephemeral"}
    return params


@dataclass
class Replay:
    stable: int = 0
    compared: int = 0
    cost_micros: int = 0
    prompt_tokens: int = 0
    read_tokens: int = 0


async def replay(
    conversations: list[dict[str, Any]], policy: Policy | None, caching: bool
) -> Replay:
    """Each conversation sent turn by turn, as the application would, through the optimizer
    (`policy`; None sends it as it is), priced with the emulator's prompt-cache accounting."""
    optimizer = ConversationOptimizer()
    prices = PriceTable.load()
    result = Replay()
    for conversation in conversations:
        params = conversation["request"]
        messages = params["messages"]
        cache = PromptCache(Clock())
        previous: common_pb2.ClaudeRequest | None = None
        for end in range(1, len(messages) + 1):
            if messages[end - 1]["role"] != "user":
                continue
            request = request_from_params({**params, "messages": messages[:end]})
            if policy is not None:
                request = (await optimizer.optimize(request, policy)).request
            if previous is not None:
                result.compared += 1
                result.stable += int(_prefix_of(previous, request))
            previous = request
            body = request_to_params(request)
            if caching:
                body = with_breakpoints(body)
            usage = cache.apply(
                scope=conversation["id"],
                model=PRICED_MODEL,
                segments=prompt_segments(body),
                min_tokens=MIN_CACHEABLE_TOKENS,
            )
            result.prompt_tokens += usage.total_input_tokens
            result.read_tokens += usage.cache_read_input_tokens
            result.cost_micros += prices.cost(
                PRICED_MODEL,
                common_pb2.Usage(
                    input_tokens=usage.input_tokens,
                    cache_read_input_tokens=usage.cache_read_input_tokens,
                    cache_creation_input_tokens=usage.cache_creation_input_tokens,
                    cache_creation_5m_input_tokens=usage.cache_creation_5m_tokens,
                ),
            ).total_micros
    return result


def pct(value: float) -> str:
    return f"{100 * value:.1f}%"


async def main_async(args: argparse.Namespace) -> None:
    conversations = load()
    if args.check_data and (conversations != generate() or load(LONG_DATA_FILE) != generate_long()):
        raise SystemExit("bench/data is stale: run python -m bench.crm_conversations")
    turns = [len(c["request"]["messages"]) for c in conversations]
    facts = sum(len(c["facts"]) for c in conversations)
    print(
        f"{len(conversations)} conversations, {min(turns)}-{max(turns)} turns "
        f"(median {statistics.median(turns):.0f}), {facts} labelled facts; tokens by the "
        "reference counter\n"
    )
    print(
        "| strategies | target | token reduction | mean per conversation | fact retention "
        "| retention of removed facts | target met |"
    )
    print("|---|---|---|---|---|---|---|")
    default_buckets: dict[str, Row] = {}
    for number, config in enumerate(CONFIGS, start=1):
        phase(f"configuration {number} of {len(CONFIGS)}: {config.label} ...")
        row, buckets = await evaluate(conversations, config)
        if config.policy == DEFAULT:
            default_buckets = buckets
        rescued = pct(row.rescued / row.at_risk) if row.at_risk else "n/a"
        target = str(config.policy.target_tokens or "-")
        met = f"{row.within_target}/{row.conversations}" if config.policy.target_tokens else "-"
        mean = statistics.mean(row.per_conversation or [0.0])
        print(
            f"| {config.label} | {target} | {pct(row.reduction)} | {pct(mean)} | "
            f"{pct(row.retained / row.facts)} | {rescued} ({row.at_risk} facts) | {met} |"
        )
    print("\nDefault settings by conversation length:\n")
    print(
        "| turns | conversations | token reduction | fact retention "
        "| tools + system prompt, share of the input |"
    )
    print("|---|---|---|---|---|")
    for name in sorted(default_buckets):
        row = default_buckets[name]
        print(
            f"| {name} | {row.conversations} | {pct(row.reduction)} | "
            f"{pct(row.retained / row.facts)} | {pct(row.frame / row.original)} |"
        )
    for label, data in (("main set", conversations), ("long set", load(LONG_DATA_FILE))):
        phase(f"replaying the {label} turn by turn ...")
        await print_replay(label, data)


async def print_replay(label: str, conversations: list[dict[str, Any]]) -> None:
    requests = sum(
        1 for c in conversations for m in c["request"]["messages"] if m["role"] == "user"
    )
    turns = [len(c["request"]["messages"]) for c in conversations]
    print(
        f"\nReplayed turn by turn, {label} ({len(conversations)} conversations of "
        f"{min(turns)}-{max(turns)} turns, {requests} requests): input priced at {PRICED_MODEL} "
        "list prices with the emulator's prompt-cache accounting, breakpoints on the last two "
        "user turns:\n"
    )
    print(
        "| requests sent | prompt cache | input tokens | read from cache | input cost | "
        "vs unoptimized, no cache | prefix-stable turns |"
    )
    print("|---|---|---|---|---|---|---|")
    runs: list[tuple[str, Policy | None, bool]] = [
        ("unoptimized", None, False),
        ("unoptimized", None, True),
        ("optimized, default", DEFAULT, False),
        ("optimized, default (cut every 3 exchanges)", DEFAULT, True),
        (
            "optimized, `prompt_caching` (cut every 10 exchanges)",
            DEFAULT.for_prompt_caching(),
            True,
        ),
    ]
    baseline = 0
    for name, policy, caching in runs:
        result = await replay(conversations, policy, caching)
        baseline = baseline or result.cost_micros
        stable = pct(result.stable / result.compared) if policy is not None else "100.0%"
        print(
            f"| {name} | {'on' if caching else 'off'} | {result.prompt_tokens:,} | "
            f"{pct(result.read_tokens / result.prompt_tokens)} | "
            f"${result.cost_micros / 1_000_000:,.2f} | {pct(result.cost_micros / baseline)} | "
            f"{stable} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check-data",
        action="store_true",
        help="fail if the data file is not what the generator makes",
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
