"""The retry policy on its own: what is retried, and how long the waits are."""

from __future__ import annotations

import random

import anthropic
import httpx

from tollgate.orchestrator.retry import BackoffPolicy, FailureKind, classify, is_retryable


def _status_error(status: int, headers: dict[str, str] | None = None) -> anthropic.APIStatusError:
    request = httpx.Request("POST", "http://upstream/v1/messages")
    response = httpx.Response(status, headers=headers or {}, request=request)
    classes: dict[int, type[anthropic.APIStatusError]] = {
        400: anthropic.BadRequestError,
        429: anthropic.RateLimitError,
        500: anthropic.InternalServerError,
        529: anthropic.InternalServerError,
    }
    return classes[status]("failed", response=response, body=None)


def test_only_failures_that_can_succeed_on_retry_are_retried() -> None:
    assert classify(_status_error(400)) is FailureKind.PERMANENT
    assert not is_retryable(FailureKind.PERMANENT)
    assert classify(_status_error(429)) is FailureKind.RATE_LIMITED
    assert classify(_status_error(529)) is FailureKind.OVERLOADED
    assert classify(_status_error(500)) is FailureKind.SERVER_ERROR
    request = httpx.Request("POST", "http://upstream/v1/messages")
    assert classify(anthropic.APIConnectionError(request=request)) is FailureKind.CONNECTION
    assert all(
        is_retryable(kind)
        for kind in (
            FailureKind.RATE_LIMITED,
            FailureKind.OVERLOADED,
            FailureKind.SERVER_ERROR,
            FailureKind.CONNECTION,
        )
    )


def test_full_jitter_stays_within_the_exponential_ceiling() -> None:
    policy = BackoffPolicy(base_seconds=0.5, max_seconds=4.0)
    rng = random.Random(3)
    for attempt, ceiling in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)):
        delays = [policy.delay(attempt, None, rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # spread over the whole range, not bunched at 0


def test_the_server_hint_is_a_floor() -> None:
    policy = BackoffPolicy(base_seconds=0.1, max_seconds=1.0)
    rng = random.Random(5)
    delays = [policy.delay(1, 2.5, rng) for _ in range(100)]
    assert min(delays) >= 2.5
    assert len(set(delays)) > 50  # jittered, so a crowd does not return in lockstep
