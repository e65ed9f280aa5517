"""Stored conversations (`Completion.session_id`) in Redis: history, a per-session lease that
runs turns one at a time, fork and delete.

Keys, per tenant and session (a Redis hash tag keeps both on one cluster slot):

- `<prefix>:{<tenant>:<session>}:turns`: a list, one serialized `Message` per element, oldest
  first; its TTL is renewed by every append (a session idle for `ttl` is gone);
- `<prefix>:{<tenant>:<session>}:lease`: the token of the turn that holds the session.

A turn takes the lease (SET NX PX) before it reads the history and gives it back after its answer
is stored, so a second turn sent meanwhile waits and then sees the first one's answer: turns of one
session are never interleaved. The append checks the token in the same script that writes (a
turn whose lease ran out, taken over by the next turn, cannot write its answer after a later
one). The lease outlives the longest call to Claude (`lease_seconds`), so a gateway that dies
mid-turn blocks its session only that long. Waiting turns poll with a short backoff: they run one
at a time, but not strictly in arrival order.

The size cap (`max_bytes`) is checked before Claude is asked: a turn that would take the stored
history past it is refused; the answer itself is always stored.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from dataclasses import dataclass

import grpc
import redis.asyncio as aioredis
from google.protobuf.message import DecodeError
from redis.exceptions import RedisError

from tollgate.common.errors import (
    ServiceError,
    failed_precondition,
    invalid_argument,
    not_found,
    unavailable,
)
from tollgate.v1 import common_pb2

log = logging.getLogger("tollgate.gateway.sessions")

# KEYS[1] turns, KEYS[2] lease; ARGV[1] token, ARGV[2] ttl ms, ARGV[3..] messages.
_APPEND = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return -1 end
for i = 3, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('LLEN', KEYS[1])
"""

# KEYS[1] lease; ARGV[1] token.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS[1] source turns, KEYS[2] target turns; ARGV[1] ttl ms.
_FORK = """
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local turns = redis.call('LRANGE', KEYS[1], 0, -1)
if #turns == 0 then return -2 end
for i = 1, #turns do redis.call('RPUSH', KEYS[2], turns[i]) end
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return #turns
"""

_POLL_SECONDS = (0.005, 0.05)
# No ':' (the key's separator), so tenant and session can never be read two ways.
SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def check_session_id(value: str, field: str) -> str:
    if not SESSION_ID.fullmatch(value):
        raise invalid_argument(
            f"{field} {value[:80]!r} is not a session id: use 1 to 128 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit.",
            field,
        )
    return value


@dataclass(frozen=True)
class Lease:
    tenant: str
    session: str
    token: str


@dataclass(frozen=True)
class History:
    messages: list[common_pb2.Message]
    stored_bytes: int


def _unavailable(exc: Exception) -> ServiceError:
    log.warning("session store failed: %s", exc)
    return unavailable("The session store is unavailable; try again shortly.")


class SessionStore:
    def __init__(
        self,
        redis_url: str,
        prefix: str,
        ttl_seconds: float,
        max_bytes: int,
        lease_seconds: float,
        timeout_seconds: float,
    ) -> None:
        self._redis = aioredis.Redis.from_url(
            redis_url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds
        )
        self._prefix = prefix
        self._ttl_ms = int(ttl_seconds * 1000)
        self.max_bytes = max_bytes
        self._lease_ms = int(lease_seconds * 1000)
        self._append = self._redis.register_script(_APPEND)
        self._release = self._redis.register_script(_RELEASE)
        self._fork = self._redis.register_script(_FORK)

    def _key(self, tenant: str, session: str, kind: str) -> str:
        return f"{self._prefix}:{{{tenant}:{session}}}:{kind}"

    async def close(self) -> None:
        await self._redis.aclose()

    async def acquire(self, tenant: str, session: str, wait_seconds: float) -> Lease:
        """The session's lease, waiting up to `wait_seconds` for the turn that holds it."""
        token = secrets.token_hex(16)
        key = self._key(tenant, session, "lease")
        deadline = time.monotonic() + wait_seconds
        delay = _POLL_SECONDS[0]
        while True:
            try:
                if await self._redis.set(key, token, nx=True, px=self._lease_ms):
                    return Lease(tenant, session, token)
            except RedisError as exc:
                raise _unavailable(exc) from exc
            if time.monotonic() + delay > deadline:
                raise failed_precondition(
                    f"Session {session!r} is busy with another turn that did not finish in "
                    f"{wait_seconds:g} s; send this turn again once it has."
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, _POLL_SECONDS[1])

    async def release(self, lease: Lease) -> None:
        try:
            key = self._key(lease.tenant, lease.session, "lease")
            await self._release(keys=[key], args=[lease.token])
        except RedisError as exc:
            # The lease expires by itself; the next turn waits at most that long.
            log.warning("could not release a session lease: %s", exc)

    async def history(self, tenant: str, session: str) -> History:
        try:
            items = await self._redis.lrange(self._key(tenant, session, "turns"), 0, -1)
        except RedisError as exc:
            raise _unavailable(exc) from exc
        # Bytes: the client does not decode responses.
        raw = [item if isinstance(item, bytes) else item.encode() for item in items]
        messages = []
        for item in raw:
            try:
                messages.append(common_pb2.Message.FromString(item))
            except DecodeError as exc:
                raise unavailable(f"Session {session!r} holds a damaged turn.") from exc
        return History(messages, sum(len(item) for item in raw))

    async def append(self, lease: Lease, messages: list[common_pb2.Message]) -> None:
        """Store `messages` after the history, if `lease` still holds the session."""
        keys = [
            self._key(lease.tenant, lease.session, "turns"),
            self._key(lease.tenant, lease.session, "lease"),
        ]
        args: list[str | bytes | int] = [lease.token, self._ttl_ms]
        args.extend(message.SerializeToString() for message in messages)
        try:
            stored = await self._append(keys=keys, args=args)
        except RedisError as exc:
            raise _unavailable(exc) from exc
        if stored == -1:
            raise failed_precondition(
                f"Session {lease.session!r}: this turn held the session longer than its lease "
                "and another turn took over; its answer was not stored."
            )

    async def fork(self, tenant: str, session: str, new_session: str) -> int:
        keys = [self._key(tenant, session, "turns"), self._key(tenant, new_session, "turns")]
        try:
            copied = int(await self._fork(keys=keys, args=[self._ttl_ms]))
        except RedisError as exc:
            raise _unavailable(exc) from exc
        if copied == -1:
            raise ServiceError(
                f"Session {new_session!r} already exists; pick another id.",
                grpc.StatusCode.ALREADY_EXISTS,
            )
        if copied == -2:
            raise not_found(f"There is no session {session!r}.")
        return copied

    async def delete(self, tenant: str, session: str) -> bool:
        try:
            removed = await self._redis.delete(
                self._key(tenant, session, "turns"), self._key(tenant, session, "lease")
            )
        except RedisError as exc:
            raise _unavailable(exc) from exc
        return bool(removed)


def session_tag(session: str) -> str:
    """The cache tag of every answer given in a session: DeleteSession invalidates it."""
    return f"tollgate-session:{session}"
