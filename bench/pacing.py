"""Fleet-wide pacing vs per-replica AIMD alone: three orchestrator processes, one organisation.

The emulator plays an Anthropic organisation limited to `LIMIT_RPM` requests per minute (a
continuously refilled bucket, 429 + retry-after past it, the anthropic-ratelimit-* headers on
every response). Three orchestrators run as separate processes, as three replicas would, and
each is offered the same open-loop load: `RATE_PER_REPLICA` generations per second for
`LOAD_SECONDS`, each with a `DEADLINE_SECONDS` gRPC deadline, together 1.5x the limit. Before
the load, the organisation's bucket is emptied by direct calls until the emulator refuses one
(it has been busy: the state in which pacing matters), identically in both modes.

- per-replica AIMD alone: `TOLLGATE_ORCHESTRATOR_PACING_ENABLED=false`, each replica learns the
  limit from its own 429s;
- fleet pacing: the replicas share one request bucket in Redis, sized from the headers.

Same retry policy, same AIMD settings, same load and emulator in both; fallbacks off. Figures:
429s the emulator sent, success rate, upstream calls per success, latency of the successes.

    uv run python -m bench.pacing
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import anthropic
import grpc

from tests.orchestrator_process import OrchestratorProcess, start_orchestrator_processes
from tollgate.common.stores import EmbeddedStores, resolve_redis_url
from tollgate.emulator import EmulatorConfig, EmulatorServer, LatencyConfig, RateLimitConfig
from tollgate.v1 import common_pb2, orchestrator_pb2, orchestrator_pb2_grpc

LIMIT_RPM = 60
REPLICAS = 3
RATE_PER_REPLICA = 0.5  # generations per second offered to each replica
LOAD_SECONDS = 40.0
DEADLINE_SECONDS = 20.0
UPSTREAM_LATENCY_MS = 200.0
MODEL = "claude-sonnet-5-5"


@dataclass(frozen=True)
class Mode:
    name: str
    pacing: bool


MODES = (Mode("per-replica AIMD alone", False), Mode("fleet pacing (Redis) + AIMD", True))


@dataclass
class Figures:
    mode: str
    offered: int = 0
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    upstream_calls: int = 0
    rate_limited: int = 0
    wall_seconds: float = 0.0

    @property
    def succeeded(self) -> int:
        return len(self.latencies)

    def percentile(self, fraction: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _spec(replica: int, n: int) -> orchestrator_pb2.GenerationSpec:
    text = common_pb2.TextBlock(text=f"Replica {replica}: summarise lead {n} in one line.")
    return orchestrator_pb2.GenerationSpec(
        context=common_pb2.RequestContext(tenant_id="bench", request_id=f"r{replica}-{n}"),
        request=common_pb2.ClaudeRequest(
            model=MODEL,
            max_tokens=32,
            messages=[
                common_pb2.Message(
                    role=common_pb2.ROLE_USER, content=[common_pb2.ContentBlock(text=text)]
                )
            ],
        ),
    )


async def _drain(emulator: EmulatorServer, api_key: str) -> None:
    """Spend the organisation's whole bucket, as a busy minute before the run would: call until
    the emulator refuses (calls refill it meanwhile, so a fixed count would leave some)."""
    async with anthropic.AsyncAnthropic(
        base_url=emulator.base_url, api_key=api_key, max_retries=0
    ) as sdk:
        for _ in range(10 * LIMIT_RPM):
            try:
                await sdk.messages.create(
                    model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "warm-up"}]
                )
            except anthropic.RateLimitError:
                return
        raise RuntimeError("the emulator never refused: is its rate limit set?")


async def _offer(address: str, replica: int, figures: Figures) -> None:
    """Open-loop load: a request every 1/RATE seconds whether or not earlier ones returned."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)

        async def one(n: int) -> None:
            started = time.perf_counter()
            try:
                await stub.Generate(
                    orchestrator_pb2.GenerateRequest(spec=_spec(replica, n)),
                    timeout=DEADLINE_SECONDS,
                )
            except grpc.aio.AioRpcError as error:
                figures.failures[error.code().name] += 1
                return
            figures.latencies.append(time.perf_counter() - started)

        count = int(LOAD_SECONDS * RATE_PER_REPLICA)
        figures.offered += count
        begin = time.perf_counter()
        calls = []
        for n in range(count):
            await asyncio.sleep(max(0.0, begin + n / RATE_PER_REPLICA - time.perf_counter()))
            calls.append(asyncio.create_task(one(n)))
        await asyncio.gather(*calls)


