"""`python -m tollgate.budget_ledger wait-for-schema`, the ledger pods' init container: it returns
once the migration Job has built the schema, and says why when it gives up."""

from __future__ import annotations

import asyncio

from tollgate.budget_ledger.__main__ import _schema_ready
from tollgate.budget_ledger.migrate import apply_migrations


async def test_it_waits_until_the_migrations_are_applied(postgres_dsn: str) -> None:
    waiting = asyncio.create_task(_schema_ready(postgres_dsn, timeout=60))
    await asyncio.sleep(0.5)
    assert not waiting.done()
    await apply_migrations(postgres_dsn)
    assert await asyncio.wait_for(waiting, 10) == ""


async def test_it_gives_up_with_the_reason(postgres_dsn: str) -> None:
    reason = await _schema_ready(postgres_dsn, timeout=0)
    assert "lacks migrations" in reason


async def test_an_unreachable_database_is_a_reason_not_a_crash() -> None:
    reason = await _schema_ready("postgresql://postgres@127.0.0.1:9/none", timeout=0)
    assert reason
