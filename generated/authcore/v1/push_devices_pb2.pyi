from authcore.v1 import authentication_pb2 as _authentication_pb2
from authcore.v1 import authenticators_pb2 as _authenticators_pb2
from authcore.v1 import options_pb2 as _options_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PushDevice(_message.Message):
    __slots__ = ("serial_number", "type", "label", "created", "certificate_subject", "certificate_expires")
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_SUBJECT_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_EXPIRES_FIELD_NUMBER: _ClassVar[int]
    serial_number: str
    type: _authenticators_pb2.AuthenticatorType
    label: str
    created: int
    certificate_subject: str
    certificate_expires: int
    def __init__(self, serial_number: _Optional[str] = ..., type: _Optional[_Union[_authenticators_pb2.AuthenticatorType, str]] = ..., label: _Optional[str] = ..., created: _Optional[int] = ..., certificate_subject: _Optional[str] = ..., certificate_expires: _Optional[int] = ...) -> None: ...

class CreatePushDeviceRequest(_message.Message):
    __slots__ = ("user_id", "type", "public_key", "certificate", "label")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    type: _authenticators_pb2.AuthenticatorType
    public_key: str
    certificate: str
    label: str
    def __init__(self, user_id: _Optional[str] = ..., type: _Optional[_Union[_authenticators_pb2.AuthenticatorType, str]] = ..., public_key: _Optional[str] = ..., certificate: _Optional[str] = ..., label: _Optional[str] = ...) -> None: ...

class CreatePushDeviceResponse(_message.Message):
    __slots__ = ("device",)
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    device: PushDevice
    def __init__(self, device: _Optional[_Union[PushDevice, _Mapping]] = ...) -> None: ...

class ListPushDevicesRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class ListPushDevicesResponse(_message.Message):
    __slots__ = ("devices",)
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    devices: _containers.RepeatedCompositeFieldContainer[PushDevice]
    def __init__(self, devices: _Optional[_Iterable[_Union[PushDevice, _Mapping]]] = ...) -> None: ...

class DeletePushDeviceRequest(_message.Message):
    __slots__ = ("user_id", "serial_number")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    serial_number: str
    def __init__(self, user_id: _Optional[str] = ..., serial_number: _Optional[str] = ...) -> None: ...

class DeletePushDeviceResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreatePushActivationRequest(_message.Message):
    __slots__ = ("user_id", "type", "label")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    type: _authenticators_pb2.AuthenticatorType
    label: str
    def __init__(self, user_id: _Optional[str] = ..., type: _Optional[_Union[_authenticators_pb2.AuthenticatorType, str]] = ..., label: _Optional[str] = ...) -> None: ...

class CreatePushActivationResponse(_message.Message):
    __slots__ = ("activation_code", "expires")
    ACTIVATION_CODE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    activation_code: str
    expires: int
    def __init__(self, activation_code: _Optional[str] = ..., expires: _Optional[int] = ...) -> None: ...

class ActivatePushDeviceRequest(_message.Message):
    __slots__ = ("activation_code", "public_key", "certificate")
    ACTIVATION_CODE_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    activation_code: str
    public_key: str
    certificate: str
    def __init__(self, activation_code: _Optional[str] = ..., public_key: _Optional[str] = ..., certificate: _Optional[str] = ...) -> None: ...

class ActivatePushDeviceResponse(_message.Message):
    __slots__ = ("device",)
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    device: PushDevice
    def __init__(self, device: _Optional[_Union[PushDevice, _Mapping]] = ...) -> None: ...

class RespondToPushRequest(_message.Message):
    __slots__ = ("push_id", "serial_number", "status", "counter", "mutual_challenge", "signature")
    PUSH_ID_FIELD_NUMBER: _ClassVar[int]
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    COUNTER_FIELD_NUMBER: _ClassVar[int]
    MUTUAL_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    push_id: str
    serial_number: str
    status: _authentication_pb2.PushStatus
    counter: int
    mutual_challenge: str
    signature: str
    def __init__(self, push_id: _Optional[str] = ..., serial_number: _Optional[str] = ..., status: _Optional[_Union[_authentication_pb2.PushStatus, str]] = ..., counter: _Optional[int] = ..., mutual_challenge: _Optional[str] = ..., signature: _Optional[str] = ...) -> None: ...

class RespondToPushResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
