"""Latency of OptimizeConversation on a 50-turn conversation: in-process and over gRPC.

    uv run python -m bench.optimizer [--iterations 500]

The conversation is 50 turns of history from a generated CRM conversation (bench/data), with
tool calls and long tool results, plus the user's new turn. Three operations are timed in the
same run, one call at a time after a warm-up:

- baseline: serialising the OptimizeConversationRequest to bytes (the least any gRPC call does);
- in-process: `ConversationOptimizer.optimize` at the default policy;
- over gRPC: `OptimizeConversation` on the service started as its own process
  (`python -m tollgate.conversation_optimizer`) on a loopback port, through a client channel.

Figures are p50 / p99 in microseconds and ratios of each p50 to the baseline's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.crm_conversations import load
from tollgate.common.anthropic_format import request_from_params
from tollgate.conversation_optimizer.optimizer import ConversationOptimizer
from tollgate.conversation_optimizer.policy import Policy
from tollgate.v1 import common_pb2, conversation_optimizer_pb2, conversation_optimizer_pb2_grpc

TURNS = 50


def fifty_turns() -> common_pb2.ClaudeRequest:
    """50 turns of history and the user's new turn."""
    for conversation in load():
        messages = conversation["request"]["messages"]
        if len(messages) > TURNS + 1 and messages[TURNS]["role"] == "user":
            history = messages[: TURNS + 1]
            return request_from_params({**conversation["request"], "messages": history})
    raise SystemExit("no conversation of the data set has a user turn after 50 turns")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def wait_serving(address: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    async with grpc.aio.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the optimizer did not start on {address}")
            await asyncio.sleep(0.2)


async def timings(call: Callable[[], Awaitable[Any]], iterations: int) -> list[float]:
    for _ in range(max(20, iterations // 10)):
        await call()
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - start) * 1e6)
    return samples


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def main_async(iterations: int) -> None:
    request = fifty_turns()
    ask = conversation_optimizer_pb2.OptimizeConversationRequest(
        context=common_pb2.RequestContext(tenant_id="bench", task=common_pb2.TASK_TYPE_CHAT),
        request=request,
    )
    optimizer = ConversationOptimizer()
    policy = Policy()
    outcome = await optimizer.optimize(request, policy)

    async def serialise() -> bytes:
        return ask.SerializeToString()

    async def in_process() -> object:
        return await optimizer.optimize(request, policy)

    port = free_port()
    env = {**os.environ, "TOLLGATE_CONVERSATION_OPTIMIZER_PORT": str(port)}
    env["TOLLGATE_CONVERSATION_OPTIMIZER_HOST"] = "127.0.0.1"
    env["TOLLGATE_CONVERSATION_OPTIMIZER_LOG_LEVEL"] = "WARNING"
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tollgate.conversation_optimizer",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        address = f"127.0.0.1:{port}"
        await wait_serving(address)
        async with grpc.aio.insecure_channel(address) as channel:
            stub = conversation_optimizer_pb2_grpc.ConversationOptimizerServiceStub(channel)

            async def over_grpc() -> object:
                return await stub.OptimizeConversation(ask)

            results = {
                "baseline: serialise the request": await timings(serialise, iterations),
                "in-process `optimize`": await timings(in_process, iterations),
                "over gRPC (separate process, loopback)": await timings(over_grpc, iterations),
            }
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), timeout=30)

    print(
        f"{len(request.messages) - 1} turns of history + the new turn, {ask.ByteSize():,} bytes; "
        f"the default policy takes it from {outcome.original_tokens:,} to "
        f"{outcome.optimized_tokens:,} input tokens (estimate); {iterations} calls each\n"
    )
    print("| operation | p50 (µs) | p99 (µs) | mean (µs) | p50 vs baseline |")
    print("|---|---|---|---|---|")
    base = percentile(next(iter(results.values())), 0.5)
    for name, samples in results.items():
        p50 = percentile(samples, 0.5)
        print(
            f"| {name} | {p50:,.0f} | {percentile(samples, 0.99):,.0f} | "
            f"{statistics.mean(samples):,.0f} | {p50 / base:,.1f}x |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=500)
    asyncio.run(main_async(parser.parse_args().iterations))


if __name__ == "__main__":
    main()
