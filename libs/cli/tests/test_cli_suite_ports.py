"""Ports of a suite started on free ports, and how a process is told ready on its port."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from tollgate.cli import local_suite
from tollgate.cli.local_suite import SERVICES, free_ports, grpc_service_name


def test_free_ports_never_repeat() -> None:
    for _ in range(20):
        ports = free_ports(len(SERVICES) + 1)
        assert len(set(ports)) == len(ports)


def test_free_ports_lie_below_the_ephemeral_range_no_outgoing_connection_takes() -> None:
    first_ephemeral = local_suite._ephemeral_range()[0]
    ports = free_ports(200)
    assert all(local_suite._LOWEST_PORT <= port < first_ephemeral for port in ports)


def test_each_process_is_probed_for_its_own_grpc_service() -> None:
    for name, _ in SERVICES:
        # Each service's contract is tollgate/v1/<name>.proto.
        module = importlib.import_module(f"tollgate.v1.{name}_pb2")
        declared = {s.full_name for s in module.DESCRIPTOR.services_by_name.values()}
        assert grpc_service_name(name) in declared, name


@pytest.fixture
async def cache_health_only() -> AsyncIterator[str]:
    """A server whose health reports only the exact cache as SERVING."""
    server = grpc.aio.server()
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    for name in ("", grpc_service_name("cache")):
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)
    yield f"127.0.0.1:{port}"
    await server.stop(None)


async def test_another_services_health_is_not_taken_for_ready(cache_health_only: str) -> None:
    probe_cache = local_suite._grpc_probe(cache_health_only, grpc_service_name("cache"))
    probe_semantic = local_suite._grpc_probe(cache_health_only, grpc_service_name("semantic_cache"))
    assert await probe_cache()
    assert not await probe_semantic()
