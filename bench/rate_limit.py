"""What the gateway's rate limiter costs per request, against one Redis round trip.

The limiter makes one EVALSHA per admitted request (four counters checked and incremented
atomically). This measures its cost against the floor for any Redis-shared limiter, a PING on
the same connection pool, sequentially and with concurrent callers, in one run.

    uv run python -m bench.rate_limit [--calls 3000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from tollgate.common.stores import EmbeddedStores, resolve_redis_url
from tollgate.gateway.rate_limit import RateLimiter, RateLimits


async def _timed(calls: int, concurrency: int, one: Callable[[int], Awaitable[object]]) -> float:
    """Seconds per call, `calls` calls spread over `concurrency` callers."""
    per_worker = calls // concurrency

    async def worker(offset: int) -> None:
        for index in range(per_worker):
            await one(offset * per_worker + index)

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return (time.perf_counter() - started) / (per_worker * concurrency)


async def run(redis_url: str, calls: int, concurrency: int) -> str:
    prefix = "bench:" + secrets.token_hex(4)
    limits = RateLimits(
        tenant_requests_per_minute=10**9,
        tenant_tokens_per_minute=10**12,
        key_requests_per_minute=10**9,
        key_tokens_per_minute=10**12,
    )
    limiter = RateLimiter(redis_url, limits, {}, key_prefix=prefix)
    client = aioredis.Redis.from_url(redis_url)
    now = time.time()
    rows = []
    try:
        for _ in range(200):  # warm connections and the script cache
            await limiter.admit("acme", "acme-app", 500, now=now)
            await client.ping()
        for callers in (1, concurrency):
            ping = await _timed(calls, callers, lambda _: client.ping())
            admit = await _timed(
                calls, callers, lambda n: limiter.admit("acme", f"key-{n % 8}", 500, now=now)
            )
            rows.append((callers, ping, admit))
    finally:
        await limiter.close()
        await client.aclose()
    lines = [
        "| callers | Redis PING (baseline) | limiter admit | admit / PING |",
        "|---:|---:|---:|---:|",
    ]
    for callers, ping, admit in rows:
        lines.append(
            f"| {callers} | {ping * 1e6:.0f} µs | {admit * 1e6:.0f} µs | {admit / ping:.2f}x |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    calls = 600 if args.quick else args.calls
    embedded = EmbeddedStores()
    try:
        url = resolve_redis_url(
            os.environ.get("TOLLGATE_TEST_REDIS_URL"), embedded, prefer_local=True
        )
        print(asyncio.run(run(url, calls, args.concurrency)))
    finally:
        embedded.close()


if __name__ == "__main__":
    main()
