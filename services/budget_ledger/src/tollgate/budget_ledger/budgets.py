"""Budget administration: define budgets, grant overrides, read states and alerts; all audited.

Every change writes a row to `budget_audit` (who, why, before and after) in the transaction that
makes it, so the audit trail and the budgets can never disagree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from tollgate.budget_ledger.alerts import Alert, AlertRaiser, RaisedAlerts, alert_from_row
from tollgate.budget_ledger.counters import COUNTER_COLUMNS
from tollgate.budget_ledger.database import Database, fetch_one, in_transaction
from tollgate.budget_ledger.model import BudgetDefinition, Counter, Scope
from tollgate.budget_ledger.validation import OverrideInput
from tollgate.common.errors import not_found

_BUDGET_COLUMNS = "id, limit_micros, limit_tokens, alert_thresholds_percent"

_CREATE = f"""
    INSERT INTO budgets (tenant_id, scope_kind, subject_id, period, limit_micros, limit_tokens,
                         alert_thresholds_percent)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (tenant_id, scope_kind, subject_id, period) DO NOTHING
    RETURNING {_BUDGET_COLUMNS}
"""

_LOCK = f"""
    SELECT {_BUDGET_COLUMNS} FROM budgets
    WHERE tenant_id = $1 AND scope_kind = $2 AND subject_id = $3 AND period = $4
    FOR UPDATE
"""

_UPDATE = """
    UPDATE budgets SET limit_micros = $2, limit_tokens = $3, alert_thresholds_percent = $4,
                       updated_at = now()
    WHERE id = $1
"""

_AUDIT = """
    INSERT INTO budget_audit (tenant_id, budget_id, action, actor, reason, before, after)
    VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb)
"""

_ENSURE_COUNTER = """
    INSERT INTO budget_counters (budget_id, period_start, period_end)
    SELECT b.id, s.start, ledger_period_end(b.period, s.start)
    FROM budgets b CROSS JOIN LATERAL (SELECT ledger_period_start(b.period, now()) AS start) s
    WHERE b.id = $1
    ON CONFLICT DO NOTHING
"""

_LOCK_CURRENT_COUNTER = f"""
    SELECT {COUNTER_COLUMNS}
    FROM budgets b
    JOIN budget_counters c
      ON c.budget_id = b.id AND c.period_start = ledger_period_start(b.period, now())
    WHERE b.id = $1
    FOR UPDATE OF c
"""

# States without locking: a report of this period, whether or not anything was spent yet.
_STATES = """
    SELECT b.id AS budget_id, b.tenant_id, b.scope_kind, b.subject_id, b.period,
           b.limit_micros, b.limit_tokens, b.alert_thresholds_percent,
           s.start AS period_start, ledger_period_end(b.period, s.start) AS period_end,
           COALESCE(c.spent_micros, 0) AS spent_micros, COALESCE(c.held_micros, 0) AS held_micros,
           COALESCE(c.spent_tokens, 0) AS spent_tokens, COALESCE(c.held_tokens, 0) AS held_tokens,
           COALESCE((SELECT sum(o.extra_micros) FROM budget_overrides o
                     WHERE o.budget_id = b.id AND o.expires_at > now()), 0)::bigint
             AS override_micros
    FROM budgets b
    CROSS JOIN LATERAL (SELECT ledger_period_start(b.period, now()) AS start) s
    LEFT JOIN budget_counters c ON c.budget_id = b.id AND c.period_start = s.start
    WHERE b.tenant_id = $1
    ORDER BY b.scope_kind, b.subject_id, b.period
"""

_GRANT = """
    INSERT INTO budget_overrides (budget_id, extra_micros, reason, actor, expires_at)
    VALUES ($1, $2, $3, $4, $5)
    RETURNING id, created_at
"""

_FIND_BUDGET_ID = """
    SELECT id FROM budgets
    WHERE tenant_id = $1 AND scope_kind = $2 AND subject_id = $3 AND period = $4
"""

_ALERTS = """
    SELECT a.id, a.tenant_id, b.scope_kind, b.subject_id, b.period, a.period_start,
           a.threshold_percent, a.spent_micros, a.limit_micros, a.created_at
    FROM budget_alerts a JOIN budgets b ON b.id = a.budget_id
    WHERE a.tenant_id = $1 AND a.created_at >= $2
    ORDER BY a.created_at, a.id
    LIMIT $3
