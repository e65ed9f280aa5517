"""`tollgate demo`: start the suite, drive a realistic workload through the gateway, print the bill
and what Tollgate saved, then stop everything."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc

from tollgate.cli.demo_workload import (
    BUYER_CONVERSATIONS,
    FAQ,
    LEADS,
    LONG_CONVERSATION,
    PARAPHRASES,
    Call,
    Conversation,
    chat_call,
    faq_call,
    lead_analysis_call,
    script_call,
)
from tollgate.cli.local_suite import DEMO_TENANT, LocalSuite, local_suite
from tollgate.cli.report import GatewayReportSource, fetch, print_tables
from tollgate.cli.report_html import render
from tollgate.cli.suite_command import (
    add_suite_arguments,
    run_suite_command,
    say,
    suite_options,
)
from tollgate.cli.suite_failure import SuiteError
from tollgate.cli.suite_lock import exclusive
from tollgate.client import TollgateClient
from tollgate.v1 import common_pb2

PARAPHRASED = "FAQ (paraphrased)"


@dataclass
class ScenarioStats:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_micros: int = 0
    baseline_micros: int = 0
    cache_hits: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    # What the semantic cache said of each request, in order ("" when it was not asked).
    semantic_decisions: list[str] = field(default_factory=list)

    def add(self, account: common_pb2.Account, latency_ms: float) -> None:
        usage = account.usage
        self.requests += 1
        self.input_tokens += (
            usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens
        )
        self.output_tokens += usage.output_tokens
        self.cost_micros += account.cost.total_micros
        self.baseline_micros += account.baseline_cost_micros
        if account.cache_status in (
            common_pb2.CACHE_STATUS_EXACT,
            common_pb2.CACHE_STATUS_SEMANTIC,
        ):
            self.cache_hits += 1
        self.latencies_ms.append(latency_ms)
        self.semantic_decisions.append(_semantic_decision(account))

    def merge(self, other: ScenarioStats) -> None:
        self.requests += other.requests
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cost_micros += other.cost_micros
        self.baseline_micros += other.baseline_micros
        self.cache_hits += other.cache_hits
        self.latencies_ms.extend(other.latencies_ms)
        self.semantic_decisions.extend(other.semantic_decisions)


def _semantic_decision(account: common_pb2.Account) -> str:
    """The semantic cache's report on a request: "served: similar to ..." when it answered, its
    reason ("miss: ...") when it did not, "" when it was not asked."""
    for report in account.optimizations:
        if report.optimization == "semantic_cache":
            return f"served: {report.detail}" if report.applied else report.detail
    return ""


def _dollars(micros: int) -> str:
    return f"${micros / 1_000_000:,.4f}"


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def _send(client: TollgateClient, call: Call, stats: dict[str, ScenarioStats]) -> str:
    started = time.perf_counter()
    if call.stream:
        stream = client.stream(**call.kwargs)
        text = await stream.text()
        account = stream.account
        assert account is not None, "a finished stream always ends with its account"
    else:
        result = await client.complete(**call.kwargs)
        text, account = result.text, result.account
    stats[call.scenario].add(account, (time.perf_counter() - started) * 1000)
    return text


def _no_progress(_: str) -> None:
    """Benchmarks drive the same workload without narration."""


async def run_workload(
    client: TollgateClient, progress: Callable[[str], None] = _no_progress
) -> dict[str, ScenarioStats]:
    stats: dict[str, ScenarioStats] = defaultdict(ScenarioStats)
    started = time.perf_counter()

    def phase(text: str) -> None:
        done = sum(row.requests for row in stats.values())
        progress(f"  [{time.perf_counter() - started:5.1f} s, {done:>2} requests] {text}")

    async def converse(conversation: Conversation, scenario: str = "chat (multi-turn)") -> None:
        conversation.messages.clear()
        for turn in conversation.turns:
            conversation.messages.append({"role": "user", "content": turn})
            call = chat_call(conversation)
            answer = await _send(client, Call(scenario, call.kwargs), stats)
            conversation.messages.append({"role": "assistant", "content": answer})

    phase(f"{len(BUYER_CONVERSATIONS)} multi-turn buyer chats, side by side ...")
    await asyncio.gather(*(converse(c) for c in BUYER_CONVERSATIONS))
    phase(f"a {len(LONG_CONVERSATION.turns)}-turn conversation (the optimizer trims it) ...")
    await converse(LONG_CONVERSATION, "chat (20-turn)")
    for round_number in range(3):
        phase(f"FAQ round {round_number + 1} of 3 ({len(FAQ)} questions; repeats hit the cache)")
        for index, question in enumerate(FAQ):
            await _send(client, faq_call(question, f"lead-30{round_number}{index}"), stats)
    phase(f"{len(PARAPHRASES)} paraphrased FAQs (the semantic cache) ...")
    for question, _original in PARAPHRASES:
        call = faq_call(question, "lead-3999")
        await _send(client, Call(PARAPHRASED, call.kwargs), stats)
    phase(f"{len(LEADS) + 2} lead analyses ...")
    for lead_id, name, facts in [*LEADS, *LEADS[:2]]:
        await _send(client, lead_analysis_call(lead_id, name, facts), stats)
    phase(f"{len(LEADS)} streamed call scripts ...")
    for lead_id, name, _ in LEADS:
        await _send(client, script_call(lead_id, name), stats)
    phase("done.")
    return stats


def render_table(stats: dict[str, ScenarioStats]) -> str:
    header = (
        f"{'scenario':<24}{'requests':>9}{'input tok':>11}{'output tok':>11}{'cost':>11}"
        f"{'baseline':>11}{'saved':>11}{'hits':>6}{'p50 ms':>9}{'p95 ms':>9}"
    )
    lines = [header, "-" * len(header)]
    total = ScenarioStats()
    for name, row in stats.items():
        total.merge(row)
        lines.append(_row(name, row))
    lines.append("-" * len(header))
    lines.append(_row("total", total))
    saved = total.baseline_micros - total.cost_micros
    share = 100 * saved / total.baseline_micros if total.baseline_micros else 0.0
    lines.append("")
    lines.append(
        f"Tollgate saved {_dollars(saved)} of {_dollars(total.baseline_micros)} "
        f"({share:.1f}%) on {total.requests} requests."
    )
    return "\n".join(lines)


def render_semantic_decisions(stats: dict[str, ScenarioStats]) -> str:
    """What the semantic cache said of each paraphrased FAQ: served, or why not. It serves an
    answer only when every difference between the two questions is explained, so a rewording
    it cannot explain goes to Claude; the reason says what it could not explain."""
    decisions = stats[PARAPHRASED].semantic_decisions if PARAPHRASED in stats else []
    lines = [
        "The semantic cache on the paraphrased FAQs (it serves a cached answer only when it can",
        "explain every difference between the two questions; otherwise Claude answers):",
    ]
    for (question, _original), decision in zip(PARAPHRASES, decisions, strict=False):
        lines.append(f"  {question!r}\n      {decision or 'not asked'}")
    return "\n".join(lines)


def _row(name: str, row: ScenarioStats) -> str:
    saved = row.baseline_micros - row.cost_micros
    return (
        f"{name:<24}{row.requests:>9}{row.input_tokens:>11,}{row.output_tokens:>11,}"
        f"{_dollars(row.cost_micros):>11}{_dollars(row.baseline_micros):>11}{_dollars(saved):>11}"
        f"{row.cache_hits:>6}{_percentile(row.latencies_ms, 50):>9.1f}"
        f"{_percentile(row.latencies_ms, 95):>9.1f}"
    )


def _ledger_report(gateway: str, admin_key: str, html: Path) -> None:
    """The tenant's usage and savings as the ledger recorded them (`tollgate report`)."""
    end = datetime.now(UTC)
    with grpc.insecure_channel(gateway) as channel:
        page, breakdowns = fetch(
            GatewayReportSource(channel, admin_key),
            DEMO_TENANT,
            end - timedelta(hours=1),
            end,
            "minute",
        )
    print_tables(page, breakdowns, sys.stdout)
    html.write_text(render(page), encoding="utf-8")
    print(f"\nHTML report with charts: {html}")


