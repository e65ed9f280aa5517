from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ROLE_USER: _ClassVar[Role]
    ROLE_ASSISTANT: _ClassVar[Role]

class CacheTtl(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CACHE_TTL_UNSPECIFIED: _ClassVar[CacheTtl]
    CACHE_TTL_5M: _ClassVar[CacheTtl]
    CACHE_TTL_1H: _ClassVar[CacheTtl]

class ToolChoiceType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TOOL_CHOICE_TYPE_UNSPECIFIED: _ClassVar[ToolChoiceType]
    TOOL_CHOICE_TYPE_AUTO: _ClassVar[ToolChoiceType]
    TOOL_CHOICE_TYPE_ANY: _ClassVar[ToolChoiceType]
    TOOL_CHOICE_TYPE_TOOL: _ClassVar[ToolChoiceType]
    TOOL_CHOICE_TYPE_NONE: _ClassVar[ToolChoiceType]

class StopReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STOP_REASON_UNSPECIFIED: _ClassVar[StopReason]
    STOP_REASON_END_TURN: _ClassVar[StopReason]
    STOP_REASON_MAX_TOKENS: _ClassVar[StopReason]
    STOP_REASON_STOP_SEQUENCE: _ClassVar[StopReason]
    STOP_REASON_TOOL_USE: _ClassVar[StopReason]
    STOP_REASON_PAUSE_TURN: _ClassVar[StopReason]
    STOP_REASON_REFUSAL: _ClassVar[StopReason]

class TaskType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_TYPE_UNSPECIFIED: _ClassVar[TaskType]
    TASK_TYPE_CHAT: _ClassVar[TaskType]
    TASK_TYPE_LEAD_ANALYSIS: _ClassVar[TaskType]
    TASK_TYPE_REPORT: _ClassVar[TaskType]
    TASK_TYPE_SCRIPT: _ClassVar[TaskType]
    TASK_TYPE_INTERVENTION: _ClassVar[TaskType]
    TASK_TYPE_CLASSIFICATION: _ClassVar[TaskType]

class AgentRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGENT_ROLE_UNSPECIFIED: _ClassVar[AgentRole]
    AGENT_ROLE_BUYERS_AGENT: _ClassVar[AgentRole]
    AGENT_ROLE_LISTING_AGENT: _ClassVar[AgentRole]
    AGENT_ROLE_TRANSACTION_COORDINATOR: _ClassVar[AgentRole]
    AGENT_ROLE_DUAL_AGENT: _ClassVar[AgentRole]
    AGENT_ROLE_TEAM_LEAD: _ClassVar[AgentRole]

class AgentExperience(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGENT_EXPERIENCE_UNSPECIFIED: _ClassVar[AgentExperience]
    AGENT_EXPERIENCE_NOVICE: _ClassVar[AgentExperience]
    AGENT_EXPERIENCE_EXPERIENCED: _ClassVar[AgentExperience]
    AGENT_EXPERIENCE_EXPERT: _ClassVar[AgentExperience]

class FlagMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FLAG_MODE_UNSPECIFIED: _ClassVar[FlagMode]
    FLAG_MODE_ENFORCE: _ClassVar[FlagMode]
    FLAG_MODE_SHADOW: _ClassVar[FlagMode]

class CacheStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CACHE_STATUS_UNSPECIFIED: _ClassVar[CacheStatus]
    CACHE_STATUS_MISS: _ClassVar[CacheStatus]
    CACHE_STATUS_EXACT: _ClassVar[CacheStatus]
    CACHE_STATUS_SEMANTIC: _ClassVar[CacheStatus]
    CACHE_STATUS_BYPASS: _ClassVar[CacheStatus]
    CACHE_STATUS_VERIFICATION: _ClassVar[CacheStatus]
ROLE_UNSPECIFIED: Role
ROLE_USER: Role
ROLE_ASSISTANT: Role
CACHE_TTL_UNSPECIFIED: CacheTtl
CACHE_TTL_5M: CacheTtl
CACHE_TTL_1H: CacheTtl
TOOL_CHOICE_TYPE_UNSPECIFIED: ToolChoiceType
TOOL_CHOICE_TYPE_AUTO: ToolChoiceType
TOOL_CHOICE_TYPE_ANY: ToolChoiceType
TOOL_CHOICE_TYPE_TOOL: ToolChoiceType
TOOL_CHOICE_TYPE_NONE: ToolChoiceType
STOP_REASON_UNSPECIFIED: StopReason
STOP_REASON_END_TURN: StopReason
STOP_REASON_MAX_TOKENS: StopReason
STOP_REASON_STOP_SEQUENCE: StopReason
STOP_REASON_TOOL_USE: StopReason
STOP_REASON_PAUSE_TURN: StopReason
STOP_REASON_REFUSAL: StopReason
TASK_TYPE_UNSPECIFIED: TaskType
TASK_TYPE_CHAT: TaskType
TASK_TYPE_LEAD_ANALYSIS: TaskType
TASK_TYPE_REPORT: TaskType
TASK_TYPE_SCRIPT: TaskType
TASK_TYPE_INTERVENTION: TaskType
TASK_TYPE_CLASSIFICATION: TaskType
AGENT_ROLE_UNSPECIFIED: AgentRole
AGENT_ROLE_BUYERS_AGENT: AgentRole
AGENT_ROLE_LISTING_AGENT: AgentRole
AGENT_ROLE_TRANSACTION_COORDINATOR: AgentRole
AGENT_ROLE_DUAL_AGENT: AgentRole
AGENT_ROLE_TEAM_LEAD: AgentRole
AGENT_EXPERIENCE_UNSPECIFIED: AgentExperience
AGENT_EXPERIENCE_NOVICE: AgentExperience
AGENT_EXPERIENCE_EXPERIENCED: AgentExperience
AGENT_EXPERIENCE_EXPERT: AgentExperience
FLAG_MODE_UNSPECIFIED: FlagMode
FLAG_MODE_ENFORCE: FlagMode
FLAG_MODE_SHADOW: FlagMode
CACHE_STATUS_UNSPECIFIED: CacheStatus
CACHE_STATUS_MISS: CacheStatus
CACHE_STATUS_EXACT: CacheStatus
CACHE_STATUS_SEMANTIC: CacheStatus
CACHE_STATUS_BYPASS: CacheStatus
CACHE_STATUS_VERIFICATION: CacheStatus

class CacheControl(_message.Message):
    __slots__ = ("ttl",)
    TTL_FIELD_NUMBER: _ClassVar[int]
    ttl: CacheTtl
    def __init__(self, ttl: _Optional[_Union[CacheTtl, str]] = ...) -> None: ...

class TextBlock(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class ImageBlock(_message.Message):
    __slots__ = ("media_type", "data")
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    media_type: str
    data: bytes
    def __init__(self, media_type: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class ToolUseBlock(_message.Message):
    __slots__ = ("id", "name", "input")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    input: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., input: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ToolResultBlock(_message.Message):
    __slots__ = ("tool_use_id", "content", "is_error")
    TOOL_USE_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    IS_ERROR_FIELD_NUMBER: _ClassVar[int]
    tool_use_id: str
    content: _containers.RepeatedCompositeFieldContainer[ContentBlock]
    is_error: bool
    def __init__(self, tool_use_id: _Optional[str] = ..., content: _Optional[_Iterable[_Union[ContentBlock, _Mapping]]] = ..., is_error: _Optional[bool] = ...) -> None: ...

class ContentBlock(_message.Message):
    __slots__ = ("text", "image", "tool_use", "tool_result", "cache_control")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    TOOL_USE_FIELD_NUMBER: _ClassVar[int]
    TOOL_RESULT_FIELD_NUMBER: _ClassVar[int]
    CACHE_CONTROL_FIELD_NUMBER: _ClassVar[int]
    text: TextBlock
    image: ImageBlock
    tool_use: ToolUseBlock
    tool_result: ToolResultBlock
    cache_control: CacheControl
    def __init__(self, text: _Optional[_Union[TextBlock, _Mapping]] = ..., image: _Optional[_Union[ImageBlock, _Mapping]] = ..., tool_use: _Optional[_Union[ToolUseBlock, _Mapping]] = ..., tool_result: _Optional[_Union[ToolResultBlock, _Mapping]] = ..., cache_control: _Optional[_Union[CacheControl, _Mapping]] = ...) -> None: ...

class Message(_message.Message):
    __slots__ = ("role", "content")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    role: Role
    content: _containers.RepeatedCompositeFieldContainer[ContentBlock]
    def __init__(self, role: _Optional[_Union[Role, str]] = ..., content: _Optional[_Iterable[_Union[ContentBlock, _Mapping]]] = ...) -> None: ...

class Tool(_message.Message):
    __slots__ = ("name", "description", "input_schema", "cache_control")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    INPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    CACHE_CONTROL_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    input_schema: _struct_pb2.Struct
    cache_control: CacheControl
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., input_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., cache_control: _Optional[_Union[CacheControl, _Mapping]] = ...) -> None: ...

class ToolChoice(_message.Message):
    __slots__ = ("type", "name", "disable_parallel_tool_use")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISABLE_PARALLEL_TOOL_USE_FIELD_NUMBER: _ClassVar[int]
    type: ToolChoiceType
    name: str
    disable_parallel_tool_use: bool
    def __init__(self, type: _Optional[_Union[ToolChoiceType, str]] = ..., name: _Optional[str] = ..., disable_parallel_tool_use: _Optional[bool] = ...) -> None: ...

class ClaudeRequest(_message.Message):
    __slots__ = ("model", "system", "messages", "tools", "tool_choice", "max_tokens", "temperature", "top_p", "top_k", "stop_sequences")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    TOOL_CHOICE_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    STOP_SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    model: str
    system: _containers.RepeatedCompositeFieldContainer[ContentBlock]
    messages: _containers.RepeatedCompositeFieldContainer[Message]
    tools: _containers.RepeatedCompositeFieldContainer[Tool]
    tool_choice: ToolChoice
    max_tokens: int
    temperature: float
    top_p: float
    top_k: int
    stop_sequences: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, model: _Optional[str] = ..., system: _Optional[_Iterable[_Union[ContentBlock, _Mapping]]] = ..., messages: _Optional[_Iterable[_Union[Message, _Mapping]]] = ..., tools: _Optional[_Iterable[_Union[Tool, _Mapping]]] = ..., tool_choice: _Optional[_Union[ToolChoice, _Mapping]] = ..., max_tokens: _Optional[int] = ..., temperature: _Optional[float] = ..., top_p: _Optional[float] = ..., top_k: _Optional[int] = ..., stop_sequences: _Optional[_Iterable[str]] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "cache_creation_5m_input_tokens", "cache_creation_1h_input_tokens")
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_READ_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_CREATION_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_CREATION_5M_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_CREATION_1H_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    cache_creation_5m_input_tokens: int
    cache_creation_1h_input_tokens: int
    def __init__(self, input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cache_read_input_tokens: _Optional[int] = ..., cache_creation_input_tokens: _Optional[int] = ..., cache_creation_5m_input_tokens: _Optional[int] = ..., cache_creation_1h_input_tokens: _Optional[int] = ...) -> None: ...

class Cost(_message.Message):
    __slots__ = ("total_micros", "input_micros", "output_micros", "cache_write_micros", "cache_read_micros", "prices_as_of", "summary_micros")
    TOTAL_MICROS_FIELD_NUMBER: _ClassVar[int]
    INPUT_MICROS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_MICROS_FIELD_NUMBER: _ClassVar[int]
    CACHE_WRITE_MICROS_FIELD_NUMBER: _ClassVar[int]
    CACHE_READ_MICROS_FIELD_NUMBER: _ClassVar[int]
    PRICES_AS_OF_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_MICROS_FIELD_NUMBER: _ClassVar[int]
    total_micros: int
    input_micros: int
    output_micros: int
    cache_write_micros: int
    cache_read_micros: int
    prices_as_of: str
    summary_micros: int
    def __init__(self, total_micros: _Optional[int] = ..., input_micros: _Optional[int] = ..., output_micros: _Optional[int] = ..., cache_write_micros: _Optional[int] = ..., cache_read_micros: _Optional[int] = ..., prices_as_of: _Optional[str] = ..., summary_micros: _Optional[int] = ...) -> None: ...

class ClaudeResponse(_message.Message):
    __slots__ = ("id", "model", "content", "stop_reason", "stop_sequence", "usage")
    ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    STOP_REASON_FIELD_NUMBER: _ClassVar[int]
    STOP_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    id: str
    model: str
    content: _containers.RepeatedCompositeFieldContainer[ContentBlock]
    stop_reason: StopReason
    stop_sequence: str
    usage: Usage
    def __init__(self, id: _Optional[str] = ..., model: _Optional[str] = ..., content: _Optional[_Iterable[_Union[ContentBlock, _Mapping]]] = ..., stop_reason: _Optional[_Union[StopReason, str]] = ..., stop_sequence: _Optional[str] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ...) -> None: ...

class AgentProfile(_message.Message):
    __slots__ = ("agent_id", "role", "experience", "specializations")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    EXPERIENCE_FIELD_NUMBER: _ClassVar[int]
    SPECIALIZATIONS_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    role: AgentRole
    experience: AgentExperience
    specializations: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, agent_id: _Optional[str] = ..., role: _Optional[_Union[AgentRole, str]] = ..., experience: _Optional[_Union[AgentExperience, str]] = ..., specializations: _Optional[_Iterable[str]] = ...) -> None: ...

class RequestContext(_message.Message):
    __slots__ = ("tenant_id", "api_key_id", "contact_id", "request_id", "task", "conversation_id", "trace_id", "allowed_models")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_MODELS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    api_key_id: str
    contact_id: str
    request_id: str
    task: TaskType
    conversation_id: str
    trace_id: str
    allowed_models: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tenant_id: _Optional[str] = ..., api_key_id: _Optional[str] = ..., contact_id: _Optional[str] = ..., request_id: _Optional[str] = ..., task: _Optional[_Union[TaskType, str]] = ..., conversation_id: _Optional[str] = ..., trace_id: _Optional[str] = ..., allowed_models: _Optional[_Iterable[str]] = ...) -> None: ...

