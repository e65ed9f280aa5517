import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from tollgate.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ScopeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCOPE_KIND_UNSPECIFIED: _ClassVar[ScopeKind]
    SCOPE_KIND_TENANT: _ClassVar[ScopeKind]
    SCOPE_KIND_API_KEY: _ClassVar[ScopeKind]
    SCOPE_KIND_CONTACT: _ClassVar[ScopeKind]

class HoldStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOLD_STATUS_UNSPECIFIED: _ClassVar[HoldStatus]
    HOLD_STATUS_HELD: _ClassVar[HoldStatus]
    HOLD_STATUS_COMMITTED: _ClassVar[HoldStatus]
    HOLD_STATUS_RELEASED: _ClassVar[HoldStatus]
    HOLD_STATUS_EXPIRED: _ClassVar[HoldStatus]

class ReserveOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESERVE_OUTCOME_UNSPECIFIED: _ClassVar[ReserveOutcome]
    RESERVE_OUTCOME_RESERVED: _ClassVar[ReserveOutcome]
    RESERVE_OUTCOME_ALREADY_HELD: _ClassVar[ReserveOutcome]
    RESERVE_OUTCOME_ALREADY_COMMITTED: _ClassVar[ReserveOutcome]
    RESERVE_OUTCOME_ALREADY_RELEASED: _ClassVar[ReserveOutcome]

class BudgetPeriod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BUDGET_PERIOD_UNSPECIFIED: _ClassVar[BudgetPeriod]
    BUDGET_PERIOD_DAY: _ClassVar[BudgetPeriod]
    BUDGET_PERIOD_MONTH: _ClassVar[BudgetPeriod]
    BUDGET_PERIOD_TOTAL: _ClassVar[BudgetPeriod]

