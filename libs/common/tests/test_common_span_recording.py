"""Spans are recorded only while something exports them; the trace context travels either way."""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON

from tollgate.common import telemetry


def _provider() -> telemetry._ExportAwareTracerProvider:
    return telemetry._ExportAwareTracerProvider(Resource.create({"service.name": "tests"}))


def test_without_a_processor_spans_are_not_recorded_but_keep_a_valid_context() -> None:
    tracer = _provider().get_tracer("tests")
    with tracer.start_as_current_span("outer") as outer:
        assert not outer.is_recording()
        assert outer.get_span_context().is_valid
        with tracer.start_as_current_span("inner") as inner:
            # The child continues the parent's trace: log lines and the next hop share its id.
            assert inner.get_span_context().trace_id == outer.get_span_context().trace_id
            assert telemetry.current_trace_id() == format(outer.get_span_context().trace_id, "032x")
            carrier = dict(telemetry.inject_metadata())
            assert format(outer.get_span_context().trace_id, "032x") in carrier["traceparent"]


def test_spans_are_recorded_and_exported_once_a_processor_is_added() -> None:
    provider = _provider()
    tracer = provider.get_tracer("tests")
    tracer.start_span("before").end()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with tracer.start_as_current_span("after") as span:
        assert span.is_recording()
    assert [s.name for s in exporter.get_finished_spans()] == ["after"]


def test_once_exporting_the_configured_sampler_decides() -> None:
    # OTEL_TRACES_SAMPLER (here: always off) still has the last word while exporting.
    sampler = telemetry.RecordWhileExported(ALWAYS_OFF)
    sampler.exporting = True
    assert not sampler.should_sample(None, 1, "span").decision.is_recording()
    sampler.delegate = ALWAYS_ON
    assert sampler.should_sample(None, 1, "span").decision.is_recording()