class OptimizationReport(_message.Message):
    __slots__ = ("optimization", "mode", "applied", "tokens_saved", "micros_saved", "detail")
    OPTIMIZATION_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    TOKENS_SAVED_FIELD_NUMBER: _ClassVar[int]
    MICROS_SAVED_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    optimization: str
    mode: FlagMode
    applied: bool
    tokens_saved: int
    micros_saved: int
    detail: str
    def __init__(self, optimization: _Optional[str] = ..., mode: _Optional[_Union[FlagMode, str]] = ..., applied: _Optional[bool] = ..., tokens_saved: _Optional[int] = ..., micros_saved: _Optional[int] = ..., detail: _Optional[str] = ...) -> None: ...

class ServedBy(_message.Message):
    __slots__ = ("service", "track")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    TRACK_FIELD_NUMBER: _ClassVar[int]
    service: str
    track: str
    def __init__(self, service: _Optional[str] = ..., track: _Optional[str] = ...) -> None: ...

class BudgetSnapshot(_message.Message):
    __slots__ = ("scope", "limit_micros", "remaining_micros")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_MICROS_FIELD_NUMBER: _ClassVar[int]
    REMAINING_MICROS_FIELD_NUMBER: _ClassVar[int]
    scope: str
    limit_micros: int
    remaining_micros: int
    def __init__(self, scope: _Optional[str] = ..., limit_micros: _Optional[int] = ..., remaining_micros: _Optional[int] = ...) -> None: ...

