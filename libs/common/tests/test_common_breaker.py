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


def _overlap_breaker(clock: FakeClock, counting: bool) -> CircuitBreaker:
    return CircuitBreaker(3, 5, clock=clock, overlapping_failures_count=counting)


def test_failures_in_flight_together_are_one_piece_of_evidence_when_asked() -> None:
    clock = FakeClock()
    breaker = _overlap_breaker(clock, counting=False)
    started = [breaker.now() for _ in range(10)]  # ten calls in flight together
    clock.now = 1.0
    for stamp in started:
        breaker.record_failure(stamp)
    assert breaker.state is BreakerState.CLOSED
    # Calls started after the last counted failure are new evidence: two more open it.
    for _ in range(2):
        stamp = breaker.now()
        clock.now += 1.0
        breaker.record_failure(stamp)
    assert breaker.state is BreakerState.OPEN
    # A failure without a start time (a caller that does not say) always counts.
    other = _overlap_breaker(FakeClock(), counting=False)
    for _ in range(3):
        other.record_failure()
    assert other.is_open


def test_by_default_every_failure_counts_and_a_success_resets_the_evidence() -> None:
    clock = FakeClock()
    breaker = _overlap_breaker(clock, counting=True)
    stamp = breaker.now()
    clock.now = 1.0
    for _ in range(3):
        breaker.record_failure(stamp)
    assert breaker.is_open
    quiet = _overlap_breaker(clock, counting=False)
    quiet.record_failure(quiet.now())
    quiet.record_success()
    # After a success, a call that started before it counts again (nothing counted since).
    clock.now = 2.0
    for _ in range(2):
        quiet.record_failure(0.0)
        assert quiet.state is BreakerState.CLOSED
    quiet.record_failure(0.0)
    assert quiet.state is BreakerState.CLOSED  # the second and third overlapped the first


def test_a_failed_probe_reopens_even_when_it_overlapped() -> None:
    clock = FakeClock()
    breaker = _overlap_breaker(clock, counting=False)
    for _ in range(3):
        stamp = breaker.now()
        clock.now += 1.0
        breaker.record_failure(stamp)
    assert breaker.state is BreakerState.OPEN
    clock.now += 5
    assert breaker.allow()  # the probe
    breaker.record_failure(0.0)
    assert breaker.state is BreakerState.OPEN
