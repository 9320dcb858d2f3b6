from authcore.v1 import fido2_pb2 as _fido2_pb2
from authcore.v1 import options_pb2 as _options_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MfaUser(_message.Message):
    __slots__ = ("display_name", "name", "phone", "username", "username_type")
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    USERNAME_TYPE_FIELD_NUMBER: _ClassVar[int]
    display_name: str
    name: str
    phone: str
    username: str
    username_type: str
    def __init__(self, display_name: _Optional[str] = ..., name: _Optional[str] = ..., phone: _Optional[str] = ..., username: _Optional[str] = ..., username_type: _Optional[str] = ...) -> None: ...

class MfaBeginRequest(_message.Message):
    __slots__ = ("device_info", "payload", "trace_id", "trust_items", "user", "user_agent", "origin")
    class TrustItemsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DEVICE_INFO_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    TRUST_ITEMS_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    device_info: _fido2_pb2.DeviceInfo
    payload: str
    trace_id: str
    trust_items: _containers.ScalarMap[str, str]
    user: MfaUser
    user_agent: str
    origin: str
    def __init__(self, device_info: _Optional[_Union[_fido2_pb2.DeviceInfo, _Mapping]] = ..., payload: _Optional[str] = ..., trace_id: _Optional[str] = ..., trust_items: _Optional[_Mapping[str, str]] = ..., user: _Optional[_Union[MfaUser, _Mapping]] = ..., user_agent: _Optional[str] = ..., origin: _Optional[str] = ...) -> None: ...

class MfaBeginResponse(_message.Message):
    __slots__ = ("next",)
    NEXT_FIELD_NUMBER: _ClassVar[int]
    next: MfaNext
    def __init__(self, next: _Optional[_Union[MfaNext, _Mapping]] = ...) -> None: ...

