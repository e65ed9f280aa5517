"""The API keys file, read again whenever it changes, so that a revoked key is refused within
seconds on every gateway replica, without a restart (the chart mounts the keys Secret as a
directory, which the kubelet updates in place)."""

from __future__ import annotations

import logging
from pathlib import Path

from tollgate.common.auth import ApiKey, KeyRing
from tollgate.common.errors import ServiceError
from tollgate.common.polling import Polling

log = logging.getLogger("tollgate.gateway.keys")


class KeyFile:
    """The key ring in force. A file that cannot be read or parsed keeps the last good ring:
    a half-written Secret must not lock every caller out (nor let a revoked key back in)."""

    def __init__(self, path: str, poll_seconds: float = 1.0) -> None:
        self._path = Path(path) if path else None
        self._text: str | None = None
        self.ring = KeyRing([])
        self._polling = Polling(self.reload, poll_seconds)
        if self._path is None:
            log.warning("no API keys file configured: every call will be refused")
        else:
            # At start an unreadable file is fatal: better no gateway than one refusing everyone.
            self.ring = KeyRing.from_file(self._path)
            self._text = self._path.read_text()

    def authenticate(self, authorization: str | None) -> ApiKey:
        return self.ring.authenticate(authorization)

    def reload(self) -> bool:
        """Read the file now; True when a new key ring took effect."""
        if self._path is None:
            return False
        try:
            text = self._path.read_text()
        except OSError as exc:
            log.error("API keys file unreadable (%s): keeping the keys in force", exc)
            return False
        if text == self._text:
            return False
        try:
            ring = KeyRing.from_file(self._path)
        except (ServiceError, ValueError, KeyError, TypeError) as exc:
            log.error("refused the new API keys file, keeping the keys in force: %s", exc)
            return False
        self._text = text
        self.ring = ring
        log.info("API keys reloaded", extra={"keys": len(ring)})
        return True

    async def start(self) -> None:
        if self._path is not None:
            self._polling.start()

    async def stop(self) -> None:
        await self._polling.stop()
