from authcore.v1 import options_pb2 as _options_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class StartOidcLoginRequest(_message.Message):
    __slots__ = ("provider_id", "redirect_uri")
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    REDIRECT_URI_FIELD_NUMBER: _ClassVar[int]
    provider_id: str
    redirect_uri: str
    def __init__(self, provider_id: _Optional[str] = ..., redirect_uri: _Optional[str] = ...) -> None: ...

class StartOidcLoginResponse(_message.Message):
    __slots__ = ("location", "state")
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    location: str
    state: str
    def __init__(self, location: _Optional[str] = ..., state: _Optional[str] = ...) -> None: ...

class FinishOidcLoginRequest(_message.Message):
    __slots__ = ("provider_id", "code", "state", "error", "error_description", "iss")
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ERROR_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ISS_FIELD_NUMBER: _ClassVar[int]
    provider_id: str
    code: str
    state: str
    error: str
    error_description: str
    iss: str
    def __init__(self, provider_id: _Optional[str] = ..., code: _Optional[str] = ..., state: _Optional[str] = ..., error: _Optional[str] = ..., error_description: _Optional[str] = ..., iss: _Optional[str] = ...) -> None: ...

class FinishOidcLoginResponse(_message.Message):
    __slots__ = ("location", "jwt_access", "user_id")
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    JWT_ACCESS_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    location: str
    jwt_access: str
    user_id: str
    def __init__(self, location: _Optional[str] = ..., jwt_access: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...
