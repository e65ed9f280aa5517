"""Calls to backend services with a deadline and the track's circuit breaker.

An infrastructure failure (unreachable, too slow, not built, crashed) raises DependencyDown so the
caller can decide to go on without the dependency; a status that is the request's own fault
passes through unchanged.
"""

from __future__ import annotations

from typing import Any

import grpc

from tollgate.gateway.routing import Track

_INFRASTRUCTURE_FAILURES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
    }
)


class DependencyDown(Exception):
    def __init__(self, track: Track, reason: str) -> None:
        super().__init__(f"{track.backend} ({track.name}): {reason}")
        self.track = track
        self.reason = reason


async def call(track: Track, method: str, request: Any, timeout: float) -> Any:
    if not track.breaker.allow():
        raise DependencyDown(track, "circuit open")
    try:
        reply = await getattr(track.stub, method)(request, timeout=timeout)
    except grpc.aio.AioRpcError as exc:
        if exc.code() in _INFRASTRUCTURE_FAILURES:
            track.breaker.record_failure()
            raise DependencyDown(track, f"{exc.code().name.lower()}: {exc.details()}") from exc
        track.breaker.record_success()
        raise
    track.breaker.record_success()
    return reply


def status_of(exc: grpc.aio.AioRpcError) -> tuple[grpc.StatusCode, str, dict[str, str]]:
    """Code, message and ErrorInfo metadata of a backend's status, to pass on to the caller."""
    from google.rpc import error_details_pb2, status_pb2

    metadata: dict[str, str] = {}
    for key, value in exc.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    metadata.update(dict(info.metadata))
    return exc.code(), exc.details() or exc.code().name, metadata
