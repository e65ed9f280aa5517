import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from tollgate.v1 import budget_ledger_pb2 as _budget_ledger_pb2
from tollgate.v1 import classification_pb2 as _classification_pb2
from tollgate.v1 import common_pb2 as _common_pb2
from tollgate.v1 import lead_scoring_pb2 as _lead_scoring_pb2
from tollgate.v1 import semantic_cache_pb2 as _semantic_cache_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CacheMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CACHE_MODE_UNSPECIFIED: _ClassVar[CacheMode]
    CACHE_MODE_BYPASS: _ClassVar[CacheMode]
    CACHE_MODE_REFRESH: _ClassVar[CacheMode]
CACHE_MODE_UNSPECIFIED: CacheMode
CACHE_MODE_BYPASS: CacheMode
CACHE_MODE_REFRESH: CacheMode

class Completion(_message.Message):
    __slots__ = ("request", "task", "contact_id", "request_id", "conversation_id", "template_variables", "tags", "cache", "agent_id", "session_id")
    class TemplateVariablesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_VARIABLES_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    request: _common_pb2.ClaudeRequest
    task: _common_pb2.TaskType
    contact_id: str
    request_id: str
    conversation_id: str
    template_variables: _containers.ScalarMap[str, str]
    tags: _containers.RepeatedScalarFieldContainer[str]
    cache: CachePreference
    agent_id: str
    session_id: str
    def __init__(self, request: _Optional[_Union[_common_pb2.ClaudeRequest, _Mapping]] = ..., task: _Optional[_Union[_common_pb2.TaskType, str]] = ..., contact_id: _Optional[str] = ..., request_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., template_variables: _Optional[_Mapping[str, str]] = ..., tags: _Optional[_Iterable[str]] = ..., cache: _Optional[_Union[CachePreference, _Mapping]] = ..., agent_id: _Optional[str] = ..., session_id: _Optional[str] = ...) -> None: ...

class CachePreference(_message.Message):
    __slots__ = ("mode", "ttl", "cache_sampled")
    MODE_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    CACHE_SAMPLED_FIELD_NUMBER: _ClassVar[int]
    mode: CacheMode
    ttl: _duration_pb2.Duration
    cache_sampled: bool
    def __init__(self, mode: _Optional[_Union[CacheMode, str]] = ..., ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., cache_sampled: _Optional[bool] = ...) -> None: ...

class CompleteRequest(_message.Message):
    __slots__ = ("completion",)
    COMPLETION_FIELD_NUMBER: _ClassVar[int]
    completion: Completion
    def __init__(self, completion: _Optional[_Union[Completion, _Mapping]] = ...) -> None: ...

class CompleteResponse(_message.Message):
    __slots__ = ("response", "account")
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    response: _common_pb2.ClaudeResponse
    account: _common_pb2.Account
    def __init__(self, response: _Optional[_Union[_common_pb2.ClaudeResponse, _Mapping]] = ..., account: _Optional[_Union[_common_pb2.Account, _Mapping]] = ...) -> None: ...

class StreamCompleteRequest(_message.Message):
    __slots__ = ("completion",)
    COMPLETION_FIELD_NUMBER: _ClassVar[int]
    completion: Completion
    def __init__(self, completion: _Optional[_Union[Completion, _Mapping]] = ...) -> None: ...

class StreamCompleteResponse(_message.Message):
    __slots__ = ("event", "account")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    event: _common_pb2.StreamEvent
    account: _common_pb2.Account
    def __init__(self, event: _Optional[_Union[_common_pb2.StreamEvent, _Mapping]] = ..., account: _Optional[_Union[_common_pb2.Account, _Mapping]] = ...) -> None: ...

class ScoreLeadRequest(_message.Message):
    __slots__ = ("lead", "with_reasoning", "as_of")
    LEAD_FIELD_NUMBER: _ClassVar[int]
    WITH_REASONING_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    lead: _lead_scoring_pb2.Lead
    with_reasoning: bool
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, lead: _Optional[_Union[_lead_scoring_pb2.Lead, _Mapping]] = ..., with_reasoning: _Optional[bool] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ScoreLeadResponse(_message.Message):
    __slots__ = ("score",)
    SCORE_FIELD_NUMBER: _ClassVar[int]
    score: _lead_scoring_pb2.LeadScore
    def __init__(self, score: _Optional[_Union[_lead_scoring_pb2.LeadScore, _Mapping]] = ...) -> None: ...

