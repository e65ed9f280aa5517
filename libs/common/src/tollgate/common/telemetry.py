"""OpenTelemetry traces and metrics, set up once per process.

Metrics are exported on a Prometheus endpoint (the service's metrics port, bound to the service's
own host) and, like traces, over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, with the protocol
`OTEL_EXPORTER_OTLP_PROTOCOL` names (`grpc`, the default, or `http/protobuf`). Several services may
share one process (tests, the local runner's in-process mode), so setup is idempotent and
instruments are created once.

Every histogram is created with explicit bucket boundaries in the unit it records: the SDK's
defaults (0, 5, 10 … 10000) suit milliseconds, and every latency in seconds would land in the
first bucket or two.
"""

from __future__ import annotations

import collections
import functools
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import grpc
from opentelemetry import metrics, propagate, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes

_lock = threading.Lock()
_configured = False
_metrics_ports: set[int] = set()


# Bucket boundaries by what a histogram records. Latencies run from sub-millisecond cache hits to
# two-minute generations.
SECONDS_BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
)  # fmt: skip
# Cosine similarities: the decision happens between 0.7 and 1.0, so that range is finest.
SIMILARITY_BUCKETS: tuple[float, ...] = (
    0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.88, 0.9, 0.92, 0.94, 0.96, 0.98, 0.99, 1.0,
)  # fmt: skip
# Counts of items (batch sizes).
COUNT_BUCKETS: tuple[float, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)

OTLP_PROTOCOLS = ("grpc", "http/protobuf")

# The status codes that mean a server (or what it depends on) failed, as OpenTelemetry's RPC
# conventions define them. Every other code is the caller's business (bad input, no credentials,
# no budget, gone away): it is recorded on the span but does not mark it ERROR.
SERVER_ERROR_CODES = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


def configure_telemetry(service: str, metrics_port: int = 0, metrics_host: str = "") -> None:
    """Install tracer and meter providers (first call wins) and serve /metrics on `metrics_port`,
    bound to `metrics_host` (the service's own bind address; empty means all interfaces)."""
    global _configured
    with _lock:
        if not _configured:
            _install_providers(service)
            _configured = True
        if metrics_port and metrics_port not in _metrics_ports:
            from prometheus_client import start_http_server

            start_http_server(metrics_port, addr=metrics_host or "0.0.0.0")
            _metrics_ports.add(metrics_port)


def otlp_protocol() -> str:
    """The OTLP protocol the environment asks for; a value we cannot honour is refused loudly
    rather than silently exporting nothing."""
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "grpc"
    ).strip()
    if protocol not in OTLP_PROTOCOLS:
        raise ValueError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported; use one of "
            + ", ".join(OTLP_PROTOCOLS)
        )
    return protocol


class RecordWhileExported(Sampler):
    """Records spans only once a span processor is attached to the provider (an OTLP exporter,
    a test's receiver); until then every span is a non-recording one.

    A recorded span with nobody to hand it to costs several times a non-recording one (ids,
    attributes, events, the end), for nothing. A non-recording span still has a valid trace and
    span id, so log lines keep their `trace_id`, the account its trace id, and the context still
    travels to the next service. Once exporting, the decision is `delegate`'s (the SDK's default,
    which honours OTEL_TRACES_SAMPLER). Its flag travels too: turn tracing on in every service
    together, or a backend that exports sees unsampled parents from a caller that does not.
    """

    def __init__(self, delegate: Sampler) -> None:
        self.delegate = delegate
        self.exporting = False

    def should_sample(
        self,
        parent_context: Any,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        if self.exporting:
            return self.delegate.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )
        parent = trace.get_current_span(parent_context).get_span_context()
        return SamplingResult(Decision.DROP, None, parent.trace_state if parent else None)

    def get_description(self) -> str:
        return f"RecordWhileExported{{{self.delegate.get_description()}}}"


class _ExportAwareTracerProvider(TracerProvider):
    """A TracerProvider whose sampler starts recording when the first processor is added."""

    def __init__(self, resource: Resource) -> None:
        self._recording = RecordWhileExported(TracerProvider().sampler)
        super().__init__(resource=resource, sampler=self._recording)

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        super().add_span_processor(span_processor)
        self._recording.exporting = True


