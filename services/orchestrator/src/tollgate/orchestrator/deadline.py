"""The caller's deadline on the monotonic clock, shared by queueing, retries and calls."""

from __future__ import annotations

import time


class Deadline:
    def __init__(self, seconds: float) -> None:
        self._expires_at = time.monotonic() + seconds

    @classmethod
    def from_remaining(cls, remaining: float | None, default_seconds: float) -> Deadline:
        """The gRPC time remaining, capped by the orchestrator's own upper bound on one request."""
        if remaining is None:
            return cls(default_seconds)
        return cls(min(remaining, default_seconds))

    def remaining(self) -> float:
        return max(0.0, self._expires_at - time.monotonic())

    def expired(self) -> bool:
        return self.remaining() <= 0.0