class Account(_message.Message):
    __slots__ = ("request_id", "trace_id", "usage", "cost", "baseline_cost_micros", "saved_micros", "cache_status", "similarity", "model", "fallback_reason", "optimizations", "served_by", "budget", "latency_micros")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    BASELINE_COST_MICROS_FIELD_NUMBER: _ClassVar[int]
    SAVED_MICROS_FIELD_NUMBER: _ClassVar[int]
    CACHE_STATUS_FIELD_NUMBER: _ClassVar[int]
    SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_REASON_FIELD_NUMBER: _ClassVar[int]
    OPTIMIZATIONS_FIELD_NUMBER: _ClassVar[int]
    SERVED_BY_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MICROS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trace_id: str
    usage: Usage
    cost: Cost
    baseline_cost_micros: int
    saved_micros: int
    cache_status: CacheStatus
    similarity: float
    model: str
    fallback_reason: str
    optimizations: _containers.RepeatedCompositeFieldContainer[OptimizationReport]
    served_by: _containers.RepeatedCompositeFieldContainer[ServedBy]
    budget: BudgetSnapshot
    latency_micros: int
    def __init__(self, request_id: _Optional[str] = ..., trace_id: _Optional[str] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., cost: _Optional[_Union[Cost, _Mapping]] = ..., baseline_cost_micros: _Optional[int] = ..., saved_micros: _Optional[int] = ..., cache_status: _Optional[_Union[CacheStatus, str]] = ..., similarity: _Optional[float] = ..., model: _Optional[str] = ..., fallback_reason: _Optional[str] = ..., optimizations: _Optional[_Iterable[_Union[OptimizationReport, _Mapping]]] = ..., served_by: _Optional[_Iterable[_Union[ServedBy, _Mapping]]] = ..., budget: _Optional[_Union[BudgetSnapshot, _Mapping]] = ..., latency_micros: _Optional[int] = ...) -> None: ...