class UsageDimension(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    USAGE_DIMENSION_UNSPECIFIED: _ClassVar[UsageDimension]
    USAGE_DIMENSION_API_KEY: _ClassVar[UsageDimension]
    USAGE_DIMENSION_CONTACT: _ClassVar[UsageDimension]
    USAGE_DIMENSION_MODEL: _ClassVar[UsageDimension]
    USAGE_DIMENSION_TASK: _ClassVar[UsageDimension]
    USAGE_DIMENSION_DAY: _ClassVar[UsageDimension]
    USAGE_DIMENSION_CACHE_STATUS: _ClassVar[UsageDimension]
    USAGE_DIMENSION_HOUR: _ClassVar[UsageDimension]
    USAGE_DIMENSION_MINUTE: _ClassVar[UsageDimension]

class ApiKeyRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    API_KEY_ROLE_UNSPECIFIED: _ClassVar[ApiKeyRole]
    API_KEY_ROLE_APP: _ClassVar[ApiKeyRole]
    API_KEY_ROLE_ADMIN: _ClassVar[ApiKeyRole]
    API_KEY_ROLE_OPERATOR: _ClassVar[ApiKeyRole]
SCOPE_KIND_UNSPECIFIED: ScopeKind
SCOPE_KIND_TENANT: ScopeKind
SCOPE_KIND_API_KEY: ScopeKind
SCOPE_KIND_CONTACT: ScopeKind
HOLD_STATUS_UNSPECIFIED: HoldStatus
HOLD_STATUS_HELD: HoldStatus
HOLD_STATUS_COMMITTED: HoldStatus
HOLD_STATUS_RELEASED: HoldStatus
HOLD_STATUS_EXPIRED: HoldStatus
RESERVE_OUTCOME_UNSPECIFIED: ReserveOutcome
RESERVE_OUTCOME_RESERVED: ReserveOutcome
RESERVE_OUTCOME_ALREADY_HELD: ReserveOutcome
RESERVE_OUTCOME_ALREADY_COMMITTED: ReserveOutcome
RESERVE_OUTCOME_ALREADY_RELEASED: ReserveOutcome
BUDGET_PERIOD_UNSPECIFIED: BudgetPeriod
BUDGET_PERIOD_DAY: BudgetPeriod
BUDGET_PERIOD_MONTH: BudgetPeriod
BUDGET_PERIOD_TOTAL: BudgetPeriod
USAGE_DIMENSION_UNSPECIFIED: UsageDimension
USAGE_DIMENSION_API_KEY: UsageDimension
USAGE_DIMENSION_CONTACT: UsageDimension
USAGE_DIMENSION_MODEL: UsageDimension
USAGE_DIMENSION_TASK: UsageDimension
USAGE_DIMENSION_DAY: UsageDimension
USAGE_DIMENSION_CACHE_STATUS: UsageDimension
USAGE_DIMENSION_HOUR: UsageDimension
USAGE_DIMENSION_MINUTE: UsageDimension
API_KEY_ROLE_UNSPECIFIED: ApiKeyRole
API_KEY_ROLE_APP: ApiKeyRole
API_KEY_ROLE_ADMIN: ApiKeyRole
API_KEY_ROLE_OPERATOR: ApiKeyRole

class BudgetScope(_message.Message):
    __slots__ = ("kind", "tenant_id", "subject_id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    kind: ScopeKind
    tenant_id: str
    subject_id: str
    def __init__(self, kind: _Optional[_Union[ScopeKind, str]] = ..., tenant_id: _Optional[str] = ..., subject_id: _Optional[str] = ...) -> None: ...

class Budget(_message.Message):
    __slots__ = ("scope", "period", "limit_micros", "limit_tokens", "alert_thresholds_percent")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    LIMIT_MICROS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    ALERT_THRESHOLDS_PERCENT_FIELD_NUMBER: _ClassVar[int]
    scope: BudgetScope
    period: BudgetPeriod
    limit_micros: int
    limit_tokens: int
    alert_thresholds_percent: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, scope: _Optional[_Union[BudgetScope, _Mapping]] = ..., period: _Optional[_Union[BudgetPeriod, str]] = ..., limit_micros: _Optional[int] = ..., limit_tokens: _Optional[int] = ..., alert_thresholds_percent: _Optional[_Iterable[int]] = ...) -> None: ...

class BudgetState(_message.Message):
    __slots__ = ("budget", "period_start", "period_end", "spent_micros", "held_micros", "override_micros", "remaining_micros", "spent_tokens", "held_tokens")
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    SPENT_MICROS_FIELD_NUMBER: _ClassVar[int]
    HELD_MICROS_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_MICROS_FIELD_NUMBER: _ClassVar[int]
    REMAINING_MICROS_FIELD_NUMBER: _ClassVar[int]
    SPENT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    HELD_TOKENS_FIELD_NUMBER: _ClassVar[int]
    budget: Budget
    period_start: _timestamp_pb2.Timestamp
    period_end: _timestamp_pb2.Timestamp
    spent_micros: int
    held_micros: int
    override_micros: int
    remaining_micros: int
    spent_tokens: int
    held_tokens: int
    def __init__(self, budget: _Optional[_Union[Budget, _Mapping]] = ..., period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., spent_micros: _Optional[int] = ..., held_micros: _Optional[int] = ..., override_micros: _Optional[int] = ..., remaining_micros: _Optional[int] = ..., spent_tokens: _Optional[int] = ..., held_tokens: _Optional[int] = ...) -> None: ...

class UsageRecord(_message.Message):
    __slots__ = ("model", "task", "usage", "cost", "baseline_cost_micros", "cache_status", "optimizations")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    BASELINE_COST_MICROS_FIELD_NUMBER: _ClassVar[int]
    CACHE_STATUS_FIELD_NUMBER: _ClassVar[int]
    OPTIMIZATIONS_FIELD_NUMBER: _ClassVar[int]
    model: str
    task: _common_pb2.TaskType
    usage: _common_pb2.Usage
    cost: _common_pb2.Cost
    baseline_cost_micros: int
    cache_status: _common_pb2.CacheStatus
    optimizations: _containers.RepeatedCompositeFieldContainer[_common_pb2.OptimizationReport]
    def __init__(self, model: _Optional[str] = ..., task: _Optional[_Union[_common_pb2.TaskType, str]] = ..., usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ..., cost: _Optional[_Union[_common_pb2.Cost, _Mapping]] = ..., baseline_cost_micros: _Optional[int] = ..., cache_status: _Optional[_Union[_common_pb2.CacheStatus, str]] = ..., optimizations: _Optional[_Iterable[_Union[_common_pb2.OptimizationReport, _Mapping]]] = ...) -> None: ...

class ReserveRequest(_message.Message):
    __slots__ = ("context", "amount_micros", "tokens", "hold_ttl", "charge_on_expiry")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MICROS_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    HOLD_TTL_FIELD_NUMBER: _ClassVar[int]
    CHARGE_ON_EXPIRY_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    amount_micros: int
    tokens: int
    hold_ttl: _duration_pb2.Duration
    charge_on_expiry: bool
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., amount_micros: _Optional[int] = ..., tokens: _Optional[int] = ..., hold_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., charge_on_expiry: _Optional[bool] = ...) -> None: ...

