"""A Message Batch is paid for whether or not its results are read: its budget hold is charged
(not released) when it expires, by the ledger alone, even with the gateway gone; a batch read
in time is charged its actual cost once, however often it is read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import anthropic
import asyncpg
import pytest

from tests.conftest import API_KEY, FullSuite
from tests.e2e.conftest import set_acme_budget

MODEL = "claude-sonnet-5-5"
# Long enough for a batch to end and be read, short enough to wait out in a test.
HOLD_SECONDS = 3.0


@pytest.fixture
async def door(
    start_door: Callable[..., AbstractAsyncContextManager[FullSuite]],
) -> AsyncIterator[tuple[FullSuite, str]]:
    async with start_door(batch_hold_ttl_seconds=HOLD_SECONDS) as suite:
        yield suite, suite.http_url


@pytest.fixture
async def db(postgres_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(postgres_dsn)
    try:
        yield conn
    finally:
        await conn.close()


async def _batch(base_url: str) -> str:
    client = anthropic.AsyncAnthropic(base_url=base_url, api_key=API_KEY, max_retries=0)
    batch = await client.messages.batches.create(
        requests=[
            {
                "custom_id": f"q{i}",
                "params": {
                    "model": MODEL,
                    "max_tokens": 300,
                    "messages": [{"role": "user", "content": f"Question number {i}?"}],
                },
            }
            for i in range(3)
        ]
    )
    for _ in range(200):
        if (await client.messages.batches.retrieve(batch.id)).processing_status == "ended":
            return batch.id
        await asyncio.sleep(0.05)
    raise AssertionError(f"batch {batch.id} did not end")


async def _hold_settled(db: asyncpg.Connection) -> asyncpg.Record:
    """The tenant's one batch hold, once the ledger settled it."""
    for _ in range(200):
        hold = await db.fetchrow(
            "SELECT request_id, amount_micros, status FROM holds "
            "WHERE tenant_id = 'acme' AND charge_on_expiry"
        )
        if hold is not None and hold["status"] != 1:
            return hold
        await asyncio.sleep(0.05)
    raise AssertionError("the batch's hold was never settled")


async def _totals(db: asyncpg.Connection) -> tuple[int, int, int, int]:
    row = await db.fetchrow(
        "SELECT c.spent_micros, c.held_micros, "
        "  (SELECT count(*) FROM ledger_entries WHERE tenant_id = 'acme'), "
        "  (SELECT COALESCE(sum(cost_micros), 0) FROM ledger_entries WHERE tenant_id = 'acme') "
        "FROM budget_counters c JOIN budgets b ON b.id = c.budget_id WHERE b.tenant_id = 'acme'"
    )
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


async def test_a_batch_never_read_is_charged_its_hold_when_it_expires_with_the_gateway_gone(
    door: tuple[FullSuite, str], db: asyncpg.Connection
) -> None:
    suite, base_url = door
    await set_acme_budget(suite, 10_000_000)
    await _batch(base_url)
    # Nobody reads the results, and the gateway that made the hold stops for good.
    await suite.gateway.stop(grace=0.5)

    hold = await _hold_settled(db)
    assert hold["status"] == 2, "the unread batch's hold was released: its cost was lost"
    amount = int(hold["amount_micros"])
    assert amount > 0
    assert await _totals(db) == (amount, 0, 1, amount)
    entry = await db.fetchrow(
        "SELECT charged_on_expiry, held_micros FROM ledger_entries WHERE request_id = $1",
        hold["request_id"],
    )
    assert (entry["charged_on_expiry"], entry["held_micros"]) == (True, amount)


async def test_a_batch_read_in_time_is_charged_its_actual_cost_once(
    door: tuple[FullSuite, str], db: asyncpg.Connection
) -> None:
    suite, base_url = door
    await set_acme_budget(suite, 10_000_000)
    batch_id = await _batch(base_url)
    client = anthropic.AsyncAnthropic(base_url=base_url, api_key=API_KEY, max_retries=0)
    for _ in range(2):  # read twice: charged once
        results = [entry async for entry in await client.messages.batches.results(batch_id)]
        assert [entry.result.type for entry in results] == ["succeeded"] * 3
        await suite.settled()
    hold = await _hold_settled(db)
    assert hold["status"] == 2
    spent, held, entries, total = await _totals(db)
    assert (held, entries) == (0, 1)
    # The actual cost, below the hold (the batch's most), and never the hold on top of it.
    assert 0 < spent == total < int(hold["amount_micros"])
    # Past the hold's expiry the sweeper leaves the committed batch alone.
    await asyncio.sleep(HOLD_SECONDS + 1.0)
    assert await _totals(db) == (spent, 0, 1, total)
    assert not await db.fetchval(
        "SELECT charged_on_expiry FROM ledger_entries WHERE tenant_id = 'acme'"
    )
