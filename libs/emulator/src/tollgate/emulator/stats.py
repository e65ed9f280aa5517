"""What the emulator saw, kept in memory for assertions and dashboards.

Tests assert on these numbers ("exactly one disconnect", "peak concurrency 2",
"the gateway forwarded anthropic-beta") instead of trusting the client side,
so every counter is bumped by the server at the moment the event happens.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Headers worth keeping per request; credentials are never stored.
HEADERS_OF_INTEREST = (
    "anthropic-version",
    "anthropic-beta",
    "content-type",
    "user-agent",
    "idempotency-key",
    "x-stainless-retry-count",
)

_USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)


@dataclass
class RequestRecord:
    method: str
    path: str
    headers: dict[str, str]
    # Short hash of the API key, enough to tell callers apart without keeping secrets.
    api_key_id: str | None
    body: Any = None
    model: str | None = None
    stream: bool = False
    status: int | None = None
    fault: str | None = None
    client_disconnected: bool = False
    usage: dict[str, Any] | None = None
    started_at: float = field(default_factory=time.time)
    duration_s: float | None = None

    def to_dict(self, *, include_body: bool) -> dict[str, Any]:
        data = {
            "method": self.method,
            "path": self.path,
            "model": self.model,
            "stream": self.stream,
            "status": self.status,
            "fault": self.fault,
            "client_disconnected": self.client_disconnected,
            "headers": self.headers,
            "api_key_id": self.api_key_id,
            "usage": self.usage,
            "started_at": self.started_at,
            "duration_s": self.duration_s,
        }
        if include_body:
            data["body"] = self.body
        return data


def pick_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: headers[name] for name in HEADERS_OF_INTEREST if name in headers}


class EmulatorStats:
    def __init__(self, record_limit: int = 10000) -> None:
        self._record_limit = record_limit
        self.in_flight = 0
        self.reset()

    def reset(self) -> None:
        """Forget history; requests still in flight keep being counted."""
        self.requests: deque[RequestRecord] = deque(maxlen=self._record_limit or None)
        self.requests_total = 0
        self.status_counts: Counter[int] = Counter()
        self.faults_injected: Counter[str] = Counter()
        self.usage_totals: Counter[str] = Counter()
        self.streams_started = 0
        self.streams_completed = 0
        self.client_disconnects = 0
        self.connections_dropped = 0
        self.peak_in_flight = self.in_flight

    def begin(self, record: RequestRecord) -> None:
        self.requests_total += 1
        self.requests.append(record)

    def finish(self, record: RequestRecord, status: int | None) -> None:
        """Close a record; status None means no response ever reached the client."""
        record.status = status
        record.duration_s = time.time() - record.started_at
        if status is not None:
            self.status_counts[status] += 1

    def add_usage(self, record: RequestRecord, usage: Mapping[str, Any]) -> None:
        record.usage = dict(usage)
        for name in _USAGE_FIELDS:
            self.usage_totals[name] += int(usage.get(name) or 0)

    def enter_flight(self) -> None:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def leave_flight(self) -> None:
        self.in_flight -= 1

    def of_path(self, path: str) -> list[RequestRecord]:
        return [record for record in self.requests if record.path == path]

    def snapshot(self, *, limit: int = 50, include_bodies: bool = False) -> dict[str, Any]:
        recent = list(self.requests)[-limit:] if limit > 0 else []
        return {
            "requests_total": self.requests_total,
            "status_counts": {str(code): n for code, n in sorted(self.status_counts.items())},
            "faults_injected": dict(self.faults_injected),
            "usage_totals": {name: self.usage_totals[name] for name in _USAGE_FIELDS},
            "streams_started": self.streams_started,
            "streams_completed": self.streams_completed,
            "client_disconnects": self.client_disconnects,
            "connections_dropped": self.connections_dropped,
            "in_flight": self.in_flight,
            "peak_in_flight": self.peak_in_flight,
            "requests": [r.to_dict(include_body=include_bodies) for r in recent],
        }