class StreamEvent(_message.Message):
    __slots__ = ("message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop")
    MESSAGE_START_FIELD_NUMBER: _ClassVar[int]
    CONTENT_BLOCK_START_FIELD_NUMBER: _ClassVar[int]
    CONTENT_BLOCK_DELTA_FIELD_NUMBER: _ClassVar[int]
    CONTENT_BLOCK_STOP_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_DELTA_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_STOP_FIELD_NUMBER: _ClassVar[int]
    message_start: MessageStartEvent
    content_block_start: ContentBlockStartEvent
    content_block_delta: ContentBlockDeltaEvent
    content_block_stop: ContentBlockStopEvent
    message_delta: MessageDeltaEvent
    message_stop: MessageStopEvent
    def __init__(self, message_start: _Optional[_Union[MessageStartEvent, _Mapping]] = ..., content_block_start: _Optional[_Union[ContentBlockStartEvent, _Mapping]] = ..., content_block_delta: _Optional[_Union[ContentBlockDeltaEvent, _Mapping]] = ..., content_block_stop: _Optional[_Union[ContentBlockStopEvent, _Mapping]] = ..., message_delta: _Optional[_Union[MessageDeltaEvent, _Mapping]] = ..., message_stop: _Optional[_Union[MessageStopEvent, _Mapping]] = ...) -> None: ...