class ReserveResponse(_message.Message):
    __slots__ = ("hold_id", "expires_at", "states", "replayed", "status", "outcome")
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    expires_at: _timestamp_pb2.Timestamp
    states: _containers.RepeatedCompositeFieldContainer[BudgetState]
    replayed: bool
    status: HoldStatus
    outcome: ReserveOutcome
    def __init__(self, hold_id: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., states: _Optional[_Iterable[_Union[BudgetState, _Mapping]]] = ..., replayed: _Optional[bool] = ..., status: _Optional[_Union[HoldStatus, str]] = ..., outcome: _Optional[_Union[ReserveOutcome, str]] = ...) -> None: ...

class CommitRequest(_message.Message):
    __slots__ = ("context", "actual_micros", "actual_tokens", "record")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_MICROS_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    actual_micros: int
    actual_tokens: int
    record: UsageRecord
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., actual_micros: _Optional[int] = ..., actual_tokens: _Optional[int] = ..., record: _Optional[_Union[UsageRecord, _Mapping]] = ...) -> None: ...

class CommitResponse(_message.Message):
    __slots__ = ("entry_id", "over_hold", "replayed", "states", "late", "held_micros")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    OVER_HOLD_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    LATE_FIELD_NUMBER: _ClassVar[int]
    HELD_MICROS_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    over_hold: bool
    replayed: bool
    states: _containers.RepeatedCompositeFieldContainer[BudgetState]
    late: bool
    held_micros: int
    def __init__(self, entry_id: _Optional[str] = ..., over_hold: _Optional[bool] = ..., replayed: _Optional[bool] = ..., states: _Optional[_Iterable[_Union[BudgetState, _Mapping]]] = ..., late: _Optional[bool] = ..., held_micros: _Optional[int] = ...) -> None: ...

class ReleaseRequest(_message.Message):
    __slots__ = ("context",)
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ...) -> None: ...

class ReleaseResponse(_message.Message):
    __slots__ = ("released", "status")
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    released: bool
    status: HoldStatus
    def __init__(self, released: _Optional[bool] = ..., status: _Optional[_Union[HoldStatus, str]] = ...) -> None: ...

class LedgerCall(_message.Message):
    __slots__ = ("reserve", "commit", "release")
    RESERVE_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    reserve: ReserveRequest
    commit: CommitRequest
    release: ReleaseRequest
    def __init__(self, reserve: _Optional[_Union[ReserveRequest, _Mapping]] = ..., commit: _Optional[_Union[CommitRequest, _Mapping]] = ..., release: _Optional[_Union[ReleaseRequest, _Mapping]] = ...) -> None: ...

class LedgerCallError(_message.Message):
    __slots__ = ("code", "message", "reason", "metadata", "fields")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    reason: str
    metadata: _containers.ScalarMap[str, str]
    fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ..., reason: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., fields: _Optional[_Iterable[str]] = ...) -> None: ...

class LedgerCallResult(_message.Message):
    __slots__ = ("reserve", "commit", "release", "error")
    RESERVE_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    reserve: ReserveResponse
    commit: CommitResponse
    release: ReleaseResponse
    error: LedgerCallError
    def __init__(self, reserve: _Optional[_Union[ReserveResponse, _Mapping]] = ..., commit: _Optional[_Union[CommitResponse, _Mapping]] = ..., release: _Optional[_Union[ReleaseResponse, _Mapping]] = ..., error: _Optional[_Union[LedgerCallError, _Mapping]] = ...) -> None: ...

class SettleRequest(_message.Message):
    __slots__ = ("calls",)
    CALLS_FIELD_NUMBER: _ClassVar[int]
    calls: _containers.RepeatedCompositeFieldContainer[LedgerCall]
    def __init__(self, calls: _Optional[_Iterable[_Union[LedgerCall, _Mapping]]] = ...) -> None: ...

class SettleResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[LedgerCallResult]
    def __init__(self, results: _Optional[_Iterable[_Union[LedgerCallResult, _Mapping]]] = ...) -> None: ...

