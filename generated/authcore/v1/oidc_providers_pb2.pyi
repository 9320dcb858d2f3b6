import datetime

from authcore.v1 import options_pb2 as _options_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OidcProvider(_message.Message):
    __slots__ = ("provider_id", "application_id", "issuer", "client_id", "has_client_secret", "scopes", "name", "created_at", "entrust_redirect_uri")
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    HAS_CLIENT_SECRET_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ENTRUST_REDIRECT_URI_FIELD_NUMBER: _ClassVar[int]
    provider_id: str
    application_id: str
    issuer: str
    client_id: str
    has_client_secret: bool
    scopes: _containers.RepeatedScalarFieldContainer[str]
    name: str
    created_at: _timestamp_pb2.Timestamp
    entrust_redirect_uri: str
    def __init__(self, provider_id: _Optional[str] = ..., application_id: _Optional[str] = ..., issuer: _Optional[str] = ..., client_id: _Optional[str] = ..., has_client_secret: _Optional[bool] = ..., scopes: _Optional[_Iterable[str]] = ..., name: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., entrust_redirect_uri: _Optional[str] = ...) -> None: ...

class CreateOidcProviderRequest(_message.Message):
    __slots__ = ("application_id", "provider_id", "issuer", "client_id", "client_secret", "scopes", "name", "entrust_redirect_uri")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_SECRET_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENTRUST_REDIRECT_URI_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    provider_id: str
    issuer: str
    client_id: str
    client_secret: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    name: str
    entrust_redirect_uri: str
    def __init__(self, application_id: _Optional[str] = ..., provider_id: _Optional[str] = ..., issuer: _Optional[str] = ..., client_id: _Optional[str] = ..., client_secret: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., name: _Optional[str] = ..., entrust_redirect_uri: _Optional[str] = ...) -> None: ...

class CreateOidcProviderResponse(_message.Message):
    __slots__ = ("provider",)
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    provider: OidcProvider
    def __init__(self, provider: _Optional[_Union[OidcProvider, _Mapping]] = ...) -> None: ...

class ListOidcProvidersRequest(_message.Message):
    __slots__ = ("application_id",)
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    def __init__(self, application_id: _Optional[str] = ...) -> None: ...

class ListOidcProvidersResponse(_message.Message):
    __slots__ = ("providers",)
    PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    providers: _containers.RepeatedCompositeFieldContainer[OidcProvider]
    def __init__(self, providers: _Optional[_Iterable[_Union[OidcProvider, _Mapping]]] = ...) -> None: ...

class DeleteOidcProviderRequest(_message.Message):
    __slots__ = ("application_id", "provider_id")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    provider_id: str
    def __init__(self, application_id: _Optional[str] = ..., provider_id: _Optional[str] = ...) -> None: ...

class DeleteOidcProviderResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
