"""The one call path to backends: only the dependency's own failures count against its breaker;
a caller's mistake never opens a circuit, nor holds a failing one closed."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from tollgate.common.breaker import BreakerState
from tollgate.gateway import dependencies
from tollgate.gateway.dependencies import DependencyDown

CALLERS_MISTAKES = [
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
]
DEPENDENCY_FAILURES = [
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.INTERNAL,
]


def _ledger(fakes: Any) -> Any:
    return fakes.router.backends["budget_ledger"].stable


@pytest.mark.parametrize("code", CALLERS_MISTAKES, ids=lambda c: c.name)
async def test_a_flood_of_callers_mistakes_never_opens_the_breaker(
    fakes: Any, helpers: Any, code: grpc.StatusCode
) -> None:
    track = _ledger(fakes)
    track.stub.replies["Reserve"] = helpers.rpc_error(code, "your fault")
    for _ in range(50):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await dependencies.call(track, "Reserve", track.stub.Reserve, object(), 1.0)
        assert raised.value.code() == code
    assert track.breaker.state is BreakerState.CLOSED
    assert len(track.stub.calls) == 50


@pytest.mark.parametrize("code", DEPENDENCY_FAILURES, ids=lambda c: c.name)
async def test_dependency_failures_open_the_breaker_and_then_nothing_is_sent(
    fakes: Any, helpers: Any, code: grpc.StatusCode
) -> None:
    track = _ledger(fakes)
    track.stub.replies["Reserve"] = helpers.rpc_error(code, "down")
    for _ in range(fakes.settings.breaker_failure_threshold):
        with pytest.raises(DependencyDown) as down:
            await dependencies.call(track, "Reserve", track.stub.Reserve, object(), 1.0)
        assert down.value.error is not None
        assert down.value.error.code() == code
    assert track.breaker.state is BreakerState.OPEN
    with pytest.raises(DependencyDown, match="circuit open") as refused:
        await dependencies.call(track, "Reserve", track.stub.Reserve, object(), 1.0)
    assert refused.value.error is None
    assert len(track.stub.calls) == fakes.settings.breaker_failure_threshold


async def test_callers_mistakes_between_failures_do_not_reset_the_count(
    fakes: Any, helpers: Any
) -> None:
    """An attacker's bad requests interleaved with real failures must not keep a failing
    dependency's circuit closed."""
    track = _ledger(fakes)
    down = helpers.rpc_error(grpc.StatusCode.UNAVAILABLE)
    bad = helpers.rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "bad")
    for _ in range(fakes.settings.breaker_failure_threshold):
        track.stub.replies["Reserve"] = down
        with pytest.raises(DependencyDown):
            await dependencies.call(track, "Reserve", track.stub.Reserve, object(), 1.0)
        track.stub.replies["Reserve"] = bad
        if track.breaker.state is BreakerState.CLOSED:
            with pytest.raises(grpc.aio.AioRpcError):
                await dependencies.call(track, "Reserve", track.stub.Reserve, object(), 1.0)
    assert track.breaker.state is BreakerState.OPEN


async def test_an_abandoned_stream_cancels_the_call_and_leaves_the_breaker_alone(
    fakes: Any,
) -> None:
    track = fakes.router.backends["orchestrator"].stable
    cancelled = []

    class Call:
        def __aiter__(self) -> Call:
            return self

        async def __anext__(self) -> int:
            return 1

        def cancel(self) -> None:
            cancelled.append(True)

    items = dependencies.stream(track, "StreamGenerate", lambda r, timeout: Call(), None, 1.0)
    assert await items.__anext__() == 1
    await items.aclose()
    assert cancelled == [True]
    assert track.breaker.state is BreakerState.CLOSED


async def test_every_backend_call_is_in_the_duration_histogram_when_metrics_are_read(
    fakes: Any,
) -> None:
    """Call durations are held between collections; a scrape must still count every call."""
    from tollgate.common.telemetry import configure_telemetry
    from tollgate.common.testing import metric_total

    configure_telemetry("gateway")

    def durations_counted() -> float:
        return metric_total(
            "tollgate_gateway_backend_call_duration_seconds_count", method="Reserve"
        )

    track = _ledger(fakes)
    track.stub.replies["Reserve"] = object()
    before = durations_counted()
    for _ in range(7):
        await dependencies.call(track, "Reserve", track.stub.Reserve, object(), 1.0)
    assert durations_counted() - before == 7
