"""Conversions to tollgate.v1 messages: timestamps as protobuf's own conversion gives them, and
budget states that share a cached part without sharing each other's values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from tollgate.budget_ledger import convert
from tollgate.budget_ledger.model import BudgetDefinition, Counter, Period, Scope, ScopeKind


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2026, 12, 6, 9, 1, 2, 345678, tzinfo=UTC),
        datetime(2026, 12, 6, 9, 1, 2, 345678),  # naive: read as UTC
        datetime(2026, 12, 6, 9, 1, 2, 1, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_timestamps_match_protobufs_conversion(value: datetime) -> None:
    expected = Timestamp()
    expected.FromDatetime(value)
    assert convert.timestamp(value) == expected


def _counter(spent: int, *, limit: int = 1_000_000, end: datetime | None = None) -> Counter:
    return Counter(
        budget_id=7,
        budget=BudgetDefinition(
            Scope(ScopeKind.API_KEY, "acme", "crm-web"), Period.MONTH, limit, 500, (50, 80, 100)
        ),
        period_start=datetime(2026, 12, 1, tzinfo=UTC),
        period_end=end,
        spent_micros=spent,
        held_micros=10,
        spent_tokens=3,
        held_tokens=4,
        override_micros=20,
    )


def test_budget_states_carry_their_own_values_and_share_nothing() -> None:
    end = datetime(2027, 1, 1, tzinfo=UTC)
    first = convert.budget_state(_counter(100, end=end))
    # An answer's state is its own: changing it changes no later answer.
    first.budget.alert_thresholds_percent.append(99)
    first.budget.scope.tenant_id = "other"
    first.period_start.seconds = 0
    second = convert.budget_state(_counter(200, end=end))
    assert second.spent_micros == 200
    assert list(second.budget.alert_thresholds_percent) == [50, 80, 100]
    assert second.budget.scope.tenant_id == "acme"
    assert second.budget.scope.subject_id == "crm-web"
    assert (second.budget.limit_micros, second.budget.limit_tokens) == (1_000_000, 500)
    assert second.period_start == convert.timestamp(datetime(2026, 12, 1, tzinfo=UTC))
    assert second.period_end == convert.timestamp(end)
    assert second.remaining_micros == 1_000_000 + 20 - 200 - 10
    assert (second.held_micros, second.spent_tokens, second.held_tokens) == (10, 3, 4)
    # Another limit, or no period end, is another budget state.
    other = convert.budget_state(_counter(200, limit=5_000))
    assert other.budget.limit_micros == 5_000
    assert not other.HasField("period_end")
