"""What an Anthropic API failure means to our caller, as a gRPC status with a clear sentence."""

from __future__ import annotations

import anthropic

from tollgate.common.errors import (
    ServiceError,
    deadline_exceeded,
    failed_precondition,
    invalid_argument,
    unavailable,
)


def _upstream_message(exc: anthropic.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return str(exc.message)


def retry_after_seconds(exc: anthropic.APIStatusError) -> float | None:
    """The server's retry hint (`retry-after-ms` preferred over `retry-after`), if any."""
    headers = exc.response.headers
    try:
        if "retry-after-ms" in headers:
            return float(headers["retry-after-ms"]) / 1000
        if "retry-after" in headers:
            return float(headers["retry-after"])
    except ValueError:
        return None
    return None


def map_upstream_error(exc: Exception) -> ServiceError:
    if isinstance(exc, anthropic.APITimeoutError):
        return deadline_exceeded("Claude did not answer within the request's deadline.")
    if isinstance(exc, anthropic.APIConnectionError):
        return unavailable("Could not reach the Anthropic API; try again shortly.")
    if isinstance(exc, anthropic.BadRequestError | anthropic.UnprocessableEntityError):
        return invalid_argument(f"Claude rejected the request: {_upstream_message(exc)}")
    if isinstance(exc, anthropic.NotFoundError):
        return invalid_argument(f"Claude does not know this model: {_upstream_message(exc)}")
    if isinstance(exc, anthropic.AuthenticationError | anthropic.PermissionDeniedError):
        return failed_precondition(
            "The Anthropic API rejected Tollgate's credentials; an operator must fix the key."
        )
    if isinstance(exc, anthropic.APIStatusError):
        hint = retry_after_seconds(exc)
        meta = {"retry_after_seconds": f"{hint:g}"} if hint is not None else {}
        what = "rate-limited" if exc.status_code == 429 else f"failing ({exc.status_code})"
        return unavailable(f"Claude is {what} right now; try again shortly.", **meta)
    return unavailable(f"Calling Claude failed: {type(exc).__name__}.")
