"""What Tollgate adds: client → gateway → … → emulator against the official SDK → emulator.

For each setup (everything off, governance, everything on) the whole suite runs as real
processes (`local_suite`) next to the Anthropic API emulator with zero latency, so every
millisecond measured is Tollgate's or the client's. In the same run and against the same emulator
the baseline is the official `anthropic` SDK (AsyncAnthropic) calling the emulator directly with
the same request. Every request on the miss path is unique (a counter in the text), so no cache
answers it. Closed loop: N clients each send the next request when the previous one returns;
req/s is what that sustains. Streaming: time to the first text delta, one client.
Hits: an exact hit (the same request again) and a semantic hit (a politeness variant of a stored
FAQ question, only answers the semantic cache served are counted), one client.

    uv run python -m bench.overhead [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anthropic

from bench.progress import phase
from bench.suite_tools import SETUPS, percentile, set_emulator_latency
from tollgate.cli.demo_workload import FAQ
from tollgate.cli.local_suite import LocalSuite, local_suite
from tollgate.client import CompletionResult, TollgateClient
from tollgate.v1 import common_pb2

CONCURRENCY = (1, 16, 64)
SYSTEM = (
    "You are the assistant of a real-estate brokerage's CRM. Answer buyers briefly and precisely; "
    "repeat numbers exactly as given."
)
PREFIXES = ("Hi, ", "Hello! ", "Quick question: ", "Sorry to bother you, ", "Hey, ", "Please, ")
SUFFIXES = ("", " Thanks!", " Thank you.", " Cheers.", " Appreciate it.")
_counter = itertools.count()


def unique_text() -> str:
    n = next(_counter)
    return f"Request {n}: summarise the listing at {n} Oak Street for a buyer in two sentences."


def body(text: str) -> dict[str, Any]:
    return {
        "system": SYSTEM,
        "messages": [{"role": "user", "content": text}],
        "max_tokens": 200,
        "temperature": 0.0,
    }


async def ask_unique(client: TollgateClient) -> CompletionResult:
    """A chat request no cache can answer (a miss on every path), through the gateway."""
    return await client.complete(task="chat", **body(unique_text()))


def sdk_body(model: str, text: str) -> dict[str, Any]:
    """`body` for the SDK, which no longer declares sampling parameters: they go in the body."""
    params = body(text)
    params["extra_body"] = {"temperature": params.pop("temperature")}
    return {"model": model, **params}


@dataclass(frozen=True)
class Run:
    latencies_ms: list[float]
    seconds: float

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


async def closed_loop(
    call: Callable[[], Awaitable[object]],
    clients: int,
    seconds: float,
    warm_up: float | None = None,
) -> Run:
    """`clients` callers back to back for `seconds` (after a short warm-up not counted;
    `warm_up=0` counts every request, for callers that divide resources by requests)."""
    latencies: list[float] = []
    warm_until = time.perf_counter() + (min(1.0, seconds / 4) if warm_up is None else warm_up)
    stop_at = warm_until + seconds

    async def client() -> None:
        while True:
            started = time.perf_counter()
            if started >= stop_at:
                return
            await call()
            if started >= warm_until:
                latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(client() for _ in range(clients)))
    return Run(latencies, time.perf_counter() - warm_until)


class Paths:
    """The two ways to reach the emulator: through Tollgate, and straight with the SDK."""

    def __init__(self, suite: LocalSuite, model: str) -> None:
        self.gateway = TollgateClient(suite.gateway, suite.api_key, timeout=60)
        self.sdk = anthropic.AsyncAnthropic(
            base_url=suite.emulator_url, api_key="bench", max_retries=0, timeout=60
        )
        self.model = model

    async def close(self) -> None:
        await self.gateway.close()
        await self.sdk.close()

    async def via_gateway(self) -> None:
        await ask_unique(self.gateway)

    async def direct(self) -> None:
        await self.sdk.messages.create(**sdk_body(self.model, unique_text()))

    async def ttft_gateway(self) -> float:
        started = time.perf_counter()
        stream = self.gateway.stream(task="chat", **body(unique_text()))
        first = 0.0
        async for event in stream:
            if not first and event.WhichOneof("event") == "content_block_delta":
                first = time.perf_counter() - started
        return first * 1000

    async def ttft_direct(self) -> float:
        started = time.perf_counter()
        first = 0.0
        async with self.sdk.messages.stream(**sdk_body(self.model, unique_text())) as stream:
            async for event in stream:
                if not first and event.type == "content_block_delta":
                    first = time.perf_counter() - started
        return first * 1000


@dataclass
class SetupFigures:
    name: str
    runs: dict[int, tuple[Run, Run]]  # clients -> (direct, gateway)
    ttft: tuple[list[float], list[float]]  # (direct, gateway)
    hits: dict[str, tuple[list[float], int]]  # kind -> (latencies, requests sent)


async def _sequential(call: Callable[[], Awaitable[float]], count: int) -> list[float]:
    return [await call() for _ in range(count)]


async def exact_hits(paths: Paths, count: int) -> tuple[list[float], int]:
    request = body("What is the HOA fee for the condo at 12 Elm Street, unit 4B?")
    await paths.gateway.complete(task="chat", **request)
    await asyncio.sleep(0.5)  # the answer is stored off the critical path
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        result = await paths.gateway.complete(task="chat", **request)
        if result.account.cache_status == common_pb2.CACHE_STATUS_EXACT:
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies, count


async def semantic_hits(paths: Paths) -> tuple[list[float], int]:
    for question in FAQ:
        await paths.gateway.complete(task="chat", **body(question))
    await asyncio.sleep(1.0)
    latencies = []
    variants = [
        f"{prefix}{question[0].lower()}{question[1:]}{suffix}"
        for question, prefix, suffix in itertools.product(FAQ, PREFIXES, SUFFIXES)
    ]
    for text in variants:
        started = time.perf_counter()
        result = await paths.gateway.complete(task="chat", **body(text))
        if result.account.cache_status == common_pb2.CACHE_STATUS_SEMANTIC:
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies, len(variants)


async def measure_setup(name: str, flags: dict[str, Any], quick: bool) -> SetupFigures:
    seconds = 2.0 if quick else 6.0
    streams = 30 if quick else 100
    async with local_suite(flags=flags) as suite:
        await set_emulator_latency(suite.emulator_url, 0.0, 0.0)
        async with TollgateClient(suite.gateway, suite.api_key) as probe:
            model = (await ask_unique(probe)).account.model
        paths = Paths(suite, model)
        try:
            runs = {}
            for clients in CONCURRENCY:
                direct = await closed_loop(paths.direct, clients, seconds)
                gateway = await closed_loop(paths.via_gateway, clients, seconds)
                runs[clients] = (direct, gateway)
            ttft = (
                await _sequential(paths.ttft_direct, streams),
                await _sequential(paths.ttft_gateway, streams),
            )
            hits: dict[str, tuple[list[float], int]] = {}
            if flags["flags"]["exact_cache"]["enabled"]:
                hits["exact hit"] = await exact_hits(paths, 100 if quick else 300)
            if flags["flags"]["semantic_cache"]["enabled"]:
                hits["semantic hit"] = await semantic_hits(paths)
            hits["direct SDK call (baseline)"] = (
                await _sequential(_timed(paths.direct), 100 if quick else 300),
                100 if quick else 300,
            )
        finally:
            await paths.close()
    return SetupFigures(name, runs, ttft, hits)


def _timed(call: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[float]]:
    async def timed() -> float:
        started = time.perf_counter()
        await call()
        return (time.perf_counter() - started) * 1000

    return timed


def render(figures: list[SetupFigures], quick: bool) -> str:
    lines = [
        "Added latency and sustained rate: through Tollgate (gateway → services → emulator) "
        "against the official SDK straight to the same emulator (zero latency), same run, "
        f"unique requests (miss path), closed loop, {'2' if quick else '6'} s per cell. "
        "All processes and the load generator share the machine's cores.",
        "",
        "| setup | clients | SDK p50 ms | gateway p50 ms | added p50 ms | added p95 ms "
        "| added p99 ms | SDK req/s | gateway req/s | gateway/SDK rate |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for setup in figures:
        for clients, (direct, gateway) in setup.runs.items():
            lines.append(
                f"| {setup.name} | {clients} | {direct.p(50):.2f} | {gateway.p(50):.2f} "
                f"| {gateway.p(50) - direct.p(50):+.2f} | {gateway.p(95) - direct.p(95):+.2f} "
                f"| {gateway.p(99) - direct.p(99):+.2f} | {direct.rate:,.0f} | {gateway.rate:,.0f} "
                f"| {gateway.rate / direct.rate:.2f} |"
            )
    lines += [
        "",
        "Streamed time to first token (first text delta), one client:",
        "",
        "| setup | SDK p50 ms | gateway p50 ms | added p50 ms | added p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for setup in figures:
        direct, gateway = setup.ttft
        lines.append(
            f"| {setup.name} | {percentile(direct, 50):.2f} | {percentile(gateway, 50):.2f} "
            f"| {percentile(gateway, 50) - percentile(direct, 50):+.2f} "
            f"| {percentile(gateway, 99) - percentile(direct, 99):+.2f} |"
        )
    lines += [
        "",
        "Cache hits end to end through the gateway, one client (baseline: one direct SDK call "
        "to the zero-latency emulator, same run):",
        "",
        "| setup | answer | served / sent | p50 ms | p99 ms | p50 vs direct SDK call |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for setup in figures:
        baseline = percentile(setup.hits["direct SDK call (baseline)"][0], 50)
        for kind, (latencies, sent) in setup.hits.items():
            lines.append(
                f"| {setup.name} | {kind} | {len(latencies)}/{sent} "
                f"| {percentile(latencies, 50):.2f} | {percentile(latencies, 99):.2f} "
                f"| {percentile(latencies, 50) / baseline:.2f}x |"
            )
    lines += ["", *goal_lines(figures)]
    return "\n".join(lines)


# (setup, figure, goal in ms) from the issue; added latency at 16 clients, hits end to end.
PASS_THROUGH, GOVERNANCE, EVERYTHING = list(SETUPS)
GOALS = (
    (PASS_THROUGH, "added p50 at 16 clients", 1.5),
    (PASS_THROUGH, "added p99 at 16 clients", 5.0),
    (GOVERNANCE, "added p50 at 16 clients", 4.0),
    (GOVERNANCE, "added p99 at 16 clients", 12.0),
    (EVERYTHING, "exact hit p50 end to end", 2.0),
    (EVERYTHING, "semantic hit p50 end to end", 15.0),
)


def _goal_figure(setup: SetupFigures, figure: str) -> float | None:
    if figure.startswith("added") and 16 in setup.runs:
        direct, gateway = setup.runs[16]
        q = 50 if "p50" in figure else 99
        return gateway.p(q) - direct.p(q)
    kind = "exact hit" if figure.startswith("exact") else "semantic hit"
    if kind in setup.hits and setup.hits[kind][0]:
        return percentile(setup.hits[kind][0], 50)
    return None


def goal_lines(figures: list[SetupFigures]) -> list[str]:
    by_name = {setup.name: setup for setup in figures}
    lines = [
        "Goals (from the issue):",
        "",
        "| setup | figure | goal ms | measured ms | verdict |",
        "|---|---|---:|---:|---|",
    ]
    for name, figure, goal in GOALS:
        value = _goal_figure(by_name[name], figure) if name in by_name else None
        if value is None:
            continue
        verdict = (
            "met" if value <= goal else f"missed by {value - goal:.1f} ms ({value / goal:.1f}x)"
        )
        lines.append(f"| {name} | {figure} | {goal:g} | {value:.2f} | {verdict} |")
    return lines


async def run(quick: bool, setups: list[str]) -> str:
    figures = []
    for number, name in enumerate(setups, start=1):
        phase(f"setup {number} of {len(setups)}: {name} ...")
        figures.append(await measure_setup(name, SETUPS[name], quick))
    return render(figures, quick)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m bench.overhead", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter cells, fewer samples")
    parser.add_argument(
        "--setup", action="append", choices=list(SETUPS), help="only these setups (repeatable)"
    )
    args = parser.parse_args(argv)
    report = asyncio.run(run(args.quick, args.setup or list(SETUPS)))
    print(report)
    return report


if __name__ == "__main__":
    main()
