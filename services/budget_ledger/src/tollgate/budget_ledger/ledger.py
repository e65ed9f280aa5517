"""Reserve, Commit and Release: the hold life cycle, exact under concurrency and idempotent.

Calls are grouped (group_commit.py): those that arrive while a transaction is in flight are
settled together in the next one (settlement.py), which locks every hold and counter they touch
in one global order, decides each call in arrival order against the locked totals, and writes
the accepted ones at once. Exactness is the same as one transaction per call — every decision
sees the committed totals plus the earlier calls of its batch — but a hot tenant's counter row
is locked once per batch instead of once per call.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TypeVar

import asyncpg

from tollgate.budget_ledger.alerts import AlertRaiser
from tollgate.budget_ledger.database import Database, in_transaction
from tollgate.budget_ledger.metrics import ledger_metrics
from tollgate.budget_ledger.settlement import (
    BatchResult,
    Call,
    CommitResult,
    Outcome,
    ReleaseResult,
    ReserveResult,
    settle,
)
from tollgate.budget_ledger.validation import CommitInput, ReleaseInput, ReserveInput
from tollgate.common.errors import ServiceError
from tollgate.common.group_commit import GroupCommitter

__all__ = ["CommitResult", "Ledger", "ReleaseResult", "ReserveResult"]

log = logging.getLogger("tollgate.budget_ledger.ledger")


class Ledger:
    def __init__(
        self, database: Database, alerts: AlertRaiser, *, max_batch: int = 256, workers: int = 2
    ) -> None:
        self._database = database
        self._alerts = alerts
        self._committer: GroupCommitter[Call, Outcome | Exception] = GroupCommitter(
            self._settle_isolated, max_batch=max_batch, workers=workers
        )

    async def stop(self) -> None:
        """Settle the calls already queued; used at shutdown before the pool closes."""
        await self._committer.stop()

    async def reserve(self, request: ReserveInput) -> ReserveResult:
        try:
            result = _expect(await self._committer.submit(request), ReserveResult)
        except ServiceError as error:
            if error.reason == "BUDGET_EXHAUSTED":
                ledger_metrics().reservations.add(1, {"outcome": "denied"})
            raise
        outcome = "replayed" if result.replayed else "granted"
        ledger_metrics().reservations.add(1, {"outcome": outcome})
        if not result.replayed:
            ledger_metrics().reserved_micros.add(request.micros)
        return result

    async def commit(self, request: CommitInput) -> CommitResult:
        result = _expect(await self._committer.submit(request), CommitResult)
        if not result.replayed:
            metrics = ledger_metrics()
            metrics.committed_micros.add(request.actual_micros)
            if result.over_hold:
                metrics.over_hold_commits.add(1, {"late": str(result.late).lower()})
        return result

    async def release(self, request: ReleaseInput) -> ReleaseResult:
        return _expect(await self._committer.submit(request), ReleaseResult)

    async def _settle_isolated(self, calls: Sequence[Call]) -> list[Outcome | Exception]:
        """Settle a batch; if it fails unexpectedly, settle each call alone, so that a call the
        ledger cannot handle fails only its own caller, never the others that shared its batch.

        The database being away (UNAVAILABLE) is every call's failure: it is raised to all.
        """
        try:
            return list(await self._settle(calls))
        except ServiceError:
            raise
        except Exception:
            if len(calls) == 1:
                raise
            log.exception("a batch of %d calls failed; settling each alone", len(calls))
        outcomes: list[Outcome | Exception] = []
        for call in calls:
            try:
                outcomes.extend(await self._settle([call]))
            except Exception as exc:  # this call's own failure, raised to its caller only
                outcomes.append(exc)
        return outcomes

    async def _settle(self, calls: Sequence[Call]) -> list[Outcome]:
        async def work(conn: asyncpg.Connection) -> BatchResult:
            return await settle(conn, calls, self._alerts)

        result = await in_transaction(self._database.pool, work)
        raised = result.raised
        self._alerts.remember(raised)
        ledger_metrics().batch_calls.record(len(calls))
        return result.outcomes


T = TypeVar("T")


def _expect(outcome: Outcome | Exception, kind: type[T]) -> T:
    if isinstance(outcome, Exception):
        raise outcome
    if not isinstance(outcome, kind):  # pragma: no cover - settle answers each call in kind
        raise TypeError(f"expected {kind.__name__}, got {type(outcome).__name__}")
    return outcome
