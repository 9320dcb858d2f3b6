from authcore.v1 import options_pb2 as _options_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DeleteProfileRequest(_message.Message):
    __slots__ = ("id", "authorization")
    ID_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    id: str
    authorization: str
    def __init__(self, id: _Optional[str] = ..., authorization: _Optional[str] = ...) -> None: ...

class DeleteProfileResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UpdateEmailRequest(_message.Message):
    __slots__ = ("id", "authorization", "email", "request_verification")
    ID_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    REQUEST_VERIFICATION_FIELD_NUMBER: _ClassVar[int]
    id: str
    authorization: str
    email: str
    request_verification: bool
    def __init__(self, id: _Optional[str] = ..., authorization: _Optional[str] = ..., email: _Optional[str] = ..., request_verification: _Optional[bool] = ...) -> None: ...

class UpdateEmailResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UpdatePhoneRequest(_message.Message):
    __slots__ = ("id", "authorization", "phone_number", "messaging_consent", "request_verification")
    ID_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    PHONE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    MESSAGING_CONSENT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_VERIFICATION_FIELD_NUMBER: _ClassVar[int]
    id: str
    authorization: str
    phone_number: str
    messaging_consent: bool
    request_verification: bool
    def __init__(self, id: _Optional[str] = ..., authorization: _Optional[str] = ..., phone_number: _Optional[str] = ..., messaging_consent: _Optional[bool] = ..., request_verification: _Optional[bool] = ...) -> None: ...

class UpdatePhoneResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeletePhoneRequest(_message.Message):
    __slots__ = ("id", "authorization")
    ID_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    id: str
    authorization: str
    def __init__(self, id: _Optional[str] = ..., authorization: _Optional[str] = ...) -> None: ...

class DeletePhoneResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyEmailRequest(_message.Message):
    __slots__ = ("auth_code", "username", "app_id")
    AUTH_CODE_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    auth_code: str
    username: str
    app_id: str
    def __init__(self, auth_code: _Optional[str] = ..., username: _Optional[str] = ..., app_id: _Optional[str] = ...) -> None: ...

class VerifyEmailResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyPhoneRequest(_message.Message):
    __slots__ = ("auth_code", "username", "app_id")
    AUTH_CODE_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    auth_code: str
    username: str
    app_id: str
    def __init__(self, auth_code: _Optional[str] = ..., username: _Optional[str] = ..., app_id: _Optional[str] = ...) -> None: ...

class VerifyPhoneResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListDevicesRequest(_message.Message):
    __slots__ = ("authorization",)
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    authorization: str
    def __init__(self, authorization: _Optional[str] = ...) -> None: ...

class Device(_message.Message):
    __slots__ = ("device_id", "name", "created_at", "last_used_at")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    name: str
    created_at: str
    last_used_at: str
    def __init__(self, device_id: _Optional[str] = ..., name: _Optional[str] = ..., created_at: _Optional[str] = ..., last_used_at: _Optional[str] = ...) -> None: ...

class ListDevicesResponse(_message.Message):
    __slots__ = ("devices",)
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    devices: _containers.RepeatedCompositeFieldContainer[Device]
    def __init__(self, devices: _Optional[_Iterable[_Union[Device, _Mapping]]] = ...) -> None: ...

class RenameDeviceRequest(_message.Message):
    __slots__ = ("device_id", "authorization", "name")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    authorization: str
    name: str
    def __init__(self, device_id: _Optional[str] = ..., authorization: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class RenameDeviceResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeleteDeviceRequest(_message.Message):
    __slots__ = ("device_id", "authorization")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    authorization: str
    def __init__(self, device_id: _Optional[str] = ..., authorization: _Optional[str] = ...) -> None: ...

class DeleteDeviceResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
