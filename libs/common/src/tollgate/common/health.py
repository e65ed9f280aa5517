"""Client-side health checks against the standard grpc.health.v1 service."""

from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


async def is_serving(target: str, service: str = "", timeout: float = 1.0) -> bool:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest(service=service)
        try:
            reply = await stub.Check(request, timeout=timeout)
        except grpc.aio.AioRpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


async def wait_until_serving(target: str, timeout: float = 30.0, service: str = "") -> None:
    """Poll until `target` reports SERVING, or raise TimeoutError."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await is_serving(target, service):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{target} did not become SERVING within {timeout:.0f}s")
        await asyncio.sleep(0.1)
