"""The SDK's own `anthropic.messages.create` span, built only while spans are exported.

Without an OTLP exporter, every span in Tollgate is a non-recording one (`RecordWhileExported`
in tollgate.common.telemetry), yet the SDK still builds its call span's attributes and trace
headers on every call before finding out: about 3% of the orchestrator's CPU per request. A copy
of the client with the SDK's tracing off (same HTTP client, pool and transport) makes the calls
while nothing is exported; once a span processor is attached, the traced client makes them again,
so the trace (server span, SDK span, HTTP span) is unchanged whenever anyone receives it.
"""

from __future__ import annotations

import anthropic
from opentelemetry import trace

from tollgate.common.telemetry import RecordWhileExported


def spans_exported() -> bool:
    """False only when our provider is installed and has no exporter (so it records nothing)."""
    sampler = getattr(trace.get_tracer_provider(), "sampler", None)
    return not isinstance(sampler, RecordWhileExported) or sampler.exporting


class SdkClients:
    """The traced SDK client and its untraced copy; `current` picks per call."""

    def __init__(self, client: anthropic.AsyncAnthropic) -> None:
        self.traced = client
        self.untraced = client.with_options(open_telemetry=False)

    def current(self) -> anthropic.AsyncAnthropic:
        return self.traced if spans_exported() else self.untraced
