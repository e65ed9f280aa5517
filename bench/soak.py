"""Soak: a fixed request rate through the gateway with everything on, watching for leaks.

The whole suite runs as real processes (`local_suite`; `--single-process` runs it as one
process, reported as `gateway`). Every few seconds each process's RSS and
open file descriptors are sampled; growth is measured from the end of the warm-up (the first
fifth of the run, at least 30 s) to the end, each point being the median of a few samples so
one garbage-collection spike does not decide it. Goal: under 5% growth.

The mix is steady-state on purpose, so that growth means a leak and not a cache filling up:
unique misses at temperature 0.7 (never cached; the full miss path: optimizer, ledger reserve and
commit, orchestrator, emulator), some of them streamed; a fixed pool of FAQ questions at
temperature 0 (exact hits after the first round); and a fixed pool of paraphrases of them
(semantic hits). One cache does fill: the semantic cache keeps the vectors of recent questions
(an LRU of `EMBED_CACHE_SIZE`, 10,000), ~1.6 KB per unique question, up to ~16 MB.

    uv run python -m bench.soak --minutes 10 --output docs/soak.md
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

from bench.progress import phase
from bench.suite_tools import (
    EVERYTHING_ON,
    ProcessSample,
    machine_description,
    percentile,
    sample,
    suite_processes,
)
from tollgate.cli.demo_workload import FAQ, SYSTEM_PROMPT
from tollgate.cli.local_suite import EMULATOR, local_suite
from tollgate.client import TollgateClient
from tollgate.client.errors import TollgateError
from tollgate.v1 import common_pb2

SAMPLE_EVERY_SECONDS = 5.0
# Requests still running when this many are in flight are a sign of overload: the next tick
# is skipped and counted rather than piling up unbounded work in the client.
MAX_IN_FLIGHT = 256
GROWTH_GOAL_PERCENT = 5.0
# A descriptor or two open at the moment of a sample (a reconnect, a log rotation) is not a leak.
FD_NOISE = 2
# The emulator stands in for Anthropic's API: sampled for context, judged by no goal.
NOT_JUDGED = frozenset({EMULATOR})
PREFIXES = ("", "Hi, ", "Quick question: ", "Hello! ", "Sorry to bother you, ")
SUFFIXES = ("", " Thanks!", " Thank you.")


def paraphrase_pool() -> list[str]:
    """Politeness variants of the FAQ: same question, different words around it."""
    pool = []
    for question, prefix, suffix in itertools.product(FAQ, PREFIXES, SUFFIXES):
        if prefix or suffix:
            body = question[0].lower() + question[1:] if prefix else question
            pool.append(f"{prefix}{body}{suffix}")
    return pool


@dataclass
class Traffic:
    sent: int = 0
    skipped: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)


_CACHE_NAMES = {
    common_pb2.CACHE_STATUS_EXACT: "exact hit",
    common_pb2.CACHE_STATUS_SEMANTIC: "semantic hit",
}


class Workload:
    """The request for tick n: 40% unique misses, 10% streamed misses, 30% FAQ, 20% paraphrases."""

    def __init__(self) -> None:
        self._paraphrases = paraphrase_pool()

    def kwargs(self, n: int) -> tuple[dict[str, object], bool]:
        slot = n % 10
        base: dict[str, object] = {"system": SYSTEM_PROMPT, "max_tokens": 200, "task": "chat"}
        if slot < 5:
            text = f"Buyer {n}: what should I know before touring house number {n} this weekend?"
            messages = [{"role": "user", "content": text}]
            return {**base, "messages": messages, "temperature": 0.7}, slot == 4
        pool = FAQ if slot < 8 else self._paraphrases
        question = pool[n % len(pool)]
        messages = [{"role": "user", "content": question}]
        return {**base, "messages": messages, "temperature": 0.0, "contact_id": "lead-soak"}, False


async def _one(
    client: TollgateClient, kwargs: dict[str, object], stream: bool, traffic: Traffic
) -> None:
    started = time.perf_counter()
    try:
        if stream:
            call = client.stream(**kwargs)  # type: ignore[arg-type]
            await call.text()
            account = call.account
        else:
            account = (await client.complete(**kwargs)).account  # type: ignore[arg-type]
    except TollgateError as exc:
        traffic.outcomes[f"error {exc.code.name}"] += 1
        return
    traffic.latencies_ms.append((time.perf_counter() - started) * 1000)
    status = account.cache_status if account is not None else 0
    traffic.outcomes[_CACHE_NAMES.get(status, "miss")] += 1


async def drive(client: TollgateClient, rate: float, seconds: float, traffic: Traffic) -> None:
    """Open loop: one request every 1/rate seconds, whatever the answers' latency."""
    workload = Workload()
    in_flight: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()
    start = loop.time()
    for n in itertools.count():
        due = start + n / rate
        if due - start >= seconds:
            break
        await asyncio.sleep(max(0.0, due - loop.time()))
        if len(in_flight) >= MAX_IN_FLIGHT:
            traffic.skipped += 1
            continue
        kwargs, stream = workload.kwargs(n)
        task = asyncio.create_task(_one(client, kwargs, stream, traffic))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        traffic.sent += 1
    if in_flight:
        await asyncio.wait(in_flight)


Series = dict[str, list[tuple[float, ProcessSample]]]


