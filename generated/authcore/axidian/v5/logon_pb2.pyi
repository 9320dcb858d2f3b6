from authcore.v1 import options_pb2 as _options_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IsAvailableRequest(_message.Message):
    __slots__ = ("application_id", "user_id", "exclude_windows_password")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_WINDOWS_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    user_id: str
    exclude_windows_password: bool
    def __init__(self, application_id: _Optional[str] = ..., user_id: _Optional[str] = ..., exclude_windows_password: _Optional[bool] = ...) -> None: ...

class IsAvailableResponse(_message.Message):
    __slots__ = ("available",)
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    available: bool
    def __init__(self, available: _Optional[bool] = ...) -> None: ...

class GetAvailableMethodsRequest(_message.Message):
    __slots__ = ("application_id", "user_id", "include_mode_ids", "exclude_mode_ids")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_MODE_IDS_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_MODE_IDS_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    user_id: str
    include_mode_ids: _containers.RepeatedScalarFieldContainer[str]
    exclude_mode_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, application_id: _Optional[str] = ..., user_id: _Optional[str] = ..., include_mode_ids: _Optional[_Iterable[str]] = ..., exclude_mode_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GetAvailableMethodsResponse(_message.Message):
    __slots__ = ("valid_properties_mask", "authetication_methods")
    VALID_PROPERTIES_MASK_FIELD_NUMBER: _ClassVar[int]
    AUTHETICATION_METHODS_FIELD_NUMBER: _ClassVar[int]
    valid_properties_mask: int
    authetication_methods: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, valid_properties_mask: _Optional[int] = ..., authetication_methods: _Optional[_Iterable[str]] = ...) -> None: ...

class LogonResult(_message.Message):
    __slots__ = ("valid_properties_mask", "result")
    VALID_PROPERTIES_MASK_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    valid_properties_mask: int
    result: _struct_pb2.Value
    def __init__(self, valid_properties_mask: _Optional[int] = ..., result: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class AuthenticateRequest(_message.Message):
    __slots__ = ("template_id", "business_application")
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    BUSINESS_APPLICATION_FIELD_NUMBER: _ClassVar[int]
    template_id: str
    business_application: str
    def __init__(self, template_id: _Optional[str] = ..., business_application: _Optional[str] = ...) -> None: ...

class AuthenticateResponse(_message.Message):
    __slots__ = ("valid_properties_mask", "token", "logon_result", "user_id")
    VALID_PROPERTIES_MASK_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    LOGON_RESULT_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    valid_properties_mask: int
    token: str
    logon_result: LogonResult
    user_id: str
    def __init__(self, valid_properties_mask: _Optional[int] = ..., token: _Optional[str] = ..., logon_result: _Optional[_Union[LogonResult, _Mapping]] = ..., user_id: _Optional[str] = ...) -> None: ...

class AuthenticateByWindowsTokenRequest(_message.Message):
    __slots__ = ("application_id", "business_application", "authorization")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    BUSINESS_APPLICATION_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    business_application: str
    authorization: str
    def __init__(self, application_id: _Optional[str] = ..., business_application: _Optional[str] = ..., authorization: _Optional[str] = ...) -> None: ...

class AuthenticateByWindowsTokenResponse(_message.Message):
    __slots__ = ("valid_properties_mask", "token", "logon_result", "user_id", "www_authenticate")
    VALID_PROPERTIES_MASK_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    LOGON_RESULT_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    WWW_AUTHENTICATE_FIELD_NUMBER: _ClassVar[int]
    valid_properties_mask: int
    token: str
    logon_result: LogonResult
    user_id: str
    www_authenticate: str
    def __init__(self, valid_properties_mask: _Optional[int] = ..., token: _Optional[str] = ..., logon_result: _Optional[_Union[LogonResult, _Mapping]] = ..., user_id: _Optional[str] = ..., www_authenticate: _Optional[str] = ...) -> None: ...

class UserSearchParams(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class OpenVerifySessionRequest(_message.Message):
    __slots__ = ("user_search_params", "mode_id", "application_id")
    USER_SEARCH_PARAMS_FIELD_NUMBER: _ClassVar[int]
    MODE_ID_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    user_search_params: UserSearchParams
    mode_id: str
    application_id: str
    def __init__(self, user_search_params: _Optional[_Union[UserSearchParams, _Mapping]] = ..., mode_id: _Optional[str] = ..., application_id: _Optional[str] = ...) -> None: ...

class OpenVerifySessionResponse(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class PrepareTemplateDataRequest(_message.Message):
    __slots__ = ("session_id", "data")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    data: str
    def __init__(self, session_id: _Optional[str] = ..., data: _Optional[str] = ...) -> None: ...

class PrepareTemplateDataResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateTemplateRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class CreateTemplateResponse(_message.Message):
    __slots__ = ("template_id",)
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    template_id: str
    def __init__(self, template_id: _Optional[str] = ...) -> None: ...
