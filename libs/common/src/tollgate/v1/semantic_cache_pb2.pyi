import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from tollgate.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SemanticLookupRequest(_message.Message):
    __slots__ = ("context", "request", "template_version", "min_similarity")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    MIN_SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    request: _common_pb2.ClaudeRequest
    template_version: str
    min_similarity: float
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., request: _Optional[_Union[_common_pb2.ClaudeRequest, _Mapping]] = ..., template_version: _Optional[str] = ..., min_similarity: _Optional[float] = ...) -> None: ...

class SemanticLookupResponse(_message.Message):
    __slots__ = ("hit", "response", "similarity", "matched_question", "rejection", "eligible", "ineligible_reason", "threshold", "entry_id", "cached_at", "shadow", "would_hit", "shadow_response", "verify")
    HIT_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    MATCHED_QUESTION_FIELD_NUMBER: _ClassVar[int]
    REJECTION_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    INELIGIBLE_REASON_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    CACHED_AT_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    WOULD_HIT_FIELD_NUMBER: _ClassVar[int]
    SHADOW_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    VERIFY_FIELD_NUMBER: _ClassVar[int]
    hit: bool
    response: _common_pb2.ClaudeResponse
    similarity: float
    matched_question: str
    rejection: str
    eligible: bool
    ineligible_reason: str
    threshold: float
    entry_id: str
    cached_at: _timestamp_pb2.Timestamp
    shadow: bool
    would_hit: bool
    shadow_response: _common_pb2.ClaudeResponse
    verify: bool
    def __init__(self, hit: _Optional[bool] = ..., response: _Optional[_Union[_common_pb2.ClaudeResponse, _Mapping]] = ..., similarity: _Optional[float] = ..., matched_question: _Optional[str] = ..., rejection: _Optional[str] = ..., eligible: _Optional[bool] = ..., ineligible_reason: _Optional[str] = ..., threshold: _Optional[float] = ..., entry_id: _Optional[str] = ..., cached_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., shadow: _Optional[bool] = ..., would_hit: _Optional[bool] = ..., shadow_response: _Optional[_Union[_common_pb2.ClaudeResponse, _Mapping]] = ..., verify: _Optional[bool] = ...) -> None: ...

class SemanticStoreRequest(_message.Message):
    __slots__ = ("context", "request", "template_version", "response", "ttl", "tags")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    request: _common_pb2.ClaudeRequest
    template_version: str
    response: _common_pb2.ClaudeResponse
    ttl: _duration_pb2.Duration
    tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., request: _Optional[_Union[_common_pb2.ClaudeRequest, _Mapping]] = ..., template_version: _Optional[str] = ..., response: _Optional[_Union[_common_pb2.ClaudeResponse, _Mapping]] = ..., ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., tags: _Optional[_Iterable[str]] = ...) -> None: ...

class SemanticStoreResponse(_message.Message):
    __slots__ = ("stored", "reason", "entry_id", "expires_at")
    STORED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    stored: bool
    reason: str
    entry_id: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, stored: _Optional[bool] = ..., reason: _Optional[str] = ..., entry_id: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SemanticInvalidateRequest(_message.Message):
    __slots__ = ("tenant_id", "tags")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tenant_id: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ...) -> None: ...

class SemanticInvalidateResponse(_message.Message):
    __slots__ = ("removed",)
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    removed: int
    def __init__(self, removed: _Optional[int] = ...) -> None: ...

class SemanticStatsRequest(_message.Message):
    __slots__ = ("tenant_id",)
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    def __init__(self, tenant_id: _Optional[str] = ...) -> None: ...

class SemanticStatsResponse(_message.Message):
    __slots__ = ("hits", "misses", "rejected_near_misses", "entries", "ineligible", "stores", "max_entries", "evicted", "shadow_hits", "precision")
    HITS_FIELD_NUMBER: _ClassVar[int]
    MISSES_FIELD_NUMBER: _ClassVar[int]
    REJECTED_NEAR_MISSES_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    INELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    STORES_FIELD_NUMBER: _ClassVar[int]
    MAX_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    EVICTED_FIELD_NUMBER: _ClassVar[int]
    SHADOW_HITS_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    hits: int
    misses: int
    rejected_near_misses: int
    entries: int
    ineligible: int
    stores: int
    max_entries: int
    evicted: int
    shadow_hits: int
    precision: _containers.RepeatedCompositeFieldContainer[SemanticPrecision]
    def __init__(self, hits: _Optional[int] = ..., misses: _Optional[int] = ..., rejected_near_misses: _Optional[int] = ..., entries: _Optional[int] = ..., ineligible: _Optional[int] = ..., stores: _Optional[int] = ..., max_entries: _Optional[int] = ..., evicted: _Optional[int] = ..., shadow_hits: _Optional[int] = ..., precision: _Optional[_Iterable[_Union[SemanticPrecision, _Mapping]]] = ...) -> None: ...

