"""Two orchestrator processes, one Anthropic organisation, one shared bucket in Redis: together
they send more generations than the organisation's bucket holds, and the emulator never has to
refuse one, because both replicas take from the bucket its headers describe."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import grpc
import pytest
from redis.asyncio import Redis

from tests.orchestrator_process import lead_summary_spec, start_orchestrator_processes
from tollgate.emulator import EmulatorConfig, EmulatorServer, LatencyConfig, RateLimitConfig
from tollgate.v1 import orchestrator_pb2, orchestrator_pb2_grpc

LIMIT_RPM = 60
# Six more than the bucket holds: without a shared pace, those six would be 429s.
GENERATIONS = LIMIT_RPM + 6
MODEL = "claude-sonnet-5-5"


# Two Python processes start in seconds on an idle machine and in minutes on a busy shared one.
@pytest.mark.timeout(600)
async def test_two_replicas_sharing_one_bucket_stay_under_the_organisations_limit(
    tmp_path: Path, redis_url: str, redis_namespace: str
) -> None:
    config = EmulatorConfig(
        latency=LatencyConfig(ttft_ms=50),
        rate_limits=RateLimitConfig(requests_per_minute=LIMIT_RPM),
    )
    async with EmulatorServer(config=config) as emulator:
        env = {
            "TOLLGATE_ORCHESTRATOR_ANTHROPIC_BASE_URL": emulator.base_url,
            "TOLLGATE_ORCHESTRATOR_ANTHROPIC_API_KEY": "e2e-organisation-key",
            "TOLLGATE_ORCHESTRATOR_TASK_FALLBACKS": json.dumps({}),
            "TOLLGATE_ORCHESTRATOR_PACING_REDIS_URL": redis_url,
            "TOLLGATE_ORCHESTRATOR_PACING_KEY_PREFIX": redis_namespace,
            # This test is about sharing the bucket; on a starved machine a Redis round trip can
            # exceed the 0.25 s default and send a replica unpaced for a while (the fallback,
            # tested in tests/faults/test_faults_pacing.py).
            "TOLLGATE_ORCHESTRATOR_PACING_REDIS_TIMEOUT_SECONDS": "5",
        }
        replicas = await asyncio.to_thread(start_orchestrator_processes, tmp_path, 2, env)
        try:
            channels = [grpc.aio.insecure_channel(r.address) for r in replicas]
            stubs = [orchestrator_pb2_grpc.OrchestratorServiceStub(c) for c in channels]
            results = await asyncio.gather(
                *(
                    stubs[n % 2].Generate(
                        orchestrator_pb2.GenerateRequest(spec=lead_summary_spec(n)), timeout=60
                    )
                    for n in range(GENERATIONS)
                )
            )
            for channel in channels:
                await channel.close()
        finally:
            for replica in replicas:
                await asyncio.to_thread(replica.stop)
        statuses = [r.status for r in emulator.stats.requests if r.path == "/v1/messages"]
    fallbacks = [
        line for replica in replicas for line in replica.output().splitlines() if "pacing" in line
    ]
    assert not fallbacks, fallbacks
    assert statuses == [200] * GENERATIONS, f"the emulator refused some: {statuses}"
    assert [result.result.upstream_attempts for result in results] == [1] * GENERATIONS
    async with Redis.from_url(redis_url) as direct:
        buckets = [key async for key in direct.scan_iter(f"{redis_namespace}:pace:*")]
    assert len(buckets) == 1, buckets