def _install_providers(service: str) -> None:
    from opentelemetry.exporter.prometheus import PrometheusMetricReader

    resource = Resource.create({"service.name": service})
    otlp = bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
    tracer_provider = _ExportAwareTracerProvider(resource)
    readers: list[MetricReader] = [PrometheusMetricReader()]
    if otlp:
        span_exporter, metric_exporter = _otlp_exporters(otlp_protocol())
        tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
        readers.append(PeriodicExportingMetricReader(metric_exporter))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))


def _otlp_exporters(protocol: str) -> tuple[Any, Any]:
    """Span and metric exporters for `protocol`; both read the standard OTEL_EXPORTER_OTLP_*
    variables (endpoint, headers, timeout, certificate) themselves."""
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
            OTLPMetricExporter as HttpMetricExporter,
        )
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpSpanExporter,
        )

        return HttpSpanExporter(), HttpMetricExporter()
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(), OTLPMetricExporter()


def seconds_histogram(meter: metrics.Meter, name: str, description: str) -> metrics.Histogram:
    """A latency histogram in seconds with SECONDS_BUCKETS."""
    return meter.create_histogram(
        name,
        unit="s",
        description=description,
        explicit_bucket_boundaries_advisory=SECONDS_BUCKETS,
    )


class HeldValues:
    """The values (durations, similarities) of one attribute set of a histogram, bound once (its
    attribute dict built once, not per call).

    The SDK's record path run once per call between other work costs ~20-30 µs of CPU, run back
    to back ~5 µs (bench/grpc_hop.py). So while spans are not exported the values are held and
    handed to the histogram in batches: every PENDING_LIMIT calls, and by `flush`, which an
    observable instrument's callback calls before each collection (a collection runs every
    callback before it reads the histograms), so a reader always sees every value. While spans
    are exported each value is recorded at once, in the caller's context, so the histogram's
    exemplars are as before. Records come from the event loop; the held values sit in a deque,
    whose append and popleft are safe between the loop and a collecting thread.
    """

    PENDING_LIMIT = 256

    __slots__ = ("_histogram", "_pending", "attributes")

    def __init__(self, histogram: metrics.Histogram, attributes: dict[str, str]) -> None:
        self._histogram = histogram
        self.attributes = attributes
        self._pending: collections.deque[float] = collections.deque()

    def record(self, value: float) -> None:
        if spans_exported():
            self._histogram.record(value, self.attributes)
            return
        pending = self._pending
        pending.append(value)
        if len(pending) >= self.PENDING_LIMIT:
            self.flush()

    def flush(self) -> None:
        """Hand every held value to the histogram."""
        pending, record, attributes = self._pending, self._histogram.record, self.attributes
        while pending:
            try:
                value = pending.popleft()
            except IndexError:  # taken by a flush on another thread meanwhile
                return
            record(value, attributes)


class HeldHistogram:
    """A histogram recorded through HeldValues, one per attribute set; its owner calls `flush`
    from an observable instrument's callback (see HeldValues)."""

    def __init__(self, histogram: metrics.Histogram) -> None:
        self._histogram = histogram
        self._series: dict[frozenset[tuple[str, str]], HeldValues] = {}
        self._lock = threading.Lock()

    def series(self, attributes: dict[str, str]) -> HeldValues:
        """The series of `attributes`: look it up once and keep it, not once per call."""
        key = frozenset(attributes.items())
        with self._lock:
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = HeldValues(self._histogram, attributes)
        return series

    def flush(self) -> None:
        with self._lock:
            every = list(self._series.values())
        for series in every:
            series.flush()


