"""gRPC server bootstrap shared by every service.

`GrpcService` bundles what a service registers (servicers, start/stop hooks). `start_server`
brings it up with health, reflection, interceptors, message-size limits and keepalive;
`serve` runs it until SIGTERM/SIGINT and shuts down gracefully: health goes NOT_SERVING,
in-flight calls drain for the grace period, then the server stops and the hooks run.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import uvloop
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from tollgate.common.callers import CallerAllowlist
from tollgate.common.in_process import InProcessServer
from tollgate.common.interceptors import ServerInterceptor
from tollgate.common.logs import configure_logging, hide_metadata_values_in_grpc_logs
from tollgate.common.settings import ServiceSettings
from tollgate.common.telemetry import configure_telemetry
from tollgate.common.tls import server_credentials

log = logging.getLogger("tollgate.server")

Hook = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Registration:
    """One gRPC service implemented by a servicer: its full name and the generated add function."""

    full_name: str
    add_to_server: Callable[[Any, grpc.aio.Server], None]
    servicer: Any


@dataclass
class GrpcService:
    """Everything a Tollgate service process serves, and what it opens and closes."""

    name: str
    registrations: Sequence[Registration]
    on_start: list[Hook] = field(default_factory=list)
    on_stop: list[Hook] = field(default_factory=list)
    # Run before the shared one, outermost first (e.g. the gateway's authentication gate,
    # which must see a call before its body is read).
    interceptors: Sequence[grpc.aio.ServerInterceptor] = ()


def server_options(settings: ServiceSettings) -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.keepalive_time_ms", settings.keepalive_time_seconds * 1000),
        ("grpc.keepalive_timeout_ms", settings.keepalive_timeout_seconds * 1000),
        # Accept client keepalive pings as often as our own clients send them.
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.max_connection_age_ms", settings.max_connection_age_seconds * 1000),
        ("grpc.max_connection_age_grace_ms", settings.max_connection_age_grace_seconds * 1000),
        # Streams one connection may have open at once: past it the client queues its calls.
        ("grpc.max_concurrent_streams", settings.max_concurrent_streams),
    ]


def caller_allowlist(settings: ServiceSettings) -> list[grpc.aio.ServerInterceptor]:
    """The allowlist of calling services, when configured (it needs mutual TLS to name them)."""
    if not settings.allowed_callers:
        return []
    if not settings.tls_client_ca_file:
        raise RuntimeError(
            "allowed_callers needs mutual TLS (tls_client_ca_file): without a verified client "
            "certificate no caller has a name to check"
        )
    return [CallerAllowlist(settings.allowed_callers)]


class RunningServer:
    """A started server: its bound port, its health servicer, and a graceful stop."""

    def __init__(
        self,
        service: GrpcService,
        server: grpc.aio.Server,
        health: HealthServicer,
        port: int,
        health_server: grpc.aio.Server | None = None,
    ) -> None:
        self.service = service
        self.server = server
        self.health = health
        self.port = port
        self.health_server = health_server
        self._stopped = False

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def stop(self, grace: float) -> None:
        """NOT_SERVING, drain in-flight calls for up to `grace` seconds, stop, run stop hooks."""
        if self._stopped:
            return
        self._stopped = True
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        if self.health_server is not None:
            await self.health_server.stop(None)
        for hook in reversed(self.service.on_stop):
            try:
                await hook()
            except Exception:
                log.exception("stop hook failed", extra={"service": self.service.name})


async def start_server(service: GrpcService, settings: ServiceSettings) -> RunningServer:
    """Start `service` on settings.host:settings.port (port 0 picks a free one)."""
    configure_telemetry(service.name, settings.metrics_port, settings.host)
    hide_metadata_values_in_grpc_logs()
    for hook in service.on_start:
        await hook()
    server = grpc.aio.server(
        interceptors=_interceptors(service, settings, caller_allowlist(settings)),
        options=server_options(settings),
        # Calls in progress across all connections; past it new calls get RESOURCE_EXHAUSTED
        # at once instead of queueing without bound.
        maximum_concurrent_rpcs=settings.max_concurrent_rpcs or None,
    )
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    _register(service, server)
    names = [r.full_name for r in service.registrations]
    health_name = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
    reflection.enable_server_reflection([*names, health_name, reflection.SERVICE_NAME], server)
    credentials = server_credentials(settings)
    bind = f"{settings.host}:{settings.port}"
    port = (
        server.add_secure_port(bind, credentials)
        if credentials is not None
        else server.add_insecure_port(bind)
    )
    if port == 0:
        raise RuntimeError(f"{service.name}: could not bind {settings.host}:{settings.port}")
    await server.start()
    health_server = await _start_health_port(health, settings)
    for name in ["", *names]:
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info(
        "listening",
        extra={"service": service.name, "port": port, "tls": credentials is not None},
    )
    return RunningServer(service, server, health, port, health_server)


def in_process_server(service: GrpcService, settings: ServiceSettings) -> InProcessServer:
    """`service` on an in-process server (`tollgate.common.in_process`), behind the interceptors
    its gRPC server would have. Not the caller allowlist: it names callers by their TLS
    certificate, and a call in the same process has none. Its hooks are the caller's to run."""
    server = InProcessServer(_interceptors(service, settings, allowlist=[]))
    _register(service, server)
    return server