class ScoreLeadsRequest(_message.Message):
    __slots__ = ("leads", "with_reasoning", "as_of", "max_concurrency")
    LEADS_FIELD_NUMBER: _ClassVar[int]
    WITH_REASONING_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    leads: _containers.RepeatedCompositeFieldContainer[_lead_scoring_pb2.Lead]
    with_reasoning: bool
    as_of: _timestamp_pb2.Timestamp
    max_concurrency: int
    def __init__(self, leads: _Optional[_Iterable[_Union[_lead_scoring_pb2.Lead, _Mapping]]] = ..., with_reasoning: _Optional[bool] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., max_concurrency: _Optional[int] = ...) -> None: ...

class ScoreLeadsResponse(_message.Message):
    __slots__ = ("index", "score", "error")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    index: int
    score: _lead_scoring_pb2.LeadScore
    error: str
    def __init__(self, index: _Optional[int] = ..., score: _Optional[_Union[_lead_scoring_pb2.LeadScore, _Mapping]] = ..., error: _Optional[str] = ...) -> None: ...

class ClassifyRequest(_message.Message):
    __slots__ = ("instructions", "items", "request_id", "max_items_per_call", "bypass_cache")
    INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_ITEMS_PER_CALL_FIELD_NUMBER: _ClassVar[int]
    BYPASS_CACHE_FIELD_NUMBER: _ClassVar[int]
    instructions: _classification_pb2.ClassificationInstructions
    items: _containers.RepeatedCompositeFieldContainer[_classification_pb2.ClassificationItem]
    request_id: str
    max_items_per_call: int
    bypass_cache: bool
    def __init__(self, instructions: _Optional[_Union[_classification_pb2.ClassificationInstructions, _Mapping]] = ..., items: _Optional[_Iterable[_Union[_classification_pb2.ClassificationItem, _Mapping]]] = ..., request_id: _Optional[str] = ..., max_items_per_call: _Optional[int] = ..., bypass_cache: _Optional[bool] = ...) -> None: ...

class ClassifyResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _classification_pb2.ClassificationResult
    def __init__(self, result: _Optional[_Union[_classification_pb2.ClassificationResult, _Mapping]] = ...) -> None: ...

class GetUsageReportRequest(_message.Message):
    __slots__ = ("tenant_id", "to", "group_by")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    to: _timestamp_pb2.Timestamp
    group_by: _containers.RepeatedScalarFieldContainer[_budget_ledger_pb2.UsageDimension]
    def __init__(self, tenant_id: _Optional[str] = ..., to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., group_by: _Optional[_Iterable[_Union[_budget_ledger_pb2.UsageDimension, str]]] = ..., **kwargs) -> None: ...

class GetUsageReportResponse(_message.Message):
    __slots__ = ("report", "semantic_precision")
    REPORT_FIELD_NUMBER: _ClassVar[int]
    SEMANTIC_PRECISION_FIELD_NUMBER: _ClassVar[int]
    report: _budget_ledger_pb2.UsageReport
    semantic_precision: _containers.RepeatedCompositeFieldContainer[_semantic_cache_pb2.SemanticPrecision]
    def __init__(self, report: _Optional[_Union[_budget_ledger_pb2.UsageReport, _Mapping]] = ..., semantic_precision: _Optional[_Iterable[_Union[_semantic_cache_pb2.SemanticPrecision, _Mapping]]] = ...) -> None: ...

class GetBudgetsRequest(_message.Message):
    __slots__ = ("tenant_id",)
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    def __init__(self, tenant_id: _Optional[str] = ...) -> None: ...

class GetBudgetsResponse(_message.Message):
    __slots__ = ("states",)
    STATES_FIELD_NUMBER: _ClassVar[int]
    states: _containers.RepeatedCompositeFieldContainer[_budget_ledger_pb2.BudgetState]
    def __init__(self, states: _Optional[_Iterable[_Union[_budget_ledger_pb2.BudgetState, _Mapping]]] = ...) -> None: ...

class SetBudgetRequest(_message.Message):
    __slots__ = ("budget",)
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    budget: _budget_ledger_pb2.Budget
    def __init__(self, budget: _Optional[_Union[_budget_ledger_pb2.Budget, _Mapping]] = ...) -> None: ...

class SetBudgetResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: _budget_ledger_pb2.BudgetState
    def __init__(self, state: _Optional[_Union[_budget_ledger_pb2.BudgetState, _Mapping]] = ...) -> None: ...

class CreateBudgetOverrideRequest(_message.Message):
    __slots__ = ("override",)
    OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    override: _budget_ledger_pb2.BudgetOverride
    def __init__(self, override: _Optional[_Union[_budget_ledger_pb2.BudgetOverride, _Mapping]] = ...) -> None: ...

