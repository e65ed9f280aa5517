"""Reserve, Commit and Release: the hold life cycle, exact under concurrency and idempotent.

Reserve locks this period's counter of every budget the request falls under (tenant, api key,
contact; day, month, total) in one global order, checks that the amount fits all of them, then
raises their held totals and records the hold, all in one transaction. Commit and Release lock
the hold row first, then the counters it was charged against, so a hold is settled exactly once
whichever replica, retry or sweeper gets there first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
import grpc

from tollgate.budget_ledger import counters as counter_store
from tollgate.budget_ledger import entries
from tollgate.budget_ledger.alerts import AlertRaiser, RaisedAlerts
from tollgate.budget_ledger.database import Database, in_transaction
from tollgate.budget_ledger.metrics import ledger_metrics
from tollgate.budget_ledger.model import Counter, HoldStatus, Requester
from tollgate.budget_ledger.validation import CommitInput, ReserveInput
from tollgate.common.errors import ServiceError, failed_precondition, resource_exhausted

_CREATE_HOLD = """
    INSERT INTO holds (tenant_id, request_id, api_key_id, contact_id, amount_micros, tokens,
                       status, expires_at, settled_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7::smallint, now() + make_interval(secs => $8),
            CASE WHEN $7::smallint = 1 THEN NULL ELSE now() END)
    RETURNING expires_at
"""

# One round trip while the counters are locked: record the hold, link it to its counters and
# raise their held totals. A request id that already holds inserts nothing and returns no row.
_PLACE_HOLD = """
    WITH hold AS (
      INSERT INTO holds (tenant_id, request_id, api_key_id, contact_id, amount_micros, tokens,
                         status, expires_at)
      VALUES ($1, $2, $3, $4, $5, $6, 1, now() + make_interval(secs => $7))
      ON CONFLICT (tenant_id, request_id) DO NOTHING
      RETURNING expires_at
    ), linked AS (
      INSERT INTO hold_counters (tenant_id, request_id, budget_id, period_start)
      SELECT $1, $2, k.budget_id, k.period_start
      FROM unnest($8::bigint[], $9::timestamptz[]) AS k(budget_id, period_start), hold
    ), raised AS (
      UPDATE budget_counters c
      SET held_micros = c.held_micros + $5, held_tokens = c.held_tokens + $6
      FROM unnest($8::bigint[], $9::timestamptz[]) AS k(budget_id, period_start), hold
      WHERE c.budget_id = k.budget_id AND c.period_start = k.period_start
    )
    SELECT expires_at FROM hold
"""

_LINK_COUNTERS = """
    INSERT INTO hold_counters (tenant_id, request_id, budget_id, period_start)
    SELECT $1, $2, k.budget_id, k.period_start
    FROM unnest($3::bigint[], $4::timestamptz[]) AS k(budget_id, period_start)
"""

_LOCK_HOLD = """
    SELECT amount_micros, tokens, status, expires_at FROM holds
    WHERE tenant_id = $1 AND request_id = $2
    FOR UPDATE
"""

_SETTLE_HOLD = """
    UPDATE holds SET status = $3, settled_at = now() WHERE tenant_id = $1 AND request_id = $2