def _interceptors(
    service: GrpcService,
    settings: ServiceSettings,
    allowlist: list[grpc.aio.ServerInterceptor],
) -> list[grpc.aio.ServerInterceptor]:
    """A service's server interceptors, outermost first: its own, the caller allowlist, then the
    shared access line, span, metrics and error mapping."""
    shared = ServerInterceptor(service.name, settings.track, settings.keep_caller_baggage)
    return [*service.interceptors, *allowlist, shared]


def _register(service: GrpcService, server: Any) -> None:
    """Every servicer of `service` on `server` (a gRPC server, or an in-process one)."""
    for registration in service.registrations:
        registration.add_to_server(registration.servicer, server)


async def _start_health_port(
    health: HealthServicer, settings: ServiceSettings
) -> grpc.aio.Server | None:
    """A plaintext port that serves the health service and nothing else, when `health_port` is
    set: Kubernetes' native gRPC probes cannot speak TLS, and this lets a TLS service be probed
    natively instead of by starting a Python process per probe. It reports the same status as
    the main port (one health servicer) and exposes no other method."""
    if not settings.health_port:
        return None
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    bind = f"{settings.host}:{settings.health_port}"
    if server.add_insecure_port(bind) == 0:
        raise RuntimeError(f"could not bind the health port {bind}")
    await server.start()
    return server


async def serve(service: GrpcService, settings: ServiceSettings) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully."""
    running = await start_server(service, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info(
        "shutting down",
        extra={"service": service.name, "grace_seconds": settings.shutdown_grace_seconds},
    )
    await running.stop(settings.shutdown_grace_seconds)
    log.info("stopped", extra={"service": service.name})


# Young objects are collected after this many net container allocations (Python's default: 700).
YOUNG_COLLECTION_THRESHOLD = 10_000


def tune_garbage_collection() -> None:
    """Once the service is built: what start-up made (modules, settings, the semantic cache's
    model and tokenizer) leaves the cyclic collector's reach, and young objects are collected
    less often. A request's objects are freed by reference counting as it ends; the collector's
    passes over the long-lived heap were what cost. Measured in one process under 16 governed
    clients for 12 s (~5,200 requests): 0.56 s of collection, two full ones pausing the event
    loop ~175 ms each → 0.013 s (docs/benchmarks.md)."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, old)


def run(service_factory: Callable[[], Awaitable[tuple[GrpcService, ServiceSettings]]]) -> None:
    """Process entry point: build the service inside the event loop, then serve it.

    The loop is uvloop's: every request is a handful of callbacks, socket reads and timers on
    the loop, and uvloop runs them for less CPU than the standard loop.
    """

    async def main() -> None:
        service, settings = await service_factory()
        configure_logging(service.name, settings.log_level)
        tune_garbage_collection()
        await serve(service, settings)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


def unimplemented_registration(
    pb2_module: Any, grpc_module: Any, service_name: str
) -> Registration:
    """A registration of the generated base servicer: every method answers UNIMPLEMENTED.

    Used by services whose behaviour is not built yet, so they still start and report health
    but never return a made-up result.
    """
    full_name = pb2_module.DESCRIPTOR.services_by_name[service_name].full_name
    servicer = getattr(grpc_module, f"{service_name}Servicer")()
    add = getattr(grpc_module, f"add_{service_name}Servicer_to_server")
    return Registration(full_name, add, servicer)
