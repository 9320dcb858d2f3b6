from authcore.v1 import options_pb2 as _options_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetVersionRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetVersionResponse(_message.Message):
    __slots__ = ("version", "server")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SERVER_FIELD_NUMBER: _ClassVar[int]
    version: str
    server: str
    def __init__(self, version: _Optional[str] = ..., server: _Optional[str] = ...) -> None: ...

class LoginIdApplication(_message.Message):
    __slots__ = ("id", "token")
    ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    id: str
    token: str
    def __init__(self, id: _Optional[str] = ..., token: _Optional[str] = ...) -> None: ...

class DeviceInfo(_message.Message):
    __slots__ = ("client_name", "client_type", "client_version", "device_id", "has_bluetooth", "last_used_at", "os_arch", "os_name", "os_version", "screen_height", "screen_width", "webauthn_capabilities")
    CLIENT_NAME_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    HAS_BLUETOOTH_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    OS_ARCH_FIELD_NUMBER: _ClassVar[int]
    OS_NAME_FIELD_NUMBER: _ClassVar[int]
    OS_VERSION_FIELD_NUMBER: _ClassVar[int]
    SCREEN_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    SCREEN_WIDTH_FIELD_NUMBER: _ClassVar[int]
    WEBAUTHN_CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    client_name: str
    client_type: str
    client_version: str
    device_id: str
    has_bluetooth: bool
    last_used_at: str
    os_arch: str
    os_name: str
    os_version: str
    screen_height: int
    screen_width: int
    webauthn_capabilities: str
    def __init__(self, client_name: _Optional[str] = ..., client_type: _Optional[str] = ..., client_version: _Optional[str] = ..., device_id: _Optional[str] = ..., has_bluetooth: _Optional[bool] = ..., last_used_at: _Optional[str] = ..., os_arch: _Optional[str] = ..., os_name: _Optional[str] = ..., os_version: _Optional[str] = ..., screen_height: _Optional[int] = ..., screen_width: _Optional[int] = ..., webauthn_capabilities: _Optional[str] = ...) -> None: ...

class PasskeyOptions(_message.Message):
    __slots__ = ("conditional_create", "security_key")
    CONDITIONAL_CREATE_FIELD_NUMBER: _ClassVar[int]
    SECURITY_KEY_FIELD_NUMBER: _ClassVar[int]
    conditional_create: bool
    security_key: bool
    def __init__(self, conditional_create: _Optional[bool] = ..., security_key: _Optional[bool] = ...) -> None: ...

class LoginIdUser(_message.Message):
    __slots__ = ("username", "username_type", "display_name")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    USERNAME_TYPE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    username: str
    username_type: str
    display_name: str
    def __init__(self, username: _Optional[str] = ..., username_type: _Optional[str] = ..., display_name: _Optional[str] = ...) -> None: ...

class UserLogin(_message.Message):
    __slots__ = ("username", "username_type")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    USERNAME_TYPE_FIELD_NUMBER: _ClassVar[int]
    username: str
    username_type: str
    def __init__(self, username: _Optional[str] = ..., username_type: _Optional[str] = ...) -> None: ...

class PublicKeyCredentialRpEntity(_message.Message):
    __slots__ = ("id", "name")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class PublicKeyCredentialUserEntity(_message.Message):
    __slots__ = ("id", "name", "display_name")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    display_name: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., display_name: _Optional[str] = ...) -> None: ...

class PublicKeyCredentialParameters(_message.Message):
    __slots__ = ("alg", "type")
    ALG_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    alg: int
    type: str
    def __init__(self, alg: _Optional[int] = ..., type: _Optional[str] = ...) -> None: ...

class PubKeyCredentialDescriptor(_message.Message):
    __slots__ = ("id", "type", "transports")
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TRANSPORTS_FIELD_NUMBER: _ClassVar[int]
    id: str
    type: str
    transports: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., type: _Optional[str] = ..., transports: _Optional[_Iterable[str]] = ...) -> None: ...

class AuthenticatorSelectionCriteria(_message.Message):
    __slots__ = ("authenticator_attachment", "require_resident_key", "resident_key", "user_verification")
    AUTHENTICATOR_ATTACHMENT_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_RESIDENT_KEY_FIELD_NUMBER: _ClassVar[int]
    RESIDENT_KEY_FIELD_NUMBER: _ClassVar[int]
    USER_VERIFICATION_FIELD_NUMBER: _ClassVar[int]
    authenticator_attachment: str
    require_resident_key: bool
    resident_key: str
    user_verification: str
    def __init__(self, authenticator_attachment: _Optional[str] = ..., require_resident_key: _Optional[bool] = ..., resident_key: _Optional[str] = ..., user_verification: _Optional[str] = ...) -> None: ...

