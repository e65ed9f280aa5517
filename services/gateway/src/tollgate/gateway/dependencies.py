"""The one way the gateway calls a backend: the track's circuit breaker, a deadline, metrics.

Only failures of the dependency itself (unreachable, too slow, not built, crashed) count against
its breaker and raise DependencyDown, so the caller can go on without it or refuse with
UNAVAILABLE. A status that is the request's own fault (INVALID_ARGUMENT, NOT_FOUND,
ALREADY_EXISTS, FAILED_PRECONDITION, PERMISSION_DENIED, a budget's RESOURCE_EXHAUSTED, ...) says
nothing about the dependency's health: it leaves the breaker as it was and passes through
unchanged, so a caller sending bad requests can neither open nor hold closed a circuit.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from functools import cache
from typing import Any, TypeVar

import grpc

from tollgate.common.telemetry import SERVER_ERROR_CODES, HeldValues
from tollgate.gateway.metrics import instruments
from tollgate.gateway.routing import Track

# The dependency's own failures: the codes OpenTelemetry's RPC conventions call server errors.
INFRASTRUCTURE_FAILURES = SERVER_ERROR_CODES

Reply = TypeVar("Reply")
Item = TypeVar("Item")


class DependencyDown(Exception):
    """The backend could not answer. `error` is its status, or None when the circuit is open."""

    def __init__(self, track: Track[Any], reason: str, error: grpc.aio.AioRpcError | None) -> None:
        super().__init__(f"{track.backend} ({track.name}): {reason}")
        self.track = track
        self.reason = reason
        self.error = error


class _Outcome:
    """Records one call's outcome on the breaker and in the metrics, exactly once."""

    def __init__(self, track: Track[Any], method: str) -> None:
        if not track.breaker.allow():
            _count(track, method, "CIRCUIT_OPEN")
            raise DependencyDown(track, "circuit open", None)
        self._track = track
        self._method = method
        self._started = time.perf_counter()
        self._breaker_started = track.breaker.now()

    def ok(self) -> None:
        self._track.breaker.record_success()
        self._finish("OK")

    def failed(self, exc: grpc.aio.AioRpcError) -> Exception:
        """The exception to raise for `exc`: DependencyDown, or `exc` itself."""
        code = exc.code()
        if code in INFRASTRUCTURE_FAILURES:
            self._track.breaker.record_failure(self._breaker_started)
            self._finish(code.name)
            return DependencyDown(self._track, f"{code.name.lower()}: {exc.details()}", exc)
        self._track.breaker.record_neutral()
        self._finish(code.name)
        return exc

    def abandoned(self) -> None:
        """The caller went away mid-call: nothing is known about the dependency's health."""
        self._track.breaker.record_neutral()
        self._finish("CANCELLED")

    def _finish(self, code: str) -> None:
        track = self._track
        _durations(track.backend, track.name, self._method).record(
            time.perf_counter() - self._started
        )
        _count(track, self._method, code)


# Metric attributes by (backend, track, method[, code]): built once, not per call. The SDK only
# reads them, and the set of backends, tracks, methods and codes is small and fixed.
@cache
def _labels(backend: str, track: str, method: str, code: str | None = None) -> dict[str, str]:
    labels = {"backend": backend, "track": track, "method": method}
    if code is not None:
        labels["code"] = code
    return labels


@cache
def _durations(backend: str, track: str, method: str) -> HeldValues:
    return instruments().call_duration.series(_labels(backend, track, method))


def _count(track: Track[Any], method: str, code: str) -> None:
    # The breaker's state is not recorded here: the gauge reads it at collection (BreakerStates).
    instruments().calls.add(1, _labels(track.backend, track.name, method, code))


async def call(
    track: Track[Any],
    method: str,
    rpc: Callable[..., Awaitable[Reply]],
    request: Any,
    timeout: float,
) -> Reply:
    """`rpc(request)` (the typed stub method `track.stub.<method>`) through the track's
    breaker; `method` names it in the metrics."""
    outcome = _Outcome(track, method)
    try:
        reply = await rpc(request, timeout=timeout)
    except grpc.aio.AioRpcError as exc:
        raise outcome.failed(exc) from exc
    except BaseException:
        outcome.abandoned()
        raise
    outcome.ok()
    return reply


async def stream(
    track: Track[Any],
    method: str,
    rpc: Callable[..., Any],
    request: Any,
    timeout: float,
) -> AsyncGenerator[Item, None]:
    """A server-streaming `rpc(request)` through the track's breaker; the call is cancelled
    when the consumer stops early."""
    outcome = _Outcome(track, method)
    call = rpc(request, timeout=timeout)
    finished = False
    try:
        async for item in call:
            yield item
        finished = True
    except grpc.aio.AioRpcError as exc:
        finished = True
        raise outcome.failed(exc) from exc
    finally:
        call.cancel()
        if not finished:
            outcome.abandoned()
    outcome.ok()


async def call_by_name(track: Track[Any], method: str, request: Any, timeout: float) -> Any:
    """call() for code that names the method as a string (untyped reply)."""
    return await call(track, method, getattr(track.stub, method), request, timeout)


def status_of(exc: grpc.aio.AioRpcError) -> tuple[grpc.StatusCode, str, dict[str, str]]:
    """Code, message and ErrorInfo metadata of a backend's status, to pass on to the caller."""
    from google.rpc import error_details_pb2

    metadata: dict[str, str] = {}
    for detail in _status_details(exc):
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            metadata.update(dict(info.metadata))
    return exc.code(), exc.details() or exc.code().name, metadata


def violated_fields(exc: grpc.aio.AioRpcError) -> set[str]:
    """The request fields a backend's INVALID_ARGUMENT names (its google.rpc.BadRequest)."""
    from google.rpc import error_details_pb2

    fields: set[str] = set()
    for detail in _status_details(exc):
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            fields.update(v.field for v in bad_request.field_violations)
    return fields


def _status_details(exc: grpc.aio.AioRpcError) -> list[Any]:
    """The google.rpc.Status details a backend sent with its status (Any messages)."""
    from google.rpc import status_pb2

    details: list[Any] = []
    for key, value in exc.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            details.extend(status_pb2.Status.FromString(value).details)
    return details
