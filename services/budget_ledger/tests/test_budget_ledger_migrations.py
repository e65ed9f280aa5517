"""Versioned migrations: applied once however many processes start together; drift refused."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import asyncpg
import pytest

from tollgate.budget_ledger.migrate import (
    MigrationError,
    apply_migrations,
    bundled_migrations,
    check_schema,
)
from tollgate.budget_ledger.service import build_service
from tollgate.common.server import start_server


async def test_concurrent_runners_apply_each_migration_once(postgres_dsn: str) -> None:
    results = await asyncio.gather(*(apply_migrations(postgres_dsn) for _ in range(6)))
    latest = [m.version for m in bundled_migrations()]
    assert sorted(results, key=len, reverse=True) == [latest] + [[]] * 5
    await check_schema(postgres_dsn)


async def test_an_unmigrated_database_is_refused_at_start(postgres_dsn: str, settings_for) -> None:
    with pytest.raises(MigrationError, match="migrate"):
        await check_schema(postgres_dsn)
    settings = settings_for(migrate_on_start=False)
    with pytest.raises(MigrationError):
        await start_server(await build_service(settings), settings)


async def test_an_edited_migration_is_refused(postgres_dsn: str, db) -> None:
    await apply_migrations(postgres_dsn)
    await db.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await check_schema(postgres_dsn)


def test_the_migrate_command(postgres_dsn: str) -> None:
    env = {**os.environ, "TOLLGATE_BUDGET_LEDGER_DATABASE_URL": postgres_dsn}
    command = [sys.executable, "-m", "tollgate.budget_ledger", "migrate"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert f"applied migrations {[m.version for m in bundled_migrations()]}" in first.stdout
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    assert "schema is up to date" in second.stdout


async def test_ledger_entries_are_immutable(ledger, db) -> None:
    await ledger.reserve("req-1", 1_000)
    await ledger.commit("req-1", 900)
    with pytest.raises(asyncpg.RaiseError, match="immutable"):
        await db.execute("UPDATE ledger_entries SET cost_micros = 0")
    with pytest.raises(asyncpg.RaiseError, match="immutable"):
        await db.execute("DELETE FROM ledger_entries")
    assert await db.fetchval("SELECT cost_micros FROM ledger_entries") == 900