async def run_mode(mode: Mode, redis_url: str, workdir: Path) -> Figures:
    config = EmulatorConfig(
        latency=LatencyConfig(ttft_ms=UPSTREAM_LATENCY_MS),
        rate_limits=RateLimitConfig(requests_per_minute=LIMIT_RPM),
        seed=1,
    )
    api_key = f"bench-{secrets.token_hex(4)}"
    async with EmulatorServer(config=config) as emulator:
        env = {
            "TOLLGATE_ORCHESTRATOR_ANTHROPIC_BASE_URL": emulator.base_url,
            "TOLLGATE_ORCHESTRATOR_ANTHROPIC_API_KEY": api_key,
            "TOLLGATE_ORCHESTRATOR_TASK_FALLBACKS": json.dumps({}),
            "TOLLGATE_ORCHESTRATOR_PACING_ENABLED": json.dumps(mode.pacing),
            "TOLLGATE_ORCHESTRATOR_PACING_REDIS_URL": redis_url,
            "TOLLGATE_ORCHESTRATOR_PACING_KEY_PREFIX": f"bench{secrets.token_hex(4)}",
        }
        replicas: list[OrchestratorProcess] = await asyncio.to_thread(
            start_orchestrator_processes, workdir, REPLICAS, env
        )
        try:
            await _drain(emulator, api_key)
            drained = len(emulator.stats.requests)
            figures = Figures(mode.name)
            started = time.perf_counter()
            await asyncio.gather(*(_offer(r.address, i, figures) for i, r in enumerate(replicas)))
            figures.wall_seconds = time.perf_counter() - started
        finally:
            for replica in replicas:
                await asyncio.to_thread(replica.stop)
        calls = [r for r in list(emulator.stats.requests)[drained:] if r.path == "/v1/messages"]
        figures.upstream_calls = len(calls)
        figures.rate_limited = sum(1 for r in calls if r.status == 429)
    return figures


def table(results: list[Figures]) -> str:
    lines = [
        f"{REPLICAS} orchestrator processes, each offered {RATE_PER_REPLICA:g} generations/s "
        f"for {LOAD_SECONDS:.0f} s ({DEADLINE_SECONDS:.0f} s deadline); the emulator's "
        f"organisation allows {LIMIT_RPM} requests/min and starts the run with its bucket "
        f"empty; {UPSTREAM_LATENCY_MS:.0f} ms per call.",
        "",
        "| mode | offered | succeeded | success rate | 429s from the emulator "
        "| upstream calls / success | failures | p50 (s) | p95 (s) | wall (s) |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for r in results:
        failures = ", ".join(f"{code} {n}" for code, n in sorted(r.failures.items())) or "none"
        per_success = r.upstream_calls / r.succeeded if r.succeeded else float("nan")
        lines.append(
            f"| {r.mode} | {r.offered} | {r.succeeded} | {r.succeeded / r.offered:.1%} "
            f"| {r.rate_limited} | {per_success:.2f} | {failures} | {r.percentile(0.5):.2f} "
            f"| {r.percentile(0.95):.2f} | {r.wall_seconds:.0f} |"
        )
    baseline, paced = results[0], results[-1]
    if paced.rate_limited:
        lines.append(
            f"\n429s: {baseline.rate_limited} vs {paced.rate_limited} "
            f"({baseline.rate_limited / paced.rate_limited:.0f}x fewer with fleet pacing)."
        )
    else:
        lines.append(f"\n429s: {baseline.rate_limited} vs 0 with fleet pacing.")
    return "\n".join(lines)


async def main() -> None:
    embedded = EmbeddedStores()
    try:
        redis_url = resolve_redis_url(
            os.environ.get("TOLLGATE_BENCH_REDIS_URL"), embedded, prefer_local=True
        )
        with tempfile.TemporaryDirectory(prefix="tg-pacing-") as workdir:
            results = [await run_mode(mode, redis_url, Path(workdir)) for mode in MODES]
    finally:
        embedded.close()
    print(table(results))


if __name__ == "__main__":
    asyncio.run(main())
