"""OpenTelemetry traces and metrics, set up once per process.

Metrics are exported on a Prometheus endpoint (the service's metrics port) and, like traces, over
OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Several services may share one process (tests, the
local runner's in-process mode), so setup is idempotent and instruments are created once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from opentelemetry import metrics, propagate, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_lock = threading.Lock()
_configured = False
_metrics_ports: set[int] = set()


def configure_telemetry(service: str, metrics_port: int = 0) -> None:
    """Install tracer and meter providers (first call wins) and serve /metrics on `metrics_port`."""
    global _configured
    with _lock:
        if not _configured:
            _install_providers(service)
            _configured = True
        if metrics_port and metrics_port not in _metrics_ports:
            from prometheus_client import start_http_server

            start_http_server(metrics_port)
            _metrics_ports.add(metrics_port)


def _install_providers(service: str) -> None:
    from opentelemetry.exporter.prometheus import PrometheusMetricReader

    resource = Resource.create({"service.name": service})
    otlp = bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
    tracer_provider = TracerProvider(resource=resource)
    readers: list[MetricReader] = [PrometheusMetricReader()]
    if otlp:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))


@dataclass(frozen=True)
class RpcInstruments:
    requests: metrics.Counter
    duration: metrics.Histogram


_instruments: RpcInstruments | None = None


def rpc_instruments() -> RpcInstruments:
    """The server-side RPC counter and latency histogram, shared by every service."""
    global _instruments
    if _instruments is None:
        meter = metrics.get_meter("tollgate")
        _instruments = RpcInstruments(
            requests=meter.create_counter(
                "tollgate_rpc_requests", description="RPCs handled, by method and status code"
            ),
            duration=meter.create_histogram(
                "tollgate_rpc_duration_seconds", unit="s", description="RPC handling time"
            ),
        )
    return _instruments


def tracer() -> trace.Tracer:
    return trace.get_tracer("tollgate")


def current_trace_id() -> str:
    """The active span's trace id as 32 hex characters, or "" outside a recorded span."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""


def extract_context(metadata: Sequence[tuple[str, str | bytes]] | None) -> object:
    """The remote trace context carried in gRPC metadata (W3C traceparent)."""
    carrier = {k: v for k, v in (metadata or ()) if isinstance(v, str)}
    return propagate.extract(carrier)


def inject_metadata(extra: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """Outgoing metadata carrying the current trace context, plus `extra`."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    carrier.update(extra or {})
    return list(carrier.items())
