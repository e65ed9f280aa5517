import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from tollgate.v1 import classification_pb2 as _classification_pb2
from tollgate.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BatchStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BATCH_STATUS_UNSPECIFIED: _ClassVar[BatchStatus]
    BATCH_STATUS_IN_PROGRESS: _ClassVar[BatchStatus]
    BATCH_STATUS_CANCELING: _ClassVar[BatchStatus]
    BATCH_STATUS_ENDED: _ClassVar[BatchStatus]
BATCH_STATUS_UNSPECIFIED: BatchStatus
BATCH_STATUS_IN_PROGRESS: BatchStatus
BATCH_STATUS_CANCELING: BatchStatus
BATCH_STATUS_ENDED: BatchStatus

class GenerationSpec(_message.Message):
    __slots__ = ("context", "request", "template_variables", "prompt_caching", "prompt_cache_ttl", "apply_template", "agent_profile", "stable_prefix_messages")
    class TemplateVariablesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_VARIABLES_FIELD_NUMBER: _ClassVar[int]
    PROMPT_CACHING_FIELD_NUMBER: _ClassVar[int]
    PROMPT_CACHE_TTL_FIELD_NUMBER: _ClassVar[int]
    APPLY_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    AGENT_PROFILE_FIELD_NUMBER: _ClassVar[int]
    STABLE_PREFIX_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    request: _common_pb2.ClaudeRequest
    template_variables: _containers.ScalarMap[str, str]
    prompt_caching: bool
    prompt_cache_ttl: _common_pb2.CacheTtl
    apply_template: bool
    agent_profile: _common_pb2.AgentProfile
    stable_prefix_messages: int
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., request: _Optional[_Union[_common_pb2.ClaudeRequest, _Mapping]] = ..., template_variables: _Optional[_Mapping[str, str]] = ..., prompt_caching: _Optional[bool] = ..., prompt_cache_ttl: _Optional[_Union[_common_pb2.CacheTtl, str]] = ..., apply_template: _Optional[bool] = ..., agent_profile: _Optional[_Union[_common_pb2.AgentProfile, _Mapping]] = ..., stable_prefix_messages: _Optional[int] = ...) -> None: ...

class GenerationResult(_message.Message):
    __slots__ = ("response", "cost", "fallback_reason", "upstream_attempts", "template_version", "cache_breakpoints")
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_REASON_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CACHE_BREAKPOINTS_FIELD_NUMBER: _ClassVar[int]
    response: _common_pb2.ClaudeResponse
    cost: _common_pb2.Cost
    fallback_reason: str
    upstream_attempts: int
    template_version: str
    cache_breakpoints: int
    def __init__(self, response: _Optional[_Union[_common_pb2.ClaudeResponse, _Mapping]] = ..., cost: _Optional[_Union[_common_pb2.Cost, _Mapping]] = ..., fallback_reason: _Optional[str] = ..., upstream_attempts: _Optional[int] = ..., template_version: _Optional[str] = ..., cache_breakpoints: _Optional[int] = ...) -> None: ...

class GenerateRequest(_message.Message):
    __slots__ = ("spec",)
    SPEC_FIELD_NUMBER: _ClassVar[int]
    spec: GenerationSpec
    def __init__(self, spec: _Optional[_Union[GenerationSpec, _Mapping]] = ...) -> None: ...

class GenerateResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: GenerationResult
    def __init__(self, result: _Optional[_Union[GenerationResult, _Mapping]] = ...) -> None: ...

class StreamGenerateRequest(_message.Message):
    __slots__ = ("spec",)
    SPEC_FIELD_NUMBER: _ClassVar[int]
    spec: GenerationSpec
    def __init__(self, spec: _Optional[_Union[GenerationSpec, _Mapping]] = ...) -> None: ...

class StreamGenerateResponse(_message.Message):
    __slots__ = ("event", "result")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    event: _common_pb2.StreamEvent
    result: GenerationResult
    def __init__(self, event: _Optional[_Union[_common_pb2.StreamEvent, _Mapping]] = ..., result: _Optional[_Union[GenerationResult, _Mapping]] = ...) -> None: ...

class BatchItem(_message.Message):
    __slots__ = ("custom_id", "spec")
    CUSTOM_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    custom_id: str
    spec: GenerationSpec
    def __init__(self, custom_id: _Optional[str] = ..., spec: _Optional[_Union[GenerationSpec, _Mapping]] = ...) -> None: ...

