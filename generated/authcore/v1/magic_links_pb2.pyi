from authcore.v1 import options_pb2 as _options_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MagicLinkResponse(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MAGIC_LINK_RESPONSE_UNSPECIFIED: _ClassVar[MagicLinkResponse]
    MAGIC_LINK_RESPONSE_CONFIRM: _ClassVar[MagicLinkResponse]
    MAGIC_LINK_RESPONSE_CANCEL: _ClassVar[MagicLinkResponse]
MAGIC_LINK_RESPONSE_UNSPECIFIED: MagicLinkResponse
MAGIC_LINK_RESPONSE_CONFIRM: MagicLinkResponse
MAGIC_LINK_RESPONSE_CANCEL: MagicLinkResponse

class RespondToMagicLinkRequest(_message.Message):
    __slots__ = ("magic_link_token", "response")
    MAGIC_LINK_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    magic_link_token: str
    response: MagicLinkResponse
    def __init__(self, magic_link_token: _Optional[str] = ..., response: _Optional[_Union[MagicLinkResponse, str]] = ...) -> None: ...

class RespondToMagicLinkResponse(_message.Message):
    __slots__ = ("redirect_url",)
    REDIRECT_URL_FIELD_NUMBER: _ClassVar[int]
    redirect_url: str
    def __init__(self, redirect_url: _Optional[str] = ...) -> None: ...
