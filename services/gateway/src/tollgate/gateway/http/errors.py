"""Refusals in Anthropic's error shape: `{"type": "error", "error": {"type": ..., "message": ...}}`
with the status code the official SDKs map to their exception classes."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime

import grpc
from aiohttp import web

from tollgate.common.errors import ServiceError

# gRPC status → (HTTP status, Anthropic error type). Budget and rate refusals are both 429: the
# SDKs retry 429 after `retry-after`, which is what a caller should do with either.
_STATUS: dict[grpc.StatusCode, tuple[int, str]] = {
    grpc.StatusCode.INVALID_ARGUMENT: (400, "invalid_request_error"),
    grpc.StatusCode.FAILED_PRECONDITION: (400, "invalid_request_error"),
    grpc.StatusCode.OUT_OF_RANGE: (400, "invalid_request_error"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "authentication_error"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "permission_error"),
    grpc.StatusCode.NOT_FOUND: (404, "not_found_error"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (429, "rate_limit_error"),
    grpc.StatusCode.UNAVAILABLE: (529, "overloaded_error"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (504, "timeout_error"),
}
_INTERNAL = (500, "api_error")
_STATUS_TYPES = dict(_STATUS.values())


@dataclass(frozen=True)
class HttpError:
    status: int
    type: str
    message: str
    headers: dict[str, str]

    def body(self) -> bytes:
        return json.dumps(self.payload()).encode()

    def payload(self) -> dict[str, object]:
        return {"type": "error", "error": {"type": self.type, "message": self.message}}


def request_too_large(limit: int) -> HttpError:
    return HttpError(
        413, "request_too_large", f"The request body is larger than {limit:,} bytes.", {}
    )


def from_http_exception(exc: web.HTTPException, method: str, path: str) -> HttpError:
    """aiohttp's own refusals (no such route, wrong method) in Anthropic's shape."""
    if exc.status == 404:
        return HttpError(404, "not_found_error", f"There is no endpoint {path}.", {})
    if exc.status == 405:
        return HttpError(405, "invalid_request_error", f"{method} is not allowed on {path}.", {})
    kind = _STATUS_TYPES.get(
        exc.status, "invalid_request_error" if exc.status < 500 else "api_error"
    )
    return HttpError(exc.status, kind, exc.reason, {})


def internal(reference: str) -> HttpError:
    return HttpError(
        *_INTERNAL, f"Tollgate failed to handle the request (reference {reference}).", {}
    )


def from_service_error(error: ServiceError, now: datetime | None = None) -> HttpError:
    status, kind = _STATUS.get(error.code, _INTERNAL)
    # The state behind a refusal (a budget's limit and what remains, ...), as gRPC sends it in
    # ErrorInfo metadata: `limit_micros` → `x-tollgate-limit-micros`.
    headers = {
        f"x-tollgate-{key.replace('_', '-')}": value for key, value in error.metadata.items()
    }
    if status in (429, 529):
        retry = _retry_after(error.metadata, now or datetime.now(UTC))
        if retry is not None:
            headers["retry-after"] = str(retry)
    return HttpError(status, kind, error.message, headers)


def _retry_after(metadata: dict[str, str], now: datetime) -> int | None:
    """Whole seconds: the service's hint, else (a budget) the end of the refusing period."""
    hint = metadata.get("retry_after_seconds")
    if hint:
        return max(1, math.ceil(float(hint)))
    period_end = metadata.get("period_end")
    if period_end:
        end = datetime.fromisoformat(period_end)
        if end.tzinfo is None:
            end = end.replace(tzinfo=UTC)
        return max(1, math.ceil((end - now).total_seconds()))
    return None


def not_found_model(model: str) -> HttpError:
    return HttpError(404, "not_found_error", f"model: {model} is not a model Tollgate serves.", {})
