"""Savings: the `make demo` workload with everything off, then with everything on.

Both runs drive `tollgate.cli.demo.run_workload` through the gateway of a fresh local suite
(real processes, Anthropic API emulator). The baseline is the everything-off run's total cost,
measured in the same invocation. Savings per optimization are the sums of the accounts'
`optimizations[].micros_saved`. Quality checks:

- no false semantic hits: every answer the semantic cache served must be for a paraphrase of
  the same FAQ question (the matched question in the account's report is the paraphrase's
  original, and the text served is the answer that question got when it was asked itself);
- fact retention of the conversation optimizer, from `bench.pruning_eval` on its labelled CRM
  conversations with the policy the demo runs (prompt caching on).

    uv run python -m bench.savings
"""

from __future__ import annotations

import argparse
import asyncio
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from bench.progress import phase
from bench.suite_tools import EVERYTHING_OFF, EVERYTHING_ON
from tollgate.cli.demo import ScenarioStats, run_workload
from tollgate.cli.demo_workload import FAQ, PARAPHRASES
from tollgate.cli.local_suite import local_suite
from tollgate.client import TollgateClient
from tollgate.client.client import CompletionResult, CompletionStream
from tollgate.v1 import common_pb2

SAVINGS_GOAL_PERCENT = 60.0
_MATCHED = re.compile(r"similar to (?P<q>'.*'|\".*\") \(")


@dataclass(frozen=True)
class Exchange:
    question: str
    text: str
    account: common_pb2.Account


@dataclass
class Recorder:
    exchanges: list[Exchange] = field(default_factory=list)

    def add(self, kwargs: dict[str, Any], text: str, account: common_pb2.Account | None) -> None:
        messages = kwargs.get("messages") or [{}]
        question = str(messages[-1].get("content", ""))
        if account is not None:
            self.exchanges.append(Exchange(question, text, account))


class _RecordedStream:
    def __init__(self, inner: CompletionStream, kwargs: dict[str, Any], log: Recorder) -> None:
        self._inner, self._kwargs, self._log = inner, kwargs, log
        self.account: common_pb2.Account | None = None

    async def text(self) -> str:
        text = await self._inner.text()
        self.account = self._inner.account
        self._log.add(self._kwargs, text, self.account)
        return text


class RecordingClient:
    """A TollgateClient that keeps every question, answer and account it saw."""

    def __init__(self, inner: TollgateClient, log: Recorder) -> None:
        self._inner, self._log = inner, log

    async def complete(self, **kwargs: Any) -> CompletionResult:
        result = await self._inner.complete(**kwargs)
        self._log.add(kwargs, result.text, result.account)
        return result

    def stream(self, **kwargs: Any) -> _RecordedStream:
        return _RecordedStream(self._inner.stream(**kwargs), kwargs, self._log)


@dataclass
class WorkloadRun:
    stats: dict[str, ScenarioStats]
    exchanges: list[Exchange]

    @property
    def cost(self) -> int:
        return sum(row.cost_micros for row in self.stats.values())

    @property
    def requests(self) -> int:
        return sum(row.requests for row in self.stats.values())

    def saved_by_optimization(self) -> dict[str, int]:
        saved: dict[str, int] = defaultdict(int)
        for exchange in self.exchanges:
            for report in exchange.account.optimizations:
                # Listed even when it never applied, so a saving of zero shows as such.
                saved[report.optimization] += report.micros_saved if report.applied else 0
        return dict(saved)

    def hits(self) -> Counter[int]:
        return Counter(exchange.account.cache_status for exchange in self.exchanges)


async def drive(flags: dict[str, Any]) -> WorkloadRun:
    log = Recorder()
    async with (
        local_suite(flags=flags) as suite,
        TollgateClient(suite.gateway, suite.api_key) as client,
    ):
        stats = await run_workload(RecordingClient(client, log))  # type: ignore[arg-type]
    return WorkloadRun(dict(stats), log.exchanges)


@dataclass(frozen=True)
class SemanticCheck:
    hits: int
    false_hits: list[str]


def check_semantic_hits(run: WorkloadRun) -> SemanticCheck:
    """Each semantic hit must answer a paraphrase with its own FAQ question's answer."""
    original_of = {question: question for question in FAQ} | dict(PARAPHRASES)
    answer_of = {
        e.question: e.text
        for e in run.exchanges
        if e.question in FAQ and e.account.cache_status == common_pb2.CACHE_STATUS_MISS
    }
    hits, false_hits = 0, []
    for exchange in run.exchanges:
        if exchange.account.cache_status != common_pb2.CACHE_STATUS_SEMANTIC:
            continue
        hits += 1
        expected = original_of.get(exchange.question)
        matched = _matched_question(exchange.account)
        if expected is None:
            false_hits.append(f"{exchange.question!r} is not an FAQ question (matched {matched!r})")
        elif matched is not None and matched != expected:
            false_hits.append(f"{exchange.question!r} matched {matched!r}, not {expected!r}")
        elif expected in answer_of and exchange.text != answer_of[expected]:
            false_hits.append(f"{exchange.question!r} got an answer other than {expected!r}'s")
    return SemanticCheck(hits, false_hits)


