"""The cache's operations on Redis, each one script call, each bounded by its own timeout.

Any failure (Redis down, slow, refusing) surfaces as `CacheUnavailable`, after it was logged,
counted and fed to the circuit breaker. Callers decide what that means: a miss for a lookup, a
quiet skip for a store, an error for an invalidation (which must not pretend it happened).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tollgate.cache import scripts
from tollgate.cache.connection import RedisConnection
from tollgate.cache.keys import TenantKeys
from tollgate.cache.metrics import instruments
from tollgate.common.breaker import CircuitBreaker

log = logging.getLogger("tollgate.cache")


class CacheUnavailable(Exception):
    """Redis could not do the operation in time; nothing may be assumed about its effect."""


class ProbeState(enum.Enum):
    HIT = 1
    LEASE_TAKEN = 2
    LEASE_HELD = 3
    MISS = 4
    UNCACHEABLE = 5


@dataclass(frozen=True)
class Probe:
    state: ProbeState
    value: bytes = b""
    lease: str = ""
    # For LEASE_HELD: how long the holder's lease has left.
    lease_left_seconds: float = 0.0


@dataclass(frozen=True)
class TenantStats:
    hits: int
    misses: int
    entries: int
    bytes: int


class EntryStore:
    def __init__(
        self,
        connection: RedisConnection,
        breaker: CircuitBreaker,
        *,
        lookup_timeout: float,
        write_timeout: float,
        admin_timeout: float,
        lease_timeout: float,
    ) -> None:
        self._connection = connection
        self._breaker = breaker
        self._lookup_timeout = lookup_timeout
        self._write_timeout = write_timeout
        self._admin_timeout = admin_timeout
        self._lease_ms = max(1, round(lease_timeout * 1000))
        # Invalidation records only matter to leases issued before them, so they can go once
        # the longest lease has run out.
        self._invalidation_record_ms = 2 * self._lease_ms + 1000
        self._scripts: dict[str, Any] = {}

    async def probe(
        self, keys: TenantKeys, key_hash: str, *, acquire: bool, count_held_as_miss: bool
    ) -> Probe:
        """Read the entry; on a miss with no lease out, take the lease when `acquire`."""
        raw = await self._run(
            "lookup",
            self._lookup_timeout,
            scripts.LOOKUP,
            keys=[keys.entry(key_hash), keys.lease(key_hash), keys.stats],
            args=[
                "1" if acquire else "0",
                secrets.token_hex(16),
                self._lease_ms,
                "1" if count_held_as_miss else "0",
            ],
        )
        state = ProbeState(int(raw[0]))
        payload: bytes = raw[1]
        if state is ProbeState.HIT:
            return Probe(state, value=payload)
        if state is ProbeState.LEASE_TAKEN:
            return Probe(state, lease=payload.decode())
        if state is ProbeState.LEASE_HELD:
            return Probe(state, lease_left_seconds=max(0, int(payload)) / 1000)
        return Probe(state)

    async def put(
        self,
        keys: TenantKeys,
        key_hash: str,
        value: bytes,
        ttl_ms: int,
        tags: Sequence[str],
        lease: str,
    ) -> bool:
        """Store an entry and give `lease` back; False when it was invalidated meanwhile."""
        tag_keys = [keys.tag(tag) for tag in tags]
        raw = await self._run(
            "store",
            self._write_timeout,
            scripts.STORE,
            keys=[
                keys.entry(key_hash),
                keys.index,
                keys.meta,
                keys.bytes,
                keys.lease(key_hash),
                keys.invalidations,
                *tag_keys,
            ],
            args=[key_hash, value, ttl_ms, lease],
        )
        return int(raw[0]) == 1

    async def release(
        self, keys: TenantKeys, key_hash: str, lease: str, hold_seconds: float
    ) -> bool:
        """Give a lease back. With `hold_seconds`, leave the uncacheable marker that long."""
        hold_ms = max(1, round(hold_seconds * 1000)) if hold_seconds > 0 else 0
        raw = await self._run(
            "release",
            self._write_timeout,
            scripts.RELEASE,
            keys=[keys.lease(key_hash)],
            args=[lease, hold_ms],
        )
        return int(raw) == 1

    async def invalidate_tenant(self, keys: TenantKeys, batch_size: int) -> int:
        return await self._invalidate_in_batches(
            scripts.INVALIDATE_TENANT,
            [keys.index, keys.meta, keys.bytes, keys.invalidations],
            keys.entry_prefix,
            batch_size,
        )

    async def invalidate_tag(self, keys: TenantKeys, tag: str, batch_size: int) -> int:
        return await self._invalidate_in_batches(
            scripts.INVALIDATE_TAG,
            [
                keys.tag(tag),
                keys.index,
                keys.meta,
                keys.bytes,
                keys.invalidations,
            ],
            keys.entry_prefix,
            batch_size,
        )

    async def stats(self, keys: TenantKeys) -> TenantStats:
        stats_keys = [keys.index, keys.meta, keys.bytes, keys.stats]
        while True:
            raw = await self._run(
                "stats",
                self._admin_timeout,
                scripts.STATS,
                keys=stats_keys,
                args=[scripts.PRUNE_PER_STATS],
            )
            # A full batch pruned means more expired entries may still be counted: go again.
            if int(raw[4]) < scripts.PRUNE_PER_STATS:
                break
        hits, misses, entries, size = (int(v) for v in raw[:4])
        return TenantStats(hits=hits, misses=misses, entries=entries, bytes=max(0, size))

    async def _invalidate_in_batches(
        self, source: str, script_keys: list[str], entry_prefix: str, batch_size: int
    ) -> int:
        """Remove entries a batch per round trip, so no single script blocks Redis for long."""
        removed = 0
        first = True
        while True:
            raw = await self._run(
                "invalidate",
                self._admin_timeout,
                source,
                keys=script_keys,
                args=[
                    entry_prefix,
                    batch_size,
                    "1" if first else "0",
                    self._invalidation_record_ms,
                ],
            )
            first = False
            removed += int(raw[0])
            if int(raw[1]) == 0:
                return removed

    async def _run(
        self,
        operation: str,
        timeout: float,
        source: str,
        *,
        keys: Sequence[str],
        args: Sequence[str | int | bytes],
    ) -> Any:
        if not self._breaker.allow():
            instruments().redis_failures.add(1, {"operation": operation, "error": "breaker_open"})
            raise CacheUnavailable("the cache store is unavailable (circuit open)")
        script = self._script(source)
        try:
            async with asyncio.timeout(timeout):
                result = await script(keys=keys, args=args)
        except (TimeoutError, RedisTimeoutError, RedisConnectionError, OSError) as exc:
            self._breaker.record_failure()
            self._count_failure(operation, exc)
            raise CacheUnavailable(f"the cache store did not answer: {type(exc).__name__}") from exc
        except RedisError as exc:
            # Redis answered, but with an error (e.g. out of memory under noeviction). It is
            # reachable, so the breaker stays as it is.
            self._count_failure(operation, exc)
            raise CacheUnavailable(f"the cache store refused the operation: {exc}") from exc
        self._breaker.record_success()
        return result

    def _script(self, source: str) -> Any:
        # Registered once per client; the library runs it by SHA and loads it on NOSCRIPT
        # (after a Redis restart, too).
        script = self._scripts.get(source)
        if script is None:
            script = self._connection.client.register_script(source)
            self._scripts[source] = script
        return script

    def _count_failure(self, operation: str, exc: BaseException) -> None:
        instruments().redis_failures.add(1, {"operation": operation, "error": type(exc).__name__})
        log.warning(
            "redis call failed",
            extra={"operation": operation, "error": f"{type(exc).__name__}: {exc}"},
        )