class RecordUsageRequest(_message.Message):
    __slots__ = ("context", "record")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    record: UsageRecord
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., record: _Optional[_Union[UsageRecord, _Mapping]] = ...) -> None: ...

class RecordUsageResponse(_message.Message):
    __slots__ = ("entry_id",)
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    def __init__(self, entry_id: _Optional[str] = ...) -> None: ...

class ListBudgetStatesRequest(_message.Message):
    __slots__ = ("tenant_id",)
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    def __init__(self, tenant_id: _Optional[str] = ...) -> None: ...

class ListBudgetStatesResponse(_message.Message):
    __slots__ = ("states",)
    STATES_FIELD_NUMBER: _ClassVar[int]
    states: _containers.RepeatedCompositeFieldContainer[BudgetState]
    def __init__(self, states: _Optional[_Iterable[_Union[BudgetState, _Mapping]]] = ...) -> None: ...

class UpsertBudgetRequest(_message.Message):
    __slots__ = ("budget", "actor")
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    budget: Budget
    actor: str
    def __init__(self, budget: _Optional[_Union[Budget, _Mapping]] = ..., actor: _Optional[str] = ...) -> None: ...

class UpsertBudgetResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: BudgetState
    def __init__(self, state: _Optional[_Union[BudgetState, _Mapping]] = ...) -> None: ...

