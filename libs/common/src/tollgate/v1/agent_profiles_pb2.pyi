from tollgate.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UpsertAgentProfileRequest(_message.Message):
    __slots__ = ("tenant_id", "profile", "actor")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    profile: _common_pb2.AgentProfile
    actor: str
    def __init__(self, tenant_id: _Optional[str] = ..., profile: _Optional[_Union[_common_pb2.AgentProfile, _Mapping]] = ..., actor: _Optional[str] = ...) -> None: ...

class UpsertAgentProfileResponse(_message.Message):
    __slots__ = ("profile", "created")
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    profile: _common_pb2.AgentProfile
    created: bool
    def __init__(self, profile: _Optional[_Union[_common_pb2.AgentProfile, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class LookupAgentProfileRequest(_message.Message):
    __slots__ = ("tenant_id", "agent_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    agent_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., agent_id: _Optional[str] = ...) -> None: ...

class LookupAgentProfileResponse(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: _common_pb2.AgentProfile
    def __init__(self, profile: _Optional[_Union[_common_pb2.AgentProfile, _Mapping]] = ...) -> None: ...

class ListStoredAgentProfilesRequest(_message.Message):
    __slots__ = ("tenant_id",)
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    def __init__(self, tenant_id: _Optional[str] = ...) -> None: ...

class ListStoredAgentProfilesResponse(_message.Message):
    __slots__ = ("profiles",)
    PROFILES_FIELD_NUMBER: _ClassVar[int]
    profiles: _containers.RepeatedCompositeFieldContainer[_common_pb2.AgentProfile]
    def __init__(self, profiles: _Optional[_Iterable[_Union[_common_pb2.AgentProfile, _Mapping]]] = ...) -> None: ...

class RemoveAgentProfileRequest(_message.Message):
    __slots__ = ("tenant_id", "agent_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    agent_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., agent_id: _Optional[str] = ...) -> None: ...

class RemoveAgentProfileResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    def __init__(self, deleted: _Optional[bool] = ...) -> None: ...
