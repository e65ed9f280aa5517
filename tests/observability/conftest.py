"""An in-process OTLP trace receiver, fed by the process's own tracer provider.

Every server of an in-process suite shares this process's global tracer provider, so one span
processor attached to it sees every span of every service, exported over real OTLP/gRPC to a
receiver the test reads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from tollgate.common.telemetry import configure_telemetry


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, object]


class _Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()

    def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        received = []
        for resource_spans in request.resource_spans:
            service = next(
                (
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                ),
                "",
            )
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    received.append(
                        ReceivedSpan(
                            service=service,
                            name=span.name,
                            kind=span.kind,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            attributes={
                                a.key: a.value.string_value or a.value.int_value
                                for a in span.attributes
                            },
                        )
                    )
        with self._lock:
            self.spans.extend(received)
        return trace_service_pb2.ExportTraceServiceResponse()


class _Switchable(SpanProcessor):
    """Forwards to `inner` until closed. The SDK has no way to remove a processor from a
    provider, so after its test this one stays attached and does nothing."""

    def __init__(self, inner: SpanProcessor) -> None:
        self.inner: SpanProcessor | None = inner

    def on_end(self, span: ReadableSpan) -> None:
        if self.inner is not None:
            self.inner.on_end(span)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis) if self.inner is not None else True

    def close(self) -> None:
        if self.inner is not None:
            self.inner.shutdown()
        self.inner = None


@dataclass
class OtlpReceiver:
    receiver: _Receiver
    processor: _Switchable

    def spans_of(self, trace_id: str) -> list[ReceivedSpan]:
        assert self.processor.force_flush(), "spans were not exported in time"
        return [s for s in self.receiver.spans if s.trace_id == trace_id]


@pytest.fixture
def otlp_receiver() -> Iterator[OtlpReceiver]:
    configure_telemetry("tests")
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    receiver = _Receiver()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(receiver, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{port}", insecure=True)
    processor = _Switchable(BatchSpanProcessor(exporter, schedule_delay_millis=100))
    provider.add_span_processor(processor)
    try:
        yield OtlpReceiver(receiver, processor)
    finally:
        processor.close()
        server.stop(grace=None)
