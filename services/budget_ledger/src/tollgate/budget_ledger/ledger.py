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
        return _expect(await self._submit(request), ReserveResult)

    async def commit(self, request: CommitInput) -> CommitResult:
        return _expect(await self._submit(request), CommitResult)

    async def release(self, request: ReleaseInput) -> ReleaseResult:
        return _expect(await self._submit(request), ReleaseResult)

    async def settle_all(self, calls: Sequence[Call]) -> list[Outcome | BaseException]:
        """Settle calls sent together (one Settle RPC): they are queued at once, so they share
        the next group commit. Each gets its own outcome — a refusal is a ServiceError among
        them — or the exception its batch failed with; none is raised."""
        outcomes = await self._committer.submit_all(calls)
        for call, outcome in zip(calls, outcomes, strict=True):
            _count(call, outcome)
        return outcomes

    async def _submit(self, call: Call) -> Outcome | Exception:
        try:
            outcome = await self._committer.submit(call)
        except ServiceError as error:
            outcome = error
        _count(call, outcome)
        return outcome

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


# The counters' attribute sets, built once.
_DENIED = {"outcome": "denied"}
_GRANTED = {"outcome": "granted"}
_REPLAYED = {"outcome": "replayed"}
_LATE = {"late": "true"}
_ON_TIME = {"late": "false"}


def _count(call: Call, outcome: Outcome | BaseException) -> None:
    """Add one settled call to the ledger's counters (sums read at collection: see metrics.py)."""
    metrics = ledger_metrics()
    if isinstance(outcome, ServiceError):
        if outcome.reason == "BUDGET_EXHAUSTED":
            metrics.reservations.add(1, _DENIED)
    elif isinstance(outcome, ReserveResult) and isinstance(call, ReserveInput):
        if outcome.replayed:
            metrics.reservations.add(1, _REPLAYED)
        else:
            metrics.reservations.add(1, _GRANTED)
            metrics.reserved_micros.add(call.micros, {})
    elif (
        isinstance(outcome, CommitResult) and isinstance(call, CommitInput) and not outcome.replayed
    ):
        metrics.committed_micros.add(call.actual_micros, {})
        if outcome.over_hold:
            metrics.over_hold_commits.add(1, _LATE if outcome.late else _ON_TIME)


T = TypeVar("T")


def _expect(outcome: Outcome | BaseException, kind: type[T]) -> T:
    if isinstance(outcome, BaseException):
        raise outcome
    if not isinstance(outcome, kind):  # pragma: no cover - settle answers each call in kind
        raise TypeError(f"expected {kind.__name__}, got {type(outcome).__name__}")
    return outcome
