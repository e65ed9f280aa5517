from tollgate.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OptimizeConversationRequest(_message.Message):
    __slots__ = ("context", "request", "target_tokens", "strategies", "prompt_caching")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    TARGET_TOKENS_FIELD_NUMBER: _ClassVar[int]
    STRATEGIES_FIELD_NUMBER: _ClassVar[int]
    PROMPT_CACHING_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    request: _common_pb2.ClaudeRequest
    target_tokens: int
    strategies: _containers.RepeatedScalarFieldContainer[str]
    prompt_caching: bool
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., request: _Optional[_Union[_common_pb2.ClaudeRequest, _Mapping]] = ..., target_tokens: _Optional[int] = ..., strategies: _Optional[_Iterable[str]] = ..., prompt_caching: _Optional[bool] = ...) -> None: ...

class OptimizeConversationResponse(_message.Message):
    __slots__ = ("request", "original_tokens", "optimized_tokens", "turns_removed", "facts_note", "strategies_applied", "summary_cost_micros", "target_met", "target_missed_by_tokens", "target_explanation", "summary_usage", "summary_model", "stable_messages")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OPTIMIZED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TURNS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    FACTS_NOTE_FIELD_NUMBER: _ClassVar[int]
    STRATEGIES_APPLIED_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_COST_MICROS_FIELD_NUMBER: _ClassVar[int]
    TARGET_MET_FIELD_NUMBER: _ClassVar[int]
    TARGET_MISSED_BY_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TARGET_EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_USAGE_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_MODEL_FIELD_NUMBER: _ClassVar[int]
    STABLE_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    request: _common_pb2.ClaudeRequest
    original_tokens: int
    optimized_tokens: int
    turns_removed: int
    facts_note: str
    strategies_applied: _containers.RepeatedScalarFieldContainer[str]
    summary_cost_micros: int
    target_met: bool
    target_missed_by_tokens: int
    target_explanation: str
    summary_usage: _common_pb2.Usage
    summary_model: str
    stable_messages: int
    def __init__(self, request: _Optional[_Union[_common_pb2.ClaudeRequest, _Mapping]] = ..., original_tokens: _Optional[int] = ..., optimized_tokens: _Optional[int] = ..., turns_removed: _Optional[int] = ..., facts_note: _Optional[str] = ..., strategies_applied: _Optional[_Iterable[str]] = ..., summary_cost_micros: _Optional[int] = ..., target_met: _Optional[bool] = ..., target_missed_by_tokens: _Optional[int] = ..., target_explanation: _Optional[str] = ..., summary_usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ..., summary_model: _Optional[str] = ..., stable_messages: _Optional[int] = ...) -> None: ...

class CountTokensRequest(_message.Message):
    __slots__ = ("request", "exact", "context")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    EXACT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    request: _common_pb2.ClaudeRequest
    exact: bool
    context: _common_pb2.RequestContext
    def __init__(self, request: _Optional[_Union[_common_pb2.ClaudeRequest, _Mapping]] = ..., exact: _Optional[bool] = ..., context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ...) -> None: ...

class CountTokensResponse(_message.Message):
    __slots__ = ("input_tokens", "exact")
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    EXACT_FIELD_NUMBER: _ClassVar[int]
    input_tokens: int
    exact: bool
    def __init__(self, input_tokens: _Optional[int] = ..., exact: _Optional[bool] = ...) -> None: ...
