"""Which upstream failures are worth another attempt, and how long to wait before it.

One policy for the whole orchestrator (the SDK's own retries are off): exponential backoff with
full jitter, never shorter than the server's `retry-after` / `retry-after-ms` hint, and never a
wait that would end past the caller's deadline.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

import anthropic

from tollgate.orchestrator.upstream_errors import retry_after_seconds


class FailureKind(enum.Enum):
    RATE_LIMITED = "rate-limited (429)"
    OVERLOADED = "overloaded (529)"
    SERVER_ERROR = "failing (5xx)"
    CONNECTION = "unreachable"
    TIMEOUT = "too slow for the deadline"
    # A 4xx other than 429: retrying the same request cannot succeed.
    PERMANENT = "rejected the request"


def classify(exc: BaseException) -> FailureKind:
    if isinstance(exc, anthropic.APITimeoutError):
        return FailureKind.TIMEOUT
    if isinstance(exc, anthropic.APIConnectionError):
        return FailureKind.CONNECTION
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        if status == 429:
            return FailureKind.RATE_LIMITED
        if status == 529:
            return FailureKind.OVERLOADED
        if status >= 500:
            return FailureKind.SERVER_ERROR
        return FailureKind.PERMANENT
    # The SDK reports an error event inside a stream (after the 200) as a plain APIError.
    if isinstance(exc, anthropic.APIError) and "overloaded" in str(exc).lower():
        return FailureKind.OVERLOADED
    if isinstance(exc, anthropic.APIError):
        return FailureKind.SERVER_ERROR
    return FailureKind.PERMANENT


def is_retryable(kind: FailureKind) -> bool:
    # A timeout means the deadline is spent: another attempt could not finish in time either.
    return kind not in (FailureKind.PERMANENT, FailureKind.TIMEOUT)


def is_overload(kind: FailureKind) -> bool:
    """The signals that tell the concurrency limiter to back off."""
    return kind in (FailureKind.RATE_LIMITED, FailureKind.OVERLOADED)


def server_hint(exc: BaseException) -> float | None:
    if isinstance(exc, anthropic.APIStatusError):
        return retry_after_seconds(exc)
    return None


@dataclass(frozen=True)
class BackoffPolicy:
    base_seconds: float
    max_seconds: float

    def delay(self, attempt: int, hint: float | None, rng: random.Random) -> float:
        """Wait before attempt `attempt + 1` (attempt counts from 1).

        Full jitter spreads callers that failed together so they do not return together; the
        server's hint is a floor, because coming back earlier only earns another 429.
        """
        ceiling = min(self.max_seconds, self.base_seconds * (2 ** (attempt - 1)))
        jittered = rng.uniform(0.0, ceiling)
        if hint is None:
            return jittered
        # A little jitter on top of the hint keeps a crowd told "1 s" from returning in lockstep.
        return hint + rng.uniform(0.0, min(ceiling, max(hint, self.base_seconds)) / 2)