async def _drive(suite: LocalSuite, report_html: Path) -> None:
    print(f"\nDriving the workload through the gateway at {suite.gateway} ...", flush=True)
    async with TollgateClient(suite.gateway, suite.api_key) as client:
        stats = await run_workload(client, say)
    print()
    print(render_table(stats))
    print()
    print(render_semantic_decisions(stats))
    # Commits reach the ledger just after each answer; give the last ones a moment.
    await asyncio.sleep(1.0)
    print("\n--- tollgate report (through the gateway, admin key) ---\n", flush=True)
    await asyncio.to_thread(_ledger_report, suite.gateway, suite.admin_key, report_html)


async def _demo(args: argparse.Namespace) -> int:
    report_html = args.report_html.resolve()
    # Two demos could run side by side (each picks free ports), but not into the same report.
    digest = hashlib.sha256(str(report_html).encode()).hexdigest()[:12]
    with exclusive(
        f"demo-{digest}",
        f"tollgate demo writing {report_html}",
        "Wait for it to finish, or write elsewhere: tollgate demo --report-html PATH.",
    ):
        print("Starting Tollgate locally (embedded Redis and Postgres, Anthropic API emulator)")
        async with local_suite(**suite_options(args)) as suite:
            print(suite.describe())
            try:
                await suite.run_until_exit(_drive(suite, report_html))
            except grpc.RpcError as error:
                raise SuiteError(
                    "the gateway refused a call of the demo workload.",
                    cause=[f"{error.code().name}: {error.details()}"],
                ) from None
            print("\nStopping ...", flush=True)
    return 0


def _handle(args: argparse.Namespace) -> int:
    return run_suite_command(lambda: _demo(args), args)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="run the suite and a realistic workload")
    parser.add_argument(
        "--report-html",
        type=Path,
        default=Path("tollgate-demo-report.html"),
        help="where to write the usage and savings page (default: ./tollgate-demo-report.html)",
    )
    add_suite_arguments(parser)
    parser.set_defaults(handler=_handle)