class RpcSeries:
    """The RPC metrics of one (service, method, track), bound once per method.

    `tollgate_rpc_requests` is counted here in plain ints, one per status code, and read by an
    observable counter when a reader collects; the SDK's `Counter.add` cleans, sorts and hashes the
    attribute dict on every call (~5 µs), for a figure that only changes by one. The histogram has
    no observable form in OpenTelemetry, so `tollgate_rpc_duration_seconds` gets every duration
    through HeldValues, flushed by the counter's callback. The counts are written by the event
    loop that serves the method (one per process) and only read elsewhere. Not carried over from
    the synchronous counter: exemplars (trace ids it samples while traces are exported; only OTLP
    shows them).
    """

    __slots__ = ("_by_code", "_durations", "attributes", "counts")

    def __init__(self, durations: HeldValues) -> None:
        self._durations = durations
        self.attributes = durations.attributes
        self.counts: dict[grpc.StatusCode, int] = {}
        self._by_code: dict[grpc.StatusCode, dict[str, str]] = {}

    def record(self, code: grpc.StatusCode, seconds: float) -> None:
        counts = self.counts
        counts[code] = counts.get(code, 0) + 1
        self._durations.record(seconds)

    def observations(self) -> list[metrics.Observation]:
        observed = []
        for code, count in list(self.counts.items()):
            attributes = self._by_code.get(code)
            if attributes is None:
                attributes = self._by_code[code] = {**self.attributes, "code": code.name}
            observed.append(metrics.Observation(count, attributes))
        return observed


class RpcInstruments:
    """The server-side RPC counter and latency histogram, shared by every service of a process."""

    def __init__(self, meter: metrics.Meter) -> None:
        self._series: dict[tuple[str, str, str], RpcSeries] = {}
        self._lock = threading.Lock()
        self.duration = HeldHistogram(
            seconds_histogram(meter, "tollgate_rpc_duration_seconds", "RPC handling time")
        )
        self.requests = meter.create_observable_counter(
            "tollgate_rpc_requests",
            callbacks=[self._observe],
            description="RPCs handled, by method and status code",
        )

    def series(self, service: str, method: str, track: str) -> RpcSeries:
        """The series of one method: looked up once per method by the server interceptor, and
        shared by every server of the process that serves it (tests start several)."""
        key = (service, method, track)
        with self._lock:
            series = self._series.get(key)
            if series is None:
                attributes = {"service": service, "method": method, "track": track}
                series = self._series[key] = RpcSeries(self.duration.series(attributes))
        return series

    def _observe(self, _options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        # Collection runs every callback before it reads the histogram: the held durations are
        # in it by then.
        self.duration.flush()
        with self._lock:
            every = list(self._series.values())
        return [observation for series in every for observation in series.observations()]


_instruments: RpcInstruments | None = None


def rpc_instruments() -> RpcInstruments:
    """The server-side RPC counter and latency histogram, shared by every service."""
    global _instruments
    if _instruments is None:
        _instruments = RpcInstruments(metrics.get_meter("tollgate"))
    return _instruments


def rpc_span(method: str) -> tuple[str, dict[str, str]]:
    """The span name and attributes of an RPC, client or server side, per OpenTelemetry's RPC
    conventions: "/tollgate.v1.CacheService/ExactLookup" → "tollgate.v1.CacheService/ExactLookup"
    with rpc.system, rpc.service and rpc.method."""
    name = method.lstrip("/")
    rpc_service, _, rpc_method = name.partition("/")
    return name, {"rpc.system": "grpc", "rpc.service": rpc_service, "rpc.method": rpc_method}


@functools.cache
def tracer() -> trace.Tracer:
    # One tracer for the process: `get_tracer` builds a new one on every call. Before a provider
    # is set it is the API's proxy, which follows the provider once there is one.
    return trace.get_tracer("tollgate")


def current_trace_id() -> str:
    """The active span's trace id as 32 hex characters, or "" outside a recorded span."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""


def extract_context(metadata: Sequence[tuple[str, str | bytes]] | None) -> object:
    """The remote trace context carried in gRPC metadata (W3C traceparent)."""
    carrier = {k: v for k, v in (metadata or ()) if isinstance(v, str)}
    return propagate.extract(carrier)


def spans_exported() -> bool:
    """Whether a span started now can be recorded: False only while the suite's own provider has
    no span processor (see RecordWhileExported), when every span would be a non-recording one
    and a caller can skip making it."""
    sampler = getattr(trace.get_tracer_provider(), "sampler", None)
    return not isinstance(sampler, RecordWhileExported) or sampler.exporting


def inject_metadata(
    extra: Mapping[str, str] | None = None, span: trace.Span | None = None
) -> list[tuple[str, str]]:
    """Outgoing metadata carrying the current trace context (with `span` as the current span
    when given), plus `extra`. Every call `channels.open_channel` makes carries this."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier, None if span is None else trace.set_span_in_context(span))
    if extra:
        carrier.update(extra)
    return list(carrier.items())