class CreateBudgetOverrideResponse(_message.Message):
    __slots__ = ("override",)
    OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    override: _budget_ledger_pb2.BudgetOverride
    def __init__(self, override: _Optional[_Union[_budget_ledger_pb2.BudgetOverride, _Mapping]] = ...) -> None: ...

class WatchBudgetAlertsRequest(_message.Message):
    __slots__ = ("tenant_id",)
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    def __init__(self, tenant_id: _Optional[str] = ...) -> None: ...

class WatchBudgetAlertsResponse(_message.Message):
    __slots__ = ("alert",)
    ALERT_FIELD_NUMBER: _ClassVar[int]
    alert: _budget_ledger_pb2.BudgetAlert
    def __init__(self, alert: _Optional[_Union[_budget_ledger_pb2.BudgetAlert, _Mapping]] = ...) -> None: ...

class EffectiveFlag(_message.Message):
    __slots__ = ("key", "enabled", "rollout_percent", "mode", "active", "bucket", "parameters_json")
    KEY_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    ROLLOUT_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_JSON_FIELD_NUMBER: _ClassVar[int]
    key: str
    enabled: bool
    rollout_percent: int
    mode: _common_pb2.FlagMode
    active: bool
    bucket: int
    parameters_json: str
    def __init__(self, key: _Optional[str] = ..., enabled: _Optional[bool] = ..., rollout_percent: _Optional[int] = ..., mode: _Optional[_Union[_common_pb2.FlagMode, str]] = ..., active: _Optional[bool] = ..., bucket: _Optional[int] = ..., parameters_json: _Optional[str] = ...) -> None: ...

class EffectiveRoute(_message.Message):
    __slots__ = ("service", "track", "address", "canary_weight", "canary_ready", "effective_canary_weight")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    TRACK_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CANARY_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    CANARY_READY_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_CANARY_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    service: str
    track: str
    address: str
    canary_weight: int
    canary_ready: bool
    effective_canary_weight: int
    def __init__(self, service: _Optional[str] = ..., track: _Optional[str] = ..., address: _Optional[str] = ..., canary_weight: _Optional[int] = ..., canary_ready: _Optional[bool] = ..., effective_canary_weight: _Optional[int] = ...) -> None: ...

class GetEffectiveConfigRequest(_message.Message):
    __slots__ = ("tenant_id", "contact_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    contact_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., contact_id: _Optional[str] = ...) -> None: ...

class GetEffectiveConfigResponse(_message.Message):
    __slots__ = ("flags", "routes", "config_version")
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    ROUTES_FIELD_NUMBER: _ClassVar[int]
    CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    flags: _containers.RepeatedCompositeFieldContainer[EffectiveFlag]
    routes: _containers.RepeatedCompositeFieldContainer[EffectiveRoute]
    config_version: str
    def __init__(self, flags: _Optional[_Iterable[_Union[EffectiveFlag, _Mapping]]] = ..., routes: _Optional[_Iterable[_Union[EffectiveRoute, _Mapping]]] = ..., config_version: _Optional[str] = ...) -> None: ...

class InvalidateCacheRequest(_message.Message):
    __slots__ = ("tenant_id", "tags")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tenant_id: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ...) -> None: ...

class InvalidateCacheResponse(_message.Message):
    __slots__ = ("exact_removed", "semantic_removed")
    EXACT_REMOVED_FIELD_NUMBER: _ClassVar[int]
    SEMANTIC_REMOVED_FIELD_NUMBER: _ClassVar[int]
    exact_removed: int
    semantic_removed: int
    def __init__(self, exact_removed: _Optional[int] = ..., semantic_removed: _Optional[int] = ...) -> None: ...

class PutAgentProfileRequest(_message.Message):
    __slots__ = ("tenant_id", "profile")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    profile: _common_pb2.AgentProfile
    def __init__(self, tenant_id: _Optional[str] = ..., profile: _Optional[_Union[_common_pb2.AgentProfile, _Mapping]] = ...) -> None: ...

