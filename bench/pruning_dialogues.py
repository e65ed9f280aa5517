"""The conversation optimizer on the frozen test split of `bench.dialogues`.

    uv run python -m bench.pruning_dialogues            # test split (the reported figures)
    uv run python -m bench.pruning_dialogues --split dev

Every request goes through the service's own `OptimizeConversation` handler as the gateway
calls it today (`services/gateway/.../pipeline.py`: the task's policy, `target_tokens` from the
`conversation_optimization` flag, 6000 in the chart's values, and `prompt_caching` when the
prompt-caching flag is on, which it is by default). Tokens are counted with the emulator's
reference counter (`tollgate.emulator.tokens`), not the optimizer's estimate.

1. Whole conversations (the request of the last turn): fewer input tokens, current facts kept
   verbatim, corrections whose old value is presented as current (`bench.dialogue_scoring`),
   and for targets (a share of each conversation's original tokens) how many were met.
2. Cost replay: every conversation sent turn by turn, as the application would, to the Anthropic
   API emulator over HTTP through the official SDK; when caching is on, with the breakpoints the
   orchestrator places (`place_breakpoints`: tools, system prompt, and the older turns, or, for
   an optimized request, the end of its stable prefix as the gateway forwards it); input cost
   from the emulator's usage (its prompt-cache writes and reads) at list prices.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from dataclasses import dataclass, field
from typing import Any

import anthropic

from bench.dialogue_scoring import Score, score
from bench.dialogues import DEV_FILE, load, load_test
from tollgate.common.anthropic_format import request_from_params, request_to_params
from tollgate.common.pricing import PriceTable
from tollgate.conversation_optimizer.exact_count import ExactTokenCounter
from tollgate.conversation_optimizer.optimizer import ConversationOptimizer
from tollgate.conversation_optimizer.policy import PolicyBook
from tollgate.conversation_optimizer.service import ConversationOptimizerServicer
from tollgate.conversation_optimizer.settings import Settings
from tollgate.emulator import EmulatorServer
from tollgate.emulator.tokens import count_request_tokens
from tollgate.orchestrator.prompt_cache import place_breakpoints
from tollgate.v1 import common_pb2, conversation_optimizer_pb2

# The chart's default flag parameters (deploy/helm/tollgate/values.yaml).
GATEWAY_TARGET_TOKENS = 6000
PRICED_MODEL = "claude-sonnet-4-5"


def servicer(overrides: dict[str, Any] | None = None) -> ConversationOptimizerServicer:
    settings = Settings()
    if overrides:
        settings = Settings(default_policy=settings.default_policy.model_copy(update=overrides))
    return ConversationOptimizerServicer(
        PolicyBook(settings.default_policy, settings.task_policies),
        ConversationOptimizer(),
        ExactTokenCounter("", "", settings.count_tokens_model, 1.0, 1),
    )


@dataclass(frozen=True)
class Setting:
    label: str
    prompt_caching: bool
    target_tokens: int = GATEWAY_TARGET_TOKENS
    # Instead of a fixed target: this share of each conversation's original tokens.
    target_share: float = 0.0
    strategies: tuple[str, ...] = ()
    # Changes to the service's default policy (none: the service as deployed).
    overrides: tuple[tuple[str, Any], ...] = ()

    def call(
        self, request: common_pb2.ClaudeRequest, original: int
    ) -> conversation_optimizer_pb2.OptimizeConversationRequest:
        target = int(original * self.target_share) if self.target_share else self.target_tokens
        return conversation_optimizer_pb2.OptimizeConversationRequest(
            context=common_pb2.RequestContext(
                tenant_id="bench", request_id="bench", task=common_pb2.TASK_TYPE_CHAT
            ),
            request=request,
            target_tokens=target,
            strategies=list(self.strategies),
            prompt_caching=self.prompt_caching,
        )


CUT_REGARDLESS = (("cached_min_prompt_tokens", 0),)
SETTINGS = [
    Setting("**gateway default** (target 6000, prompt caching on)", True),
    Setting("target 6000, prompt caching off", False),
    Setting(
        "caching on, cut even below the cache minimum (`cached_min_prompt_tokens` 0)",
        True,
        overrides=CUT_REGARDLESS,
    ),
    Setting("target 50% of the original, caching on", True, target_share=0.50),
    Setting("target 35% of the original, caching on", True, target_share=0.35),
    Setting("target 25% of the original, caching on", True, target_share=0.25),
    Setting("target 50% of the original, caching off", False, target_share=0.50),
    Setting("target 35% of the original, caching off", False, target_share=0.35),
    Setting("target 25% of the original, caching off", False, target_share=0.25),
]


@dataclass
class Row:
    original: int = 0
    optimized: int = 0
    per_conversation: list[float] = field(default_factory=list)
    score: Score = field(default_factory=Score)
    met: int = 0
    targeted: int = 0
    # Misses the service itself reported, with a reason.
    explained: int = 0
    note_tokens: int = 0
    # Original and optimized tokens by conversation length (turns).
    by_length: dict[str, list[int]] = field(default_factory=dict)


async def evaluate(conversations: list[dict[str, Any]], setting: Setting) -> Row:
    service = servicer(dict(setting.overrides))
    row = Row()
    for conversation in conversations:
        params = conversation["request"]
        original = count_request_tokens(params)
        call = setting.call(request_from_params(params), original)
        reply = await service.OptimizeConversation(call, None)
        optimized_params = request_to_params(reply.request)
        optimized = count_request_tokens(optimized_params)
        row.original += original
        row.optimized += optimized
        totals = row.by_length.setdefault(length_bucket(len(params["messages"])), [0, 0, 0])
        totals[0] += 1
        totals[1] += original
        totals[2] += optimized
        row.per_conversation.append(1 - optimized / original)
        row.score.add(score(conversation, optimized_params))
        if setting.target_share:
            row.targeted += 1
            row.met += int(optimized <= call.target_tokens)
            row.explained += int(not reply.target_met and bool(reply.target_explanation))
        if reply.facts_note:
            row.note_tokens += count_request_tokens(
                {"messages": [{"role": "user", "content": reply.facts_note}]}
            )
    return row


def length_bucket(turns: int) -> str:
    return "20-39 turns" if turns < 40 else "40-59 turns" if turns < 60 else "60+ turns"


def pct(value: float) -> str:
    return f"{100 * value:.1f}%"


async def print_retention(conversations: list[dict[str, Any]]) -> None:
    print(
        "| setting | fewer input tokens | mean per conversation | current facts kept verbatim "
        "| stale value presented as current | target met | note, share of the request |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    rows = []
    for setting in SETTINGS:
        row = await evaluate(conversations, setting)
        rows.append(row)
        s = row.score
        met = (
            f"{row.met}/{row.targeted} (service reported {row.explained} misses)"
            if row.targeted
            else "-"
        )
        print(
            f"| {setting.label} | {pct(1 - row.optimized / row.original)} | "
            f"{pct(statistics.mean(row.per_conversation))} | "
            f"{pct(s.kept / s.facts)} ({s.kept}/{s.facts}) | "
            f"{s.stale_conversations} of {len(conversations)} conversations "
            f"({s.stale}/{s.corrections} corrections) | {met} | "
            f"{pct(row.note_tokens / row.optimized)} |"
        )
    print("\nFewer input tokens by conversation length:\n")
    print("| turns | conversations | " + " | ".join(s.label for s in SETTINGS[:3]) + " |")
    print("|---|---:|" + "---:|" * 3)
    for bucket in sorted(rows[0].by_length):
        count = rows[0].by_length[bucket][0]
        cells = [pct(1 - row.by_length[bucket][2] / row.by_length[bucket][1]) for row in rows[:3]]
        print(f"| {bucket} | {count} | " + " | ".join(cells) + " |")


@dataclass
class Replay:
    requests: int = 0
    input_tokens: int = 0
    read: int = 0
    written: int = 0
    cost_micros: int = 0
    # Input cost by conversation length (`length_bucket`).
    cost_by_length: dict[str, int] = field(default_factory=dict)


async def replay(
    sdk: anthropic.AsyncAnthropic,
    conversations: list[dict[str, Any]],
    setting: Setting | None,
    caching: bool,
) -> Replay:
    service = servicer(dict(setting.overrides) if setting is not None else None)
    prices = PriceTable.load()
    minimum = prices.price(PRICED_MODEL).min_cacheable_tokens
    result = Replay()
    for conversation in conversations:
        params = conversation["request"]
        messages = params["messages"]
        for end in range(1, len(messages) + 1):
            if messages[end - 1]["role"] != "user":
                continue
            request = request_from_params({**params, "messages": messages[:end]})
            stable_messages = 0
            if setting is not None:
                reply = await service.OptimizeConversation(setting.call(request, 0), None)
                request, stable_messages = reply.request, reply.stable_messages
            request.model = PRICED_MODEL
            if caching:
                # The orchestrator's own placement, with the optimizer's stable prefix as the
                # gateway forwards it.
                place_breakpoints(
                    request, minimum, common_pb2.CACHE_TTL_5M, stable_messages=stable_messages
                )
            body = request_to_params(request)
            body["max_tokens"] = 16
            # The emulator scopes its prompt cache by API key: one key per conversation keeps
            # the runs apart.
            usage = (
                await sdk.with_options(api_key=conversation["id"]).messages.create(**body)
            ).usage
            read = usage.cache_read_input_tokens or 0
            written = usage.cache_creation_input_tokens or 0
            result.requests += 1
            result.input_tokens += usage.input_tokens + read + written
            result.read += read
            result.written += written
            cost = prices.cost(
                PRICED_MODEL,
                common_pb2.Usage(
                    input_tokens=usage.input_tokens,
                    cache_read_input_tokens=read,
                    cache_creation_input_tokens=written,
                    cache_creation_5m_input_tokens=written,
                ),
            ).total_micros
            result.cost_micros += cost
            bucket = length_bucket(len(messages))
            result.cost_by_length[bucket] = result.cost_by_length.get(bucket, 0) + cost
    return result


async def print_replay(conversations: list[dict[str, Any]]) -> None:
    runs: list[tuple[str, Setting | None, bool]] = [
        ("neither (as the application sends it)", None, False),
        ("prompt caching alone", None, True),
        ("optimization alone (target 6000, caching off)", SETTINGS[1], False),
        ("**prompt caching + optimization** (gateway default)", SETTINGS[0], True),
        ("prompt caching + optimization cutting regardless", SETTINGS[2], True),
    ]
    print(
        "\n| requests sent | requests | input tokens | read from cache | written to cache "
        "| input cost | vs neither | vs caching alone |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    async with (
        EmulatorServer() as server,
        anthropic.AsyncAnthropic(base_url=server.base_url, api_key="k", max_retries=0) as sdk,
    ):
        results = []
        for label, setting, caching in runs:
            server.reset()
            results.append((label, await replay(sdk, conversations, setting, caching)))
    neither = results[0][1].cost_micros
    caching_alone = results[1][1].cost_micros
    for label, r in results:
        print(
            f"| {label} | {r.requests:,} | {r.input_tokens:,} | {pct(r.read / r.input_tokens)} | "
            f"{pct(r.written / r.input_tokens)} | ${r.cost_micros / 1e6:,.2f} | "
            f"{pct(r.cost_micros / neither)} | {pct(r.cost_micros / caching_alone)} |"
        )
    print("\nInput cost against prompt caching alone, by conversation length:\n")
    print("| turns | " + " | ".join(label for label, _ in results[2:]) + " |")
    print("|---|" + "---:|" * len(results[2:]))
    alone_by_length = results[1][1].cost_by_length
    for bucket in sorted(alone_by_length):
        cells = [pct(r.cost_by_length[bucket] / alone_by_length[bucket]) for _, r in results[2:]]
        print(f"| {bucket} | " + " | ".join(cells) + " |")


async def main_async(args: argparse.Namespace) -> None:
    conversations = load(DEV_FILE) if args.split == "dev" else load_test()
    turns = [len(c["request"]["messages"]) for c in conversations]
    print(
        f"{args.split} split: {len(conversations)} conversations of {min(turns)}-{max(turns)} "
        f"turns, {sum(len(c['facts']) for c in conversations)} labelled fact spans, "
        f"{sum(len(c['corrections']) for c in conversations)} corrections; tokens by the "
        "reference counter\n"
    )
    await print_retention(conversations)
    if not args.no_replay:
        await print_replay(conversations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("test", "dev"), default="test")
    parser.add_argument("--no-replay", action="store_true", help="skip the emulator replay")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