class SemanticPrecision(_message.Message):
    __slots__ = ("task", "agreements", "disagreements", "precision", "lower_bound", "upper_bound", "floor", "shadow", "reason")
    TASK_FIELD_NUMBER: _ClassVar[int]
    AGREEMENTS_FIELD_NUMBER: _ClassVar[int]
    DISAGREEMENTS_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    LOWER_BOUND_FIELD_NUMBER: _ClassVar[int]
    UPPER_BOUND_FIELD_NUMBER: _ClassVar[int]
    FLOOR_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    task: str
    agreements: int
    disagreements: int
    precision: float
    lower_bound: float
    upper_bound: float
    floor: float
    shadow: bool
    reason: str
    def __init__(self, task: _Optional[str] = ..., agreements: _Optional[int] = ..., disagreements: _Optional[int] = ..., precision: _Optional[float] = ..., lower_bound: _Optional[float] = ..., upper_bound: _Optional[float] = ..., floor: _Optional[float] = ..., shadow: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class SemanticVerifyRequest(_message.Message):
    __slots__ = ("context", "entry_id", "cached_response", "fresh_response", "shadow")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    CACHED_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    FRESH_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    entry_id: str
    cached_response: _common_pb2.ClaudeResponse
    fresh_response: _common_pb2.ClaudeResponse
    shadow: bool
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., entry_id: _Optional[str] = ..., cached_response: _Optional[_Union[_common_pb2.ClaudeResponse, _Mapping]] = ..., fresh_response: _Optional[_Union[_common_pb2.ClaudeResponse, _Mapping]] = ..., shadow: _Optional[bool] = ...) -> None: ...

class SemanticVerifyResponse(_message.Message):
    __slots__ = ("agreed", "disagreement", "answer_similarity", "precision", "recorded")
    AGREED_FIELD_NUMBER: _ClassVar[int]
    DISAGREEMENT_FIELD_NUMBER: _ClassVar[int]
    ANSWER_SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    agreed: bool
    disagreement: str
    answer_similarity: float
    precision: SemanticPrecision
    recorded: bool
    def __init__(self, agreed: _Optional[bool] = ..., disagreement: _Optional[str] = ..., answer_similarity: _Optional[float] = ..., precision: _Optional[_Union[SemanticPrecision, _Mapping]] = ..., recorded: _Optional[bool] = ...) -> None: ...

class SemanticCall(_message.Message):
    __slots__ = ("lookup", "store")
    LOOKUP_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    lookup: SemanticLookupRequest
    store: SemanticStoreRequest
    def __init__(self, lookup: _Optional[_Union[SemanticLookupRequest, _Mapping]] = ..., store: _Optional[_Union[SemanticStoreRequest, _Mapping]] = ...) -> None: ...

class SemanticCallError(_message.Message):
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

class SemanticSendAlone(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class SemanticCallResult(_message.Message):
    __slots__ = ("lookup", "store", "error", "send_alone")
    LOOKUP_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SEND_ALONE_FIELD_NUMBER: _ClassVar[int]
    lookup: SemanticLookupResponse
    store: SemanticStoreResponse
    error: SemanticCallError
    send_alone: SemanticSendAlone
    def __init__(self, lookup: _Optional[_Union[SemanticLookupResponse, _Mapping]] = ..., store: _Optional[_Union[SemanticStoreResponse, _Mapping]] = ..., error: _Optional[_Union[SemanticCallError, _Mapping]] = ..., send_alone: _Optional[_Union[SemanticSendAlone, _Mapping]] = ...) -> None: ...

class SemanticBatchRequest(_message.Message):
    __slots__ = ("calls",)
    CALLS_FIELD_NUMBER: _ClassVar[int]
    calls: _containers.RepeatedCompositeFieldContainer[SemanticCall]
    def __init__(self, calls: _Optional[_Iterable[_Union[SemanticCall, _Mapping]]] = ...) -> None: ...

class SemanticBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SemanticCallResult]
    def __init__(self, results: _Optional[_Iterable[_Union[SemanticCallResult, _Mapping]]] = ...) -> None: ...