async def watch(processes: dict[str, psutil.Process], series: Series, stop: asyncio.Event) -> None:
    started = time.monotonic()
    while not stop.is_set():
        now = time.monotonic() - started
        for name, process in processes.items():
            series.setdefault(name, []).append((now, sample(process)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SAMPLE_EVERY_SECONDS)


def _window_median(points: list[tuple[float, ProcessSample]], at: float, attr: str) -> float:
    """Median of the (up to) three samples nearest to time `at`."""
    nearest = sorted(points, key=lambda point: abs(point[0] - at))[:3]
    return statistics.median(getattr(point[1], attr) for point in nearest)


def _growth(before: float, after: float) -> float:
    return 100.0 * (after - before) / before if before else 0.0


def render(
    series: Series,
    traffic: Traffic,
    minutes: float,
    rate: float,
    warmup: float,
    elapsed: float,
    single_process: bool = False,
) -> str:
    end = max(point[0] for points in series.values() for point in points)
    processes = (
        "the seven services as one process" if single_process else "every service a real process"
    )
    lines = [
        f"Soak: {minutes:g} min at {rate:g} requests/s, everything on, {processes}; "
        f"samples every {SAMPLE_EVERY_SECONDS:g} s; growth measured from the end of the "
        f"warm-up ({warmup:.0f} s) to the end ({end:.0f} s). Goal: < {GROWTH_GOAL_PERCENT:g}% "
        f"(descriptors: and more than {FD_NOISE} more).",
        "",
        f"Run at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; " + "; ".join(machine_description()),
        "",
        "| process | RSS after warm-up MiB | RSS at end MiB | RSS growth | fds after warm-up "
        "| fds at end | fd growth | verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, points in series.items():
        rss0 = _window_median(points, warmup, "rss_bytes") / 2**20
        rss1 = _window_median(points, end, "rss_bytes") / 2**20
        fd0 = _window_median(points, warmup, "open_fds")
        fd1 = _window_median(points, end, "open_fds")
        rss_growth, fd_growth = _growth(rss0, rss1), _growth(fd0, fd1)
        fd_over = fd_growth >= GROWTH_GOAL_PERCENT and fd1 - fd0 > FD_NOISE
        if name in NOT_JUDGED:
            verdict = "not a Tollgate service"
        elif rss_growth >= GROWTH_GOAL_PERCENT or fd_over:
            verdict = "**over goal**"
        else:
            verdict = "ok"
        lines.append(
            f"| {name} | {rss0:.1f} | {rss1:.1f} | {rss_growth:+.1f}% | {fd0:.0f} | {fd1:.0f} "
            f"| {fd_growth:+.1f}% | {verdict} |"
        )
    lines += ["", "RSS per process over time (MiB):", ""]
    names = list(series)
    lines.append("| t (s) | " + " | ".join(names) + " |")
    lines.append("|---:|" + "---:|" * len(names))
    step = max(SAMPLE_EVERY_SECONDS, end / 10)
    marks = [0.0, *(step * i for i in range(1, int(end // step) + 1))]
    if marks[-1] < end:
        marks.append(end)
    for mark in marks:
        cells = [f"{_window_median(series[n], mark, 'rss_bytes') / 2**20:.1f}" for n in names]
        lines.append(f"| {mark:.0f} | " + " | ".join(cells) + " |")
    answered = sum(traffic.outcomes.values())
    lines += [
        "",
        f"Traffic: {traffic.sent} requests sent in {elapsed:.0f} s "
        f"({traffic.sent / elapsed:.1f}/s achieved), {traffic.skipped} ticks skipped because "
        f"{MAX_IN_FLIGHT} were already in flight; latency p50 "
        f"{percentile(traffic.latencies_ms, 50):.1f} ms, p99 "
        f"{percentile(traffic.latencies_ms, 99):.1f} ms.",
        "",
        "| outcome | requests | share |",
        "|---|---:|---:|",
    ]
    for outcome, count in traffic.outcomes.most_common():
        lines.append(f"| {outcome} | {count} | {100 * count / answered:.1f}% |")
    return "\n".join(lines)


async def run(minutes: float, rate: float, single_process: bool = False) -> str:
    seconds = minutes * 60
    warmup = max(30.0, seconds / 5)
    async with local_suite(flags=EVERYTHING_ON, single_process=single_process) as suite:
        processes = suite_processes(suite)
        series: Series = {}
        traffic = Traffic()
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch(processes, series, stop))
        phase(f"suite up; {minutes:g} minutes of traffic at {rate:g} requests/s ...")
        started = time.monotonic()
        async with TollgateClient(suite.gateway, suite.api_key, timeout=60) as client:
            await drive(client, rate, seconds, traffic)
        elapsed = time.monotonic() - started
        stop.set()
        await watcher
        for name, process in processes.items():
            series[name].append((elapsed, sample(process)))
    return render(series, traffic, minutes, rate, warmup, elapsed, single_process)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parser.add_argument("--output", type=Path, help="also write the report to this file")
    parser.add_argument(
        "--single-process",
        action="store_true",
        help="the seven services as one process (its row is named gateway)",
    )
    args = parser.parse_args(argv)
    report = asyncio.run(run(args.minutes, args.rate, args.single_process))
    if args.output:
        command = f"uv run python -m bench.soak --minutes {args.minutes:g} --rate {args.rate:g}"
        command += " --single-process" if args.single_process else ""
        args.output.write_text(f"# Soak report\n\nCommand: `{command}`\n\n{report}\n")
    print(report)
    return report


if __name__ == "__main__":
    main()
