import datetime

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
    __slots__ = ("profile", "answers", "events", "conversation")
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    profile: LeadProfile
    answers: QualificationAnswers
    events: _containers.RepeatedCompositeFieldContainer[EngagementEvent]
    conversation: _containers.RepeatedCompositeFieldContainer[_common_pb2.Message]
    def __init__(self, profile: _Optional[_Union[LeadProfile, _Mapping]] = ..., answers: _Optional[_Union[QualificationAnswers, _Mapping]] = ..., events: _Optional[_Iterable[_Union[EngagementEvent, _Mapping]]] = ..., conversation: _Optional[_Iterable[_Union[_common_pb2.Message, _Mapping]]] = ...) -> None: ...

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

class LeadScore(_message.Message):
    __slots__ = ("lead_id", "score", "confidence", "lead_class", "components", "next_best_action", "reasoning", "reasoning_cost", "model_version")
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    LEAD_CLASS_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_BEST_ACTION_FIELD_NUMBER: _ClassVar[int]
    REASONING_FIELD_NUMBER: _ClassVar[int]
    REASONING_COST_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    lead_id: str
    score: float
    confidence: float
    lead_class: LeadClass
    components: _containers.RepeatedCompositeFieldContainer[ScoreComponent]
    next_best_action: str
    reasoning: LeadReasoning
    reasoning_cost: _common_pb2.Cost
    model_version: str
    def __init__(self, lead_id: _Optional[str] = ..., score: _Optional[float] = ..., confidence: _Optional[float] = ..., lead_class: _Optional[_Union[LeadClass, str]] = ..., components: _Optional[_Iterable[_Union[ScoreComponent, _Mapping]]] = ..., next_best_action: _Optional[str] = ..., reasoning: _Optional[_Union[LeadReasoning, _Mapping]] = ..., reasoning_cost: _Optional[_Union[_common_pb2.Cost, _Mapping]] = ..., model_version: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("context", "leads", "with_reasoning", "as_of", "max_concurrency")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    LEADS_FIELD_NUMBER: _ClassVar[int]
    WITH_REASONING_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    leads: _containers.RepeatedCompositeFieldContainer[Lead]
    with_reasoning: bool
    as_of: _timestamp_pb2.Timestamp
    max_concurrency: int
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., leads: _Optional[_Iterable[_Union[Lead, _Mapping]]] = ..., with_reasoning: _Optional[bool] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., max_concurrency: _Optional[int] = ...) -> None: ...

class ComputeLeadScoresResponse(_message.Message):
    __slots__ = ("index", "score", "error")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    index: int
    score: LeadScore
    error: str
    def __init__(self, index: _Optional[int] = ..., score: _Optional[_Union[LeadScore, _Mapping]] = ..., error: _Optional[str] = ...) -> None: ...
