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

class EngagementType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENGAGEMENT_TYPE_UNSPECIFIED: _ClassVar[EngagementType]
    ENGAGEMENT_TYPE_MESSAGE: _ClassVar[EngagementType]
    ENGAGEMENT_TYPE_REPLY: _ClassVar[EngagementType]
    ENGAGEMENT_TYPE_OPEN: _ClassVar[EngagementType]
    ENGAGEMENT_TYPE_VISIT: _ClassVar[EngagementType]

class Financing(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FINANCING_UNSPECIFIED: _ClassVar[Financing]
    FINANCING_CASH: _ClassVar[Financing]
    FINANCING_PRE_APPROVED: _ClassVar[Financing]
    FINANCING_PRE_QUALIFIED: _ClassVar[Financing]
    FINANCING_NONE: _ClassVar[Financing]

class PropertyType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROPERTY_TYPE_UNSPECIFIED: _ClassVar[PropertyType]
    PROPERTY_TYPE_SINGLE_FAMILY: _ClassVar[PropertyType]
    PROPERTY_TYPE_CONDO: _ClassVar[PropertyType]
    PROPERTY_TYPE_TOWNHOUSE: _ClassVar[PropertyType]
    PROPERTY_TYPE_MULTI_FAMILY: _ClassVar[PropertyType]
    PROPERTY_TYPE_LAND: _ClassVar[PropertyType]
    PROPERTY_TYPE_MOBILE_HOME: _ClassVar[PropertyType]

class ContactChannel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONTACT_CHANNEL_UNSPECIFIED: _ClassVar[ContactChannel]
    CONTACT_CHANNEL_PHONE: _ClassVar[ContactChannel]
    CONTACT_CHANNEL_TEXT: _ClassVar[ContactChannel]
    CONTACT_CHANNEL_EMAIL: _ClassVar[ContactChannel]

class LeadClass(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEAD_CLASS_UNSPECIFIED: _ClassVar[LeadClass]
    LEAD_CLASS_HOT: _ClassVar[LeadClass]
    LEAD_CLASS_WARM: _ClassVar[LeadClass]
    LEAD_CLASS_COLD: _ClassVar[LeadClass]
ENGAGEMENT_TYPE_UNSPECIFIED: EngagementType
ENGAGEMENT_TYPE_MESSAGE: EngagementType
ENGAGEMENT_TYPE_REPLY: EngagementType
ENGAGEMENT_TYPE_OPEN: EngagementType
ENGAGEMENT_TYPE_VISIT: EngagementType
FINANCING_UNSPECIFIED: Financing
FINANCING_CASH: Financing
FINANCING_PRE_APPROVED: Financing
FINANCING_PRE_QUALIFIED: Financing
FINANCING_NONE: Financing
PROPERTY_TYPE_UNSPECIFIED: PropertyType
PROPERTY_TYPE_SINGLE_FAMILY: PropertyType
PROPERTY_TYPE_CONDO: PropertyType
PROPERTY_TYPE_TOWNHOUSE: PropertyType
PROPERTY_TYPE_MULTI_FAMILY: PropertyType
PROPERTY_TYPE_LAND: PropertyType
PROPERTY_TYPE_MOBILE_HOME: PropertyType
CONTACT_CHANNEL_UNSPECIFIED: ContactChannel
CONTACT_CHANNEL_PHONE: ContactChannel
CONTACT_CHANNEL_TEXT: ContactChannel
CONTACT_CHANNEL_EMAIL: ContactChannel
LEAD_CLASS_UNSPECIFIED: LeadClass
LEAD_CLASS_HOT: LeadClass
LEAD_CLASS_WARM: LeadClass
LEAD_CLASS_COLD: LeadClass

class QualificationAnswers(_message.Message):
    __slots__ = ("budget", "timeline", "location", "pre_approval", "motivation", "property_type", "contact_preference")
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    PRE_APPROVAL_FIELD_NUMBER: _ClassVar[int]
    MOTIVATION_FIELD_NUMBER: _ClassVar[int]
    PROPERTY_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONTACT_PREFERENCE_FIELD_NUMBER: _ClassVar[int]
    budget: str
    timeline: str
    location: str
    pre_approval: str
    motivation: str
    property_type: str
    contact_preference: str
    def __init__(self, budget: _Optional[str] = ..., timeline: _Optional[str] = ..., location: _Optional[str] = ..., pre_approval: _Optional[str] = ..., motivation: _Optional[str] = ..., property_type: _Optional[str] = ..., contact_preference: _Optional[str] = ...) -> None: ...

class EngagementEvent(_message.Message):
    __slots__ = ("type", "at")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    type: EngagementType
    at: _timestamp_pb2.Timestamp
    def __init__(self, type: _Optional[_Union[EngagementType, str]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LeadProfile(_message.Message):
    __slots__ = ("lead_id", "name", "source", "created_at", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    lead_id: str
    name: str
    source: str
    created_at: _timestamp_pb2.Timestamp
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, lead_id: _Optional[str] = ..., name: _Optional[str] = ..., source: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Lead(_message.Message):
    __slots__ = ("profile", "answers", "events", "conversation", "structured_answers", "conversation_at")
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    STRUCTURED_ANSWERS_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_AT_FIELD_NUMBER: _ClassVar[int]
    profile: LeadProfile
    answers: QualificationAnswers
    events: _containers.RepeatedCompositeFieldContainer[EngagementEvent]
    conversation: _containers.RepeatedCompositeFieldContainer[_common_pb2.Message]
    structured_answers: StructuredAnswers
    conversation_at: _timestamp_pb2.Timestamp
    def __init__(self, profile: _Optional[_Union[LeadProfile, _Mapping]] = ..., answers: _Optional[_Union[QualificationAnswers, _Mapping]] = ..., events: _Optional[_Iterable[_Union[EngagementEvent, _Mapping]]] = ..., conversation: _Optional[_Iterable[_Union[_common_pb2.Message, _Mapping]]] = ..., structured_answers: _Optional[_Union[StructuredAnswers, _Mapping]] = ..., conversation_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StructuredAnswers(_message.Message):
    __slots__ = ("budget_min_micros", "budget_max_micros", "financing", "financing_expires_at", "target_move_date", "areas", "property_types", "min_bedrooms", "preferred_channels", "excluded_channels")
    BUDGET_MIN_MICROS_FIELD_NUMBER: _ClassVar[int]
    BUDGET_MAX_MICROS_FIELD_NUMBER: _ClassVar[int]
    FINANCING_FIELD_NUMBER: _ClassVar[int]
    FINANCING_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    TARGET_MOVE_DATE_FIELD_NUMBER: _ClassVar[int]
    AREAS_FIELD_NUMBER: _ClassVar[int]
    PROPERTY_TYPES_FIELD_NUMBER: _ClassVar[int]
    MIN_BEDROOMS_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_CHANNELS_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_CHANNELS_FIELD_NUMBER: _ClassVar[int]
    budget_min_micros: int
    budget_max_micros: int
    financing: Financing
    financing_expires_at: _timestamp_pb2.Timestamp
    target_move_date: _timestamp_pb2.Timestamp
    areas: _containers.RepeatedScalarFieldContainer[str]
    property_types: _containers.RepeatedScalarFieldContainer[PropertyType]
    min_bedrooms: int
    preferred_channels: _containers.RepeatedScalarFieldContainer[ContactChannel]
    excluded_channels: _containers.RepeatedScalarFieldContainer[ContactChannel]
    def __init__(self, budget_min_micros: _Optional[int] = ..., budget_max_micros: _Optional[int] = ..., financing: _Optional[_Union[Financing, str]] = ..., financing_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., target_move_date: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., areas: _Optional[_Iterable[str]] = ..., property_types: _Optional[_Iterable[_Union[PropertyType, str]]] = ..., min_bedrooms: _Optional[int] = ..., preferred_channels: _Optional[_Iterable[_Union[ContactChannel, str]]] = ..., excluded_channels: _Optional[_Iterable[_Union[ContactChannel, str]]] = ...) -> None: ...

class ScoreComponent(_message.Message):
    __slots__ = ("name", "available", "value", "weight", "contribution", "explanation")
    NAME_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    name: str
    available: bool
    value: float
    weight: float
    contribution: float
    explanation: str
    def __init__(self, name: _Optional[str] = ..., available: _Optional[bool] = ..., value: _Optional[float] = ..., weight: _Optional[float] = ..., contribution: _Optional[float] = ..., explanation: _Optional[str] = ...) -> None: ...

class LeadReasoning(_message.Message):
    __slots__ = ("narrative", "insights", "next_best_action")
    NARRATIVE_FIELD_NUMBER: _ClassVar[int]
    INSIGHTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_BEST_ACTION_FIELD_NUMBER: _ClassVar[int]
    narrative: str
    insights: _containers.RepeatedScalarFieldContainer[str]
    next_best_action: str
    def __init__(self, narrative: _Optional[str] = ..., insights: _Optional[_Iterable[str]] = ..., next_best_action: _Optional[str] = ...) -> None: ...

class RecommendedAction(_message.Message):
    __slots__ = ("rank", "action", "reason", "channel")
    RANK_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    rank: int
    action: str
    reason: str
    channel: ContactChannel
    def __init__(self, rank: _Optional[int] = ..., action: _Optional[str] = ..., reason: _Optional[str] = ..., channel: _Optional[_Union[ContactChannel, str]] = ...) -> None: ...

class ExpectedTimeline(_message.Message):
    __slots__ = ("move_by", "days", "source", "explanation")
    MOVE_BY_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    move_by: _timestamp_pb2.Timestamp
    days: float
    source: str
    explanation: str
    def __init__(self, move_by: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., days: _Optional[float] = ..., source: _Optional[str] = ..., explanation: _Optional[str] = ...) -> None: ...

class ScoreTimings(_message.Message):
    __slots__ = ("analysis", "reasoning")
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    REASONING_FIELD_NUMBER: _ClassVar[int]
    analysis: _duration_pb2.Duration
    reasoning: _duration_pb2.Duration
    def __init__(self, analysis: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., reasoning: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class LeadScore(_message.Message):
    __slots__ = ("lead_id", "score", "confidence", "lead_class", "components", "next_best_action", "reasoning", "reasoning_cost", "model_version", "data_completeness", "recommended_actions", "expected_timeline", "timings", "reasoning_skipped", "answers_read", "model_trained_on_synthetic_data", "reasoning_cost_unknown")
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    LEAD_CLASS_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_BEST_ACTION_FIELD_NUMBER: _ClassVar[int]
    REASONING_FIELD_NUMBER: _ClassVar[int]
    REASONING_COST_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    DATA_COMPLETENESS_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDED_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_TIMELINE_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    REASONING_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_READ_FIELD_NUMBER: _ClassVar[int]
    MODEL_TRAINED_ON_SYNTHETIC_DATA_FIELD_NUMBER: _ClassVar[int]
    REASONING_COST_UNKNOWN_FIELD_NUMBER: _ClassVar[int]
    lead_id: str
    score: float
    confidence: float
    lead_class: LeadClass
    components: _containers.RepeatedCompositeFieldContainer[ScoreComponent]
    next_best_action: str
    reasoning: LeadReasoning
    reasoning_cost: _common_pb2.Cost
    model_version: str
    data_completeness: float
    recommended_actions: _containers.RepeatedCompositeFieldContainer[RecommendedAction]
    expected_timeline: ExpectedTimeline
    timings: ScoreTimings
    reasoning_skipped: str
    answers_read: StructuredAnswers
    model_trained_on_synthetic_data: bool
    reasoning_cost_unknown: bool
    def __init__(self, lead_id: _Optional[str] = ..., score: _Optional[float] = ..., confidence: _Optional[float] = ..., lead_class: _Optional[_Union[LeadClass, str]] = ..., components: _Optional[_Iterable[_Union[ScoreComponent, _Mapping]]] = ..., next_best_action: _Optional[str] = ..., reasoning: _Optional[_Union[LeadReasoning, _Mapping]] = ..., reasoning_cost: _Optional[_Union[_common_pb2.Cost, _Mapping]] = ..., model_version: _Optional[str] = ..., data_completeness: _Optional[float] = ..., recommended_actions: _Optional[_Iterable[_Union[RecommendedAction, _Mapping]]] = ..., expected_timeline: _Optional[_Union[ExpectedTimeline, _Mapping]] = ..., timings: _Optional[_Union[ScoreTimings, _Mapping]] = ..., reasoning_skipped: _Optional[str] = ..., answers_read: _Optional[_Union[StructuredAnswers, _Mapping]] = ..., model_trained_on_synthetic_data: _Optional[bool] = ..., reasoning_cost_unknown: _Optional[bool] = ...) -> None: ...

class ReasoningAllowance(_message.Message):
    __slots__ = ("leads", "reason")
    LEADS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    leads: int
    reason: str
    def __init__(self, leads: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class ComputeLeadScoreRequest(_message.Message):
    __slots__ = ("context", "lead", "with_reasoning", "as_of")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    LEAD_FIELD_NUMBER: _ClassVar[int]
    WITH_REASONING_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    lead: Lead
    with_reasoning: bool
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., lead: _Optional[_Union[Lead, _Mapping]] = ..., with_reasoning: _Optional[bool] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ComputeLeadScoreResponse(_message.Message):
    __slots__ = ("score",)
    SCORE_FIELD_NUMBER: _ClassVar[int]
    score: LeadScore
    def __init__(self, score: _Optional[_Union[LeadScore, _Mapping]] = ...) -> None: ...

class ComputeLeadScoresRequest(_message.Message):
    __slots__ = ("context", "leads", "with_reasoning", "as_of", "max_concurrency", "reasoning_allowance")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    LEADS_FIELD_NUMBER: _ClassVar[int]
    WITH_REASONING_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    REASONING_ALLOWANCE_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    leads: _containers.RepeatedCompositeFieldContainer[Lead]
    with_reasoning: bool
    as_of: _timestamp_pb2.Timestamp
    max_concurrency: int
    reasoning_allowance: ReasoningAllowance
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., leads: _Optional[_Iterable[_Union[Lead, _Mapping]]] = ..., with_reasoning: _Optional[bool] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., max_concurrency: _Optional[int] = ..., reasoning_allowance: _Optional[_Union[ReasoningAllowance, _Mapping]] = ...) -> None: ...

class ComputeLeadScoresResponse(_message.Message):
    __slots__ = ("index", "score", "error")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    index: int
    score: LeadScore
    error: str
    def __init__(self, index: _Optional[int] = ..., score: _Optional[_Union[LeadScore, _Mapping]] = ..., error: _Optional[str] = ...) -> None: ...
