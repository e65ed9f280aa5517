"""The ledger's Postgres: where it is, its connection pool, and retrying transient conflicts."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar, cast

import asyncpg

from tollgate.budget_ledger.batch_store import BatchConflict
from tollgate.budget_ledger.settings import Settings
from tollgate.common.errors import unavailable
from tollgate.common.stores import EmbeddedStores

log = logging.getLogger("tollgate.budget_ledger.database")

T = TypeVar("T")

# Lock waits are ordered (see batch_store.py), so these are rare; they are safe to retry because
# the failed transaction rolled back entirely. A batch that found a row it meant to create
# written meanwhile by another replica is retried the same way, and decides again.
_RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError, BatchConflict)
_MAX_ATTEMPTS = 5


class Database:
    """Resolves the DSN (configured, else an embedded Postgres), owns the pool."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._embedded: EmbeddedStores | None = None
        self._pool: asyncpg.Pool | None = None
        self.dsn = ""

    @property
    def embedded(self) -> bool:
        return self._embedded is not None

    def resolve_dsn(self) -> str:
        """The configured database URL, or that of an embedded Postgres started now."""
        if not self.dsn:
            if self._settings.database_url:
                self.dsn = self._settings.database_url
            else:
                data_dir = self._settings.embedded_data_dir
                self._embedded = (
                    EmbeddedStores(workdir=Path(data_dir)) if data_dir else EmbeddedStores()
                )
                self.dsn = self._embedded.postgres_dsn()
                log.warning("no database configured: using an embedded Postgres")
        return self.dsn

    async def open(self) -> None:
        timeout_ms = int(self._settings.statement_timeout_seconds * 1000)
        self._pool = await asyncpg.create_pool(
            self.resolve_dsn(),
            min_size=min(self._settings.pool_min_size, self._settings.pool_max_size),
            max_size=self._settings.pool_max_size,
            server_settings={
                "statement_timeout": str(timeout_ms),
                "application_name": "tollgate-budget-ledger",
            },
            reset=_keep_session,
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self._embedded is not None:
            self._embedded.close()
            self._embedded = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise unavailable("the budget ledger's database pool is not open")
        return self._pool


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Return a connection to the pool as it is, without asyncpg's reset query.

    The default reset (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL) is one more round trip
    per group commit. The ledger's pooled connections never carry session state: locks are
    transaction-scoped (`pg_advisory_xact_lock`, FOR UPDATE), no statement SETs a session
    variable or DECLAREs a cursor, and LISTEN and the migration lock use connections of their
    own. An open transaction is still rolled back by the pool before this is called.
    """


async def in_transaction(
    pool: asyncpg.Pool, work: Callable[[asyncpg.Connection], Awaitable[T]]
) -> T:
    """Run `work` in one READ COMMITTED transaction, retrying deadlocks and serialization failures.

    `work` must do nothing outside the transaction that cannot be repeated.
    """
    for attempt in range(1, _MAX_ATTEMPTS + 1):
        try:
            async with pool.acquire() as conn, conn.transaction():
                # The pool hands out proxies that behave as connections.
                return await work(cast(asyncpg.Connection, conn))
        except _RETRYABLE as exc:
            if attempt == _MAX_ATTEMPTS:
                raise unavailable(
                    "the budget ledger could not settle a conflicting update; retry the call"
                ) from exc
            log.info("retrying a conflicting transaction", extra={"attempt": attempt})
            await asyncio.sleep(random.uniform(0.005, 0.02) * attempt)
        except asyncpg.QueryCanceledError as exc:
            raise unavailable(
                "the budget ledger's database did not answer in time; retry the call"
            ) from exc
        except (OSError, asyncpg.InterfaceError) as exc:
            # Connection lost mid-transaction: Postgres rolled it back, nothing was written.
            raise unavailable("the budget ledger lost its database connection; retry") from exc
    raise AssertionError("unreachable")


async def fetch_one(conn: asyncpg.Connection, query: str, *args: object) -> asyncpg.Record:
    """The one row `query` must return (a row this transaction created or has locked)."""
    row = await conn.fetchrow(query, *args)
    if row is None:
        raise RuntimeError("a statement that always returns a row returned none")
    return row