class PublicKeyCredentialCreationOptions(_message.Message):
    __slots__ = ("rp", "user", "challenge", "pub_key_cred_params", "timeout", "exclude_credentials", "authenticator_selection", "attestation", "extensions")
    RP_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    PUB_KEY_CRED_PARAMS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    AUTHENTICATOR_SELECTION_FIELD_NUMBER: _ClassVar[int]
    ATTESTATION_FIELD_NUMBER: _ClassVar[int]
    EXTENSIONS_FIELD_NUMBER: _ClassVar[int]
    rp: PublicKeyCredentialRpEntity
    user: PublicKeyCredentialUserEntity
    challenge: str
    pub_key_cred_params: _containers.RepeatedCompositeFieldContainer[PublicKeyCredentialParameters]
    timeout: int
    exclude_credentials: _containers.RepeatedCompositeFieldContainer[PubKeyCredentialDescriptor]
    authenticator_selection: AuthenticatorSelectionCriteria
    attestation: str
    extensions: _struct_pb2.Struct
    def __init__(self, rp: _Optional[_Union[PublicKeyCredentialRpEntity, _Mapping]] = ..., user: _Optional[_Union[PublicKeyCredentialUserEntity, _Mapping]] = ..., challenge: _Optional[str] = ..., pub_key_cred_params: _Optional[_Iterable[_Union[PublicKeyCredentialParameters, _Mapping]]] = ..., timeout: _Optional[int] = ..., exclude_credentials: _Optional[_Iterable[_Union[PubKeyCredentialDescriptor, _Mapping]]] = ..., authenticator_selection: _Optional[_Union[AuthenticatorSelectionCriteria, _Mapping]] = ..., attestation: _Optional[str] = ..., extensions: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class PublicKeyCredentialRequestOptions(_message.Message):
    __slots__ = ("challenge", "timeout", "rp_id", "allow_credentials", "user_verification", "extensions")
    CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    RP_ID_FIELD_NUMBER: _ClassVar[int]
    ALLOW_CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    USER_VERIFICATION_FIELD_NUMBER: _ClassVar[int]
    EXTENSIONS_FIELD_NUMBER: _ClassVar[int]
    challenge: str
    timeout: int
    rp_id: str
    allow_credentials: _containers.RepeatedCompositeFieldContainer[PubKeyCredentialDescriptor]
    user_verification: str
    extensions: _struct_pb2.Struct
    def __init__(self, challenge: _Optional[str] = ..., timeout: _Optional[int] = ..., rp_id: _Optional[str] = ..., allow_credentials: _Optional[_Iterable[_Union[PubKeyCredentialDescriptor, _Mapping]]] = ..., user_verification: _Optional[str] = ..., extensions: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class CreationResult(_message.Message):
    __slots__ = ("attestation_object", "client_data_json", "credential_id", "authenticator_data", "public_key", "public_key_algorithm", "transports")
    ATTESTATION_OBJECT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHENTICATOR_DATA_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    TRANSPORTS_FIELD_NUMBER: _ClassVar[int]
    attestation_object: str
    client_data_json: str
    credential_id: str
    authenticator_data: str
    public_key: str
    public_key_algorithm: int
    transports: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, attestation_object: _Optional[str] = ..., client_data_json: _Optional[str] = ..., credential_id: _Optional[str] = ..., authenticator_data: _Optional[str] = ..., public_key: _Optional[str] = ..., public_key_algorithm: _Optional[int] = ..., transports: _Optional[_Iterable[str]] = ...) -> None: ...

class AuthenticatorAssertionResponse(_message.Message):
    __slots__ = ("authenticator_data", "client_data_json", "credential_id", "signature", "user_handle")
    AUTHENTICATOR_DATA_FIELD_NUMBER: _ClassVar[int]
    CLIENT_DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    USER_HANDLE_FIELD_NUMBER: _ClassVar[int]
    authenticator_data: str
    client_data_json: str
    credential_id: str
    signature: str
    user_handle: str
    def __init__(self, authenticator_data: _Optional[str] = ..., client_data_json: _Optional[str] = ..., credential_id: _Optional[str] = ..., signature: _Optional[str] = ..., user_handle: _Optional[str] = ...) -> None: ...

class Jwt(_message.Message):
    __slots__ = ("jwt_access", "user_id", "device_id", "passkey_id")
    JWT_ACCESS_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    PASSKEY_ID_FIELD_NUMBER: _ClassVar[int]
    jwt_access: str
    user_id: str
    device_id: str
    passkey_id: str
    def __init__(self, jwt_access: _Optional[str] = ..., user_id: _Optional[str] = ..., device_id: _Optional[str] = ..., passkey_id: _Optional[str] = ...) -> None: ...

class RegInitRequest(_message.Message):
    __slots__ = ("app", "device_info", "passkey_options", "trust_items", "user", "authorization", "origin")
    APP_FIELD_NUMBER: _ClassVar[int]
    DEVICE_INFO_FIELD_NUMBER: _ClassVar[int]
    PASSKEY_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    TRUST_ITEMS_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    app: LoginIdApplication
    device_info: DeviceInfo
    passkey_options: PasskeyOptions
    trust_items: _struct_pb2.Struct
    user: LoginIdUser
    authorization: str
    origin: str
    def __init__(self, app: _Optional[_Union[LoginIdApplication, _Mapping]] = ..., device_info: _Optional[_Union[DeviceInfo, _Mapping]] = ..., passkey_options: _Optional[_Union[PasskeyOptions, _Mapping]] = ..., trust_items: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., user: _Optional[_Union[LoginIdUser, _Mapping]] = ..., authorization: _Optional[str] = ..., origin: _Optional[str] = ...) -> None: ...

class RegInitResponse(_message.Message):
    __slots__ = ("action", "registration_request_options", "session")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    REGISTRATION_REQUEST_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    action: str
    registration_request_options: PublicKeyCredentialCreationOptions
    session: str
    def __init__(self, action: _Optional[str] = ..., registration_request_options: _Optional[_Union[PublicKeyCredentialCreationOptions, _Mapping]] = ..., session: _Optional[str] = ...) -> None: ...

class RegCompleteRequest(_message.Message):
    __slots__ = ("session", "creation_result", "passkey_name")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    CREATION_RESULT_FIELD_NUMBER: _ClassVar[int]
    PASSKEY_NAME_FIELD_NUMBER: _ClassVar[int]
    session: str
    creation_result: CreationResult
    passkey_name: str
    def __init__(self, session: _Optional[str] = ..., creation_result: _Optional[_Union[CreationResult, _Mapping]] = ..., passkey_name: _Optional[str] = ...) -> None: ...

class RegCompleteResponse(_message.Message):
    __slots__ = ("jwt",)
    JWT_FIELD_NUMBER: _ClassVar[int]
    jwt: Jwt
    def __init__(self, jwt: _Optional[_Union[Jwt, _Mapping]] = ...) -> None: ...

class AuthInitRequest(_message.Message):
    __slots__ = ("app", "device_info", "trust_items", "user", "origin")
    APP_FIELD_NUMBER: _ClassVar[int]
    DEVICE_INFO_FIELD_NUMBER: _ClassVar[int]
    TRUST_ITEMS_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    app: LoginIdApplication
    device_info: DeviceInfo
    trust_items: _struct_pb2.Struct
    user: UserLogin
    origin: str
    def __init__(self, app: _Optional[_Union[LoginIdApplication, _Mapping]] = ..., device_info: _Optional[_Union[DeviceInfo, _Mapping]] = ..., trust_items: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., user: _Optional[_Union[UserLogin, _Mapping]] = ..., origin: _Optional[str] = ...) -> None: ...

class AuthInitResponse(_message.Message):
    __slots__ = ("action", "assertion_options", "cross_auth_methods", "fallback_methods", "passkey_type", "session")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ASSERTION_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    CROSS_AUTH_METHODS_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_METHODS_FIELD_NUMBER: _ClassVar[int]
    PASSKEY_TYPE_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    action: str
    assertion_options: PublicKeyCredentialRequestOptions
    cross_auth_methods: _containers.RepeatedScalarFieldContainer[str]
    fallback_methods: _containers.RepeatedScalarFieldContainer[str]
    passkey_type: str
    session: str
    def __init__(self, action: _Optional[str] = ..., assertion_options: _Optional[_Union[PublicKeyCredentialRequestOptions, _Mapping]] = ..., cross_auth_methods: _Optional[_Iterable[str]] = ..., fallback_methods: _Optional[_Iterable[str]] = ..., passkey_type: _Optional[str] = ..., session: _Optional[str] = ...) -> None: ...

class AuthCompleteRequest(_message.Message):
    __slots__ = ("session", "assertion_result")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    ASSERTION_RESULT_FIELD_NUMBER: _ClassVar[int]
    session: str
    assertion_result: AuthenticatorAssertionResponse
    def __init__(self, session: _Optional[str] = ..., assertion_result: _Optional[_Union[AuthenticatorAssertionResponse, _Mapping]] = ...) -> None: ...

class AuthCompleteResponse(_message.Message):
    __slots__ = ("jwt",)
    JWT_FIELD_NUMBER: _ClassVar[int]
    jwt: Jwt
    def __init__(self, jwt: _Optional[_Union[Jwt, _Mapping]] = ...) -> None: ...

class TxInitRequest(_message.Message):
    __slots__ = ("username", "tx_payload", "tx_type", "nonce", "app_id", "origin")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    TX_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    TX_TYPE_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    username: str
    tx_payload: str
    tx_type: str
    nonce: str
    app_id: str
    origin: str
    def __init__(self, username: _Optional[str] = ..., tx_payload: _Optional[str] = ..., tx_type: _Optional[str] = ..., nonce: _Optional[str] = ..., app_id: _Optional[str] = ..., origin: _Optional[str] = ...) -> None: ...

class TxInitResponse(_message.Message):
    __slots__ = ("tx_id", "session", "assertion_options")
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    ASSERTION_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    tx_id: str
    session: str
    assertion_options: PublicKeyCredentialRequestOptions
    def __init__(self, tx_id: _Optional[str] = ..., session: _Optional[str] = ..., assertion_options: _Optional[_Union[PublicKeyCredentialRequestOptions, _Mapping]] = ...) -> None: ...

class TxCompleteRequest(_message.Message):
    __slots__ = ("session", "key_handle", "client_data", "authenticator_data", "signature")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    KEY_HANDLE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_DATA_FIELD_NUMBER: _ClassVar[int]
    AUTHENTICATOR_DATA_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    session: str
    key_handle: str
    client_data: str
    authenticator_data: str
    signature: str
    def __init__(self, session: _Optional[str] = ..., key_handle: _Optional[str] = ..., client_data: _Optional[str] = ..., authenticator_data: _Optional[str] = ..., signature: _Optional[str] = ...) -> None: ...

class Passkey(_message.Message):
    __slots__ = ("id", "name", "created_at", "aaguid", "credential_id", "credential_synced", "last_used_at", "last_used_from_device", "provider_name")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    AAGUID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_SYNCED_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_FROM_DEVICE_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_NAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    created_at: str
    aaguid: str
    credential_id: str
    credential_synced: bool
    last_used_at: str
    last_used_from_device: DeviceInfo
    provider_name: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., created_at: _Optional[str] = ..., aaguid: _Optional[str] = ..., credential_id: _Optional[str] = ..., credential_synced: _Optional[bool] = ..., last_used_at: _Optional[str] = ..., last_used_from_device: _Optional[_Union[DeviceInfo, _Mapping]] = ..., provider_name: _Optional[str] = ...) -> None: ...

