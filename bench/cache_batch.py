"""The gateway's exact-cache calls sent one RPC per call, against the same calls coalesced into
ExactBatch RPCs (tollgate.gateway.cache_coalescing.CoalescedCacheStub): CPU per request of the
caller and of the cache service.

A request is what a governed request that misses does: an ExactLookup that takes the fill lease
(a ~3 KB chat turn, each one unique), then, off its path, the ExactStore that gives the lease back
(a ~1 KB answer) — both through the gateway's call path (`dependencies.call`: breaker, deadline).
`--callers` requests run at once. The cache service runs in its own process (default settings)
against the machine's Redis (or TOLLGATE_CACHE_REDIS_URL); its CPU is read from /proc, the
caller's is this process's. The two ways alternate, round by round, so a busy machine weighs on
both alike; CPU per request is the figure to trust, not the rate.

    uv run python -m bench.cache_batch [--requests 2000] [--callers 16] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
import psutil
from google.protobuf import duration_pb2

from bench.cache_lookup import cache_process, chat_answer, chat_request
from bench.suite_tools import cpu_seconds
from tollgate.common.breaker import CircuitBreaker
from tollgate.common.stores import EmbeddedStores, resolve_redis_url
from tollgate.gateway import dependencies
from tollgate.gateway.cache_coalescing import CoalescedCacheStub
from tollgate.gateway.routing import Track
from tollgate.v1 import cache_pb2, cache_pb2_grpc, common_pb2

# The gateway's defaults (TOLLGATE_GATEWAY_CACHE_TIMEOUT_SECONDS, ..._WAIT_FOR_FILL_SECONDS).
CACHE_TIMEOUT = 0.15
WAIT_FOR_FILL = 30


@dataclass
class Figures:
    requests: int = 0
    caller_seconds: float = 0.0
    cache_seconds: float = 0.0
    wall_seconds: float = 0.0

    def per_request_ms(self, seconds: float) -> float:
        return seconds / self.requests * 1000


async def one_round(
    track: Track[Any], requests: list[common_pb2.ClaudeRequest], callers: int
) -> None:
    """Every request once, `callers` at a time; the stores run beside the next lookups, as the
    gateway's background work."""
    context = common_pb2.RequestContext(tenant_id="bench-tenant", task=common_pb2.TASK_TYPE_CHAT)
    answer = chat_answer()
    pending = iter(requests)
    stores: list[asyncio.Task[Any]] = []

    async def caller() -> None:
        for request in pending:
            lookup = cache_pb2.ExactLookupRequest(
                context=context,
                request=request,
                acquire_fill_lease=True,
                wait_for_fill=duration_pb2.Duration(seconds=WAIT_FOR_FILL),
            )
            reply = await dependencies.call(
                track, "ExactLookup", track.stub.ExactLookup, lookup, CACHE_TIMEOUT + WAIT_FOR_FILL
            )
            store = cache_pb2.ExactStoreRequest(
                context=context, key=reply.key, response=answer, fill_lease=reply.fill_lease
            )
            stores.append(
                asyncio.create_task(
                    dependencies.call(
                        track, "ExactStore", track.stub.ExactStore, store, 5 * CACHE_TIMEOUT
                    )
                )
            )

    await asyncio.gather(*(caller() for _ in range(callers)))
    await asyncio.gather(*stores)


async def main(total: int, callers: int, rounds: int) -> None:
    embedded = EmbeddedStores()
    redis_url = resolve_redis_url(
        os.environ.get("TOLLGATE_CACHE_REDIS_URL"), embedded, prefer_local=True
    )
    prefix = "bench" + secrets.token_hex(4)
    ways: dict[str, Callable[[Any], Any]] = {
        "one RPC per call (ExactLookup, ExactStore)": lambda stub: stub,
        "coalesced (ExactBatch)": lambda stub: CoalescedCacheStub(
            stub, rpc_timeout=5 * CACHE_TIMEOUT, max_message_bytes=8 << 20
        ),
    }
    figures = {way: Figures() for way in ways}
    serial = 0

    def fresh(count: int) -> list[common_pb2.ClaudeRequest]:
        nonlocal serial
        serial += count
        return [chat_request(f"Which listings? (request {serial - i})") for i in range(count)]

    try:
        async with cache_process(redis_url, prefix) as address:
            (cache,) = psutil.Process().children()
            async with grpc.aio.insecure_channel(address) as channel:
                plain = cache_pb2_grpc.CacheServiceStub(channel)
                for _ in range(rounds):
                    for way, wrap in ways.items():
                        stub = wrap(plain)
                        breaker = CircuitBreaker(failure_threshold=5, open_seconds=1.0)
                        track: Track[Any] = Track(
                            "cache", "stable", address, channel, stub, breaker
                        )
                        await one_round(track, fresh(200), callers)  # warm-up
                        requests = fresh(total)
                        caller0, cache0, wall0 = (
                            time.process_time(),
                            cpu_seconds(cache.pid),
                            time.monotonic(),
                        )
                        await one_round(track, requests, callers)
                        if isinstance(stub, CoalescedCacheStub):
                            await stub.aclose()
                        result = figures[way]
                        result.requests += total
                        result.caller_seconds += time.process_time() - caller0
                        result.cache_seconds += cpu_seconds(cache.pid) - cache0
                        result.wall_seconds += time.monotonic() - wall0
    finally:
        embedded.close()

    print(
        f"{total} requests a round (lookup with lease + store), {callers} at once, {rounds} "
        "rounds per way, interleaved; CPU ms per request"
    )
    print()
    print("| way | caller CPU | cache service CPU | both | requests/s |")
    print("|---|---:|---:|---:|---:|")
    for way, result in figures.items():
        caller = result.per_request_ms(result.caller_seconds)
        served = result.per_request_ms(result.cache_seconds)
        rate = result.requests / result.wall_seconds
        print(f"| {way} | {caller:.3f} | {served:.3f} | {caller + served:.3f} | {rate:,.0f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--callers", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.callers, args.rounds))
