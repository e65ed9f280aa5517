"""Fault injection: scripted faults first, then seeded random ones.

Retry, failover and circuit-breaking code in Tollgate is only trustworthy if
it meets the failures the real API produces, reproducibly. A script gives a
test exact control ("the next two haiku calls get a 529"); rates give soak and
demo runs a steady, seeded drizzle of failures that replays identically.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from tollgate.emulator.config import EmulatorConfig, FaultKind
from tollgate.emulator.errors import ApiError


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    retry_after_s: float
    scripted: bool


def retry_after_headers(seconds: float) -> dict[str, str]:
    """Both forms the real API sends: whole seconds and the SDK's preferred milliseconds."""
    return {
        "retry-after": str(max(0, math.ceil(seconds))),
        "retry-after-ms": str(max(0, round(seconds * 1000))),
    }


def rate_limit_error(seconds: float, message: str) -> ApiError:
    return ApiError("rate_limit_error", message, headers=retry_after_headers(seconds))


def concurrency_error(seconds: float) -> ApiError:
    return rate_limit_error(
        seconds,
        "Number of concurrent connections has exceeded your rate limit. "
        "Please try again later or contact sales to increase your limit.",
    )


def overloaded_error() -> ApiError:
    return ApiError("overloaded_error", "Overloaded")


def fault_error(fault: Fault, *, streaming: bool) -> ApiError | None:
    """The error response for a fault, or None when the fault acts on the connection/stream."""
    if fault.kind is FaultKind.RATE_LIMIT:
        return rate_limit_error(
            fault.retry_after_s,
            "This request would exceed your organization's rate limit. Please try again later.",
        )
    if fault.kind is FaultKind.OVERLOADED or (
        fault.kind is FaultKind.STREAM_ERROR and not streaming
    ):
        return overloaded_error()
    if fault.kind is FaultKind.API_ERROR:
        return ApiError("api_error", "Internal server error")
    return None


class FaultInjector:
    """Decides, once per request, whether and how that request fails."""

    def __init__(self, config: EmulatorConfig) -> None:
        self._config = config
        self._seed = config.seed
        self._rng = random.Random(config.seed)

    def draw(self, model: str) -> Fault | None:
        config = self._config
        script = config.fault_script
        for index, entry in enumerate(script):
            if entry.model is None or entry.model == model:
                del script[index]
                if entry.kind is FaultKind.NONE:
                    return None
                retry = config.retry_after_s if entry.retry_after_s is None else entry.retry_after_s
                return Fault(entry.kind, retry, scripted=True)
        if config.seed != self._seed:
            # A new seed (set over the control API, say) restarts the sequence.
            self._seed = config.seed
            self._rng = random.Random(config.seed)
        # Always draw, even with every rate at zero, so one request's outcome never
        # depends on the rates that were in force for earlier requests.
        roll = self._rng.random()
        rates = config.faults
        for kind, rate in (
            (FaultKind.RATE_LIMIT, rates.rate_limit),
            (FaultKind.OVERLOADED, rates.overloaded),
            (FaultKind.API_ERROR, rates.api_error),
            (FaultKind.CONNECTION_DROP, rates.connection_drop),
            (FaultKind.STREAM_DROP, rates.stream_drop),
            (FaultKind.STREAM_ERROR, rates.stream_error),
        ):
            if roll < rate:
                return Fault(kind, config.retry_after_s, scripted=False)
            roll -= rate
        return None

    def reseed(self) -> None:
        self._seed = self._config.seed
        self._rng = random.Random(self._seed)
