"""Errors a service raises on purpose, each with its gRPC status and a sentence for a person.

The error-mapping interceptor turns these into statuses; anything else becomes INTERNAL with a
reference id, and its traceback goes to the log, never to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc


@dataclass
class ServiceError(Exception):
    """A failure the caller should see as `code` with `message`."""

    message: str
    code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    # (field path, description) pairs, sent as google.rpc.BadRequest details.
    field_violations: list[tuple[str, str]] = field(default_factory=list)
    # Sent as google.rpc.ErrorInfo metadata, e.g. budget state or a retry hint.
    metadata: dict[str, str] = field(default_factory=dict)
    reason: str = ""

    def __post_init__(self) -> None:
        super().__init__(self.message)


def invalid_argument(message: str, field_path: str = "") -> ServiceError:
    violations = [(field_path, message)] if field_path else []
    return ServiceError(message, grpc.StatusCode.INVALID_ARGUMENT, violations)


def unauthenticated(message: str) -> ServiceError:
    return ServiceError(message, grpc.StatusCode.UNAUTHENTICATED)


def permission_denied(message: str) -> ServiceError:
    return ServiceError(message, grpc.StatusCode.PERMISSION_DENIED)


def not_found(message: str) -> ServiceError:
    return ServiceError(message, grpc.StatusCode.NOT_FOUND)


def already_exists(message: str) -> ServiceError:
    return ServiceError(message, grpc.StatusCode.ALREADY_EXISTS)


def resource_exhausted(message: str, **metadata: str) -> ServiceError:
    return ServiceError(message, grpc.StatusCode.RESOURCE_EXHAUSTED, metadata=metadata)


def unavailable(message: str, **metadata: str) -> ServiceError:
    return ServiceError(message, grpc.StatusCode.UNAVAILABLE, metadata=metadata)


def deadline_exceeded(message: str) -> ServiceError:
    return ServiceError(message, grpc.StatusCode.DEADLINE_EXCEEDED)


def failed_precondition(message: str) -> ServiceError:
    return ServiceError(message, grpc.StatusCode.FAILED_PRECONDITION)
