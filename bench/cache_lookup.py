"""Exact-cache lookup latency over gRPC (hit and miss), against a direct Redis GET round trip.

The cache service runs as its own process (`python -m tollgate.cache`, default settings) against
the same Redis the baseline reads: TOLLGATE_CACHE_REDIS_URL, else the machine's Redis, else an
embedded one. The request is a realistic CRM chat turn (system prompt and a few turns, ~3 KB);
the stored answer ~1 KB. Calls are sequential, one at a time, so the figures are latencies, not
queueing. Ratios are against the GET of the same stored entry, measured in the same run.

    uv run python -m bench.cache_lookup [--calls 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import socket
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from redis.asyncio import Redis

from tollgate.cache.canonical import cache_key
from tollgate.cache.keys import TenantKeys
from tollgate.common.stores import EmbeddedStores, resolve_redis_url
from tollgate.v1 import cache_pb2, cache_pb2_grpc, common_pb2

TENANT = "bench-tenant"


def _text(text: str) -> common_pb2.ContentBlock:
    return common_pb2.ContentBlock(text=common_pb2.TextBlock(text=text))


def chat_request(question: str) -> common_pb2.ClaudeRequest:
    system = (
        "You are the assistant of a residential real-estate agency. Answer buyers and sellers "
        "politely and precisely; never invent prices, addresses or availability. "
    ) * 8
    turns = [
        ("Hi, I'm looking for a 3-bedroom house near Riverside, budget around 450k.", 1),
        ("Happy to help. Do you need a garden, and how soon do you want to move?", 2),
        ("A small garden would be great. We'd like to move before September.", 1),
        ("Noted: 3 bedrooms, garden, Riverside, up to 450,000, moving before September.", 2),
        (question, 1),
    ]
    return common_pb2.ClaudeRequest(
        model="claude-sonnet-4-6",
        max_tokens=512,
        temperature=0.0,
        system=[_text(system)],
        messages=[
            common_pb2.Message(role=role, content=[_text(text)])  # type: ignore[arg-type]
            for text, role in turns
        ],
    )


def chat_answer() -> common_pb2.ClaudeResponse:
    return common_pb2.ClaudeResponse(
        id="msg_bench",
        model="claude-sonnet-4-6",
        content=[_text("Three listings match what you described. " * 24)],
        stop_reason=common_pb2.STOP_REASON_END_TURN,
        usage=common_pb2.Usage(input_tokens=820, output_tokens=230),
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def cache_process(redis_url: str, prefix: str) -> AsyncIterator[str]:
    """The cache service in its own process; yields its address once it reports SERVING."""
    port = _free_port()
    env = {
        **os.environ,
        "TOLLGATE_CACHE_HOST": "127.0.0.1",
        "TOLLGATE_CACHE_PORT": str(port),
        "TOLLGATE_CACHE_REDIS_URL": redis_url,
        "TOLLGATE_CACHE_KEY_PREFIX": prefix,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tollgate.cache",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    address = f"127.0.0.1:{port}"
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for _ in range(200):
                with contextlib.suppress(grpc.aio.AioRpcError):
                    reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        break
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError("the cache service did not start")
        yield address
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=30)


WARM_UP = 200


async def timed(calls: int, op: Callable[[int], Awaitable[object]]) -> list[float]:
    """Latencies in microseconds of `calls` sequential calls, after a warm-up. `op` gets the
    call's number, distinct across warm-up and measured calls."""
    for i in range(WARM_UP):
        await op(i)
    latencies = []
    for i in range(WARM_UP, WARM_UP + calls):
        started = time.perf_counter()
        await op(i)
        latencies.append((time.perf_counter() - started) * 1e6)
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def main(calls: int) -> None:
    embedded = EmbeddedStores()
    redis_url = resolve_redis_url(
        os.environ.get("TOLLGATE_CACHE_REDIS_URL"), embedded, prefer_local=True
    )
    prefix = "bench" + secrets.token_hex(4)
    redis = Redis.from_url(redis_url)
    context = common_pb2.RequestContext(tenant_id=TENANT, task=common_pb2.TASK_TYPE_CHAT)
    hit_request = chat_request("Which listings would you suggest?")
    lease_requests = [
        chat_request(f"Which listings would you suggest? (lease {i})")
        for i in range(calls + WARM_UP)
    ]
    miss_requests = [
        chat_request(f"Which listings would you suggest? (variant {i})")
        for i in range(calls + WARM_UP)
    ]
    try:
        async with (
            cache_process(redis_url, prefix) as address,
            grpc.aio.insecure_channel(address) as channel,
        ):
            cache = cache_pb2_grpc.CacheServiceStub(channel)
            first = await cache.ExactLookup(
                cache_pb2.ExactLookupRequest(
                    context=context, request=hit_request, acquire_fill_lease=True
                )
            )
            stored = await cache.ExactStore(
                cache_pb2.ExactStoreRequest(
                    context=context,
                    key=first.key,
                    response=chat_answer(),
                    fill_lease=first.fill_lease,
                )
            )
            assert stored.stored, stored.reason
            entry_key = TenantKeys(prefix, TENANT).entry(first.key)

            async def redis_get(_: int) -> object:
                value = await redis.get(entry_key)
                assert value
                return value

            async def lookup_hit(_: int) -> object:
                reply = await cache.ExactLookup(
                    cache_pb2.ExactLookupRequest(context=context, request=hit_request)
                )
                assert reply.hit
                return reply

            async def lookup_miss(i: int) -> object:
                reply = await cache.ExactLookup(
                    cache_pb2.ExactLookupRequest(context=context, request=miss_requests[i])
                )
                assert not reply.hit
                return reply

            async def lookup_miss_with_lease(i: int) -> object:
                reply = await cache.ExactLookup(
                    cache_pb2.ExactLookupRequest(
                        context=context,
                        request=lease_requests[i],
                        acquire_fill_lease=True,
                    )
                )
                assert reply.fill_lease
                return reply

            health = health_pb2_grpc.HealthStub(channel)

            async def health_check(_: int) -> object:
                return await health.Check(health_pb2.HealthCheckRequest())

            hot_request = chat_request("Which listings would you suggest?")
            hot_request.temperature = 0.7

            async def lookup_bypass(_: int) -> object:
                reply = await cache.ExactLookup(
                    cache_pb2.ExactLookupRequest(context=context, request=hot_request)
                )
                assert not reply.cacheable
                return reply

            async def key_only(_: int) -> object:
                return cache_key(TENANT, "chat", "", hit_request)

            baseline = await timed(calls, redis_get)
            rows = [
                ("Redis GET of the entry (baseline)", baseline),
                (
                    "gRPC health Check, same server (the RPC floor)",
                    await timed(calls, health_check),
                ),
                ("ExactLookup, not cacheable (no Redis call)", await timed(calls, lookup_bypass)),
                ("ExactLookup, hit", await timed(calls, lookup_hit)),
                ("ExactLookup, miss", await timed(calls, lookup_miss)),
                ("ExactLookup, miss + fill lease", await timed(calls, lookup_miss_with_lease)),
                ("canonical key alone (in process)", await timed(calls, key_only)),
            ]
    finally:
        with contextlib.suppress(Exception):
            keys = [k async for k in redis.scan_iter(match=f"{prefix}:*")]
            if keys:
                await redis.delete(*keys)
        await redis.aclose()
        embedded.close()

    base_p50, base_p99 = percentile(baseline, 0.5), percentile(baseline, 0.99)
    print(f"Exact-cache lookup latency, {calls} sequential calls each, Redis at {redis_url}\n")
    print("| operation | p50 µs | p99 µs | p50 vs GET | p99 vs GET |")
    print("|---|---:|---:|---:|---:|")
    for name, values in rows:
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        print(
            f"| {name} | {p50:,.0f} | {p99:,.0f} | {p50 / base_p50:.1f}x | {p99 / base_p99:.1f}x |"
        )
    print(f"\nmean of the baseline: {statistics.fmean(baseline):,.0f} µs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    asyncio.run(main(parser.parse_args().calls))
