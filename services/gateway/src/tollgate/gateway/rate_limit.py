"""Requests and tokens per minute, per tenant and per API key, shared by every gateway replica.

Counters live in Redis, one per (scope, kind, minute). A Lua script checks all four counters of
a request and increments them only when every one still fits, so concurrent requests on several
replicas can never push a counter past its limit, and a refused request consumes nothing.

Windows are fixed calendar minutes: the retry hint is the time until the window that refused the
request rolls over. Tokens are counted at admission as estimated input tokens plus max_tokens,
the most the request can use, as the upstream API counts them.

When Redis is unreachable or slow the limiter lets requests through (fail open) and logs it:
rate limits protect capacity, and budgets (which fail closed) protect money.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import redis.asyncio as aioredis
from pydantic import BaseModel, Field
from redis.exceptions import RedisError

from tollgate.common.auth import KeyLimits
from tollgate.common.errors import ServiceError, resource_exhausted

log = logging.getLogger("tollgate.gateway.rate_limit")

WINDOW_SECONDS = 60
# What a request larger than a tokens-per-minute limit can do about it (waiting would not help).
TOO_BIG_HINT = "lower max_tokens or shorten the conversation"

# KEYS: counters. ARGV: window ttl, then (limit, increment) per key; limit 0 means no limit.
# Returns 0 when admitted, else the 1-based index of the first counter that would overflow.
_CHECK_AND_COUNT = """
local ttl = tonumber(ARGV[1])
for i = 1, #KEYS do
  local limit = tonumber(ARGV[2 * i])
  local increment = tonumber(ARGV[2 * i + 1])
  if limit > 0 then
    local current = tonumber(redis.call('GET', KEYS[i]) or '0')
    if current + increment > limit then
      return i
    end
  end
end
for i = 1, #KEYS do
  local increment = tonumber(ARGV[2 * i + 1])
  if increment > 0 then
    redis.call('INCRBY', KEYS[i], increment)
    redis.call('EXPIRE', KEYS[i], ttl)
  end
