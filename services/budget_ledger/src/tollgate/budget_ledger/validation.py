"""Turning requests into checked values, or INVALID_ARGUMENT with a sentence naming the field.

Every RPC validates fully before it touches the database, so bad input never half-writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from tollgate.budget_ledger.model import BudgetDefinition, Period, Requester, Scope, ScopeKind
from tollgate.budget_ledger.settings import Settings
from tollgate.common.errors import invalid_argument
from tollgate.v1 import budget_ledger_pb2 as pb
from tollgate.v1 import common_pb2

MAX_ID_LENGTH = 256
# Checked on every id of every call: one regular-expression scan, not a loop per character.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f]")
_TASKS = frozenset(common_pb2.TaskType.values())
_CACHE_STATUSES = frozenset(common_pb2.CacheStatus.values())
_FLAG_MODES = frozenset(common_pb2.FlagMode.values())
MAX_TEXT_LENGTH = 2000
MAX_THRESHOLD_PERCENT = 1000
MAX_THRESHOLDS = 32
MAX_OPTIMIZATIONS = 64
# A billion dollars in micro-dollars, and a trillion tokens: far above any real amount, and low
# enough that sums of many of them stay inside Postgres' bigint (no overflow reaches a caller as
# INTERNAL).
MAX_MICROS = 10**15
MAX_TOKENS = 10**12
DEFAULT_REPORT_WINDOW = timedelta(days=30)
# The range google.protobuf.Timestamp allows (0001-01-01 to 9999-12-31, UTC), and Duration's.
_MIN_TIMESTAMP_SECONDS = -62_135_596_800
_MAX_TIMESTAMP_SECONDS = 253_402_300_799
_MAX_DURATION_SECONDS = 315_576_000_000
_NANOS_PER_SECOND = 1_000_000_000


@dataclass(frozen=True)
class ReserveInput:
    requester: Requester
    request_id: str
    micros: int
    tokens: int
    ttl_seconds: float
    # Charged its amount, not released, if it expires unsettled (see sweeper.py).
    charge_on_expiry: bool = False


@dataclass(frozen=True)
class CommitInput:
    requester: Requester
    request_id: str
    actual_micros: int
    actual_tokens: int
    record: pb.UsageRecord


@dataclass(frozen=True)
class ReleaseInput:
    requester: Requester
    request_id: str


@dataclass(frozen=True)
class OverrideInput:
    scope: Scope
    period: Period
    extra_micros: int
    reason: str
    actor: str
    expires_at: datetime


@dataclass(frozen=True)
class UsageQuery:
    tenant_id: str
    start: datetime
    end: datetime
    group_by: tuple[int, ...]


def identifier(value: str, field: str, *, required: bool = True) -> str:
    if required and not value:
        raise invalid_argument(f"{field} is required.", field)
    if len(value) > MAX_ID_LENGTH:
        raise invalid_argument(f"{field} is longer than {MAX_ID_LENGTH} characters.", field)
    if _CONTROL_CHARACTER.search(value):
        raise invalid_argument(f"{field} contains control characters.", field)
    return value


def text(value: str, field: str) -> str:
    if not value.strip():
        raise invalid_argument(f"{field} is required.", field)
    if len(value) > MAX_TEXT_LENGTH:
        raise invalid_argument(f"{field} is longer than {MAX_TEXT_LENGTH} characters.", field)
    return value


def non_negative(value: int, field: str, maximum: int = MAX_MICROS) -> int:
    if value < 0:
        raise invalid_argument(f"{field} must not be negative (got {value}).", field)
    if value > maximum:
        raise invalid_argument(f"{field} may be at most {maximum:,} (got {value:,}).", field)
    return value


def timestamp(value: Timestamp, field: str) -> datetime:
    """A Timestamp inside the range protobuf defines, as an aware UTC datetime."""
    if not 0 <= value.nanos < _NANOS_PER_SECOND:
        raise invalid_argument(
            f"{field}.nanos must be from 0 to 999,999,999 (got {value.nanos}).", field
        )
    if not _MIN_TIMESTAMP_SECONDS <= value.seconds <= _MAX_TIMESTAMP_SECONDS:
        raise invalid_argument(
            f"{field}.seconds must be a time between the years 1 and 9999 (got {value.seconds}).",
            field,
        )
    return value.ToDatetime(tzinfo=UTC)


def duration_seconds(value: Duration, field: str) -> float:
    """A Duration inside the range protobuf defines (nanos of the seconds' sign), in seconds."""
    if not -_NANOS_PER_SECOND < value.nanos < _NANOS_PER_SECOND:
        raise invalid_argument(
            f"{field}.nanos must be from -999,999,999 to 999,999,999 (got {value.nanos}).", field
        )
    if (value.seconds > 0 > value.nanos) or (value.seconds < 0 < value.nanos):
        raise invalid_argument(f"{field}.seconds and {field}.nanos must have one sign.", field)
    if abs(value.seconds) > _MAX_DURATION_SECONDS:
        raise invalid_argument(
            f"{field}.seconds must be within about 10,000 years (got {value.seconds}).", field
        )
    return value.seconds + value.nanos / _NANOS_PER_SECOND


def requester(context: common_pb2.RequestContext, field: str = "context") -> tuple[Requester, str]:
    """The scopes a request is charged to, and its request id (the hold id)."""
    tenant = identifier(context.tenant_id, f"{field}.tenant_id")
    request_id = identifier(context.request_id, f"{field}.request_id")
    api_key = identifier(context.api_key_id, f"{field}.api_key_id", required=False)
    contact = identifier(context.contact_id, f"{field}.contact_id", required=False)
    return Requester(tenant, api_key, contact), request_id


def reserve(request: pb.ReserveRequest, settings: Settings) -> ReserveInput:
    who, request_id = requester(request.context)
    if request.amount_micros <= 0:
        raise invalid_argument(
            f"amount_micros must be a positive number of micro-dollars (got "
            f"{request.amount_micros}): reserve the request's maximum cost.",
            "amount_micros",
        )
    amount = non_negative(request.amount_micros, "amount_micros")
    tokens = non_negative(request.tokens, "tokens", MAX_TOKENS)
    ttl = settings.default_hold_ttl_seconds
    if request.HasField("hold_ttl"):
        requested = duration_seconds(request.hold_ttl, "hold_ttl")
        if requested < 0:
            raise invalid_argument("hold_ttl must not be negative.", "hold_ttl")
        if requested > settings.max_hold_ttl_seconds:
            raise invalid_argument(
                f"hold_ttl may be at most {settings.max_hold_ttl_seconds:g} seconds.", "hold_ttl"
            )
        if requested > 0:
            ttl = requested
    return ReserveInput(who, request_id, amount, tokens, ttl, request.charge_on_expiry)


def usage_record(record: pb.UsageRecord, field: str = "record") -> pb.UsageRecord:
    identifier(record.model, f"{field}.model", required=False)
    if record.task not in _TASKS:
        raise invalid_argument(
            f"{field}.task {record.task} is not a known task type.", f"{field}.task"
        )
    if record.cache_status not in _CACHE_STATUSES:
        raise invalid_argument(
            f"{field}.cache_status {record.cache_status} is not known.", f"{field}.cache_status"
        )
    for name in (
        "input_tokens",
        "output_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
        "cache_creation_5m_input_tokens",
        "cache_creation_1h_input_tokens",
    ):
        non_negative(getattr(record.usage, name), f"{field}.usage.{name}", MAX_TOKENS)
    for name in (
        "total_micros",
        "input_micros",
        "output_micros",
        "cache_write_micros",
        "cache_read_micros",
    ):
        non_negative(getattr(record.cost, name), f"{field}.cost.{name}")
    identifier(record.cost.prices_as_of, f"{field}.cost.prices_as_of", required=False)
    non_negative(record.baseline_cost_micros, f"{field}.baseline_cost_micros")
    if len(record.optimizations) > MAX_OPTIMIZATIONS:
        raise invalid_argument(
            f"{field}.optimizations may list at most {MAX_OPTIMIZATIONS} optimizations.",
            f"{field}.optimizations",
        )
    for index, optimization in enumerate(record.optimizations):
        where = f"{field}.optimizations[{index}]"
        identifier(optimization.optimization, f"{where}.optimization")
        if optimization.mode not in _FLAG_MODES:
            raise invalid_argument(f"{where}.mode is not known.", f"{where}.mode")
        non_negative(optimization.tokens_saved, f"{where}.tokens_saved", MAX_TOKENS)
        non_negative(optimization.micros_saved, f"{where}.micros_saved")
        if len(optimization.detail) > MAX_TEXT_LENGTH:
            raise invalid_argument(
                f"{where}.detail is longer than {MAX_TEXT_LENGTH} characters.", f"{where}.detail"
            )
    return record


def commit(request: pb.CommitRequest) -> CommitInput:
    who, request_id = requester(request.context)
    actual = non_negative(request.actual_micros, "actual_micros")
    tokens = non_negative(request.actual_tokens, "actual_tokens", MAX_TOKENS)
    record = usage_record(request.record)
    return CommitInput(who, request_id, actual, tokens, record)


def release(request: pb.ReleaseRequest) -> ReleaseInput:
    who, request_id = requester(request.context)
    return ReleaseInput(who, request_id)


def record_usage(request: pb.RecordUsageRequest) -> tuple[Requester, str, pb.UsageRecord]:
    who, request_id = requester(request.context)
    record = usage_record(request.record)
    if record.cost.total_micros > 0:
        raise invalid_argument(
            "RecordUsage records requests that cost nothing (cache hits); a request that cost "
            f"{record.cost.total_micros} micro-dollars must be reserved and committed.",
            "record.cost.total_micros",
        )
    return who, request_id, record


def scope(value: pb.BudgetScope, field: str = "scope") -> Scope:
    if value.kind not in {k.value for k in ScopeKind}:
        raise invalid_argument(
            f"{field}.kind must be SCOPE_KIND_TENANT, SCOPE_KIND_API_KEY or SCOPE_KIND_CONTACT.",
            f"{field}.kind",
        )
    kind = ScopeKind(value.kind)
    tenant = identifier(value.tenant_id, f"{field}.tenant_id")
    if kind is ScopeKind.TENANT:
        if value.subject_id:
            raise invalid_argument(
                f"{field}.subject_id must be empty for a tenant scope.", f"{field}.subject_id"
            )
        return Scope(kind, tenant)
    subject = identifier(value.subject_id, f"{field}.subject_id")
    return Scope(kind, tenant, subject)


def period(value: int, field: str = "period") -> Period:
    if value not in {p.value for p in Period}:
        raise invalid_argument(
            f"{field} must be BUDGET_PERIOD_DAY, BUDGET_PERIOD_MONTH or BUDGET_PERIOD_TOTAL "
            f"(got {value}).",
            field,
        )
    return Period(value)


def budget(value: pb.Budget, default_thresholds: list[int]) -> BudgetDefinition:
    the_scope = scope(value.scope, "budget.scope")
    the_period = period(value.period, "budget.period")
    limit = non_negative(value.limit_micros, "budget.limit_micros")
    tokens = non_negative(value.limit_tokens, "budget.limit_tokens", MAX_TOKENS)
    if len(value.alert_thresholds_percent) > MAX_THRESHOLDS:
        raise invalid_argument(
            f"budget.alert_thresholds_percent may list at most {MAX_THRESHOLDS} thresholds.",
            "budget.alert_thresholds_percent",
        )
    thresholds = list(value.alert_thresholds_percent) or default_thresholds
    for threshold in thresholds:
        if not 1 <= threshold <= MAX_THRESHOLD_PERCENT:
            raise invalid_argument(
                f"alert thresholds are percentages from 1 to {MAX_THRESHOLD_PERCENT} "
                f"(got {threshold}).",
                "budget.alert_thresholds_percent",
            )
    return BudgetDefinition(the_scope, the_period, limit, tokens, tuple(sorted(set(thresholds))))


def override(value: pb.BudgetOverride, now: datetime) -> OverrideInput:
    if value.id:
        raise invalid_argument(
            "override.id is assigned by the ledger; leave it empty.", "override.id"
        )
    the_scope = scope(value.scope, "override.scope")
    the_period = period(value.period, "override.period")
    if value.extra_micros <= 0:
        raise invalid_argument(
            f"override.extra_micros must be a positive raise (got {value.extra_micros}).",
            "override.extra_micros",
        )
    non_negative(value.extra_micros, "override.extra_micros")
    reason = text(value.reason, "override.reason")
    actor = text(value.actor, "override.actor")
    if not value.HasField("expires_at"):
        raise invalid_argument(
            "override.expires_at is required: overrides are temporary.", "override.expires_at"
        )
    expires = timestamp(value.expires_at, "override.expires_at")
    if expires <= now:
        raise invalid_argument("override.expires_at must be in the future.", "override.expires_at")
    return OverrideInput(the_scope, the_period, value.extra_micros, reason, actor, expires)


def timestamp_or(value: Timestamp, present: bool, default: datetime, field: str) -> datetime:
    return timestamp(value, field) if present else default


def usage_query(request: pb.QueryUsageRequest, now: datetime) -> UsageQuery:
    tenant = identifier(request.tenant_id, "tenant_id")
    end = timestamp_or(request.to, request.HasField("to"), now, "to")
    # The default window never reaches before the first representable time.
    earliest = datetime.min.replace(tzinfo=UTC)
    default_start = max(end, earliest + DEFAULT_REPORT_WINDOW) - DEFAULT_REPORT_WINDOW
    start = timestamp_or(getattr(request, "from"), request.HasField("from"), default_start, "from")
    if start >= end:
        raise invalid_argument("from must be before to.", "from")
    dimensions: list[int] = []
    if len(request.group_by) > len(pb.UsageDimension.values()):
        raise invalid_argument("group_by names more dimensions than there are.", "group_by")
    for value in request.group_by:
        if value == pb.USAGE_DIMENSION_UNSPECIFIED or value not in pb.UsageDimension.values():
            raise invalid_argument(f"group_by has an unknown dimension ({value}).", "group_by")
        if value not in dimensions:
            dimensions.append(value)
    return UsageQuery(tenant, start, end, tuple(dimensions))