class MfaActionInfo(_message.Message):
    __slots__ = ("desc", "label", "name")
    DESC_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    desc: str
    label: str
    name: str
    def __init__(self, desc: _Optional[str] = ..., label: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class MfaOption(_message.Message):
    __slots__ = ("label", "name", "value")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    label: str
    name: str
    value: str
    def __init__(self, label: _Optional[str] = ..., name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class MfaAction(_message.Message):
    __slots__ = ("action", "options")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    action: MfaActionInfo
    options: _containers.RepeatedCompositeFieldContainer[MfaOption]
    def __init__(self, action: _Optional[_Union[MfaActionInfo, _Mapping]] = ..., options: _Optional[_Iterable[_Union[MfaOption, _Mapping]]] = ...) -> None: ...

class MfaNext(_message.Message):
    __slots__ = ("flow", "msg", "msg_code", "next", "session")
    FLOW_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    MSG_CODE_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    flow: str
    msg: str
    msg_code: str
    next: _containers.RepeatedCompositeFieldContainer[MfaAction]
    session: str
    def __init__(self, flow: _Optional[str] = ..., msg: _Optional[str] = ..., msg_code: _Optional[str] = ..., next: _Optional[_Iterable[_Union[MfaAction, _Mapping]]] = ..., session: _Optional[str] = ...) -> None: ...

class MfaPasskeyInfo(_message.Message):
    __slots__ = ("aaguid", "passkey_id", "public_key")
    AAGUID_FIELD_NUMBER: _ClassVar[int]
    PASSKEY_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    aaguid: str
    passkey_id: str
    public_key: str
    def __init__(self, aaguid: _Optional[str] = ..., passkey_id: _Optional[str] = ..., public_key: _Optional[str] = ...) -> None: ...

class Mfa(_message.Message):
    __slots__ = ("access_token", "device_id", "flow", "id_token", "passkey_info", "payload", "payload_signature", "refresh_token")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    FLOW_FIELD_NUMBER: _ClassVar[int]
    ID_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PASSKEY_INFO_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    device_id: str
    flow: str
    id_token: str
    passkey_info: MfaPasskeyInfo
    payload: str
    payload_signature: str
    refresh_token: str
    def __init__(self, access_token: _Optional[str] = ..., device_id: _Optional[str] = ..., flow: _Optional[str] = ..., id_token: _Optional[str] = ..., passkey_info: _Optional[_Union[MfaPasskeyInfo, _Mapping]] = ..., payload: _Optional[str] = ..., payload_signature: _Optional[str] = ..., refresh_token: _Optional[str] = ...) -> None: ...

class MfaDiscoverRequest(_message.Message):
    __slots__ = ("trust_items",)
    class TrustItemsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TRUST_ITEMS_FIELD_NUMBER: _ClassVar[int]
    trust_items: _containers.ScalarMap[str, str]
    def __init__(self, trust_items: _Optional[_Mapping[str, str]] = ...) -> None: ...

class MfaDiscoverResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class MfaOtpRequestRequest(_message.Message):
    __slots__ = ("method", "option", "authorization")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    OPTION_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    method: str
    option: str
    authorization: str
    def __init__(self, method: _Optional[str] = ..., option: _Optional[str] = ..., authorization: _Optional[str] = ...) -> None: ...

class MfaOtpRequestResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: str
    def __init__(self, session: _Optional[str] = ...) -> None: ...

class MfaOtpVerifyRequest(_message.Message):
    __slots__ = ("otp", "authorization")
    OTP_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    otp: str
    authorization: str
    def __init__(self, otp: _Optional[str] = ..., authorization: _Optional[str] = ...) -> None: ...

class MfaOtpVerifyResponse(_message.Message):
    __slots__ = ("mfa",)
    MFA_FIELD_NUMBER: _ClassVar[int]
    mfa: Mfa
    def __init__(self, mfa: _Optional[_Union[Mfa, _Mapping]] = ...) -> None: ...

class MfaPasskeyAuthRequest(_message.Message):
    __slots__ = ("assertion_result", "provider_params", "authorization")
    class ProviderParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ASSERTION_RESULT_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_PARAMS_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    assertion_result: _fido2_pb2.AuthenticatorAssertionResponse
    provider_params: _containers.ScalarMap[str, str]
    authorization: str
    def __init__(self, assertion_result: _Optional[_Union[_fido2_pb2.AuthenticatorAssertionResponse, _Mapping]] = ..., provider_params: _Optional[_Mapping[str, str]] = ..., authorization: _Optional[str] = ...) -> None: ...

class MfaPasskeyAuthResponse(_message.Message):
    __slots__ = ("mfa",)
    MFA_FIELD_NUMBER: _ClassVar[int]
    mfa: Mfa
    def __init__(self, mfa: _Optional[_Union[Mfa, _Mapping]] = ...) -> None: ...

class MfaPasskeyTxRequest(_message.Message):
    __slots__ = ("assertion_result", "provider_params", "authorization")
    class ProviderParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ASSERTION_RESULT_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_PARAMS_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    assertion_result: _fido2_pb2.AuthenticatorAssertionResponse
    provider_params: _containers.ScalarMap[str, str]
    authorization: str
    def __init__(self, assertion_result: _Optional[_Union[_fido2_pb2.AuthenticatorAssertionResponse, _Mapping]] = ..., provider_params: _Optional[_Mapping[str, str]] = ..., authorization: _Optional[str] = ...) -> None: ...

class MfaPasskeyTxResponse(_message.Message):
    __slots__ = ("mfa",)
    MFA_FIELD_NUMBER: _ClassVar[int]
    mfa: Mfa
    def __init__(self, mfa: _Optional[_Union[Mfa, _Mapping]] = ...) -> None: ...

class MfaPasskeyRegRequest(_message.Message):
    __slots__ = ("creation_result", "provider_params", "authorization")
    class ProviderParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CREATION_RESULT_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_PARAMS_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    creation_result: _fido2_pb2.CreationResult
    provider_params: _containers.ScalarMap[str, str]
    authorization: str
    def __init__(self, creation_result: _Optional[_Union[_fido2_pb2.CreationResult, _Mapping]] = ..., provider_params: _Optional[_Mapping[str, str]] = ..., authorization: _Optional[str] = ...) -> None: ...

class MfaPasskeyRegResponse(_message.Message):
    __slots__ = ("mfa",)
    MFA_FIELD_NUMBER: _ClassVar[int]
    mfa: Mfa
    def __init__(self, mfa: _Optional[_Union[Mfa, _Mapping]] = ...) -> None: ...

class MfaPayloadUpdateRequest(_message.Message):
    __slots__ = ("payload", "authorization")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    payload: str
    authorization: str
    def __init__(self, payload: _Optional[str] = ..., authorization: _Optional[str] = ...) -> None: ...

class MfaPayloadUpdateResponse(_message.Message):
    __slots__ = ("next",)
    NEXT_FIELD_NUMBER: _ClassVar[int]
    next: MfaNext
    def __init__(self, next: _Optional[_Union[MfaNext, _Mapping]] = ...) -> None: ...

class MfaThirdPartyAuthVerifyRequest(_message.Message):
    __slots__ = ("token", "authorization")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    token: str
    authorization: str
    def __init__(self, token: _Optional[str] = ..., authorization: _Optional[str] = ...) -> None: ...

class MfaThirdPartyAuthVerifyResponse(_message.Message):
    __slots__ = ("mfa",)
    MFA_FIELD_NUMBER: _ClassVar[int]
    mfa: Mfa
    def __init__(self, mfa: _Optional[_Union[Mfa, _Mapping]] = ...) -> None: ...

class MfaTokenRefreshRequest(_message.Message):
    __slots__ = ("refresh_token",)
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    refresh_token: str
    def __init__(self, refresh_token: _Optional[str] = ...) -> None: ...

class MfaTokenRefreshResponse(_message.Message):
    __slots__ = ("access_token", "id_token", "refresh_token")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ID_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    id_token: str
    refresh_token: str
    def __init__(self, access_token: _Optional[str] = ..., id_token: _Optional[str] = ..., refresh_token: _Optional[str] = ...) -> None: ...
