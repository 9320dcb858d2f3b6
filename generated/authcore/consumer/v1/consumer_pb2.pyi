from authcore.v1 import options_pb2 as _options_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IdentityType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IDENTITY_TYPE_UNSPECIFIED: _ClassVar[IdentityType]
    IDENTITY_TYPE_CONSUMER: _ClassVar[IdentityType]
    IDENTITY_TYPE_CORPORATE: _ClassVar[IdentityType]

class TokenType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TOKEN_TYPE_UNSPECIFIED: _ClassVar[TokenType]
    TOKEN_TYPE_AUTH: _ClassVar[TokenType]

class CredentialsType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CREDENTIALS_TYPE_UNSPECIFIED: _ClassVar[CredentialsType]
    CREDENTIALS_TYPE_ROOT: _ClassVar[CredentialsType]

class PushStepUpStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PUSH_STEP_UP_STATUS_UNSPECIFIED: _ClassVar[PushStepUpStatus]
    PUSH_STEP_UP_STATUS_PENDING: _ClassVar[PushStepUpStatus]
    PUSH_STEP_UP_STATUS_APPROVED: _ClassVar[PushStepUpStatus]
    PUSH_STEP_UP_STATUS_DENIED: _ClassVar[PushStepUpStatus]
    PUSH_STEP_UP_STATUS_EXPIRED: _ClassVar[PushStepUpStatus]

class PushOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PUSH_OUTCOME_UNSPECIFIED: _ClassVar[PushOutcome]
    PUSH_OUTCOME_APPROVED: _ClassVar[PushOutcome]
    PUSH_OUTCOME_DENIED: _ClassVar[PushOutcome]
IDENTITY_TYPE_UNSPECIFIED: IdentityType
IDENTITY_TYPE_CONSUMER: IdentityType
IDENTITY_TYPE_CORPORATE: IdentityType
TOKEN_TYPE_UNSPECIFIED: TokenType
TOKEN_TYPE_AUTH: TokenType
CREDENTIALS_TYPE_UNSPECIFIED: CredentialsType
CREDENTIALS_TYPE_ROOT: CredentialsType
PUSH_STEP_UP_STATUS_UNSPECIFIED: PushStepUpStatus
PUSH_STEP_UP_STATUS_PENDING: PushStepUpStatus
PUSH_STEP_UP_STATUS_APPROVED: PushStepUpStatus
PUSH_STEP_UP_STATUS_DENIED: PushStepUpStatus
PUSH_STEP_UP_STATUS_EXPIRED: PushStepUpStatus
PUSH_OUTCOME_UNSPECIFIED: PushOutcome
PUSH_OUTCOME_APPROVED: PushOutcome
PUSH_OUTCOME_DENIED: PushOutcome

class IdentityId(_message.Message):
    __slots__ = ("type", "id")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    type: IdentityType
    id: str
    def __init__(self, type: _Optional[_Union[IdentityType, str]] = ..., id: _Optional[str] = ...) -> None: ...

class CredentialsId(_message.Message):
    __slots__ = ("type", "id")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    type: CredentialsType
    id: str
    def __init__(self, type: _Optional[_Union[CredentialsType, str]] = ..., id: _Optional[str] = ...) -> None: ...

class Password(_message.Message):
    __slots__ = ("value",)
    VALUE_FIELD_NUMBER: _ClassVar[int]
    value: str
    def __init__(self, value: _Optional[str] = ...) -> None: ...

class LoginRequest(_message.Message):
    __slots__ = ("email", "password")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    email: str
    password: Password
    def __init__(self, email: _Optional[str] = ..., password: _Optional[_Union[Password, _Mapping]] = ...) -> None: ...

class LoginResponse(_message.Message):
    __slots__ = ("token", "token_type", "identity", "credentials")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_TYPE_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    token: str
    token_type: TokenType
    identity: IdentityId
    credentials: CredentialsId
    def __init__(self, token: _Optional[str] = ..., token_type: _Optional[_Union[TokenType, str]] = ..., identity: _Optional[_Union[IdentityId, _Mapping]] = ..., credentials: _Optional[_Union[CredentialsId, _Mapping]] = ...) -> None: ...

class UpdatePasswordRequest(_message.Message):
    __slots__ = ("authorization", "old_password", "new_password")
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    OLD_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    NEW_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    authorization: str
    old_password: Password
    new_password: Password
    def __init__(self, authorization: _Optional[str] = ..., old_password: _Optional[_Union[Password, _Mapping]] = ..., new_password: _Optional[_Union[Password, _Mapping]] = ...) -> None: ...

class UpdatePasswordResponse(_message.Message):
    __slots__ = ("token", "token_type", "identity", "credentials")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_TYPE_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    token: str
    token_type: TokenType
    identity: IdentityId
    credentials: CredentialsId
    def __init__(self, token: _Optional[str] = ..., token_type: _Optional[_Union[TokenType, str]] = ..., identity: _Optional[_Union[IdentityId, _Mapping]] = ..., credentials: _Optional[_Union[CredentialsId, _Mapping]] = ...) -> None: ...

