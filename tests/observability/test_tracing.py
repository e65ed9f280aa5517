"""One trace per request: from the caller's traceparent, through every service, to the HTTP call
that reaches Claude, with every parent link inside the trace (issue: streamed calls used to
start new root traces)."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from tests.conftest import FullSuite
from tests.observability.conftest import OtlpReceiver, ReceivedSpan
from tollgate.v1 import gateway_pb2, lead_scoring_pb2

_SERVER = 2  # OTLP Span.SpanKind values
_CLIENT = 3


def _assert_one_tree(spans: list[ReceivedSpan], root_id: str) -> dict[str, ReceivedSpan]:
    """Every span's parent is a span of the same trace, and following parents reaches the root."""
    by_id = {span.span_id: span for span in spans}
    assert root_id in by_id
    for span in spans:
        if span.span_id == root_id:
            continue
        assert span.parent_span_id in by_id, f"{span.name} has a parent outside the trace"
        seen = set()
        current = span
        while current.span_id != root_id:
            assert current.span_id not in seen
            seen.add(current.span_id)
            current = by_id[current.parent_span_id]
    return by_id


def _chain(by_id: dict[str, ReceivedSpan], leaf: ReceivedSpan, root_id: str) -> list[str]:
    names = [leaf.name]
    current = leaf
    while current.span_id != root_id:
        current = by_id[current.parent_span_id]
        names.append(current.name)
    return list(reversed(names))


async def test_a_streamed_miss_is_one_trace_down_to_the_anthropic_call(
    full_suite: FullSuite, otlp_receiver: OtlpReceiver
) -> None:
    tracer = trace.get_tracer("crm-app")
    with tracer.start_as_current_span("crm.chat_turn", kind=SpanKind.CLIENT) as root:
        root_id = format(root.get_span_context().span_id, "016x")
        trace_id = format(root.get_span_context().trace_id, "032x")
        async with full_suite.client() as client:
            stream = client.stream(
                messages=[{"role": "user", "content": "Draft a two-line intro for a buyer."}],
                max_tokens=64,
                request_id="req-trace-stream",
            )
            text = await stream.text()
    assert text
    await full_suite.settled()

    spans = otlp_receiver.spans_of(trace_id)
    by_id = _assert_one_tree(spans, root_id)
    http = [s for s in spans if s.name == "POST /v1/messages"]
    assert len(http) == 1
    assert http[0].kind == _CLIENT
    assert http[0].attributes["http.response.status_code"] == 200
    assert _chain(by_id, http[0], root_id) == [
        "crm.chat_turn",
        "tollgate.v1.GatewayService/StreamComplete",  # the client's span
        "tollgate.v1.GatewayService/StreamComplete",  # the gateway's server span
        "tollgate.v1.OrchestratorService/StreamGenerate",  # the gateway's client span
        "tollgate.v1.OrchestratorService/StreamGenerate",  # the orchestrator's server span
        "anthropic.messages.create",  # the SDK's own span
        "POST /v1/messages",  # the HTTP request it made
    ]
    server_spans = {s.attributes.get("rpc.service") for s in spans if s.kind == _SERVER}
    assert {"tollgate.v1.GatewayService", "tollgate.v1.OrchestratorService"} <= server_spans
    assert all(not s.name.startswith("/") for s in spans)


async def test_a_lead_batch_with_reasoning_is_one_trace(
    full_suite: FullSuite, otlp_receiver: OtlpReceiver
) -> None:
    leads = [
        lead_scoring_pb2.Lead(
            profile=lead_scoring_pb2.LeadProfile(lead_id=f"lead-{i}", source="web"),
            answers=lead_scoring_pb2.QualificationAnswers(
                budget="$450,000", timeline="3 months", location="Austin", pre_approval="yes"
            ),
        )
        for i in range(2)
    ]
    tracer = trace.get_tracer("crm-app")
    with tracer.start_as_current_span("crm.rescore_leads", kind=SpanKind.CLIENT) as root:
        root_id = format(root.get_span_context().span_id, "016x")
        trace_id = format(root.get_span_context().trace_id, "032x")
        async with full_suite.client() as client:
            items = [
                item
                async for item in client.stub.ScoreLeads(
                    gateway_pb2.ScoreLeadsRequest(leads=leads, with_reasoning=True),
                    metadata=client.call_metadata(),
                )
            ]
    assert len(items) == 2
    await full_suite.settled()

    spans = otlp_receiver.spans_of(trace_id)
    by_id = _assert_one_tree(spans, root_id)
    names = {s.name for s in spans}
    assert "tollgate.v1.GatewayService/ScoreLeads" in names
    assert "tollgate.v1.LeadScoringService/ComputeLeadScores" in names
    http = [s for s in spans if s.name == "POST /v1/messages"]
    assert len(http) == 2
    for call in http:
        chain = _chain(by_id, call, root_id)
        assert chain[:3] == [
            "crm.rescore_leads",
            "tollgate.v1.GatewayService/ScoreLeads",
            "tollgate.v1.GatewayService/ScoreLeads",
        ]
        assert "tollgate.v1.LeadScoringService/ComputeLeadScores" in chain


async def test_a_refused_request_is_not_a_server_error(
    full_suite: FullSuite, otlp_receiver: OtlpReceiver
) -> None:
    tracer = trace.get_tracer("crm-app")
    with tracer.start_as_current_span("crm.bad_call") as root:
        trace_id = format(root.get_span_context().trace_id, "032x")
        async with full_suite.client() as client:
            try:
                await client.complete(messages=[], max_tokens=10, request_id="req-bad")
            except Exception as exc:  # the client's TollgateError
                error = exc
    assert error.code.name == "INVALID_ARGUMENT"
    assert error.request_id == "req-bad"
    assert error.trace_id == trace_id
    gateway = [
        s
        for s in otlp_receiver.spans_of(trace_id)
        if s.name == "tollgate.v1.GatewayService/Complete" and s.kind == _SERVER
    ]
    assert len(gateway) == 1
    assert gateway[0].attributes["rpc.grpc.status_code"] == 3
