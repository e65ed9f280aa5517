"""Fleet-wide pacing when its Redis stops and comes back: the call during which Redis fails is
let through unpaced, every call after it too (per-replica AIMD paces meanwhile), no generation
fails because of the fallback, and pacing resumes once Redis answers again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import grpc
import pytest
from redis.asyncio import Redis

from tests.faults.proxy import FaultProxy
from tests.orchestrator_process import lead_summary_spec
from tollgate.common.errors import ServiceError
from tollgate.common.testing import serving
from tollgate.emulator import EmulatorConfig, EmulatorServer, RateLimitConfig
from tollgate.orchestrator.deadline import Deadline
from tollgate.orchestrator.pacing import RedisPacer, pacing_redis
from tollgate.orchestrator.ratelimit_headers import Allowance, RateLimitState
from tollgate.orchestrator.service import build_service
from tollgate.orchestrator.settings import Settings
from tollgate.v1 import orchestrator_pb2, orchestrator_pb2_grpc

MODEL = "claude-sonnet-5-5"


@pytest.fixture
async def redis_proxy(redis_url: str) -> AsyncIterator[FaultProxy]:
    """The test's Redis behind a proxy that can cut it off (as a stopped Redis) and restore it."""
    address = urlsplit(redis_url)
    proxy = FaultProxy(address.hostname or "127.0.0.1", address.port or 6379)
    await proxy.start()
    yield proxy
    await proxy.stop()


async def paced_out(pacer: RedisPacer) -> bool:
    """True when the shared bucket refuses a call that cannot wait at all."""
    try:
        await pacer.admit(MODEL, Deadline(0.0))
    except ServiceError as error:
        refusal = error
    else:
        return False
    assert refusal.code is grpc.StatusCode.UNAVAILABLE
    return True


async def test_a_stopped_redis_lets_calls_through_then_pacing_resumes(
    redis_proxy: FaultProxy, redis_namespace: str
) -> None:
    client = pacing_redis(f"redis://{redis_proxy.address}/0", 0.25)
    pacer = RedisPacer(
        client,
        organisation="org-1",
        key_prefix=redis_namespace,
        timeout_seconds=0.25,
        retry_seconds=0.5,
        window_seconds=10.0**7,  # no refill during the test
    )
    try:
        empty = RateLimitState(requests=Allowance(limit=1000, remaining=0))
        await pacer.answered(MODEL, empty, counted=False)
        assert await paced_out(pacer)
        await redis_proxy.cut()
        started = time.monotonic()
        outcomes = [await paced_out(pacer) for _ in range(20)]
        assert outcomes == [False] * 20
        assert time.monotonic() - started < 1.0
        assert not pacer.redis_up
        await redis_proxy.restore()
        await asyncio.sleep(0.6)  # past retry_seconds
        # Redis is asked again, and it still holds the empty bucket.
        assert await paced_out(pacer)
        assert pacer.redis_up
    finally:
        await client.aclose()


async def test_redis_stopped_mid_run_fails_no_generation(
    redis_proxy: FaultProxy, redis_url: str, redis_namespace: str
) -> None:
    config = EmulatorConfig(rate_limits=RateLimitConfig(requests_per_minute=6000))
    async with EmulatorServer(config=config) as emulator:
        settings = Settings(
            host="127.0.0.1",
            port=0,
            anthropic_base_url=emulator.base_url,
            anthropic_api_key="faults-key",
            pacing_redis_url=f"redis://{redis_proxy.address}/0",
            pacing_key_prefix=redis_namespace,
            pacing_retry_seconds=0.3,
            task_fallbacks={},
        )
        async with (
            serving(await build_service(settings), settings) as running,
            grpc.aio.insecure_channel(running.address) as channel,
        ):
            stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)

            async def generate(numbers: range) -> None:
                await asyncio.gather(
                    *(
                        stub.Generate(
                            orchestrator_pb2.GenerateRequest(spec=lead_summary_spec(n)), timeout=10
                        )
                        for n in numbers
                    )
                )

            await generate(range(10))
            async with Redis.from_url(redis_url) as direct:
                buckets = [k async for k in direct.scan_iter(f"{redis_namespace}:pace:*")]
            assert buckets, "the shared bucket was not created from the headers"
            await redis_proxy.cut()
            await generate(range(10, 40))
            await redis_proxy.restore()
            await asyncio.sleep(0.4)
            await generate(range(40, 50))
        statuses = [r.status for r in emulator.stats.requests if r.path == "/v1/messages"]
    assert statuses == [200] * 50
