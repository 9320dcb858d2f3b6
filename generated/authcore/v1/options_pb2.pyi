from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ErrorStyle(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_STYLE_UNSPECIFIED: _ClassVar[ErrorStyle]
    ERROR_STYLE_ENTRUST: _ClassVar[ErrorStyle]
    ERROR_STYLE_LOGINID: _ClassVar[ErrorStyle]
    ERROR_STYLE_CONSUMER: _ClassVar[ErrorStyle]
    ERROR_STYLE_SCIM: _ClassVar[ErrorStyle]
    ERROR_STYLE_AXIDIAN: _ClassVar[ErrorStyle]
    ERROR_STYLE_CODE_MESSAGE: _ClassVar[ErrorStyle]

class AuthKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUTH_KIND_UNSPECIFIED: _ClassVar[AuthKind]
    AUTH_KIND_ADMIN_KEY: _ClassVar[AuthKind]
ERROR_STYLE_UNSPECIFIED: ErrorStyle
ERROR_STYLE_ENTRUST: ErrorStyle
ERROR_STYLE_LOGINID: ErrorStyle
ERROR_STYLE_CONSUMER: ErrorStyle
ERROR_STYLE_SCIM: ErrorStyle
ERROR_STYLE_AXIDIAN: ErrorStyle
ERROR_STYLE_CODE_MESSAGE: ErrorStyle
AUTH_KIND_UNSPECIFIED: AuthKind
AUTH_KIND_ADMIN_KEY: AuthKind
FILE_FIELD_NUMBER: _ClassVar[int]
file: _descriptor.FieldDescriptor
SERVICE_FIELD_NUMBER: _ClassVar[int]
service: _descriptor.FieldDescriptor
METHOD_FIELD_NUMBER: _ClassVar[int]
method: _descriptor.FieldDescriptor
JSON_VALUE_FIELD_NUMBER: _ClassVar[int]
json_value: _descriptor.FieldDescriptor

class HeaderBinding(_message.Message):
    __slots__ = ("header", "field")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    header: str
    field: str
    def __init__(self, header: _Optional[str] = ..., field: _Optional[str] = ...) -> None: ...

class ResponseHeaderBinding(_message.Message):
    __slots__ = ("header", "field", "header_only")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    HEADER_ONLY_FIELD_NUMBER: _ClassVar[int]
    header: str
    field: str
    header_only: bool
    def __init__(self, header: _Optional[str] = ..., field: _Optional[str] = ..., header_only: _Optional[bool] = ...) -> None: ...

class FileOptions(_message.Message):
    __slots__ = ("json_case_insensitive_keys", "json_omit_empty_repeated")
    JSON_CASE_INSENSITIVE_KEYS_FIELD_NUMBER: _ClassVar[int]
    JSON_OMIT_EMPTY_REPEATED_FIELD_NUMBER: _ClassVar[int]
    json_case_insensitive_keys: bool
    json_omit_empty_repeated: bool
    def __init__(self, json_case_insensitive_keys: _Optional[bool] = ..., json_omit_empty_repeated: _Optional[bool] = ...) -> None: ...

class ServiceOptions(_message.Message):
    __slots__ = ("error_style",)
    ERROR_STYLE_FIELD_NUMBER: _ClassVar[int]
    error_style: ErrorStyle
    def __init__(self, error_style: _Optional[_Union[ErrorStyle, str]] = ...) -> None: ...

class MethodOptions(_message.Message):
    __slots__ = ("success_status", "auth", "admin_scope", "headers", "empty_response_body", "response_headers", "body_required")
    SUCCESS_STATUS_FIELD_NUMBER: _ClassVar[int]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    ADMIN_SCOPE_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    EMPTY_RESPONSE_BODY_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_HEADERS_FIELD_NUMBER: _ClassVar[int]
    BODY_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    success_status: int
    auth: AuthKind
    admin_scope: str
    headers: _containers.RepeatedCompositeFieldContainer[HeaderBinding]
    empty_response_body: bool
    response_headers: _containers.RepeatedCompositeFieldContainer[ResponseHeaderBinding]
    body_required: bool
    def __init__(self, success_status: _Optional[int] = ..., auth: _Optional[_Union[AuthKind, str]] = ..., admin_scope: _Optional[str] = ..., headers: _Optional[_Iterable[_Union[HeaderBinding, _Mapping]]] = ..., empty_response_body: _Optional[bool] = ..., response_headers: _Optional[_Iterable[_Union[ResponseHeaderBinding, _Mapping]]] = ..., body_required: _Optional[bool] = ...) -> None: ...