class ListIdentitiesRequest(_message.Message):
    __slots__ = ("authorization",)
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    authorization: str
    def __init__(self, authorization: _Optional[str] = ...) -> None: ...

class Identity(_message.Message):
    __slots__ = ("id", "name")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    id: IdentityId
    name: str
    def __init__(self, id: _Optional[_Union[IdentityId, _Mapping]] = ..., name: _Optional[str] = ...) -> None: ...

class ListIdentitiesResponse(_message.Message):
    __slots__ = ("identities",)
    IDENTITIES_FIELD_NUMBER: _ClassVar[int]
    identities: _containers.RepeatedCompositeFieldContainer[Identity]
    def __init__(self, identities: _Optional[_Iterable[_Union[Identity, _Mapping]]] = ...) -> None: ...

class CreateAccessTokenRequest(_message.Message):
    __slots__ = ("authorization", "identity")
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    authorization: str
    identity: IdentityId
    def __init__(self, authorization: _Optional[str] = ..., identity: _Optional[_Union[IdentityId, _Mapping]] = ...) -> None: ...

class CreateAccessTokenResponse(_message.Message):
    __slots__ = ("token", "identity", "credentials")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    token: str
    identity: IdentityId
    credentials: CredentialsId
    def __init__(self, token: _Optional[str] = ..., identity: _Optional[_Union[IdentityId, _Mapping]] = ..., credentials: _Optional[_Union[CredentialsId, _Mapping]] = ...) -> None: ...

class EnrollOtpFactorRequest(_message.Message):
    __slots__ = ("authorization", "channel", "mobile_number")
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    MOBILE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    authorization: str
    channel: str
    mobile_number: str
    def __init__(self, authorization: _Optional[str] = ..., channel: _Optional[str] = ..., mobile_number: _Optional[str] = ...) -> None: ...

class EnrollOtpFactorResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyOtpFactorRequest(_message.Message):
    __slots__ = ("authorization", "channel", "verification_code")
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_CODE_FIELD_NUMBER: _ClassVar[int]
    authorization: str
    channel: str
    verification_code: str
    def __init__(self, authorization: _Optional[str] = ..., channel: _Optional[str] = ..., verification_code: _Optional[str] = ...) -> None: ...

class VerifyOtpFactorResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EnrollPushFactorRequest(_message.Message):
    __slots__ = ("authorization", "channel", "public_key", "device_name", "push_token")
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    DEVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    PUSH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    authorization: str
    channel: str
    public_key: str
    device_name: str
    push_token: str
    def __init__(self, authorization: _Optional[str] = ..., channel: _Optional[str] = ..., public_key: _Optional[str] = ..., device_name: _Optional[str] = ..., push_token: _Optional[str] = ...) -> None: ...

class EnrollPushFactorResponse(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class StartOtpStepUpRequest(_message.Message):
    __slots__ = ("authorization",)
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    authorization: str
    def __init__(self, authorization: _Optional[str] = ...) -> None: ...

class StartOtpStepUpResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyOtpStepUpRequest(_message.Message):
    __slots__ = ("authorization", "verification_code")
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_CODE_FIELD_NUMBER: _ClassVar[int]
    authorization: str
    verification_code: str
    def __init__(self, authorization: _Optional[str] = ..., verification_code: _Optional[str] = ...) -> None: ...

class VerifyOtpStepUpResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StartPushStepUpRequest(_message.Message):
    __slots__ = ("authorization", "channel")
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    authorization: str
    channel: str
    def __init__(self, authorization: _Optional[str] = ..., channel: _Optional[str] = ...) -> None: ...

class StartPushStepUpResponse(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class RespondPushStepUpRequest(_message.Message):
    __slots__ = ("id", "outcome", "signature")
    ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    id: str
    outcome: PushOutcome
    signature: str
    def __init__(self, id: _Optional[str] = ..., outcome: _Optional[_Union[PushOutcome, str]] = ..., signature: _Optional[str] = ...) -> None: ...

class RespondPushStepUpResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetPushStepUpRequest(_message.Message):
    __slots__ = ("authorization", "id")
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    authorization: str
    id: str
    def __init__(self, authorization: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class GetPushStepUpResponse(_message.Message):
    __slots__ = ("id", "status", "channel")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    id: str
    status: PushStepUpStatus
    channel: str
    def __init__(self, id: _Optional[str] = ..., status: _Optional[_Union[PushStepUpStatus, str]] = ..., channel: _Optional[str] = ...) -> None: ...

class LogoutRequest(_message.Message):
    __slots__ = ("authorization",)
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    authorization: str
    def __init__(self, authorization: _Optional[str] = ...) -> None: ...

class LogoutResponse(_message.Message):
    __slots__ = ("url",)
    URL_FIELD_NUMBER: _ClassVar[int]
    url: str
    def __init__(self, url: _Optional[str] = ...) -> None: ...