"""


@dataclass(frozen=True)
class Hold:
    amount_micros: int
    tokens: int
    status: HoldStatus
    expires_at: datetime


@dataclass
class ReserveResult:
    hold_id: str
    expires_at: datetime
    status: HoldStatus
    replayed: bool
    counters: list[Counter]


@dataclass
class CommitResult:
    entry_id: str
    over_hold: bool
    late: bool
    replayed: bool
    counters: list[Counter]
    raised: RaisedAlerts = field(default_factory=lambda: RaisedAlerts([], []))


@dataclass(frozen=True)
class ReleaseResult:
    released: bool
    status: HoldStatus | None


class Ledger:
    def __init__(self, database: Database, alerts: AlertRaiser) -> None:
        self._database = database
        self._alerts = alerts

    async def reserve(self, request: ReserveInput) -> ReserveResult:
        result = await in_transaction(
            self._database.pool, lambda conn: self._reserve(conn, request)
        )
        outcome = "replayed" if result.replayed else "granted"
        ledger_metrics().reservations.add(1, {"outcome": outcome})
        if not result.replayed:
            ledger_metrics().reserved_micros.add(request.micros)
        return result

    async def _reserve(self, conn: asyncpg.Connection, request: ReserveInput) -> ReserveResult:
        who = request.requester
        counters = await counter_store.lock_current(conn, who)
        blocking = next((c for c in counters if not c.fits(request.micros, request.tokens)), None)
        if blocking is not None:
            # A retried Reserve whose first attempt succeeded must not fail now the hold fills it.
            existing = await _lock_hold(conn, who.tenant_id, request.request_id)
            if existing is not None:
                return await _replay_reserve(conn, who, request, existing)
            ledger_metrics().reservations.add(1, {"outcome": "denied"})
            raise _exhausted(blocking, request)
        expires_at = await conn.fetchval(
            _PLACE_HOLD,
            who.tenant_id,
            request.request_id,
            who.api_key_id,
            who.contact_id,
            request.micros,
            request.tokens,
            request.ttl_seconds,
            [c.budget_id for c in counters],
            [c.period_start for c in counters],
        )
        if expires_at is None:
            # This request id already holds (a retry): nothing was written, answer with that hold.
            existing = await _lock_hold(conn, who.tenant_id, request.request_id)
            if existing is None:  # pragma: no cover - the conflicting row is committed
                raise failed_precondition("the conflicting hold vanished; retry the call")
            return await _replay_reserve(conn, who, request, existing)
        for counter in counters:
            counter.held_micros += request.micros
            counter.held_tokens += request.tokens
        return ReserveResult(request.request_id, expires_at, HoldStatus.HELD, False, counters)

    async def commit(self, request: CommitInput) -> CommitResult:
        try:
            result = await in_transaction(
                self._database.pool, lambda conn: self._commit(conn, request)
            )
        except asyncpg.UniqueViolationError:
            # Two unheld commits of one request id raced; the other posted it: replay that.
            result = await in_transaction(
                self._database.pool, lambda conn: self._commit(conn, request)
            )
        self._alerts.remember(result.raised)
        if not result.replayed:
            metrics = ledger_metrics()
            metrics.committed_micros.add(request.actual_micros)
            if result.over_hold:
                metrics.over_hold_commits.add(1, {"late": str(result.late).lower()})
            for alert in result.raised.alerts:
                metrics.alerts.add(
                    1,
                    {
                        "scope_kind": alert.scope.kind.name.lower(),
                        "period": alert.period.label,
                        "threshold_percent": str(alert.threshold_percent),
                    },
                )
        return result

    async def _commit(self, conn: asyncpg.Connection, request: CommitInput) -> CommitResult:
        who = request.requester
        hold = await _lock_hold(conn, who.tenant_id, request.request_id)
        if hold is not None and hold.status is HoldStatus.COMMITTED:
            posted = await entries.find(conn, who.tenant_id, request.request_id)
            if posted is None:  # pragma: no cover - hold and entry are written together
                raise failed_precondition("the hold is committed but its entry is missing")
            counters = await counter_store.lock_of_hold(conn, who.tenant_id, request.request_id)
            return CommitResult(posted.public_id, posted.over_hold, posted.late, True, counters)
        # Settle the hold and post the entry first: the counters, which every request of the
        # tenant contends for, are then locked only for the final update.
        if hold is None:
            # No hold at all (e.g. the gateway reserved nothing while the ledger was down): the
            # charge is still posted against this period's budgets of the request's scopes.
            await conn.execute(
                _CREATE_HOLD,
                who.tenant_id,
                request.request_id,
                who.api_key_id,
                who.contact_id,
                0,
                0,
                int(HoldStatus.COMMITTED),
                0.0,
            )
            held_micros, held_tokens, late = 0, 0, True
        else:
            live = hold.status is HoldStatus.HELD
            held_micros = hold.amount_micros if live else 0
            held_tokens = hold.tokens if live else 0
            late = not live
            await conn.execute(
                _SETTLE_HOLD, who.tenant_id, request.request_id, int(HoldStatus.COMMITTED)
            )
        over_hold = request.actual_micros > held_micros
        new_id = await entries.post(
            conn,
            entries.NewEntry(
                requester=who,
                request_id=request.request_id,
                kind="commit",
                held_micros=held_micros,
                cost_micros=request.actual_micros,
                tokens=request.actual_tokens,
                record=request.record,
                over_hold=over_hold,
                late=late,
            ),
        )
        if new_id is None:
            raise failed_precondition(
                f"request id {request.request_id!r} was already recorded as a free request by "
                "RecordUsage; a charge needs its own request id."
            )
        if hold is None:
            counters = await counter_store.lock_current(conn, who)
            await _link(conn, who.tenant_id, request.request_id, counters)
        else:
            counters = await counter_store.lock_of_hold(conn, who.tenant_id, request.request_id)
        await counter_store.apply_deltas(
            conn,
            counters,
            spent_micros=request.actual_micros,
            held_micros=-held_micros,
            spent_tokens=request.actual_tokens,
            held_tokens=-held_tokens,
        )
        raised = await self._alerts.raise_crossed(conn, counters)
        return CommitResult(entries.entry_id(new_id), over_hold, late, False, counters, raised)

    async def release(self, requester: Requester, request_id: str) -> ReleaseResult:
        async def work(conn: asyncpg.Connection) -> ReleaseResult:
            hold = await _lock_hold(conn, requester.tenant_id, request_id)
            if hold is None:
                return ReleaseResult(False, None)
            if hold.status is HoldStatus.COMMITTED:
                return ReleaseResult(False, hold.status)
            if hold.status is not HoldStatus.HELD:
                return ReleaseResult(True, hold.status)
            counters = await counter_store.lock_of_hold(conn, requester.tenant_id, request_id)
            await counter_store.apply_deltas(
                conn, counters, held_micros=-hold.amount_micros, held_tokens=-hold.tokens
            )
            await conn.execute(
                _SETTLE_HOLD, requester.tenant_id, request_id, int(HoldStatus.RELEASED)
            )
            return ReleaseResult(True, HoldStatus.RELEASED)

        return await in_transaction(self._database.pool, work)


async def _lock_hold(conn: asyncpg.Connection, tenant_id: str, request_id: str) -> Hold | None:
    row = await conn.fetchrow(_LOCK_HOLD, tenant_id, request_id)
    if row is None:
        return None
    return Hold(
        int(row["amount_micros"]), int(row["tokens"]), HoldStatus(row["status"]), row["expires_at"]
    )


async def _link(
    conn: asyncpg.Connection, tenant_id: str, request_id: str, counters: list[Counter]
) -> None:
    if counters:
        await conn.execute(
            _LINK_COUNTERS,
            tenant_id,
            request_id,
            [c.budget_id for c in counters],
            [c.period_start for c in counters],
        )


async def _replay_reserve(
    conn: asyncpg.Connection, who: Requester, request: ReserveInput, hold: Hold
) -> ReserveResult:
    if hold.amount_micros != request.micros or hold.tokens != request.tokens:
        raise ServiceError(
            f"request id {request.request_id!r} already reserved {hold.amount_micros} "
            f"micro-dollars and {hold.tokens} tokens; a hold cannot be changed, use a new "
            "request id.",
            grpc.StatusCode.ALREADY_EXISTS,
        )
    counters = await counter_store.lock_of_hold(conn, who.tenant_id, request.request_id)
    return ReserveResult(request.request_id, hold.expires_at, hold.status, True, counters)


def _exhausted(counter: Counter, request: ReserveInput) -> ServiceError:
    budget = counter.budget
    period = budget.period.label
    if counter.spent_micros + counter.held_micros + request.micros > counter.effective_limit_micros:
        message = (
            f"The {period} budget of {budget.scope.describe()} has {counter.remaining_micros} "
            f"micro-dollars left of {counter.effective_limit_micros}; this request needs "
            f"{request.micros}."
        )
    else:
        left = max(budget.limit_tokens - counter.spent_tokens - counter.held_tokens, 0)
        message = (
            f"The {period} token budget of {budget.scope.describe()} has {left} tokens left "
            f"of {budget.limit_tokens}; this request needs {request.tokens}."
        )
    error = resource_exhausted(
        message,
        scope_kind=budget.scope.kind.name.lower(),
        tenant_id=budget.scope.tenant_id,
        subject_id=budget.scope.subject_id,
        period=period,
        period_end=counter.period_end.isoformat() if counter.period_end else "",
        limit_micros=str(budget.limit_micros),
        override_micros=str(counter.override_micros),
        spent_micros=str(counter.spent_micros),
        held_micros=str(counter.held_micros),
        remaining_micros=str(counter.remaining_micros),
        requested_micros=str(request.micros),
        limit_tokens=str(budget.limit_tokens),
        spent_tokens=str(counter.spent_tokens),
        held_tokens=str(counter.held_tokens),
        requested_tokens=str(request.tokens),
    )
    error.reason = "BUDGET_EXHAUSTED"
    return error