class TxCompleteResponse(_message.Message):
    __slots__ = ("credential_id", "token", "auth_cred", "jwt_access", "tx_id", "tx_hash", "nonce")
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    AUTH_CRED_FIELD_NUMBER: _ClassVar[int]
    JWT_ACCESS_FIELD_NUMBER: _ClassVar[int]
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    TX_HASH_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    credential_id: str
    token: str
    auth_cred: Passkey
    jwt_access: str
    tx_id: str
    tx_hash: str
    nonce: str
    def __init__(self, credential_id: _Optional[str] = ..., token: _Optional[str] = ..., auth_cred: _Optional[_Union[Passkey, _Mapping]] = ..., jwt_access: _Optional[str] = ..., tx_id: _Optional[str] = ..., tx_hash: _Optional[str] = ..., nonce: _Optional[str] = ...) -> None: ...

class ListPasskeysRequest(_message.Message):
    __slots__ = ("authorization",)
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    authorization: str
    def __init__(self, authorization: _Optional[str] = ...) -> None: ...

class ListPasskeysResponse(_message.Message):
    __slots__ = ("passkeys",)
    PASSKEYS_FIELD_NUMBER: _ClassVar[int]
    passkeys: _containers.RepeatedCompositeFieldContainer[Passkey]
    def __init__(self, passkeys: _Optional[_Iterable[_Union[Passkey, _Mapping]]] = ...) -> None: ...

