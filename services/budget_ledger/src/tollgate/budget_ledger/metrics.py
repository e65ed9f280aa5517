"""The ledger's own metrics (RPC counts and latencies come from the shared interceptor)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from opentelemetry import metrics


@dataclass(frozen=True)
class LedgerMetrics:
    reservations: metrics.Counter
    reserved_micros: metrics.Counter
    committed_micros: metrics.Counter
    over_hold_commits: metrics.Counter
    holds_expired: metrics.Counter
    holds_charged_on_expiry: metrics.Counter
    alerts: metrics.Counter
    batch_calls: metrics.Histogram


@cache
def ledger_metrics() -> LedgerMetrics:
    meter = metrics.get_meter("tollgate")
    return LedgerMetrics(
        reservations=meter.create_counter(
            "tollgate_budget_reservations",
            description="Reservations by outcome: granted, denied or replayed",
        ),
        reserved_micros=meter.create_counter(
            "tollgate_budget_reserved_micros", description="Amounts held"
        ),
        committed_micros=meter.create_counter(
            "tollgate_budget_committed_micros", description="Amounts posted"
        ),
        over_hold_commits=meter.create_counter(
            "tollgate_budget_over_hold_commits",
            description="Commits whose actual cost was above the hold, or had no live hold",
        ),
        holds_expired=meter.create_counter(
            "tollgate_budget_holds_expired",
            description="Expired holds the sweeper settled (released, or charged)",
        ),
        holds_charged_on_expiry=meter.create_counter(
            "tollgate_budget_holds_charged_on_expiry",
            description="Expired holds the sweeper charged in full (Message Batches never read)",
        ),
        alerts=meter.create_counter(
            "tollgate_budget_alerts",
            description="Budget alerts raised, by scope kind, period and threshold",
        ),
        batch_calls=meter.create_histogram(
            "tollgate_budget_batch_calls",
            description="Reserve, Commit and Release calls settled per group-commit transaction",
        ),
    )
