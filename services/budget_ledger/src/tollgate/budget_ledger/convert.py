"""From the ledger's values to tollgate.v1 messages."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import cast

from google.protobuf.timestamp_pb2 import Timestamp

from tollgate.budget_ledger.alerts import Alert
from tollgate.budget_ledger.model import BudgetDefinition, Counter, Scope
from tollgate.budget_ledger.settlement import CommitResult, ReleaseResult, ReserveResult
from tollgate.budget_ledger.usage import UsageReportData, UsageTotals
from tollgate.budget_ledger.validation import UsageQuery
from tollgate.v1 import budget_ledger_pb2 as pb

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(value: datetime) -> Timestamp:
    """As `Timestamp.FromDatetime` (a naive value is UTC), in integer arithmetic: that method
    goes through a struct_time and `calendar.timegm`, several times slower, and every Reserve
    answer carries one."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    return Timestamp(seconds=delta.days * 86_400 + delta.seconds, nanos=delta.microseconds * 1000)


def scope(value: Scope) -> pb.BudgetScope:
    return pb.BudgetScope(
        kind=cast(pb.ScopeKind, int(value.kind)),
        tenant_id=value.tenant_id,
        subject_id=value.subject_id,
    )


def budget_state(counter: Counter) -> pb.BudgetState:
    state = pb.BudgetState(
        spent_micros=counter.spent_micros,
        held_micros=counter.held_micros,
        override_micros=counter.override_micros,
        remaining_micros=counter.remaining_micros,
        spent_tokens=counter.spent_tokens,
        held_tokens=counter.held_tokens,
    )
    state.MergeFrom(_period_part(counter.budget, counter.period_start, counter.period_end))
    return state


@lru_cache(maxsize=4096)
def _period_part(
    budget: BudgetDefinition, period_start: datetime, period_end: datetime | None
) -> pb.BudgetState:
    """The fields of a budget state that only change with the budget or the period, built once
    and merged into each answer (a quarter of the cost of building them every time). Never
    handed out itself: it is shared, and merging copies it."""
    state = pb.BudgetState(
        budget=pb.Budget(
            scope=scope(budget.scope),
            period=cast(pb.BudgetPeriod, int(budget.period)),
            limit_micros=budget.limit_micros,
            limit_tokens=budget.limit_tokens,
            alert_thresholds_percent=list(budget.alert_thresholds_percent),
        ),
        period_start=timestamp(period_start),
    )
    if period_end is not None:
        state.period_end.CopyFrom(timestamp(period_end))
    return state


def budget_states(
    counters: list[Counter], converted: dict[int, pb.BudgetState] | None = None
) -> list[pb.BudgetState]:
    """`converted` (by counter identity) spares converting again a counter that many answers of
    one group commit share: they all report its totals after the batch."""
    if converted is None:
        return [budget_state(c) for c in counters]
    states = []
    for counter in counters:
        state = converted.get(id(counter))
        if state is None:
            state = converted[id(counter)] = budget_state(counter)
        states.append(state)
    return states


def reserve_response(
    result: ReserveResult, converted: dict[int, pb.BudgetState] | None = None
) -> pb.ReserveResponse:
    return pb.ReserveResponse(
        hold_id=result.hold_id,
        expires_at=timestamp(result.expires_at),
        states=budget_states(result.counters, converted),
        replayed=result.replayed,
        status=cast(pb.HoldStatus, int(result.status)),
        outcome=cast(pb.ReserveOutcome, int(result.outcome)),
    )


def commit_response(
    result: CommitResult, converted: dict[int, pb.BudgetState] | None = None
) -> pb.CommitResponse:
    return pb.CommitResponse(
        entry_id=result.entry_id,
        over_hold=result.over_hold,
        replayed=result.replayed,
        states=budget_states(result.counters, converted),
        late=result.late,
        held_micros=result.held_micros,
    )


def release_response(result: ReleaseResult) -> pb.ReleaseResponse:
    status = int(result.status) if result.status is not None else pb.HOLD_STATUS_UNSPECIFIED
    return pb.ReleaseResponse(released=result.released, status=cast(pb.HoldStatus, status))


def alert(value: Alert) -> pb.BudgetAlert:
    return pb.BudgetAlert(
        id=f"al_{value.id}",
        scope=scope(value.scope),
        period=cast(pb.BudgetPeriod, int(value.period)),
        threshold_percent=value.threshold_percent,
        spent_micros=value.spent_micros,
        limit_micros=value.limit_micros,
        at=timestamp(value.at),
    )


def usage_row(group: dict[str, str], totals: UsageTotals) -> pb.UsageRow:
    return pb.UsageRow(
        group=group,
        requests=totals.requests,
        input_tokens=totals.input_tokens,
        output_tokens=totals.output_tokens,
        cost_micros=totals.cost_micros,
        baseline_cost_micros=totals.baseline_cost_micros,
        saved_micros=totals.saved_micros,
    )


def usage_report(query: UsageQuery, data: UsageReportData) -> pb.UsageReport:
    report = pb.UsageReport(
        tenant_id=query.tenant_id,
        to=timestamp(query.end),
        rows=[usage_row(group, totals) for group, totals in data.rows],
        totals=usage_row({}, data.totals),
        savings_by_optimization=data.savings,
        truncated=data.truncated,
    )
    getattr(report, "from").CopyFrom(timestamp(query.start))
    return report
