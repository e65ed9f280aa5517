"""The cache gRPC service.

Not built yet: it starts, reports SERVING and answers every call with UNIMPLEMENTED, so the suite
runs end to end without ever returning a made-up result.
"""

from __future__ import annotations

from tollgate.cache.settings import Settings
from tollgate.common.server import GrpcService, unimplemented_registration
from tollgate.v1 import cache_pb2, cache_pb2_grpc


async def build_service(settings: Settings) -> GrpcService:
    registration = unimplemented_registration(cache_pb2, cache_pb2_grpc, "CacheService")
    return GrpcService("cache", [registration])
