from tollgate.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ClassificationItem(_message.Message):
    __slots__ = ("id", "text")
    ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    id: str
    text: str
    def __init__(self, id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class LabelSet(_message.Message):
    __slots__ = ("labels",)
    LABELS_FIELD_NUMBER: _ClassVar[int]
    labels: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, labels: _Optional[_Iterable[str]] = ...) -> None: ...

class ClassificationInstructions(_message.Message):
    __slots__ = ("prompt", "labels", "json_schema", "version", "model")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    JSON_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    labels: LabelSet
    json_schema: str
    version: str
    model: str
    def __init__(self, prompt: _Optional[str] = ..., labels: _Optional[_Union[LabelSet, _Mapping]] = ..., json_schema: _Optional[str] = ..., version: _Optional[str] = ..., model: _Optional[str] = ...) -> None: ...

class ClassificationResult(_message.Message):
    __slots__ = ("item_id", "label", "result_json", "error", "calls", "usage", "cost", "cached", "model")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CALLS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    label: str
    result_json: str
    error: str
    calls: int
    usage: _common_pb2.Usage
    cost: _common_pb2.Cost
    cached: bool
    model: str
    def __init__(self, item_id: _Optional[str] = ..., label: _Optional[str] = ..., result_json: _Optional[str] = ..., error: _Optional[str] = ..., calls: _Optional[int] = ..., usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ..., cost: _Optional[_Union[_common_pb2.Cost, _Mapping]] = ..., cached: _Optional[bool] = ..., model: _Optional[str] = ...) -> None: ...
