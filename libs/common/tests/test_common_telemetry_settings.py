"""The OTLP settings the docs name, and where /metrics listens."""

from __future__ import annotations

from typing import Any

import prometheus_client
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans

from tollgate.common import telemetry


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, "grpc"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "grpc"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, "http/protobuf"),
        (
            {
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
            },
            "http/protobuf",
        ),
    ],
)
def test_the_protocol_comes_from_the_standard_variables(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], expected: str
) -> None:
    for name in ("OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert telemetry.otlp_protocol() == expected


def test_an_unsupported_protocol_is_refused_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    with pytest.raises(ValueError, match="http/json"):
        telemetry.otlp_protocol()


def test_each_protocol_gets_its_own_exporters() -> None:
    assert isinstance(telemetry._otlp_exporters("grpc")[0], GrpcSpans)
    assert isinstance(telemetry._otlp_exporters("http/protobuf")[0], HttpSpans)


def test_metrics_listen_on_the_services_host(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def start_http_server(port: int, addr: str) -> None:
        calls.append({"port": port, "addr": addr})

    monkeypatch.setattr(prometheus_client, "start_http_server", start_http_server)
    monkeypatch.setattr(telemetry, "_metrics_ports", set())
    telemetry.configure_telemetry("tests", metrics_port=19999, metrics_host="127.0.0.1")
    assert calls == [{"port": 19999, "addr": "127.0.0.1"}]
