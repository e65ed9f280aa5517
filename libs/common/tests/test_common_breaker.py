"""The shared circuit breaker: a probe that never reports cannot keep the circuit shut."""

from __future__ import annotations

from tollgate.common.breaker import BreakerState, CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_lost_probe_frees_its_slot_after_another_open_period() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, open_seconds=5, clock=clock)
    breaker.record_failure()
    clock.now += 5
    assert breaker.allow()  # the probe; its caller is cancelled and never reports
    assert not breaker.allow()
    clock.now += 4
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert not breaker.is_open


def test_a_neutral_outcome_frees_the_probe_without_closing() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, open_seconds=5, clock=clock)
    breaker.record_failure()
    clock.now += 5
    assert breaker.allow()
    breaker.record_neutral()
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()