end
return 0
"""


class RateLimits(BaseModel):
    """Per-minute limits; 0 means unlimited."""

    tenant_requests_per_minute: int = Field(default=0, ge=0)
    tenant_tokens_per_minute: int = Field(default=0, ge=0)
    key_requests_per_minute: int = Field(default=0, ge=0)
    key_tokens_per_minute: int = Field(default=0, ge=0)

    @property
    def unlimited(self) -> bool:
        return not (
            self.tenant_requests_per_minute
            or self.tenant_tokens_per_minute
            or self.key_requests_per_minute
            or self.key_tokens_per_minute
        )


def _stricter(configured: int, own: int) -> int:
    """The lower of two limits where 0 means none."""
    return min(v for v in (configured, own) if v) if configured or own else 0


def _with_key_limits(limits: RateLimits, key: KeyLimits) -> RateLimits:
    if not (key.requests_per_minute or key.tokens_per_minute):
        return limits
    return limits.model_copy(
        update={
            "key_requests_per_minute": _stricter(
                limits.key_requests_per_minute, key.requests_per_minute
            ),
            "key_tokens_per_minute": _stricter(limits.key_tokens_per_minute, key.tokens_per_minute),
        }
    )


@dataclass(frozen=True)
class _Counter:
    scope: str  # "tenant" or "key"
    kind: str  # "requests" or "tokens"
    key: str
    limit: int
    increment: int


class RateLimiter:
    def __init__(
        self,
        redis_url: str,
        defaults: RateLimits,
        tenant_overrides: dict[str, RateLimits],
        key_prefix: str = "tollgate:ratelimit",
        timeout_seconds: float = 0.25,
    ) -> None:
        self._defaults = defaults
        self._overrides = tenant_overrides
        self._prefix = key_prefix
        self._redis: aioredis.Redis | None = None
        self._script: object | None = None
        # With Redis configured the limiter is on even when no limit is configured: a managed
        # key may carry limits of its own (tollgate.gateway.key_directory).
        self._enabled = bool(redis_url)
        if self._enabled:
            self._redis = aioredis.Redis.from_url(
                redis_url,
                socket_timeout=timeout_seconds,
                socket_connect_timeout=timeout_seconds,
            )
            self._script = self._redis.register_script(_CHECK_AND_COUNT)
        elif not defaults.unlimited or any(not o.unlimited for o in tenant_overrides.values()):
            log.warning("rate limits are configured but no Redis URL is: they are not enforced")
        self._last_failure_log = 0.0

    @property
    def enabled(self) -> bool:
        return self._enabled

    def limits_for(self, tenant: str) -> RateLimits:
        return self._overrides.get(tenant, self._defaults)

    async def admit(
        self,
        tenant: str,
        key_id: str,
        tokens: int,
        now: float | None = None,
        key_limits: KeyLimits | None = None,
        requests: int = 1,
        too_big_hint: str = TOO_BIG_HINT,
    ) -> None:
        """Count `requests` requests (one, or none to add tokens to a request already counted)
        of `tokens` tokens, or raise RESOURCE_EXHAUSTED with a retry hint. A managed key's own
        limits apply where they are stricter than the configured ones."""
        if not self._enabled or self._redis is None:
            return
        limits = self.limits_for(tenant)
        if key_limits is not None:
            limits = _with_key_limits(limits, key_limits)
        if limits.unlimited:
            return
        moment = time.time() if now is None else now
        window = int(moment // WINDOW_SECONDS)
        counters = self._counters(tenant, key_id, tokens, limits, window, requests)
        too_big = next((c for c in counters if c.kind == "tokens" and 0 < c.limit < tokens), None)
        if too_big is not None:
            raise self._refusal(too_big, tenant, retry_after=None, too_big_hint=too_big_hint)
        try:
            refused_index = int(
                await self._script(  # type: ignore[misc,operator]
                    keys=[c.key for c in counters],
                    args=[WINDOW_SECONDS * 2]
                    + [v for c in counters for v in (c.limit, c.increment)],
                )
            )
        except (RedisError, OSError) as exc:
            self._log_failure(exc)
            return
        if refused_index:
            retry_after = max(1, math.ceil((window + 1) * WINDOW_SECONDS - moment))
            raise self._refusal(counters[refused_index - 1], tenant, retry_after)

    def _counters(
        self,
        tenant: str,
        key_id: str,
        tokens: int,
        limits: RateLimits,
        window: int,
        requests: int = 1,
    ) -> list[_Counter]:
        # Tenant and key ids can contain ':'; the length prefix keeps the keys unambiguous.
        tenant_part = f"t{len(tenant)}:{tenant}"
        key_part = f"{tenant_part}:k{len(key_id)}:{key_id}"
        base = f"{self._prefix}:{window}"
        return [
            _Counter(
                "tenant", "requests", f"{base}:req:{tenant_part}",
                limits.tenant_requests_per_minute, requests,
            ),
            _Counter(
                "tenant", "tokens", f"{base}:tok:{tenant_part}",
                limits.tenant_tokens_per_minute, tokens,
            ),
            _Counter(
                "key", "requests", f"{base}:req:{key_part}", limits.key_requests_per_minute,
                requests,
            ),
            _Counter(
                "key", "tokens", f"{base}:tok:{key_part}", limits.key_tokens_per_minute, tokens
            ),
        ]  # fmt: skip

    @staticmethod
    def _refusal(
        counter: _Counter, tenant: str, retry_after: int | None, too_big_hint: str = ""
    ) -> ServiceError:
        who = f"tenant {tenant!r}" if counter.scope == "tenant" else "this API key"
        metadata = {
            "limit_scope": counter.scope,
            "limit_kind": f"{counter.kind}_per_minute",
            "limit": str(counter.limit),
        }
        if retry_after is None:
            error = resource_exhausted(
                f"This request needs {counter.increment:,} tokens, more than the "
                f"{counter.limit:,} tokens per minute allowed for {who}; {too_big_hint}.",
                **metadata,
            )
        else:
            metadata["retry_after_seconds"] = str(retry_after)
            error = resource_exhausted(
                f"Rate limit reached: {counter.limit:,} {counter.kind} per minute for {who}. "
                f"Retry in {retry_after} seconds.",
                **metadata,
            )
        error.reason = "RATE_LIMITED"
        return error

    def _log_failure(self, exc: BaseException) -> None:
        # One line per ten seconds: an outage must be visible without flooding the log.
        now = time.monotonic()
        if now - self._last_failure_log >= 10.0:
            self._last_failure_log = now
            log.warning(
                "rate limiter cannot reach Redis: requests pass unlimited (fail open)",
                extra={"error": f"{type(exc).__name__}: {exc}"},
            )

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
