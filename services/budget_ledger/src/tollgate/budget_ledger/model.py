"""The ledger's vocabulary: scopes, periods, hold states and a budget counter as read from a row.

Numeric values match the tollgate.v1 enums and the SMALLINT columns of the schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any

from tollgate.v1 import budget_ledger_pb2 as pb


class ScopeKind(IntEnum):
    TENANT = pb.SCOPE_KIND_TENANT
    API_KEY = pb.SCOPE_KIND_API_KEY
    CONTACT = pb.SCOPE_KIND_CONTACT

    @property
    def label(self) -> str:
        return {ScopeKind.TENANT: "tenant", ScopeKind.API_KEY: "api key"}.get(self, "contact")


class Period(IntEnum):
    DAY = pb.BUDGET_PERIOD_DAY
    MONTH = pb.BUDGET_PERIOD_MONTH
    TOTAL = pb.BUDGET_PERIOD_TOTAL

    @property
    def label(self) -> str:
        return self.name.lower()


class HoldStatus(IntEnum):
    HELD = pb.HOLD_STATUS_HELD
    COMMITTED = pb.HOLD_STATUS_COMMITTED
    RELEASED = pb.HOLD_STATUS_RELEASED
    EXPIRED = pb.HOLD_STATUS_EXPIRED


class ReserveOutcome(IntEnum):
    RESERVED = pb.RESERVE_OUTCOME_RESERVED
    ALREADY_HELD = pb.RESERVE_OUTCOME_ALREADY_HELD
    ALREADY_COMMITTED = pb.RESERVE_OUTCOME_ALREADY_COMMITTED
    ALREADY_RELEASED = pb.RESERVE_OUTCOME_ALREADY_RELEASED


@dataclass(frozen=True)
class Scope:
    kind: ScopeKind
    tenant_id: str
    # The api key id or contact id; "" for the tenant scope.
    subject_id: str = ""

    def describe(self) -> str:
        if self.kind is ScopeKind.TENANT:
            return f"tenant {self.tenant_id!r}"
        return f"{self.kind.label} {self.subject_id!r} of tenant {self.tenant_id!r}"


@dataclass(frozen=True)
class Requester:
    """The scopes one request is charged to: its tenant, and its key and contact when known."""

    tenant_id: str
    api_key_id: str
    contact_id: str


@dataclass(frozen=True)
class BudgetDefinition:
    scope: Scope
    period: Period
    limit_micros: int
    limit_tokens: int
    alert_thresholds_percent: tuple[int, ...]


@dataclass
class Counter:
    """One budget's counter for one period, joined with its budget and the overrides in force."""

    budget_id: int
    budget: BudgetDefinition
    period_start: datetime
    period_end: datetime | None
    spent_micros: int
    held_micros: int
    spent_tokens: int
    held_tokens: int
    override_micros: int

    @property
    def key(self) -> tuple[int, datetime]:
        return (self.budget_id, self.period_start)

    @property
    def effective_limit_micros(self) -> int:
        return self.budget.limit_micros + self.override_micros

    @property
    def remaining_micros(self) -> int:
        return max(self.effective_limit_micros - self.spent_micros - self.held_micros, 0)

    def fits(self, micros: int, tokens: int) -> bool:
        """Whether holding `micros` and `tokens` more keeps spent + held within the limits."""
        if self.spent_micros + self.held_micros + micros > self.effective_limit_micros:
            return False
        limit_tokens = self.budget.limit_tokens
        return not (
            limit_tokens > 0 and self.spent_tokens + self.held_tokens + tokens > limit_tokens
        )

    @classmethod
    def from_row(cls, row: Any) -> Counter:
        """From a row with the columns of COUNTER_COLUMNS (queries.py)."""
        return cls(
            budget_id=int(row["budget_id"]),
            budget=BudgetDefinition(
                scope=Scope(ScopeKind(row["scope_kind"]), row["tenant_id"], row["subject_id"]),
                period=Period(row["period"]),
                limit_micros=int(row["limit_micros"]),
                limit_tokens=int(row["limit_tokens"]),
                alert_thresholds_percent=tuple(row["alert_thresholds_percent"]),
            ),
            period_start=row["period_start"],
            period_end=row["period_end"],
            spent_micros=int(row["spent_micros"]),
            held_micros=int(row["held_micros"]),
            spent_tokens=int(row["spent_tokens"]),
            held_tokens=int(row["held_tokens"]),
            override_micros=int(row["override_micros"]),
        )
