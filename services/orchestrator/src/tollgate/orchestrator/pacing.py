"""Fleet-wide pacing: every orchestrator replica draws from one request bucket in Redis.

Per-replica AIMD discovers Anthropic's rate limit by hitting it, once per replica. Anthropic
tells us the limit instead: each response carries `anthropic-ratelimit-requests-limit`,
`-remaining` and `-reset`. The pacer keeps one token bucket per organisation (API key) and model
in Redis, sized and refilled from those headers, and every replica takes a token from it before
calling Claude.

- **Acquire** (one Lua script, atomic across replicas): refill the bucket for the time passed
  (limit / 60 per second, Anthropic's continuous replenishment, timed by Redis' own clock so
  replicas' clocks do not matter), then reserve one request. The level may go below zero: the
  script answers how long the caller must wait for its reservation to be covered, so callers
  are served in the order they reserved, with no polling. A wait that would leave less than
  `call_reserve_seconds` before the request's deadline reserves nothing and is refused at once.
- **Observe** (one Lua script per response): the limit sets the bucket's size; the bucket's level
  is lowered to `remaining` less the calls in flight when the server counts less room than we do
  (other clients of the same organisation, replicas that were not pacing, the first response);
  a 429's `retry-after` empties it until then. Reading `remaining` never raises the level.
- **In flight**: the bucket counts the calls taken from it whose answer has not come back. A
  response's `remaining` was counted before those reached the server, so the level adopted from
  it is `remaining` less the calls still in flight (counting twice the few the server already
  had: the safe side, a bounded offset rather than a lower rate).
- **Unknown limit**: before the first response of a model, there is no bucket and nothing is
  paced (AIMD alone decides), exactly as without Redis; those calls are counted in flight too,
  so the first response's `remaining` is read the same way.
- **Redis down**: the failing call is let through unpaced (no request fails because of the
  pacer), and Redis is skipped for `retry_seconds` before being tried again; AIMD, which always
  runs as the concurrency cap, is the pacing meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import logging
import math
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from opentelemetry import metrics
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from tollgate.common.errors import unavailable
from tollgate.orchestrator.deadline import Deadline
from tollgate.orchestrator.ratelimit_headers import RateLimitState, parse_pacing_limits

log = logging.getLogger("tollgate.orchestrator")

_meter = metrics.get_meter("tollgate")
_waits = _meter.create_histogram(
    "tollgate_orchestrator_pacing_wait_seconds",
    unit="s",
    description="Time a call waited for the fleet-wide rate limit before calling Claude",
)
_refusals = _meter.create_counter(
    "tollgate_orchestrator_pacing_refused",
    description="Calls refused because the shared rate limit had no room before the deadline",
)
_fallbacks = _meter.create_counter(
    "tollgate_orchestrator_pacing_fallbacks",
    description="Calls let through unpaced because Redis did not answer",
)

# Anthropic's limits are per minute; the bucket refills a full limit in this many seconds.
WINDOW_SECONDS = 60.0

# The bucket is one hash: capacity (the limit), level and stamp (its level at that Redis time),
# and inflight: calls taken from it (or let through before it was known) whose answer has not
# come back yet. A response's `remaining` was counted before the calls still in flight reached
# the server, so the level adopted from it is `remaining - inflight` (counting twice the few
# already counted: the safe side).

# KEYS[1]: the bucket. ARGV: cost, longest acceptable wait (ms), key lifetime (ms), window (ms).
# Returns {outcome, wait in ms}: UNKNOWN (no limit seen yet: not paced), GRANTED (reserved; go
# after the wait) or REFUSED (the wait would exceed the longest acceptable; nothing reserved).
_UNKNOWN, _GRANTED, _REFUSED = 0, 1, 2
_ACQUIRE = """
if redis.replicate_commands then redis.replicate_commands() end
local b = redis.call('HMGET', KEYS[1], 'capacity', 'level', 'stamp')
if not b[1] then
  redis.call('HINCRBY', KEYS[1], 'inflight', 1)
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {0, 0}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local capacity = tonumber(b[1])
local rate = capacity / tonumber(ARGV[4])
local level = math.min(capacity, tonumber(b[2]) + math.max(0, now - tonumber(b[3])) * rate)
local cost = tonumber(ARGV[1])
local wait = 0
if level < cost then wait = math.ceil((cost - level) / rate) end
if wait > tonumber(ARGV[2]) then return {2, wait} end
redis.call('HSET', KEYS[1], 'level', tostring(level - cost), 'stamp', now)
redis.call('HINCRBY', KEYS[1], 'inflight', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, wait}
"""

# KEYS[1]: the bucket. ARGV: limit, remaining, retry-after (ms, or -1), key lifetime (ms),
# window (ms), 1 when the call answered was counted in flight (else 0). Sizes the bucket to the
# limit and lowers its level to what the server reports, less the calls still in flight.
_OBSERVE = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local capacity = tonumber(ARGV[1])
local rate = capacity / tonumber(ARGV[5])
local b = redis.call('HMGET', KEYS[1], 'level', 'stamp', 'inflight')
local inflight = math.max(0, (tonumber(b[3]) or 0) - tonumber(ARGV[6]))
local level = tonumber(ARGV[2]) - inflight
if b[1] then
  local ours = math.min(capacity, tonumber(b[1]) + math.max(0, now - tonumber(b[2])) * rate)
  level = math.min(ours, level)
end
local retry = tonumber(ARGV[3])
if retry >= 0 then level = math.min(level, 1 - retry * rate) end
redis.call('HSET', KEYS[1], 'capacity', ARGV[1], 'level', tostring(level), 'stamp', now,
  'inflight', inflight)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""

# KEYS[1]: the bucket. A counted call ended without an answer that says anything (no response,
# or none of the headers): it is no longer in flight.
_LANDED = """
local inflight = tonumber(redis.call('HGET', KEYS[1], 'inflight') or '0')
if inflight > 0 then redis.call('HINCRBY', KEYS[1], 'inflight', -1) end
return 1
"""


@dataclass
class PacedCall:
    model: str
    # Whether the bucket counts this call in flight (False when Redis was skipped).
    counted: bool
    # Set by the transport once the HTTP request is on its way.
    sent: bool = False


# The call in progress, so the HTTP layer knows which bucket a response speaks of.
_current_call: contextvars.ContextVar[PacedCall | None] = contextvars.ContextVar(
    "tollgate_pacing_call", default=None
)


class Pacer(Protocol):
    async def admit(self, model: str, deadline: Deadline) -> bool:
        """Wait for the model's shared rate limit to have room; refuse past the deadline.

        True when the call is counted in flight (then `answered` or `landed` must follow).
        """

    async def answered(self, model: str, state: RateLimitState, *, counted: bool) -> None:
        """Take in what a response said about the rate limit."""

    async def landed(self, model: str) -> None:
        """A counted call ended without rate-limit headers (no response, or a bare one)."""


class Unpaced:
    """Pacing off: AIMD alone."""

    async def admit(self, model: str, deadline: Deadline) -> bool:
        return False

    async def answered(self, model: str, state: RateLimitState, *, counted: bool) -> None:
        return None

    async def landed(self, model: str) -> None:
        return None


@contextlib.asynccontextmanager
async def calling(pacer: Pacer, model: str, *, counted: bool) -> AsyncIterator[None]:
    """Marks the HTTP call made inside as a call to `model` (read by the transport, `sending`).

    A counted call that never reached the transport (it failed before sending) leaves the
    in-flight count here, since no response will.
    """
    call = PacedCall(model, counted)
    token = _current_call.set(call)
    try:
        yield
    finally:
        _current_call.reset(token)
        if counted and not call.sent:
            await pacer.landed(model)


def organisation_id(api_key: str) -> str:
    """A short stable name for the API key's organisation; the key itself never reaches Redis."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