class PutAgentProfileResponse(_message.Message):
    __slots__ = ("profile", "created")
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    profile: _common_pb2.AgentProfile
    created: bool
    def __init__(self, profile: _Optional[_Union[_common_pb2.AgentProfile, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class GetAgentProfileRequest(_message.Message):
    __slots__ = ("tenant_id", "agent_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    agent_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., agent_id: _Optional[str] = ...) -> None: ...

class GetAgentProfileResponse(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: _common_pb2.AgentProfile
    def __init__(self, profile: _Optional[_Union[_common_pb2.AgentProfile, _Mapping]] = ...) -> None: ...

class ListAgentProfilesRequest(_message.Message):
    __slots__ = ("tenant_id",)
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    def __init__(self, tenant_id: _Optional[str] = ...) -> None: ...

class ListAgentProfilesResponse(_message.Message):
    __slots__ = ("profiles",)
    PROFILES_FIELD_NUMBER: _ClassVar[int]
    profiles: _containers.RepeatedCompositeFieldContainer[_common_pb2.AgentProfile]
    def __init__(self, profiles: _Optional[_Iterable[_Union[_common_pb2.AgentProfile, _Mapping]]] = ...) -> None: ...

class DeleteAgentProfileRequest(_message.Message):
    __slots__ = ("tenant_id", "agent_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    agent_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., agent_id: _Optional[str] = ...) -> None: ...

class DeleteAgentProfileResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    def __init__(self, deleted: _Optional[bool] = ...) -> None: ...

class GetSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class GetSessionResponse(_message.Message):
    __slots__ = ("messages", "stored_bytes")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    STORED_BYTES_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[_common_pb2.Message]
    stored_bytes: int
    def __init__(self, messages: _Optional[_Iterable[_Union[_common_pb2.Message, _Mapping]]] = ..., stored_bytes: _Optional[int] = ...) -> None: ...

class ForkSessionRequest(_message.Message):
    __slots__ = ("session_id", "new_session_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    new_session_id: str
    def __init__(self, session_id: _Optional[str] = ..., new_session_id: _Optional[str] = ...) -> None: ...

class ForkSessionResponse(_message.Message):
    __slots__ = ("messages",)
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    messages: int
    def __init__(self, messages: _Optional[int] = ...) -> None: ...

class DeleteSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class DeleteSessionResponse(_message.Message):
    __slots__ = ("deleted", "exact_removed", "semantic_removed", "caches_not_cleared")
    DELETED_FIELD_NUMBER: _ClassVar[int]
    EXACT_REMOVED_FIELD_NUMBER: _ClassVar[int]
    SEMANTIC_REMOVED_FIELD_NUMBER: _ClassVar[int]
    CACHES_NOT_CLEARED_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    exact_removed: int
    semantic_removed: int
    caches_not_cleared: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, deleted: _Optional[bool] = ..., exact_removed: _Optional[int] = ..., semantic_removed: _Optional[int] = ..., caches_not_cleared: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateApiKeyRequest(_message.Message):
    __slots__ = ("tenant_id", "name", "role", "expires_at", "limits")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    name: str
    role: _budget_ledger_pb2.ApiKeyRole
    expires_at: _timestamp_pb2.Timestamp
    limits: _budget_ledger_pb2.ApiKeyLimits
    def __init__(self, tenant_id: _Optional[str] = ..., name: _Optional[str] = ..., role: _Optional[_Union[_budget_ledger_pb2.ApiKeyRole, str]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., limits: _Optional[_Union[_budget_ledger_pb2.ApiKeyLimits, _Mapping]] = ...) -> None: ...

class CreateApiKeyResponse(_message.Message):
    __slots__ = ("key", "secret")
    KEY_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    key: _budget_ledger_pb2.ManagedApiKey
    secret: str
    def __init__(self, key: _Optional[_Union[_budget_ledger_pb2.ManagedApiKey, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class ListApiKeysRequest(_message.Message):
    __slots__ = ("tenant_id", "include_revoked")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_REVOKED_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    include_revoked: bool
    def __init__(self, tenant_id: _Optional[str] = ..., include_revoked: _Optional[bool] = ...) -> None: ...

class ListApiKeysResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[_budget_ledger_pb2.ManagedApiKey]
    def __init__(self, keys: _Optional[_Iterable[_Union[_budget_ledger_pb2.ManagedApiKey, _Mapping]]] = ...) -> None: ...

class RevokeApiKeyRequest(_message.Message):
    __slots__ = ("tenant_id", "key_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    key_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., key_id: _Optional[str] = ...) -> None: ...

class RevokeApiKeyResponse(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: _budget_ledger_pb2.ManagedApiKey
    def __init__(self, key: _Optional[_Union[_budget_ledger_pb2.ManagedApiKey, _Mapping]] = ...) -> None: ...

class RotateApiKeyRequest(_message.Message):
    __slots__ = ("tenant_id", "key_id", "grace")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    GRACE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    key_id: str
    grace: _duration_pb2.Duration
    def __init__(self, tenant_id: _Optional[str] = ..., key_id: _Optional[str] = ..., grace: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class RotateApiKeyResponse(_message.Message):
    __slots__ = ("key", "secret")
    KEY_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    key: _budget_ledger_pb2.ManagedApiKey
    secret: str
    def __init__(self, key: _Optional[_Union[_budget_ledger_pb2.ManagedApiKey, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...
