"""A short run of the fault harness (the long one, every fault, is `make faults`): the ledger's
database goes down under load; the gateway keeps answering what it can (cache hits), answers
again once it is back, and the ledger ends exact: every answer returned is charged, nothing
else, and no hold is left open.
"""

from __future__ import annotations

from pathlib import Path

from tests.faults.harness import run_all


async def test_ledger_stays_exact_through_a_database_outage(
    tmp_path: Path, redis_url: str, postgres_server_dsn: str
) -> None:
    results = await run_all(
        tmp_path,
        redis_url,
        postgres_server_dsn,
        only=["postgres down"],
        semantic=False,
        workers=4,
        before=0.5,
        during=1.5,
        after=2.0,
    )
    assert [r.name for r in results] == ["postgres down"]
    for result in results:
        assert result.total > 0, result.name
        # Something was answered and charged before, during or after the fault ...
        assert result.returned_micros > 0, result.name
        # ... and the ledger holds exactly that, with nothing left held.
        assert result.committed_micros == result.returned_micros, result.name
        assert result.held_micros == 0, result.name
        # Service came back: answers again after the heal.
        assert result.succeeded_after_heal > 0, result.name
