"""Adaptive (AIMD) vs fixed concurrency against an Anthropic API limited to 10 concurrent calls.

The emulator answers 429 (with retry-after) to any /v1/messages request beyond 10 in flight.
200 generations are sent to the orchestrator at once, through gRPC, with the same retry policy
in every mode; only the concurrency limiter differs:

- fixed 200: no limiting in practice (every request goes straight out), the naive baseline;
- fixed 10: a limit hand-tuned to the known upstream limit (unknowable in production);
- adaptive: AIMD starting at 8, floor 1, ceiling 64, learning the limit from 429s.

Figures: success rate, upstream calls per request, 429s, throughput and latency percentiles,
with throughput and latency also as ratios to the fixed-200 baseline of the same run.

    uv run python -m bench.orchestrator_concurrency
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from typing import Any

import grpc

from tollgate.common.testing import serving
from tollgate.emulator.config import EmulatorConfig, LatencyConfig
from tollgate.emulator.server import EmulatorServer
from tollgate.orchestrator.service import build_service
from tollgate.orchestrator.settings import Settings
from tollgate.v1 import common_pb2, orchestrator_pb2, orchestrator_pb2_grpc

REQUESTS = 200
UPSTREAM_LIMIT = 10
DEADLINE_SECONDS = 60.0
UPSTREAM_LATENCY_MS = 200.0


@dataclass(frozen=True)
class Mode:
    name: str
    initial: int
    floor: int
    ceiling: int


MODES = (
    Mode("fixed 200 (baseline)", REQUESTS, REQUESTS, REQUESTS),
    Mode("fixed 10 (hand-tuned)", UPSTREAM_LIMIT, UPSTREAM_LIMIT, UPSTREAM_LIMIT),
    Mode("adaptive (AIMD)", 8, 1, 64),
)


@dataclass(frozen=True)
class Figures:
    mode: str
    succeeded: int
    upstream_calls: int
    rate_limited: int
    wall_seconds: float
    latencies: list[float]

    @property
    def success_rate(self) -> float:
        return self.succeeded / REQUESTS

    @property
    def calls_per_request(self) -> float:
        return self.upstream_calls / REQUESTS

    @property
    def throughput(self) -> float:
        return self.succeeded / self.wall_seconds

    def percentile(self, fraction: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _spec(i: int) -> orchestrator_pb2.GenerationSpec:
    request = common_pb2.ClaudeRequest(
        model="claude-sonnet-5-5",
        max_tokens=32,
        messages=[
            common_pb2.Message(
                role=common_pb2.ROLE_USER,
                content=[
                    common_pb2.ContentBlock(
                        text=common_pb2.TextBlock(text=f"Summarise lead {i} in one line.")
                    )
                ],
            )
        ],
    )
    return orchestrator_pb2.GenerationSpec(
        context=common_pb2.RequestContext(tenant_id="bench", request_id=f"req-{i}"),
        request=request,
    )


async def _one(stub: Any, i: int) -> float | None:
    started = time.perf_counter()
    try:
        await stub.Generate(
            orchestrator_pb2.GenerateRequest(spec=_spec(i)), timeout=DEADLINE_SECONDS
        )
    except grpc.aio.AioRpcError:
        return None
    return time.perf_counter() - started


async def run_mode(mode: Mode) -> Figures:
    config = EmulatorConfig(
        latency=LatencyConfig(ttft_ms=UPSTREAM_LATENCY_MS),
        max_concurrency=UPSTREAM_LIMIT,
        seed=1,
    )
    async with EmulatorServer(config=config) as emulator:
        settings = Settings(
            host="127.0.0.1",
            port=0,
            anthropic_base_url=emulator.base_url,
            anthropic_api_key="bench",
            concurrency_initial=mode.initial,
            concurrency_min=mode.floor,
            concurrency_max=mode.ceiling,
            task_fallbacks={},
        )
        async with (
            serving(await build_service(settings), settings) as running,
            grpc.aio.insecure_channel(running.address) as channel,
        ):
            stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
            started = time.perf_counter()
            outcomes = await asyncio.gather(*(_one(stub, i) for i in range(REQUESTS)))
            wall = time.perf_counter() - started
        calls = [r for r in emulator.stats.requests if r.path == "/v1/messages"]
        latencies = [o for o in outcomes if o is not None]
        return Figures(
            mode=mode.name,
            succeeded=len(latencies),
            upstream_calls=len(calls),
            rate_limited=sum(1 for r in calls if r.status == 429),
            wall_seconds=wall,
            latencies=latencies,
        )


def table(results: list[Figures]) -> str:
    baseline = results[0]
    lines = [
        f"{REQUESTS} requests at once; emulator: {UPSTREAM_LIMIT} concurrent, "
        f"{UPSTREAM_LATENCY_MS:.0f} ms per call, 429 + retry-after 1 s beyond the limit.",
        "",
        "| mode | success | upstream calls / request | 429s | throughput (req/s) "
        "| throughput vs baseline | p50 (s) | p99 (s) | p50 vs baseline |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        p50 = r.percentile(0.50)
        lines.append(
            f"| {r.mode} | {r.success_rate:.1%} | {r.calls_per_request:.2f} | {r.rate_limited} "
            f"| {r.throughput:.1f} | {r.throughput / baseline.throughput:.2f}x "
            f"| {p50:.2f} | {r.percentile(0.99):.2f} "
            f"| {p50 / baseline.percentile(0.50):.2f}x |"
        )
    return "\n".join(lines)


async def main() -> None:
    results = [await run_mode(mode) for mode in MODES]
    print(table(results))
    print(f"\n(adaptive, mean latency {statistics.fmean(results[-1].latencies):.2f} s)")


if __name__ == "__main__":
    asyncio.run(main())