class RenamePasskeyRequest(_message.Message):
    __slots__ = ("id", "name", "authorization")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    authorization: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., authorization: _Optional[str] = ...) -> None: ...

class RenamePasskeyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeletePasskeyRequest(_message.Message):
    __slots__ = ("id", "authorization")
    ID_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    id: str
    authorization: str
    def __init__(self, id: _Optional[str] = ..., authorization: _Optional[str] = ...) -> None: ...

class DeletePasskeyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetAaguidRequest(_message.Message):
    __slots__ = ("aaguid", "authorization")
    AAGUID_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    aaguid: str
    authorization: str
    def __init__(self, aaguid: _Optional[str] = ..., authorization: _Optional[str] = ...) -> None: ...

class GetAaguidResponse(_message.Message):
    __slots__ = ("aaguid",)
    AAGUID_FIELD_NUMBER: _ClassVar[int]
    aaguid: Aaguid
    def __init__(self, aaguid: _Optional[_Union[Aaguid, _Mapping]] = ...) -> None: ...

class Aaguid(_message.Message):
    __slots__ = ("id", "name", "icon_light", "icon_dark")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ICON_LIGHT_FIELD_NUMBER: _ClassVar[int]
    ICON_DARK_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    icon_light: str
    icon_dark: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., icon_light: _Optional[str] = ..., icon_dark: _Optional[str] = ...) -> None: ...

