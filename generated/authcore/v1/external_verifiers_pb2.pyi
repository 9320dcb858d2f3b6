import datetime

from authcore.v1 import options_pb2 as _options_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExternalVerifier(_message.Message):
    __slots__ = ("application_id", "url", "timeout_ms", "updated_at")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    url: str
    timeout_ms: int
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, application_id: _Optional[str] = ..., url: _Optional[str] = ..., timeout_ms: _Optional[int] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PutExternalVerifierRequest(_message.Message):
    __slots__ = ("application_id", "url", "secret", "timeout_ms")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    url: str
    secret: str
    timeout_ms: int
    def __init__(self, application_id: _Optional[str] = ..., url: _Optional[str] = ..., secret: _Optional[str] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class PutExternalVerifierResponse(_message.Message):
    __slots__ = ("verifier",)
    VERIFIER_FIELD_NUMBER: _ClassVar[int]
    verifier: ExternalVerifier
    def __init__(self, verifier: _Optional[_Union[ExternalVerifier, _Mapping]] = ...) -> None: ...

class GetExternalVerifierRequest(_message.Message):
    __slots__ = ("application_id",)
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    def __init__(self, application_id: _Optional[str] = ...) -> None: ...

class GetExternalVerifierResponse(_message.Message):
    __slots__ = ("verifier",)
    VERIFIER_FIELD_NUMBER: _ClassVar[int]
    verifier: ExternalVerifier
    def __init__(self, verifier: _Optional[_Union[ExternalVerifier, _Mapping]] = ...) -> None: ...

class DeleteExternalVerifierRequest(_message.Message):
    __slots__ = ("application_id",)
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    def __init__(self, application_id: _Optional[str] = ...) -> None: ...

class DeleteExternalVerifierResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
