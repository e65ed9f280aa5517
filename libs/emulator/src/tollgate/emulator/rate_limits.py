"""Organisation-wide rate limits, enforced and advertised the way the real API does.

Anthropic measures requests, input tokens and output tokens per minute with a token bucket per
organisation and model: capacity is the per-minute limit, refilled continuously (limit / 60 per
second) rather than reset at minute boundaries. A request that would overdraw any bucket gets a
429 ``rate_limit_error`` with ``retry-after``; every ``/v1/messages`` response, refused or not,
carries the ``anthropic-ratelimit-*`` headers:

* ``…-requests-{limit,remaining,reset}``, ``…-input-tokens-…``, ``…-output-tokens-…``;
* ``…-tokens-…``: the most restrictive of the two token limits;
* ``…-reset``: when that bucket will be full again, an RFC 3339 UTC time to the second;
* token ``remaining`` values are rounded to the nearest thousand, requests are exact.

Output tokens are charged ``max_tokens`` up front and the unused part refunded once the answer
is known; cache reads do not count towards input tokens (as documented for current models).
Buckets are kept per API key (the emulator's notion of an organisation) and model.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from tollgate.emulator.clock import Clock
from tollgate.emulator.config import EmulatorConfig
from tollgate.emulator.errors import ApiError
from tollgate.emulator.faults import retry_after_headers

HEADER_PREFIX = "anthropic-ratelimit-"
_WINDOW_SECONDS = 60.0


class Bucket:
    """A continuously refilled token bucket; `level` may not go below zero."""

    def __init__(self, capacity: int, now: float) -> None:
        self.capacity = capacity
        self.level = float(capacity)
        self._stamp = now

    @property
    def rate(self) -> float:
        return self.capacity / _WINDOW_SECONDS

    def refill(self, now: float) -> None:
        self.level = min(float(self.capacity), self.level + (now - self._stamp) * self.rate)
        self._stamp = now

    def wait_for(self, amount: float) -> float:
        """Seconds until `amount` (capped at the capacity) is available; 0 when it is now."""
        needed = min(amount, float(self.capacity))
        return max(0.0, (needed - self.level) / self.rate)

    def take(self, amount: float) -> None:
        self.level = max(0.0, self.level - amount)

    def give_back(self, amount: float) -> None:
        self.level = min(float(self.capacity), self.level + amount)

    def seconds_to_full(self) -> float:
        return (self.capacity - self.level) / self.rate


@dataclass
class Admission:
    """What one admitted request was charged, so the unused part can be refunded."""

    key: tuple[str, str]
    output_charged: int
    input_charged: int


@dataclass(frozen=True)
class _Family:
    name: str
    limit: int | None


class RateLimiter:
    def __init__(self, config: EmulatorConfig, clock: Clock) -> None:
        # The live config: a limit patched over the control API applies to the next request.
        self._config = config
        self._clock = clock
        self._buckets: dict[tuple[str, str, str], Bucket] = {}

    def _families(self) -> tuple[_Family, ...]:
        config = self._config.rate_limits
        return (
            _Family("requests", config.requests_per_minute),
            _Family("input-tokens", config.input_tokens_per_minute),
            _Family("output-tokens", config.output_tokens_per_minute),
        )

    def _bucket(self, scope: str, model: str, family: _Family, now: float) -> Bucket | None:
        if family.limit is None:
            return None
        key = (scope, model, family.name)
        bucket = self._buckets.get(key)
        if bucket is None or bucket.capacity != family.limit:
            # A changed limit starts a full bucket of the new size, as a tier upgrade does.
            bucket = Bucket(family.limit, now)
            self._buckets[key] = bucket
        bucket.refill(now)
        return bucket

    def admit(self, scope: str, model: str, input_tokens: int, max_tokens: int) -> Admission:
        """Charge one request, or raise a 429 naming the limit it would exceed."""
        now = self._clock.now()
        costs = {"requests": 1, "input-tokens": input_tokens, "output-tokens": max_tokens}
        charged: list[tuple[Bucket, int]] = []
        for family in self._families():
            bucket = self._bucket(scope, model, family, now)
            if bucket is None:
                continue
            wait = bucket.wait_for(costs[family.name])
            if wait > 0:
                raise _rate_limited(family, model, wait)
            charged.append((bucket, costs[family.name]))
        for bucket, amount in charged:
            bucket.take(amount)
        return Admission((scope, model), output_charged=max_tokens, input_charged=input_tokens)

    def settle(self, admission: Admission, *, input_tokens: int, output_tokens: int) -> None:
        """Refund what the answer did not use (max_tokens unspent, cache reads)."""
        now = self._clock.now()
        scope, model = admission.key
        for family in self._families():
            bucket = self._bucket(scope, model, family, now)
            if bucket is None:
                continue
            if family.name == "output-tokens":
                bucket.give_back(max(0, admission.output_charged - output_tokens))
            elif family.name == "input-tokens":
                bucket.give_back(max(0, admission.input_charged - input_tokens))

    def headers(self, scope: str, model: str) -> dict[str, str]:
        """The `anthropic-ratelimit-*` headers of the caller's buckets as they stand now."""
        now = self._clock.now()
        wall = self._clock_wall()
        headers: dict[str, str] = {}
        token_buckets: list[Bucket] = []
        for family in self._families():
            bucket = self._bucket(scope, model, family, now)
            if bucket is None:
                continue
            exact = family.name == "requests"
            headers.update(_family_headers(family.name, bucket, wall, exact=exact))
            if not exact:
                token_buckets.append(bucket)
        if token_buckets:
            # The most restrictive token limit: the one with the least room left, in proportion.
            tightest = min(token_buckets, key=lambda b: b.level / b.capacity)
            headers.update(_family_headers("tokens", tightest, wall, exact=False))
        return headers

    @staticmethod
    def _clock_wall() -> float:
        return datetime.now(UTC).timestamp()

    def clear(self) -> None:
        self._buckets.clear()


def _family_headers(name: str, bucket: Bucket, wall: float, *, exact: bool) -> dict[str, str]:
    remaining = math.floor(bucket.level) if exact else int(round(bucket.level, -3))
    return {
        f"{HEADER_PREFIX}{name}-limit": str(bucket.capacity),
        f"{HEADER_PREFIX}{name}-remaining": str(max(0, min(bucket.capacity, remaining))),
        f"{HEADER_PREFIX}{name}-reset": _rfc3339(math.ceil(wall + bucket.seconds_to_full())),
    }


@functools.lru_cache(maxsize=256)
def _rfc3339(epoch_second: int) -> str:
    """A whole second as the API writes it; cached, as every response formats the same few
    seconds (formatting a datetime was most of the rate-limit headers' cost)."""
    return datetime.fromtimestamp(epoch_second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_UNITS = {"requests": "requests", "input-tokens": "input tokens", "output-tokens": "output tokens"}


def _rate_limited(family: _Family, model: str, wait: float) -> ApiError:
    return ApiError(
        "rate_limit_error",
        f"This request would exceed your organization's rate limit of {family.limit} "
        f"{_UNITS[family.name]} per minute (model: {model}). For details, refer to: "
        "https://docs.claude.com/en/api/rate-limits. You can see the response headers for "
        "current usage.",
        headers=retry_after_headers(wait),
    )
