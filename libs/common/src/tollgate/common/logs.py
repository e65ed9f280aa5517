"""Structured JSON logs on stdout, one object per line.

A line written while a request is being handled (in the RPC itself or in work it spawned) carries
that request's fields (request id, tenant, ...) and the active span's `trace_id` and `span_id`,
so an operator can go from a trace to its log lines in every service and back.
"""

from __future__ import annotations

import contextvars
import json
import logging
import math
import sys
import time
from typing import Any

from opentelemetry import trace

# Attributes every LogRecord has; anything else passed via `extra=` is emitted as a field.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}

# Fields of the request being handled. Tasks copy the context they were created in, so background
# work started by a request logs with that request's fields too.
request_fields: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar(
    "tollgate_request_fields"
)


def annotate(**fields: Any) -> None:
    """Add fields (tenant, request id, ...) to every later log line of the current request."""
    current = request_fields.get(None)
    if current is not None:
        current.update({k: v for k, v in fields.items() if v not in (None, "")})


def trace_fields() -> dict[str, str]:
    """`trace_id` and `span_id` of the active span, or nothing outside a recorded span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
    }


# `json.dumps(entry, default=str)` builds a new encoder on every call (any keyword but the
# defaults does); one shared encoder writes the same text without that per-line construction.
_ENCODER = json.JSONEncoder(default=str)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service
        # (second, "YYYY-MM-DDTHH:MM:SS") of the last line: most lines share their second with
        # the previous one, and formatting the date is most of a timestamp's cost.
        self._second: tuple[int, str] = (-1, "")

    def _timestamp(self, created: float) -> str:
        """`datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")`, the same
        text (microseconds rounded half-even as datetime does, then cut to milliseconds)."""
        fraction, whole = math.modf(created)
        second, micros = int(whole), round(fraction * 1e6)
        if micros >= 1_000_000:
            second, micros = second + 1, micros - 1_000_000
        cached_second, prefix = self._second
        if second != cached_second:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, prefix)
        return f"{prefix}.{micros // 1000:03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = request_fields.get(None)
        if fields:
            entry.update(fields)
        entry.update(trace_fields())
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _ENCODER.encode(entry)


# grpc's Cython layer logs every metadata value that is not valid UTF-8, bytes and all, at ERROR
# ("Invalid encoding on b'Bearer <key>\\xff'") -- three times per call, and an `authorization`
# value is an API key. The record is kept (someone is sending odd bytes) with the value replaced.
GRPC_DECODER_LOGGER = "grpc._cython.cygrpc"
_ECHOED_VALUE_PREFIX = "Invalid encoding on"


class _MetadataEchoFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith(_ECHOED_VALUE_PREFIX):
            value = record.args[0] if isinstance(record.args, tuple) and record.args else b""
            size = len(value) if isinstance(value, bytes | str) else 0
            record.msg = "A metadata value (%d bytes, not shown) is not valid UTF-8."
            record.args = (size,)
            # The traceback names only the byte's position, but it repeats for nothing.
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_METADATA_ECHO_FILTER = _MetadataEchoFilter()


def hide_metadata_values_in_grpc_logs() -> None:
    """Install the filter above on grpc's decoder logger (idempotent)."""
    logger = logging.getLogger(GRPC_DECODER_LOGGER)
    if _METADATA_ECHO_FILTER not in logger.filters:
        logger.addFilter(_METADATA_ECHO_FILTER)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route every logger to stdout as JSON. Safe to call more than once."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    # A record's thread name, process id and process name cost a lookup or a system call each
    # (the process id on every record) and no line carries them: the JSON has no such fields.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
