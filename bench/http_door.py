"""The two doors of the gateway side by side: gRPC `Complete` and the HTTP front door
(`POST /v1/messages`), each driven by its own client (TollgateClient, the official `anthropic`
SDK), against the same running suite (real processes, budgets + exact cache on, the emulator
answering at once).

For each door and path, one client sends requests back to back; rounds alternate the doors so
that drift hits both alike. Latency is the client's wall time per request; CPU is the gateway
process's user + system time (/proc/<pid>/stat) over the round, divided by its requests, so it
is the gateway's own cost of a request on that door, whatever the client costs. The miss path
asks a new question each time (cache lookup, budget hold, Claude via the orchestrator, commit);
the hit path asks the same question (answered from the exact cache). The HTTP door is driven
twice: by the SDK, and by a bare aiohttp client, which shows how much latency is the SDK's.

    uv run python -m bench.http_door [--requests 300] [--rounds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import anthropic

from bench.overhead import body, sdk_body, unique_text
from bench.suite_tools import SETUPS, cpu_seconds, percentile, set_emulator_latency
from tollgate.cli.local_suite import LocalSuite, local_suite
from tollgate.client import TollgateClient

SAME_QUESTION = "What documents does a first-time buyer need for a mortgage pre-approval?"
GRPC = "gRPC (TollgateClient)"
HTTP_SDK = "HTTP (anthropic SDK)"
HTTP_RAW = "HTTP (aiohttp client)"


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu_seconds * 1000 / max(1, len(self.latencies_ms))


class Doors:
    def __init__(self, suite: LocalSuite, model: str) -> None:
        self.grpc = TollgateClient(suite.gateway, suite.api_key, timeout=60)
        self.http = anthropic.AsyncAnthropic(
            base_url=suite.http_url, api_key=suite.api_key, max_retries=0, timeout=60
        )
        # A bare HTTP client too: how much of the HTTP door's latency is the SDK's own.
        self.raw = aiohttp.ClientSession(
            base_url=suite.http_url,
            headers={"x-api-key": suite.api_key, "anthropic-version": "2023-06-01"},
        )
        self.model = model

    async def close(self) -> None:
        await self.grpc.close()
        await self.http.close()
        await self.raw.close()

    async def _raw(self, text: str) -> None:
        async with self.raw.post("/v1/messages", json={"model": self.model, **body(text)}) as reply:
            reply.raise_for_status()
            await reply.read()

    def call(self, door: str, text: Callable[[], str]) -> Callable[[], Awaitable[object]]:
        if door == GRPC:
            return lambda: self.grpc.complete(model=self.model, **body(text()))
        if door == HTTP_SDK:
            return lambda: self.http.messages.create(**sdk_body(self.model, text()))
        return lambda: self._raw(text())


async def measure(call: Callable[[], Awaitable[object]], pid: int, requests: int) -> Tally:
    for _ in range(10):  # warm-up: connections, first-call paths
        await call()
    tally = Tally()
    cpu_before = cpu_seconds(pid)
    for _ in range(requests):
        started = time.perf_counter()
        await call()
        tally.latencies_ms.append((time.perf_counter() - started) * 1000)
    tally.cpu_seconds = cpu_seconds(pid) - cpu_before
    return tally


async def run(requests: int, rounds: int) -> str:
    flags = SETUPS["governance (budgets + exact cache)"]
    async with local_suite(flags=flags) as suite:
        await set_emulator_latency(suite.emulator_url, 0, 0)
        gateway_pid = next(p for p in suite.processes if p.name == "gateway").process.pid
        assert gateway_pid is not None
        doors = Doors(suite, "claude-sonnet-5-5")
        paths: dict[str, Callable[[], str]] = {
            "miss": unique_text,
            "exact hit": lambda: SAME_QUESTION,
        }
        tallies: dict[tuple[str, str], Tally] = {}
        try:
            for _ in range(rounds):
                for path, text in paths.items():
                    for door in (GRPC, HTTP_SDK, HTTP_RAW):
                        tally = await measure(doors.call(door, text), gateway_pid, requests)
                        total = tallies.setdefault((door, path), Tally())
                        total.latencies_ms += tally.latencies_ms
                        total.cpu_seconds += tally.cpu_seconds
        finally:
            await doors.close()
    return table(tallies, requests, rounds)


def table(tallies: dict[tuple[str, str], Tally], requests: int, rounds: int) -> str:
    lines = [
        f"{rounds} alternating rounds of {requests} sequential requests per door and path; "
        "CPU is the gateway process's, per request.",
        "",
        "| door | path | requests | p50 ms | p99 ms | gateway CPU ms/request | CPU vs gRPC |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for (door, path), tally in tallies.items():
        baseline = tallies[(GRPC, path)].cpu_ms_per_request
        ratio = tally.cpu_ms_per_request / baseline if baseline else 0.0
        lines.append(
            f"| {door} | {path} | {len(tally.latencies_ms)} | "
            f"{percentile(tally.latencies_ms, 50):.2f} | {percentile(tally.latencies_ms, 99):.2f} "
            f"| {tally.cpu_ms_per_request:.3f} | {ratio:.2f}x |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m bench.http_door", description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args(argv)
    report = asyncio.run(run(args.requests, args.rounds))
    print(report)
    return report


if __name__ == "__main__":
    main()