class BatchCounts(_message.Message):
    __slots__ = ("processing", "succeeded", "errored", "canceled", "expired")
    PROCESSING_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    ERRORED_FIELD_NUMBER: _ClassVar[int]
    CANCELED_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_FIELD_NUMBER: _ClassVar[int]
    processing: int
    succeeded: int
    errored: int
    canceled: int
    expired: int
    def __init__(self, processing: _Optional[int] = ..., succeeded: _Optional[int] = ..., errored: _Optional[int] = ..., canceled: _Optional[int] = ..., expired: _Optional[int] = ...) -> None: ...

class Batch(_message.Message):
    __slots__ = ("id", "tenant_id", "status", "counts", "created_at", "ended_at", "request_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant_id: str
    status: BatchStatus
    counts: BatchCounts
    created_at: _timestamp_pb2.Timestamp
    ended_at: _timestamp_pb2.Timestamp
    request_id: str
    def __init__(self, id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., status: _Optional[_Union[BatchStatus, str]] = ..., counts: _Optional[_Union[BatchCounts, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateBatchRequest(_message.Message):
    __slots__ = ("context", "items")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    items: _containers.RepeatedCompositeFieldContainer[BatchItem]
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., items: _Optional[_Iterable[_Union[BatchItem, _Mapping]]] = ...) -> None: ...

class CreateBatchResponse(_message.Message):
    __slots__ = ("batch",)
    BATCH_FIELD_NUMBER: _ClassVar[int]
    batch: Batch
    def __init__(self, batch: _Optional[_Union[Batch, _Mapping]] = ...) -> None: ...

class GetBatchRequest(_message.Message):
    __slots__ = ("context", "batch_id")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    batch_id: str
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., batch_id: _Optional[str] = ...) -> None: ...

class GetBatchResponse(_message.Message):
    __slots__ = ("batch",)
    BATCH_FIELD_NUMBER: _ClassVar[int]
    batch: Batch
    def __init__(self, batch: _Optional[_Union[Batch, _Mapping]] = ...) -> None: ...

class GetBatchResultsRequest(_message.Message):
    __slots__ = ("context", "batch_id")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    batch_id: str
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., batch_id: _Optional[str] = ...) -> None: ...

class GetBatchResultsResponse(_message.Message):
    __slots__ = ("custom_id", "result", "error")
    CUSTOM_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    custom_id: str
    result: GenerationResult
    error: str
    def __init__(self, custom_id: _Optional[str] = ..., result: _Optional[_Union[GenerationResult, _Mapping]] = ..., error: _Optional[str] = ...) -> None: ...

class CancelBatchRequest(_message.Message):
    __slots__ = ("context", "batch_id")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    batch_id: str
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., batch_id: _Optional[str] = ...) -> None: ...

class CancelBatchResponse(_message.Message):
    __slots__ = ("batch",)
    BATCH_FIELD_NUMBER: _ClassVar[int]
    batch: Batch
    def __init__(self, batch: _Optional[_Union[Batch, _Mapping]] = ...) -> None: ...

class ListBatchesRequest(_message.Message):
    __slots__ = ("context", "limit", "before_id", "after_id")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    BEFORE_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_ID_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    limit: int
    before_id: str
    after_id: str
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., limit: _Optional[int] = ..., before_id: _Optional[str] = ..., after_id: _Optional[str] = ...) -> None: ...

class ListBatchesResponse(_message.Message):
    __slots__ = ("batches", "has_more")
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    batches: _containers.RepeatedCompositeFieldContainer[Batch]
    has_more: bool
    def __init__(self, batches: _Optional[_Iterable[_Union[Batch, _Mapping]]] = ..., has_more: _Optional[bool] = ...) -> None: ...

class ClassifyItemsRequest(_message.Message):
    __slots__ = ("context", "instructions", "items", "max_items_per_call")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    MAX_ITEMS_PER_CALL_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    instructions: _classification_pb2.ClassificationInstructions
    items: _containers.RepeatedCompositeFieldContainer[_classification_pb2.ClassificationItem]
    max_items_per_call: int
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., instructions: _Optional[_Union[_classification_pb2.ClassificationInstructions, _Mapping]] = ..., items: _Optional[_Iterable[_Union[_classification_pb2.ClassificationItem, _Mapping]]] = ..., max_items_per_call: _Optional[int] = ...) -> None: ...

class ClassifyItemsResponse(_message.Message):
    __slots__ = ("result", "template_version")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    result: _classification_pb2.ClassificationResult
    template_version: str
    def __init__(self, result: _Optional[_Union[_classification_pb2.ClassificationResult, _Mapping]] = ..., template_version: _Optional[str] = ...) -> None: ...

class ListTemplatesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListTemplatesResponse(_message.Message):
    __slots__ = ("versions",)
    class VersionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.ScalarMap[str, str]
    def __init__(self, versions: _Optional[_Mapping[str, str]] = ...) -> None: ...