class RequestAuthCodeRequest(_message.Message):
    __slots__ = ("authorization",)
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    authorization: str
    def __init__(self, authorization: _Optional[str] = ...) -> None: ...

class RequestAuthCodeResponse(_message.Message):
    __slots__ = ("auth_code",)
    AUTH_CODE_FIELD_NUMBER: _ClassVar[int]
    auth_code: AuthCode
    def __init__(self, auth_code: _Optional[_Union[AuthCode, _Mapping]] = ...) -> None: ...

class AuthCode(_message.Message):
    __slots__ = ("code", "expires_at")
    CODE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    code: str
    expires_at: str
    def __init__(self, code: _Optional[str] = ..., expires_at: _Optional[str] = ...) -> None: ...

class SendAuthCodeEmailRequest(_message.Message):
    __slots__ = ("user", "app_id", "origin")
    USER_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    user: UserLogin
    app_id: str
    origin: str
    def __init__(self, user: _Optional[_Union[UserLogin, _Mapping]] = ..., app_id: _Optional[str] = ..., origin: _Optional[str] = ...) -> None: ...

class SendAuthCodeEmailResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SendAuthCodeSmsRequest(_message.Message):
    __slots__ = ("user", "app_id", "origin")
    USER_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    user: UserLogin
    app_id: str
    origin: str
    def __init__(self, user: _Optional[_Union[UserLogin, _Mapping]] = ..., app_id: _Optional[str] = ..., origin: _Optional[str] = ...) -> None: ...

class SendAuthCodeSmsResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyAuthCodeRequest(_message.Message):
    __slots__ = ("auth_code", "user", "app_id")
    AUTH_CODE_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    auth_code: str
    user: UserLogin
    app_id: str
    def __init__(self, auth_code: _Optional[str] = ..., user: _Optional[_Union[UserLogin, _Mapping]] = ..., app_id: _Optional[str] = ...) -> None: ...

class VerifyAuthCodeResponse(_message.Message):
    __slots__ = ("jwt",)
    JWT_FIELD_NUMBER: _ClassVar[int]
    jwt: Jwt
    def __init__(self, jwt: _Optional[_Union[Jwt, _Mapping]] = ...) -> None: ...

class SubmitClientEventRequest(_message.Message):
    __slots__ = ("event", "is_error", "authorization")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    IS_ERROR_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    event: str
    is_error: bool
    authorization: str
    def __init__(self, event: _Optional[str] = ..., is_error: _Optional[bool] = ..., authorization: _Optional[str] = ...) -> None: ...

class SubmitClientEventResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: str
    def __init__(self, session: _Optional[str] = ...) -> None: ...
