"""API errors in the real Anthropic wire shape.

Every failure the emulator reports -- bad requests, auth, injected faults --
goes through ``ApiError`` so clients see exactly the body and status codes the
real API produces and the SDK maps them to its own exception classes.
"""

from __future__ import annotations

import secrets
from typing import Any

# Status code of each error type, as documented for the real API.
ERROR_STATUS: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


class ApiError(Exception):
    """An error response; ``headers`` carries extras such as ``retry-after``."""

    def __init__(
        self, error_type: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = ERROR_STATUS[error_type]
        self.headers = dict(headers or {})


def invalid_request(message: str) -> ApiError:
    return ApiError("invalid_request_error", message)


def new_request_id() -> str:
    return f"req_{secrets.token_hex(12)}"


def error_body(error_type: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "error", "error": {"type": error_type, "message": message}}
    if request_id is not None:
        body["request_id"] = request_id
    return body