"""

MAX_ALERTS_LISTED = 1000


@dataclass(frozen=True)
class GrantedOverride:
    id: str
    created_at: datetime


class BudgetAdmin:
    def __init__(self, database: Database, alerts: AlertRaiser) -> None:
        self._database = database
        self._alerts = alerts

    async def upsert(self, budget: BudgetDefinition, actor: str) -> Counter:
        """Create or change a budget; returns its state in the current period."""

        async def work(conn: asyncpg.Connection) -> tuple[Counter, RaisedAlerts]:
            return await self.upsert_in(conn, budget, actor)

        counter, raised = await in_transaction(self._database.pool, work)
        self._alerts.remember(raised)
        return counter

    async def upsert_in(
        self, conn: asyncpg.Connection, budget: BudgetDefinition, actor: str
    ) -> tuple[Counter, RaisedAlerts]:
        """`upsert` inside the caller's transaction (a new API key creates its budget with it);
        the caller passes the raised alerts to `self.remember` once the transaction commits."""
        scope = budget.scope
        key = (scope.tenant_id, int(scope.kind), scope.subject_id, int(budget.period))
        values = (budget.limit_micros, budget.limit_tokens, list(budget.alert_thresholds_percent))
        created = await conn.fetchrow(_CREATE, *key, *values)
        if created is not None:
            budget_id, action, before = int(created["id"]), "budget_created", None
        else:
            existing = await fetch_one(conn, _LOCK, *key)
            budget_id, action = int(existing["id"]), "budget_updated"
            before = _budget_json(existing)
            await conn.execute(_UPDATE, budget_id, *values)
        after = {
            "limit_micros": budget.limit_micros,
            "limit_tokens": budget.limit_tokens,
            "alert_thresholds_percent": list(budget.alert_thresholds_percent),
        }
        await conn.execute(
            _AUDIT,
            scope.tenant_id,
            budget_id,
            action,
            actor,
            "",
            json.dumps(before) if before is not None else None,
            json.dumps({"scope": _scope_json(scope), "period": budget.period.label, **after}),
        )
        await conn.execute(_ENSURE_COUNTER, budget_id)
        counter = Counter.from_row(await fetch_one(conn, _LOCK_CURRENT_COUNTER, budget_id))
        # A lowered limit may put spending past thresholds without any new commit.
        raised = await self._alerts.raise_crossed(conn, [counter])
        return counter, raised

    def remember(self, raised: RaisedAlerts) -> None:
        self._alerts.remember(raised)

    async def grant_override(self, grant: OverrideInput) -> GrantedOverride:
        scope = grant.scope

        async def work(conn: asyncpg.Connection) -> GrantedOverride:
            budget_id = await conn.fetchval(
                _FIND_BUDGET_ID,
                scope.tenant_id,
                int(scope.kind),
                scope.subject_id,
                int(grant.period),
            )
            if budget_id is None:
                raise not_found(
                    f"{scope.describe()} has no {grant.period.label} budget to raise; "
                    "create it with UpsertBudget first."
                )
            row = await fetch_one(
                conn,
                _GRANT,
                budget_id,
                grant.extra_micros,
                grant.reason,
                grant.actor,
                grant.expires_at,
            )
            override_id = f"ov_{row['id']}"
            await conn.execute(
                _AUDIT,
                scope.tenant_id,
                budget_id,
                "override_granted",
                grant.actor,
                grant.reason,
                None,
                json.dumps(
                    {
                        "override_id": override_id,
                        "scope": _scope_json(scope),
                        "period": grant.period.label,
                        "extra_micros": grant.extra_micros,
                        "expires_at": grant.expires_at.isoformat(),
                    }
                ),
            )
            return GrantedOverride(override_id, row["created_at"])

        return await in_transaction(self._database.pool, work)

    async def states(self, tenant_id: str) -> list[Counter]:
        async with self._database.pool.acquire() as conn:
            rows = await conn.fetch(_STATES, tenant_id)
        return [Counter.from_row(row) for row in rows]

    async def alerts(self, tenant_id: str, since: datetime) -> list[Alert]:
        async with self._database.pool.acquire() as conn:
            rows = await conn.fetch(_ALERTS, tenant_id, since, MAX_ALERTS_LISTED)
        return [alert_from_row(row) for row in rows]


def _scope_json(scope: Scope) -> dict[str, str]:
    return {
        "kind": scope.kind.name.lower(),
        "tenant_id": scope.tenant_id,
        "subject_id": scope.subject_id,
    }


def _budget_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "limit_micros": int(row["limit_micros"]),
        "limit_tokens": int(row["limit_tokens"]),
        "alert_thresholds_percent": list(row["alert_thresholds_percent"]),
    }
