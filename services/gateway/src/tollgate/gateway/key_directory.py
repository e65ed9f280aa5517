"""Every key the gateway accepts: the keys file's (KeyFile) and the managed keys the budget
ledger stores, followed through its change feed.

Each second the directory asks the ledger for the key changes since the last revision it read
(usually none: one small call), so a revocation reaches every replica within about a second.
When the ledger cannot be reached the last snapshot stays in force: a key revoked before the
outage stays refused (revocations are final and revisions only move forward), and no one is
locked out. Expiry and the end of a rotation's grace are checked here by the clock, without the
ledger. The file's keys are the bootstrap: they work whatever the ledger does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import grpc

from tollgate.common.auth import ApiKey, KeyLimits, Role, bearer_digest
from tollgate.common.errors import unauthenticated
from tollgate.common.polling import Polling
from tollgate.gateway.key_file import KeyFile
from tollgate.gateway.metrics import instruments
from tollgate.v1 import budget_ledger_pb2 as pb

log = logging.getLogger("tollgate.gateway.keys")

FetchChanges = Callable[[int], Awaitable[pb.ListApiKeyChangesResponse]]

_ROLES = {
    pb.API_KEY_ROLE_APP: Role.APP,
    pb.API_KEY_ROLE_ADMIN: Role.ADMIN,
    pb.API_KEY_ROLE_OPERATOR: Role.OPERATOR,
}


@dataclass(frozen=True)
class _Secret:
    """One secret that opens a managed key; a rotated-away one only until `valid_until`."""

    key: ApiKey
    valid_until: float | None = None


def _seconds(stamp: object, present: bool) -> float | None:
    return stamp.ToDatetime(tzinfo=UTC).timestamp() if present else None  # type: ignore[attr-defined]


def managed_key(change: pb.ApiKeyChange) -> ApiKey:
    record = change.key
    limits = record.limits
    return ApiKey(
        id=record.id,
        tenant=record.tenant_id,
        sha256=change.secret_sha256,
        role=_ROLES.get(record.role, Role.APP),
        expires_at=_seconds(record.expires_at, record.HasField("expires_at")),
        limits=KeyLimits(
            requests_per_minute=limits.requests_per_minute,
            tokens_per_minute=limits.tokens_per_minute,
            allowed_models=frozenset(limits.allowed_models),
            allowed_tasks=frozenset(int(task) for task in limits.allowed_tasks),
        ),
    )


class KeyDirectory:
    def __init__(
        self,
        key_file: KeyFile,
        fetch: FetchChanges | None,
        refresh_seconds: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._file = key_file
        self._fetch = fetch
        self._clock = clock
        self._changes: dict[str, pb.ApiKeyChange] = {}
        # Ids of revoked keys: a revocation is final, so no change read later (an older page,
        # a replayed reply) may bring one back.
        self._revoked: set[str] = set()
        # One refresh at a time: the loop's and an admin call's must not interleave.
        self._refreshing = asyncio.Lock()
        self._secrets: dict[str, _Secret] = {}
        self._by_id: dict[str, ApiKey] = {}
        self.revision = 0
        self._last_read = time.monotonic()
        self._reachable: bool | None = None
        self._polling = Polling(self.refresh, refresh_seconds)

    def __len__(self) -> int:
        return len(self._changes)

    def authenticate(self, authorization: str | None) -> ApiKey:
        digest = bearer_digest(authorization)
        secret = self._secrets.get(digest)
        if secret is None:
            key = self._file.ring.find(digest)
            if key is None:
                raise unauthenticated("Invalid API key.")
            return key
        now = self._clock()
        if secret.valid_until is not None and now >= secret.valid_until:
            raise unauthenticated("Invalid API key: it was rotated; use the new secret.")
        expires_at = secret.key.expires_at
        if expires_at is not None and now >= expires_at:
            when = datetime.fromtimestamp(expires_at, UTC).isoformat(timespec="seconds")
            raise unauthenticated(f"This API key expired at {when}.")
        return secret.key

    def limits_of(self, tenant: str, key_id: str) -> KeyLimits:
        """The own limits of the managed key `key_id` of `tenant`, for a call made after the one
        that authenticated it (a session's history, admitted once the session is read). The
        file's keys have none; nor has a key no longer in force, whose calls are refused anyway
        from the next one on."""
        key = self._by_id.get(key_id)
        if key is None or key.tenant != tenant:
            return KeyLimits()
        return key.limits

    def apply(self, changes: list[pb.ApiKeyChange]) -> None:
        """Take changes in revision order; a revoked key leaves the directory for good."""
        for change in changes:
            key_id = change.key.id
            known = self._changes.get(key_id)
            if key_id in self._revoked or (known and known.key.revision >= change.key.revision):
                continue  # revoked for good, or older than what is in force
            if change.key.HasField("revoked_at"):
                self._revoked.add(key_id)
                self._changes.pop(key_id, None)
            else:
                self._changes[key_id] = change
            self.revision = max(self.revision, change.key.revision)
        secrets: dict[str, _Secret] = {}
        by_id: dict[str, ApiKey] = {}
        for change in self._changes.values():
            key = managed_key(change)
            by_id[key.id] = key
            if change.previous_secret_sha256:
                until = _seconds(change.previous_valid_until, True)
                secrets[change.previous_secret_sha256] = _Secret(key, until)
            secrets[change.secret_sha256] = _Secret(key)
        # One assignment: a call authenticating meanwhile sees the old map or the new one.
        self._secrets = secrets
        self._by_id = by_id
        instruments().key_directory_managed_keys.set(len(self._changes))

    async def refresh(self) -> bool:
        """Read the changes since the last revision; False when the ledger could not answer
        (the snapshot in force stays)."""
        if self._fetch is None:
            return False
        async with self._refreshing:
            return await self._read_changes(self._fetch)

    async def _read_changes(self, fetch: FetchChanges) -> bool:
        try:
            while True:
                reply = await fetch(self.revision)
                self.apply(list(reply.changes))
                self.revision = max(self.revision, reply.revision)
                if not reply.has_more:
                    break
        except (grpc.aio.AioRpcError, OSError, TimeoutError) as exc:
            self._record(False, exc)
            return False
        self._record(True, None)
        return True

    def _record(self, ok: bool, error: BaseException | None) -> None:
        tools = instruments()
        tools.key_directory_refreshes.add(1, {"outcome": "ok" if ok else "failed"})
        if ok:
            self._last_read = time.monotonic()
        tools.key_directory_staleness.set(time.monotonic() - self._last_read)
        # One line when the ledger goes away and one when it comes back, not one a second.
        if ok != self._reachable:
            if ok:
                log.info(
                    "managed API keys read", extra={"keys": len(self), "revision": self.revision}
                )
            else:
                details = error.details() if isinstance(error, grpc.aio.AioRpcError) else error
                log.warning(
                    "cannot read managed API keys from the budget ledger: keeping the last "
                    "snapshot",
                    extra={"keys": len(self), "revision": self.revision, "error": str(details)},
                )
            self._reachable = ok

    async def start(self) -> None:
        await self._file.start()
        if self._fetch is None:
            return
        await self.refresh()
        self._polling.start()

    async def stop(self) -> None:
        await self._polling.stop()
        await self._file.stop()