class MessageStartEvent(_message.Message):
    __slots__ = ("id", "model", "usage")
    ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    id: str
    model: str
    usage: Usage
    def __init__(self, id: _Optional[str] = ..., model: _Optional[str] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ...) -> None: ...

class ContentBlockStartEvent(_message.Message):
    __slots__ = ("index", "content_block")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    CONTENT_BLOCK_FIELD_NUMBER: _ClassVar[int]
    index: int
    content_block: ContentBlock
    def __init__(self, index: _Optional[int] = ..., content_block: _Optional[_Union[ContentBlock, _Mapping]] = ...) -> None: ...

class ContentBlockDeltaEvent(_message.Message):
    __slots__ = ("index", "text", "partial_json")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_JSON_FIELD_NUMBER: _ClassVar[int]
    index: int
    text: str
    partial_json: str
    def __init__(self, index: _Optional[int] = ..., text: _Optional[str] = ..., partial_json: _Optional[str] = ...) -> None: ...

class ContentBlockStopEvent(_message.Message):
    __slots__ = ("index",)
    INDEX_FIELD_NUMBER: _ClassVar[int]
    index: int
    def __init__(self, index: _Optional[int] = ...) -> None: ...

class MessageDeltaEvent(_message.Message):
    __slots__ = ("stop_reason", "stop_sequence", "usage")
    STOP_REASON_FIELD_NUMBER: _ClassVar[int]
    STOP_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    stop_reason: StopReason
    stop_sequence: str
    usage: Usage
    def __init__(self, stop_reason: _Optional[_Union[StopReason, str]] = ..., stop_sequence: _Optional[str] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ...) -> None: ...

class MessageStopEvent(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
