"""The SDK's call span is built only while spans are exported."""

from __future__ import annotations

import anthropic
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from tollgate.common.telemetry import RecordWhileExported
from tollgate.orchestrator.sdk_spans import SdkClients, spans_exported


def test_the_untraced_copy_serves_until_a_processor_exports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sampler = RecordWhileExported(ALWAYS_ON)
    provider = TracerProvider(sampler=sampler)
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    client = anthropic.AsyncAnthropic(api_key="k", base_url="http://127.0.0.1:9")
    clients = SdkClients(client)
    assert clients.untraced._tracer is None  # the copy builds no span at all
    assert not spans_exported()
    assert clients.current() is clients.untraced
    sampler.exporting = True
    assert spans_exported()
    assert clients.current() is clients.traced


def test_another_provider_keeps_the_traced_client(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = TracerProvider()
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    assert spans_exported()
