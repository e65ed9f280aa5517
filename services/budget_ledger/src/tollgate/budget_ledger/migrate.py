"""Versioned schema migrations: numbered SQL files shipped in the package, applied in order.

Each file `NNNN_name.sql` runs in its own transaction together with its row in
`schema_migrations`, so a migration is either fully applied or not at all. A session advisory
lock serialises runners: many replicas starting at once apply each migration exactly once, and
the others wait, then find nothing left to do. An applied file whose text changed is refused
rather than silently diverging from the database.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

log = logging.getLogger("tollgate.budget_ledger.migrate")

# Arbitrary but fixed: every ledger process contends for the same advisory lock.
MIGRATION_LOCK_KEY = 0x7011_6A7E_1ED6_E701

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(RuntimeError):
    """The database's schema cannot be brought to, or does not match, this build's."""


def bundled_migrations() -> list[Migration]:
    """The migrations shipped with this package, in version order."""
    found: list[Migration] = []
    for entry in resources.files("tollgate.budget_ledger.migrations").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version: {versions}")
    return found


async def apply_migrations(dsn: str) -> list[int]:
    """Apply every pending migration; returns the versions this call applied."""
    migrations = bundled_migrations()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        try:
            await conn.execute(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                  version integer PRIMARY KEY,
                  name text NOT NULL,
                  checksum text NOT NULL,
                  applied_at timestamptz NOT NULL DEFAULT now()
                )
                """
            )
            applied = await _applied_checksums(conn)
            _check_applied_match(migrations, applied)
            done: list[int] = []
            for migration in migrations:
                if migration.version in applied:
                    continue
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum)"
                        " VALUES ($1, $2, $3)",
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
                log.info(
                    "migration applied",
                    extra={"version": migration.version, "migration": migration.name},
                )
                done.append(migration.version)
            return done
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    finally:
        await conn.close()


async def check_schema(dsn: str) -> None:
    """Raise MigrationError unless every bundled migration is applied, unchanged."""
    migrations = bundled_migrations()
    conn = await asyncpg.connect(dsn)
    try:
        exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
        applied = await _applied_checksums(conn) if exists else {}
    finally:
        await conn.close()
    _check_applied_match(migrations, applied)
    missing = [m.version for m in migrations if m.version not in applied]
    if missing:
        raise MigrationError(
            f"the database lacks migrations {missing}: run `python -m tollgate.budget_ledger "
            "migrate` (or set TOLLGATE_BUDGET_LEDGER_MIGRATE_ON_START=true)"
        )


async def _applied_checksums(conn: asyncpg.Connection) -> dict[int, str]:
    rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
    return {int(row["version"]): str(row["checksum"]) for row in rows}


def _check_applied_match(migrations: list[Migration], applied: dict[int, str]) -> None:
    known = {m.version: m for m in migrations}
    for version, checksum in applied.items():
        migration = known.get(version)
        if migration is None:
            # A newer release migrated first (rolling upgrade, or a rollback): migrations only
            # ever add, so this build still works on the schema.
            log.warning(
                "database has a migration this build does not know", extra={"version": version}
            )
            continue
        if migration.checksum != checksum:
            raise MigrationError(
                f"migration {version} ({migration.name}) changed after it was applied; "
                "add a new migration instead of editing an applied one"
            )