def _matched_question(account: common_pb2.Account) -> str | None:
    for report in account.optimizations:
        if report.optimization == "semantic_cache" and report.applied:
            found = _MATCHED.search(report.detail)
            if found:
                return str(found.group("q")[1:-1])
    return None


async def fact_retention() -> str:
    """Fact retention of the optimizer policy the demo runs, from the pruning evaluation."""
    try:
        from bench.pruning_eval import DEFAULT, Config, evaluate, load
    except ImportError as exc:  # the evaluation is optional: its data may be absent
        return f"n/a ({exc})"
    row, _ = await evaluate(load(), Config("demo policy", DEFAULT.for_prompt_caching()))
    return f"{100 * row.retained / row.facts:.1f}% of {row.facts} labelled facts"


def _dollars(micros: int) -> str:
    return f"${micros / 1_000_000:,.4f}"


def render(off: WorkloadRun, on: WorkloadRun, semantic: SemanticCheck, retention: str) -> str:
    saved = off.cost - on.cost
    share = 100 * saved / off.cost if off.cost else 0.0
    hits_on = on.hits()
    exact = hits_on[common_pb2.CACHE_STATUS_EXACT]
    similar = hits_on[common_pb2.CACHE_STATUS_SEMANTIC]
    verdict = "pass" if not semantic.false_hits else f"**FAIL** ({len(semantic.false_hits)})"
    lines = [
        "| | everything off (baseline) | everything on | saved |",
        "|---|---:|---:|---:|",
        f"| total cost, {on.requests} requests | {_dollars(off.cost)} | {_dollars(on.cost)} "
        f"| **{_dollars(saved)} ({share:.1f}%)** |",
        f"| exact-cache hits | {off.hits()[common_pb2.CACHE_STATUS_EXACT]} "
        f"| {exact} ({100 * exact / on.requests:.0f}%) | |",
        f"| semantic-cache hits | {off.hits()[common_pb2.CACHE_STATUS_SEMANTIC]} "
        f"| {similar} ({100 * similar / on.requests:.0f}%) | |",
        f"| false semantic hits | - | {len(semantic.false_hits)} of {semantic.hits} | {verdict} |",
        f"| fact retention (conversation optimizer) | 100% (nothing removed) | {retention} | |",
        "",
        "Saved by optimization (sum of the accounts' `micros_saved`, everything on):",
        "",
        "| optimization | saved | share of the baseline cost |",
        "|---|---:|---:|",
    ]
    for name, micros in sorted(on.saved_by_optimization().items(), key=lambda kv: -kv[1]):
        share_of = 100 * micros / off.cost if off.cost else 0.0
        lines.append(f"| {name} | {_dollars(micros)} | {share_of:.1f}% |")
    lines += [
        "",
        "By scenario:",
        "",
        "| scenario | requests | cost off | cost on | saved | hits on |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, row in on.stats.items():
        base = off.stats.get(name, ScenarioStats())
        lines.append(
            f"| {name} | {row.requests} | {_dollars(base.cost_micros)} "
            f"| {_dollars(row.cost_micros)} | {_dollars(base.cost_micros - row.cost_micros)} "
            f"| {row.cache_hits} |"
        )
    goal_met = share >= SAVINGS_GOAL_PERCENT and not semantic.false_hits
    lines.append(
        f"\nGoal: saved >= {SAVINGS_GOAL_PERCENT:g}% of the baseline cost with the quality checks "
        f"passing: **{'met' if goal_met else 'missed'}** ({share:.1f}% saved)."
    )
    for problem in semantic.false_hits:
        lines.append(f"\n- false semantic hit: {problem}")
    return "\n".join(lines)


async def run() -> str:
    phase("the demo workload with every optimization off (a fresh local suite) ...")
    off = await drive(EVERYTHING_OFF)
    phase("the demo workload with every optimization on (a fresh local suite) ...")
    on = await drive(EVERYTHING_ON)
    phase("fact retention of the conversation optimizer ...")
    return render(off, on, check_semantic_hits(on), await fact_retention())


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m bench.savings", description=__doc__)
    parser.parse_args(argv)
    report = asyncio.run(run())
    print(report)
    return report


if __name__ == "__main__":
    main()