class BudgetOverride(_message.Message):
    __slots__ = ("id", "scope", "period", "extra_micros", "reason", "actor", "expires_at", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    EXTRA_MICROS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    scope: BudgetScope
    period: BudgetPeriod
    extra_micros: int
    reason: str
    actor: str
    expires_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., scope: _Optional[_Union[BudgetScope, _Mapping]] = ..., period: _Optional[_Union[BudgetPeriod, str]] = ..., extra_micros: _Optional[int] = ..., reason: _Optional[str] = ..., actor: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GrantOverrideRequest(_message.Message):
    __slots__ = ("override",)
    OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    override: BudgetOverride
    def __init__(self, override: _Optional[_Union[BudgetOverride, _Mapping]] = ...) -> None: ...

class GrantOverrideResponse(_message.Message):
    __slots__ = ("override",)
    OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    override: BudgetOverride
    def __init__(self, override: _Optional[_Union[BudgetOverride, _Mapping]] = ...) -> None: ...

class BudgetAlert(_message.Message):
    __slots__ = ("id", "scope", "period", "threshold_percent", "spent_micros", "limit_micros", "at")
    ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_PERCENT_FIELD_NUMBER: _ClassVar[int]
    SPENT_MICROS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_MICROS_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    scope: BudgetScope
    period: BudgetPeriod
    threshold_percent: int
    spent_micros: int
    limit_micros: int
    at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., scope: _Optional[_Union[BudgetScope, _Mapping]] = ..., period: _Optional[_Union[BudgetPeriod, str]] = ..., threshold_percent: _Optional[int] = ..., spent_micros: _Optional[int] = ..., limit_micros: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListAlertsRequest(_message.Message):
    __slots__ = ("tenant_id", "since")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    since: _timestamp_pb2.Timestamp
    def __init__(self, tenant_id: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListAlertsResponse(_message.Message):
    __slots__ = ("alerts",)
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[BudgetAlert]
    def __init__(self, alerts: _Optional[_Iterable[_Union[BudgetAlert, _Mapping]]] = ...) -> None: ...

class StreamAlertsRequest(_message.Message):
    __slots__ = ("tenant_id",)
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    def __init__(self, tenant_id: _Optional[str] = ...) -> None: ...

class StreamAlertsResponse(_message.Message):
    __slots__ = ("alert",)
    ALERT_FIELD_NUMBER: _ClassVar[int]
    alert: BudgetAlert
    def __init__(self, alert: _Optional[_Union[BudgetAlert, _Mapping]] = ...) -> None: ...

class UsageRow(_message.Message):
    __slots__ = ("group", "requests", "input_tokens", "output_tokens", "cost_micros", "baseline_cost_micros", "saved_micros")
    class GroupEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    GROUP_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_MICROS_FIELD_NUMBER: _ClassVar[int]
    BASELINE_COST_MICROS_FIELD_NUMBER: _ClassVar[int]
    SAVED_MICROS_FIELD_NUMBER: _ClassVar[int]
    group: _containers.ScalarMap[str, str]
    requests: int
    input_tokens: int
    output_tokens: int
    cost_micros: int
    baseline_cost_micros: int
    saved_micros: int
    def __init__(self, group: _Optional[_Mapping[str, str]] = ..., requests: _Optional[int] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cost_micros: _Optional[int] = ..., baseline_cost_micros: _Optional[int] = ..., saved_micros: _Optional[int] = ...) -> None: ...

class OptimizationSavings(_message.Message):
    __slots__ = ("optimization", "requests_applied", "tokens_saved", "micros_saved", "shadow_requests", "shadow_micros_saved")
    OPTIMIZATION_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_APPLIED_FIELD_NUMBER: _ClassVar[int]
    TOKENS_SAVED_FIELD_NUMBER: _ClassVar[int]
    MICROS_SAVED_FIELD_NUMBER: _ClassVar[int]
    SHADOW_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    SHADOW_MICROS_SAVED_FIELD_NUMBER: _ClassVar[int]
    optimization: str
    requests_applied: int
    tokens_saved: int
    micros_saved: int
    shadow_requests: int
    shadow_micros_saved: int
    def __init__(self, optimization: _Optional[str] = ..., requests_applied: _Optional[int] = ..., tokens_saved: _Optional[int] = ..., micros_saved: _Optional[int] = ..., shadow_requests: _Optional[int] = ..., shadow_micros_saved: _Optional[int] = ...) -> None: ...

class UsageReport(_message.Message):
    __slots__ = ("tenant_id", "to", "rows", "totals", "savings_by_optimization", "truncated")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    SAVINGS_BY_OPTIMIZATION_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    to: _timestamp_pb2.Timestamp
    rows: _containers.RepeatedCompositeFieldContainer[UsageRow]
    totals: UsageRow
    savings_by_optimization: _containers.RepeatedCompositeFieldContainer[OptimizationSavings]
    truncated: bool
    def __init__(self, tenant_id: _Optional[str] = ..., to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., rows: _Optional[_Iterable[_Union[UsageRow, _Mapping]]] = ..., totals: _Optional[_Union[UsageRow, _Mapping]] = ..., savings_by_optimization: _Optional[_Iterable[_Union[OptimizationSavings, _Mapping]]] = ..., truncated: _Optional[bool] = ..., **kwargs) -> None: ...

class QueryUsageRequest(_message.Message):
    __slots__ = ("tenant_id", "to", "group_by")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    to: _timestamp_pb2.Timestamp
    group_by: _containers.RepeatedScalarFieldContainer[UsageDimension]
    def __init__(self, tenant_id: _Optional[str] = ..., to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., group_by: _Optional[_Iterable[_Union[UsageDimension, str]]] = ..., **kwargs) -> None: ...

class QueryUsageResponse(_message.Message):
    __slots__ = ("report",)
    REPORT_FIELD_NUMBER: _ClassVar[int]
    report: UsageReport
    def __init__(self, report: _Optional[_Union[UsageReport, _Mapping]] = ...) -> None: ...

class ApiKeyLimits(_message.Message):
    __slots__ = ("requests_per_minute", "tokens_per_minute", "budget_micros", "budget_period", "allowed_models", "allowed_tasks")
    REQUESTS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    BUDGET_MICROS_FIELD_NUMBER: _ClassVar[int]
    BUDGET_PERIOD_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_MODELS_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_TASKS_FIELD_NUMBER: _ClassVar[int]
    requests_per_minute: int
    tokens_per_minute: int
    budget_micros: int
    budget_period: BudgetPeriod
    allowed_models: _containers.RepeatedScalarFieldContainer[str]
    allowed_tasks: _containers.RepeatedScalarFieldContainer[_common_pb2.TaskType]
    def __init__(self, requests_per_minute: _Optional[int] = ..., tokens_per_minute: _Optional[int] = ..., budget_micros: _Optional[int] = ..., budget_period: _Optional[_Union[BudgetPeriod, str]] = ..., allowed_models: _Optional[_Iterable[str]] = ..., allowed_tasks: _Optional[_Iterable[_Union[_common_pb2.TaskType, str]]] = ...) -> None: ...

class ManagedApiKey(_message.Message):
    __slots__ = ("id", "tenant_id", "name", "role", "created_at", "expires_at", "revoked_at", "limits", "revision", "created_by", "rotated_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    ROTATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant_id: str
    name: str
    role: ApiKeyRole
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    revoked_at: _timestamp_pb2.Timestamp
    limits: ApiKeyLimits
    revision: int
    created_by: str
    rotated_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., name: _Optional[str] = ..., role: _Optional[_Union[ApiKeyRole, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., limits: _Optional[_Union[ApiKeyLimits, _Mapping]] = ..., revision: _Optional[int] = ..., created_by: _Optional[str] = ..., rotated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ApiKeyChange(_message.Message):
    __slots__ = ("key", "secret_sha256", "previous_secret_sha256", "previous_valid_until")
    KEY_FIELD_NUMBER: _ClassVar[int]
    SECRET_SHA256_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_SECRET_SHA256_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    key: ManagedApiKey
    secret_sha256: str
    previous_secret_sha256: str
    previous_valid_until: _timestamp_pb2.Timestamp
    def __init__(self, key: _Optional[_Union[ManagedApiKey, _Mapping]] = ..., secret_sha256: _Optional[str] = ..., previous_secret_sha256: _Optional[str] = ..., previous_valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StoreApiKeyRequest(_message.Message):
    __slots__ = ("tenant_id", "name", "role", "expires_at", "limits", "secret_sha256", "actor")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    SECRET_SHA256_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    name: str
    role: ApiKeyRole
    expires_at: _timestamp_pb2.Timestamp
    limits: ApiKeyLimits
    secret_sha256: str
    actor: str
    def __init__(self, tenant_id: _Optional[str] = ..., name: _Optional[str] = ..., role: _Optional[_Union[ApiKeyRole, str]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., limits: _Optional[_Union[ApiKeyLimits, _Mapping]] = ..., secret_sha256: _Optional[str] = ..., actor: _Optional[str] = ...) -> None: ...

class StoreApiKeyResponse(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: ManagedApiKey
    def __init__(self, key: _Optional[_Union[ManagedApiKey, _Mapping]] = ...) -> None: ...

class ListStoredApiKeysRequest(_message.Message):
    __slots__ = ("tenant_id", "include_revoked")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_REVOKED_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    include_revoked: bool
    def __init__(self, tenant_id: _Optional[str] = ..., include_revoked: _Optional[bool] = ...) -> None: ...

class ListStoredApiKeysResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[ManagedApiKey]
    def __init__(self, keys: _Optional[_Iterable[_Union[ManagedApiKey, _Mapping]]] = ...) -> None: ...

class RevokeStoredApiKeyRequest(_message.Message):
    __slots__ = ("tenant_id", "key_id", "actor", "actor_is_operator")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTOR_IS_OPERATOR_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    key_id: str
    actor: str
    actor_is_operator: bool
    def __init__(self, tenant_id: _Optional[str] = ..., key_id: _Optional[str] = ..., actor: _Optional[str] = ..., actor_is_operator: _Optional[bool] = ...) -> None: ...

class RevokeStoredApiKeyResponse(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: ManagedApiKey
    def __init__(self, key: _Optional[_Union[ManagedApiKey, _Mapping]] = ...) -> None: ...

class RotateStoredApiKeyRequest(_message.Message):
    __slots__ = ("tenant_id", "key_id", "secret_sha256", "grace", "actor", "actor_is_operator")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SECRET_SHA256_FIELD_NUMBER: _ClassVar[int]
    GRACE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTOR_IS_OPERATOR_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    key_id: str
    secret_sha256: str
    grace: _duration_pb2.Duration
    actor: str
    actor_is_operator: bool
    def __init__(self, tenant_id: _Optional[str] = ..., key_id: _Optional[str] = ..., secret_sha256: _Optional[str] = ..., grace: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., actor: _Optional[str] = ..., actor_is_operator: _Optional[bool] = ...) -> None: ...

class RotateStoredApiKeyResponse(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: ManagedApiKey
    def __init__(self, key: _Optional[_Union[ManagedApiKey, _Mapping]] = ...) -> None: ...

class ListApiKeyChangesRequest(_message.Message):
    __slots__ = ("since_revision", "limit")
    SINCE_REVISION_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    since_revision: int
    limit: int
    def __init__(self, since_revision: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ListApiKeyChangesResponse(_message.Message):
    __slots__ = ("changes", "revision", "has_more")
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[ApiKeyChange]
    revision: int
    has_more: bool
    def __init__(self, changes: _Optional[_Iterable[_Union[ApiKeyChange, _Mapping]]] = ..., revision: _Optional[int] = ..., has_more: _Optional[bool] = ...) -> None: ...
