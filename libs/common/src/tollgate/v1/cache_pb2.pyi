import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from tollgate.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExactLookupRequest(_message.Message):
    __slots__ = ("context", "request", "template_version", "acquire_fill_lease", "wait_for_fill", "cache_sampled", "template_variables", "contact_scope")
    class TemplateVariablesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    ACQUIRE_FILL_LEASE_FIELD_NUMBER: _ClassVar[int]
    WAIT_FOR_FILL_FIELD_NUMBER: _ClassVar[int]
    CACHE_SAMPLED_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_VARIABLES_FIELD_NUMBER: _ClassVar[int]
    CONTACT_SCOPE_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    request: _common_pb2.ClaudeRequest
    template_version: str
    acquire_fill_lease: bool
    wait_for_fill: _duration_pb2.Duration
    cache_sampled: bool
    template_variables: _containers.ScalarMap[str, str]
    contact_scope: str
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., request: _Optional[_Union[_common_pb2.ClaudeRequest, _Mapping]] = ..., template_version: _Optional[str] = ..., acquire_fill_lease: _Optional[bool] = ..., wait_for_fill: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., cache_sampled: _Optional[bool] = ..., template_variables: _Optional[_Mapping[str, str]] = ..., contact_scope: _Optional[str] = ...) -> None: ...

class ExactLookupResponse(_message.Message):
    __slots__ = ("hit", "response", "key", "fill_lease", "cacheable", "reason")
    HIT_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    FILL_LEASE_FIELD_NUMBER: _ClassVar[int]
    CACHEABLE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    hit: bool
    response: _common_pb2.ClaudeResponse
    key: str
    fill_lease: str
    cacheable: bool
    reason: str
    def __init__(self, hit: _Optional[bool] = ..., response: _Optional[_Union[_common_pb2.ClaudeResponse, _Mapping]] = ..., key: _Optional[str] = ..., fill_lease: _Optional[str] = ..., cacheable: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class ExactStoreRequest(_message.Message):
    __slots__ = ("context", "key", "response", "ttl", "tags", "fill_lease")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    FILL_LEASE_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    key: str
    response: _common_pb2.ClaudeResponse
    ttl: _duration_pb2.Duration
    tags: _containers.RepeatedScalarFieldContainer[str]
    fill_lease: str
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., key: _Optional[str] = ..., response: _Optional[_Union[_common_pb2.ClaudeResponse, _Mapping]] = ..., ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., tags: _Optional[_Iterable[str]] = ..., fill_lease: _Optional[str] = ...) -> None: ...

class ExactStoreResponse(_message.Message):
    __slots__ = ("stored", "reason")
    STORED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    stored: bool
    reason: str
    def __init__(self, stored: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class ExactReleaseRequest(_message.Message):
    __slots__ = ("context", "key", "fill_lease")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    FILL_LEASE_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    key: str
    fill_lease: str
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., key: _Optional[str] = ..., fill_lease: _Optional[str] = ...) -> None: ...

class ExactReleaseResponse(_message.Message):
    __slots__ = ("released",)
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    released: bool
    def __init__(self, released: _Optional[bool] = ...) -> None: ...

class ExactCall(_message.Message):
    __slots__ = ("lookup", "store", "release")
    LOOKUP_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    lookup: ExactLookupRequest
    store: ExactStoreRequest
    release: ExactReleaseRequest
    def __init__(self, lookup: _Optional[_Union[ExactLookupRequest, _Mapping]] = ..., store: _Optional[_Union[ExactStoreRequest, _Mapping]] = ..., release: _Optional[_Union[ExactReleaseRequest, _Mapping]] = ...) -> None: ...

class ExactCallError(_message.Message):
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

class ExactSendAlone(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class ExactCallResult(_message.Message):
    __slots__ = ("lookup", "store", "release", "error", "send_alone")
    LOOKUP_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SEND_ALONE_FIELD_NUMBER: _ClassVar[int]
    lookup: ExactLookupResponse
    store: ExactStoreResponse
    release: ExactReleaseResponse
    error: ExactCallError
    send_alone: ExactSendAlone
    def __init__(self, lookup: _Optional[_Union[ExactLookupResponse, _Mapping]] = ..., store: _Optional[_Union[ExactStoreResponse, _Mapping]] = ..., release: _Optional[_Union[ExactReleaseResponse, _Mapping]] = ..., error: _Optional[_Union[ExactCallError, _Mapping]] = ..., send_alone: _Optional[_Union[ExactSendAlone, _Mapping]] = ...) -> None: ...

class ExactBatchRequest(_message.Message):
    __slots__ = ("calls",)
    CALLS_FIELD_NUMBER: _ClassVar[int]
    calls: _containers.RepeatedCompositeFieldContainer[ExactCall]
    def __init__(self, calls: _Optional[_Iterable[_Union[ExactCall, _Mapping]]] = ...) -> None: ...

class ExactBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ExactCallResult]
    def __init__(self, results: _Optional[_Iterable[_Union[ExactCallResult, _Mapping]]] = ...) -> None: ...

class ExactInvalidateRequest(_message.Message):
    __slots__ = ("tenant_id", "tags")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tenant_id: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ...) -> None: ...

class ExactInvalidateResponse(_message.Message):
    __slots__ = ("removed",)
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    removed: int
    def __init__(self, removed: _Optional[int] = ...) -> None: ...

class ExactStatsRequest(_message.Message):
    __slots__ = ("tenant_id",)
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    def __init__(self, tenant_id: _Optional[str] = ...) -> None: ...

class ExactStatsResponse(_message.Message):
    __slots__ = ("hits", "misses", "entries", "bytes")
    HITS_FIELD_NUMBER: _ClassVar[int]
    MISSES_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    hits: int
    misses: int
    entries: int
    bytes: int
    def __init__(self, hits: _Optional[int] = ..., misses: _Optional[int] = ..., entries: _Optional[int] = ..., bytes: _Optional[int] = ...) -> None: ...
