"""Raising budget alerts inside the transaction that moved a counter.

An alert row is unique per budget, period and threshold, so it is raised once however many
replicas see the crossing. The NOTIFY that carries it to every replica's subscribers is sent in
the same transaction: Postgres delivers it only if, and as soon as, the transaction commits.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from tollgate.budget_ledger.metrics import ledger_metrics
from tollgate.budget_ledger.model import Counter, Period, Scope, ScopeKind

ALERT_CHANNEL = "tollgate_budget_alerts"

_INSERT = """
    INSERT INTO budget_alerts (budget_id, tenant_id, period_start, threshold_percent,
                               spent_micros, limit_micros)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::int[], $5::bigint[],
                         $6::bigint[])
    ON CONFLICT (budget_id, period_start, threshold_percent) DO NOTHING
    RETURNING id, budget_id, period_start, threshold_percent, spent_micros, limit_micros,
              created_at
"""


@dataclass(frozen=True)
class Alert:
    id: int
    scope: Scope
    period: Period
    period_start: datetime
    threshold_percent: int
    spent_micros: int
    limit_micros: int
    at: datetime

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "scope_kind": int(self.scope.kind),
                "tenant_id": self.scope.tenant_id,
                "subject_id": self.scope.subject_id,
                "period": int(self.period),
                "period_start": self.period_start.isoformat(),
                "threshold_percent": self.threshold_percent,
                "spent_micros": self.spent_micros,
                "limit_micros": self.limit_micros,
                "at": self.at.isoformat(),
            }
        )

    @classmethod
    def from_json(cls, payload: str) -> Alert:
        data = json.loads(payload)
        return cls(
            id=int(data["id"]),
            scope=Scope(ScopeKind(data["scope_kind"]), data["tenant_id"], data["subject_id"]),
            period=Period(data["period"]),
            period_start=datetime.fromisoformat(data["period_start"]),
            threshold_percent=int(data["threshold_percent"]),
            spent_micros=int(data["spent_micros"]),
            limit_micros=int(data["limit_micros"]),
            at=datetime.fromisoformat(data["at"]),
        )


def alert_from_row(row: asyncpg.Record) -> Alert:
    """From a budget_alerts row joined with its budget (scope_kind, subject_id, period)."""
    return Alert(
        id=int(row["id"]),
        scope=Scope(ScopeKind(row["scope_kind"]), row["tenant_id"], row["subject_id"]),
        period=Period(row["period"]),
        period_start=row["period_start"],
        threshold_percent=int(row["threshold_percent"]),
        spent_micros=int(row["spent_micros"]),
        limit_micros=int(row["limit_micros"]),
        at=row["created_at"],
    )


def crossed_thresholds(counter: Counter) -> list[int]:
    """Thresholds (percent of the configured limit, overrides aside) that spending has reached."""
    limit = counter.budget.limit_micros
    if limit <= 0:
        return []
    return [
        t
        for t in counter.budget.alert_thresholds_percent
        if counter.spent_micros * 100 >= t * limit
    ]


AlertKey = tuple[int, datetime, int]


@dataclass(frozen=True)
class RaisedAlerts:
    """Alerts a transaction stored and announced, and every threshold it found already stored."""

    alerts: list[Alert]
    settled: list[AlertKey]


class AlertRaiser:
    """Inserts (once) and announces the alerts a set of just-updated counters has reached."""

    def __init__(self, remembered_limit: int = 100_000) -> None:
        # Thresholds this process knows are stored: spares a statement per commit while a budget
        # sits above a threshold. Correctness never depends on it (the unique key does).
        self._known: set[AlertKey] = set()
        self._remembered_limit = remembered_limit

    async def raise_crossed(
        self, conn: asyncpg.Connection, counters: Sequence[Counter]
    ) -> RaisedAlerts:
        """Store and NOTIFY new alerts; hand the result to `remember` after the commit."""
        candidates: list[tuple[Counter, int]] = [
            (counter, threshold)
            for counter in counters
            for threshold in crossed_thresholds(counter)
            if (counter.budget_id, counter.period_start, threshold) not in self._known
        ]
        if not candidates:
            return RaisedAlerts([], [])
        rows = await conn.fetch(
            _INSERT,
            [c.budget_id for c, _ in candidates],
            [c.budget.scope.tenant_id for c, _ in candidates],
            [c.period_start for c, _ in candidates],
            [t for _, t in candidates],
            [c.spent_micros for c, _ in candidates],
            [c.budget.limit_micros for c, _ in candidates],
        )
        by_budget = {c.budget_id: c for c, _ in candidates}
        alerts = [
            Alert(
                id=int(row["id"]),
                scope=by_budget[row["budget_id"]].budget.scope,
                period=by_budget[row["budget_id"]].budget.period,
                period_start=row["period_start"],
                threshold_percent=int(row["threshold_percent"]),
                spent_micros=int(row["spent_micros"]),
                limit_micros=int(row["limit_micros"]),
                at=row["created_at"],
            )
            for row in rows
        ]
        for alert in alerts:
            await conn.execute("SELECT pg_notify($1, $2)", ALERT_CHANNEL, alert.to_json())
        return RaisedAlerts(alerts, [(c.budget_id, c.period_start, t) for c, t in candidates])

    def remember(self, raised: RaisedAlerts) -> None:
        """After the commit: note what is stored, and count the alerts raised."""
        if len(self._known) > self._remembered_limit:
            self._known.clear()
        self._known.update(raised.settled)
        counter = ledger_metrics().alerts
        for alert in raised.alerts:
            counter.add(
                1,
                {
                    "scope_kind": alert.scope.kind.name.lower(),
                    "period": alert.period.label,
                    "threshold_percent": str(alert.threshold_percent),
                },
            )
