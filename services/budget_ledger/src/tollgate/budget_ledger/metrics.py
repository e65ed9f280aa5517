"""The ledger's own metrics (RPC counts and latencies come from the shared interceptor).

The counters every Reserve and Commit adds to are summed in process and read at collection
(tollgate.common.summed_counter), as the gateway's per-request counters are: a Settle of many
calls costs a dict update per call, not an SDK measurement.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from opentelemetry import metrics

from tollgate.common.summed_counter import SummedCounter


@dataclass(frozen=True)
class LedgerMetrics:
    reservations: SummedCounter
    reserved_micros: SummedCounter
    committed_micros: SummedCounter
    over_hold_commits: SummedCounter
    holds_expired: metrics.Counter
    holds_charged_on_expiry: metrics.Counter
    alerts: metrics.Counter
    batch_calls: metrics.Histogram


@cache
def ledger_metrics() -> LedgerMetrics:
    return build_ledger_metrics(metrics.get_meter("tollgate"))


def build_ledger_metrics(meter: metrics.Meter) -> LedgerMetrics:
    return LedgerMetrics(
        reservations=SummedCounter(
            meter,
            "tollgate_budget_reservations",
            description="Reservations by outcome: granted, denied or replayed",
        ),
        reserved_micros=SummedCounter(
            meter, "tollgate_budget_reserved_micros", description="Amounts held"
        ),
        committed_micros=SummedCounter(
            meter, "tollgate_budget_committed_micros", description="Amounts posted"
        ),
        over_hold_commits=SummedCounter(
            meter,
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
