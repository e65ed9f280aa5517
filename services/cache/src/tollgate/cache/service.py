"""The cache gRPC service: the exact response cache on Redis."""

from __future__ import annotations

from tollgate.cache.connection import RedisConnection
from tollgate.cache.entries import EntryStore
from tollgate.cache.policy import CachePolicy
from tollgate.cache.servicer import CacheServicer
from tollgate.cache.settings import Settings
from tollgate.cache.single_flight import PollSchedule, SingleFlight
from tollgate.common.breaker import CircuitBreaker
from tollgate.common.server import GrpcService, Registration
from tollgate.v1 import cache_pb2, cache_pb2_grpc


async def build_service(settings: Settings) -> GrpcService:
    connection = RedisConnection(settings)
    store = EntryStore(
        connection,
        CircuitBreaker(settings.breaker_failure_threshold, settings.breaker_open_seconds),
        lookup_timeout=settings.lookup_timeout_seconds,
        write_timeout=settings.write_timeout_seconds,
        admin_timeout=settings.admin_timeout_seconds,
        lease_timeout=settings.lease_timeout_seconds,
    )
    single_flight = SingleFlight(
        store, PollSchedule(settings.fill_poll_initial_seconds, settings.fill_poll_max_seconds)
    )
    servicer = CacheServicer(settings, store, single_flight, CachePolicy(settings))
    registration = Registration(
        cache_pb2.DESCRIPTOR.services_by_name["CacheService"].full_name,
        cache_pb2_grpc.add_CacheServiceServicer_to_server,
        servicer,
    )
    return GrpcService(
        "cache", [registration], on_start=[connection.open], on_stop=[connection.close]
    )