class RedisPacer:
    def __init__(
        self,
        redis: Redis,
        *,
        organisation: str,
        key_prefix: str,
        timeout_seconds: float,
        retry_seconds: float,
        call_reserve_seconds: float = 0.0,
        window_seconds: float = WINDOW_SECONDS,
    ) -> None:
        self._redis = redis
        self._prefix = f"{key_prefix}:pace:{organisation}"
        self._timeout = timeout_seconds
        self._retry_seconds = retry_seconds
        self._call_reserve = call_reserve_seconds
        self._window_ms = int(window_seconds * 1000)
        # An idle bucket outlives a full refill, then disappears (and pacing restarts unknown).
        self._ttl_ms = 2 * self._window_ms
        self._acquire = redis.register_script(_ACQUIRE)
        self._observe = redis.register_script(_OBSERVE)
        self._landed = redis.register_script(_LANDED)
        self._down_until = 0.0

    def key(self, model: str) -> str:
        return f"{self._prefix}:{model}:requests"

    @property
    def redis_up(self) -> bool:
        return time.monotonic() >= self._down_until

    async def admit(self, model: str, deadline: Deadline) -> bool:
        if not self.redis_up:
            _fallbacks.add(1, {"model": model})
            return False
        # A turn that leaves no time for the call itself is no use: refuse it now instead.
        longest_ms = int(max(0.0, deadline.remaining() - self._call_reserve) * 1000)
        args = [1, longest_ms, self._ttl_ms, self._window_ms]
        try:
            async with asyncio.timeout(self._timeout):
                answer = await self._acquire(keys=[self.key(model)], args=args)
            outcome, wait_ms = int(answer[0]), int(answer[1])
        except Exception as exc:  # any Redis failure: fall back for this call and a while after
            self._fall_back(exc, model)
            return False
        if outcome == _UNKNOWN:
            return True
        if outcome == _REFUSED:
            _refusals.add(1, {"model": model})
            raise unavailable(
                f"Anthropic's rate limit for {model}, shared by every orchestrator replica, has "
                f"no room before this request's deadline (next room in {wait_ms / 1000:.1f} s).",
                retry_after_seconds=f"{math.ceil(wait_ms / 1000)}",
            )
        _waits.record(wait_ms / 1000, {"model": model})
        if wait_ms:
            try:
                await asyncio.sleep(wait_ms / 1000)
            except BaseException:
                # Cancelled while waiting its turn: the call will not be made.
                await self.landed(model)
                raise
        return True

    async def answered(self, model: str, state: RateLimitState, *, counted: bool) -> None:
        requests = state.requests
        if requests is None:
            if counted:
                await self.landed(model)
            return
        if not self.redis_up:
            return
        retry_ms = -1 if state.retry_after is None else int(state.retry_after * 1000)
        args = [
            requests.limit,
            requests.remaining,
            retry_ms,
            self._ttl_ms,
            self._window_ms,
            int(counted),
        ]
        await self._run(self._observe, model, args)

    async def landed(self, model: str) -> None:
        if self.redis_up:
            await self._run(self._landed, model, [])

    async def _run(self, script: Any, model: str, args: list[int]) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await script(keys=[self.key(model)], args=args)
        except Exception as exc:
            self._fall_back(exc, model)

    def _fall_back(self, exc: BaseException, model: str) -> None:
        if self.redis_up:
            log.warning(
                "fleet pacing: Redis did not answer (%s); pacing per replica for %g s",
                type(exc).__name__,
                self._retry_seconds,
            )
        self._down_until = time.monotonic() + self._retry_seconds
        _fallbacks.add(1, {"model": model})


def pacing_redis(url: str, timeout_seconds: float, max_connections: int = 64) -> Redis:
    """A client that fails fast and never retries: a slow Redis must not slow calls to Claude.

    The pool is bounded so that a burst of calls shares connections instead of opening one
    each (opening hundreds at once would itself blow the timeout).
    """
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout_seconds,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        retry=Retry(NoBackoff(), 0),
    )
    return Redis.from_pool(pool)


def sending(path: str) -> PacedCall | None:
    """The paced call an HTTP request to `path` belongs to, marked as sent; None for any other
    request.

    Called by the transport (`http_tracing.py`) as the request goes out.
    """
    call = _current_call.get()
    if call is None or not path.endswith("/v1/messages"):
        return None
    call.sent = True
    return call


async def report_response(pacer: Pacer, call: PacedCall, headers: Mapping[str, str]) -> None:
    """Hands what a Messages response said about the rate limit to the pacer."""
    await pacer.answered(call.model, parse_pacing_limits(headers), counted=call.counted)
