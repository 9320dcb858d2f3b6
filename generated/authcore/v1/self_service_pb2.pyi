import datetime

from authcore.v1 import options_pb2 as _options_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FIDOAttestationPreference(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FIDO_ATTESTATION_PREFERENCE_UNSPECIFIED: _ClassVar[FIDOAttestationPreference]
    FIDO_ATTESTATION_PREFERENCE_NONE: _ClassVar[FIDOAttestationPreference]
    FIDO_ATTESTATION_PREFERENCE_INDIRECT: _ClassVar[FIDOAttestationPreference]
    FIDO_ATTESTATION_PREFERENCE_DIRECT: _ClassVar[FIDOAttestationPreference]

class FIDOAuthenticatorAttachment(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FIDO_AUTHENTICATOR_ATTACHMENT_UNSPECIFIED: _ClassVar[FIDOAuthenticatorAttachment]
    FIDO_AUTHENTICATOR_ATTACHMENT_EITHER: _ClassVar[FIDOAuthenticatorAttachment]
    FIDO_AUTHENTICATOR_ATTACHMENT_PLATFORM: _ClassVar[FIDOAuthenticatorAttachment]
    FIDO_AUTHENTICATOR_ATTACHMENT_CROSS_PLATFORM: _ClassVar[FIDOAuthenticatorAttachment]

class FIDORequirement(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FIDO_REQUIREMENT_UNSPECIFIED: _ClassVar[FIDORequirement]
    FIDO_REQUIREMENT_DISCOURAGED: _ClassVar[FIDORequirement]
    FIDO_REQUIREMENT_PREFERRED: _ClassVar[FIDORequirement]
    FIDO_REQUIREMENT_REQUIRED: _ClassVar[FIDORequirement]

class FIDOTokenState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FIDO_TOKEN_STATE_UNSPECIFIED: _ClassVar[FIDOTokenState]
    FIDO_TOKEN_STATE_ACTIVE: _ClassVar[FIDOTokenState]
    FIDO_TOKEN_STATE_INACTIVE: _ClassVar[FIDOTokenState]

class FIDOTokenAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FIDO_TOKEN_ACTION_UNSPECIFIED: _ClassVar[FIDOTokenAction]
    FIDO_TOKEN_ACTION_DELETE: _ClassVar[FIDOTokenAction]
    FIDO_TOKEN_ACTION_ENABLE: _ClassVar[FIDOTokenAction]
    FIDO_TOKEN_ACTION_DISABLE: _ClassVar[FIDOTokenAction]
    FIDO_TOKEN_ACTION_RENAME: _ClassVar[FIDOTokenAction]

class OfflineOTPProtection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OFFLINE_OTP_PROTECTION_UNSPECIFIED: _ClassVar[OfflineOTPProtection]
    OFFLINE_OTP_PROTECTION_NONE: _ClassVar[OfflineOTPProtection]
    OFFLINE_OTP_PROTECTION_MINOR: _ClassVar[OfflineOTPProtection]
    OFFLINE_OTP_PROTECTION_MAJOR: _ClassVar[OfflineOTPProtection]
    OFFLINE_OTP_PROTECTION_CUSTOM: _ClassVar[OfflineOTPProtection]
FIDO_ATTESTATION_PREFERENCE_UNSPECIFIED: FIDOAttestationPreference
FIDO_ATTESTATION_PREFERENCE_NONE: FIDOAttestationPreference
FIDO_ATTESTATION_PREFERENCE_INDIRECT: FIDOAttestationPreference
FIDO_ATTESTATION_PREFERENCE_DIRECT: FIDOAttestationPreference
FIDO_AUTHENTICATOR_ATTACHMENT_UNSPECIFIED: FIDOAuthenticatorAttachment
FIDO_AUTHENTICATOR_ATTACHMENT_EITHER: FIDOAuthenticatorAttachment
FIDO_AUTHENTICATOR_ATTACHMENT_PLATFORM: FIDOAuthenticatorAttachment
FIDO_AUTHENTICATOR_ATTACHMENT_CROSS_PLATFORM: FIDOAuthenticatorAttachment
FIDO_REQUIREMENT_UNSPECIFIED: FIDORequirement
FIDO_REQUIREMENT_DISCOURAGED: FIDORequirement
FIDO_REQUIREMENT_PREFERRED: FIDORequirement
FIDO_REQUIREMENT_REQUIRED: FIDORequirement
FIDO_TOKEN_STATE_UNSPECIFIED: FIDOTokenState
FIDO_TOKEN_STATE_ACTIVE: FIDOTokenState
FIDO_TOKEN_STATE_INACTIVE: FIDOTokenState
FIDO_TOKEN_ACTION_UNSPECIFIED: FIDOTokenAction
FIDO_TOKEN_ACTION_DELETE: FIDOTokenAction
FIDO_TOKEN_ACTION_ENABLE: FIDOTokenAction
FIDO_TOKEN_ACTION_DISABLE: FIDOTokenAction
FIDO_TOKEN_ACTION_RENAME: FIDOTokenAction
OFFLINE_OTP_PROTECTION_UNSPECIFIED: OfflineOTPProtection
OFFLINE_OTP_PROTECTION_NONE: OfflineOTPProtection
OFFLINE_OTP_PROTECTION_MINOR: OfflineOTPProtection
OFFLINE_OTP_PROTECTION_MAJOR: OfflineOTPProtection
OFFLINE_OTP_PROTECTION_CUSTOM: OfflineOTPProtection

class FIDORegisterChallenge(_message.Message):
    __slots__ = ("attestation", "challenge", "registered_credentials", "registered_credentials_names", "registration_authenticator_attachment", "registration_require_resident_key", "registration_user_verification", "rp_name", "timeout", "timeout_millis", "user_display_name", "user_id", "user_name")
    ATTESTATION_FIELD_NUMBER: _ClassVar[int]
    CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_CREDENTIALS_NAMES_FIELD_NUMBER: _ClassVar[int]
    REGISTRATION_AUTHENTICATOR_ATTACHMENT_FIELD_NUMBER: _ClassVar[int]
    REGISTRATION_REQUIRE_RESIDENT_KEY_FIELD_NUMBER: _ClassVar[int]
    REGISTRATION_USER_VERIFICATION_FIELD_NUMBER: _ClassVar[int]
    RP_NAME_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MILLIS_FIELD_NUMBER: _ClassVar[int]
    USER_DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    attestation: FIDOAttestationPreference
    challenge: str
    registered_credentials: _containers.RepeatedScalarFieldContainer[str]
    registered_credentials_names: _containers.RepeatedScalarFieldContainer[str]
    registration_authenticator_attachment: FIDOAuthenticatorAttachment
    registration_require_resident_key: FIDORequirement
    registration_user_verification: FIDORequirement
    rp_name: str
    timeout: int
    timeout_millis: int
    user_display_name: str
    user_id: str
    user_name: str
    def __init__(self, attestation: _Optional[_Union[FIDOAttestationPreference, str]] = ..., challenge: _Optional[str] = ..., registered_credentials: _Optional[_Iterable[str]] = ..., registered_credentials_names: _Optional[_Iterable[str]] = ..., registration_authenticator_attachment: _Optional[_Union[FIDOAuthenticatorAttachment, str]] = ..., registration_require_resident_key: _Optional[_Union[FIDORequirement, str]] = ..., registration_user_verification: _Optional[_Union[FIDORequirement, str]] = ..., rp_name: _Optional[str] = ..., timeout: _Optional[int] = ..., timeout_millis: _Optional[int] = ..., user_display_name: _Optional[str] = ..., user_id: _Optional[str] = ..., user_name: _Optional[str] = ...) -> None: ...

class FIDOToken(_message.Message):
    __slots__ = ("id", "name", "aaguid", "algorithm", "allowed_actions", "attestation_format", "attested_data", "authenticator_model", "backup_eligible", "backup_status", "create_date", "icon", "last_used_date", "relying_party_id", "state", "user_id", "user_uuid")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    AAGUID_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    ATTESTATION_FORMAT_FIELD_NUMBER: _ClassVar[int]
    ATTESTED_DATA_FIELD_NUMBER: _ClassVar[int]
    AUTHENTICATOR_MODEL_FIELD_NUMBER: _ClassVar[int]
    BACKUP_ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    BACKUP_STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATE_DATE_FIELD_NUMBER: _ClassVar[int]
    ICON_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_DATE_FIELD_NUMBER: _ClassVar[int]
    RELYING_PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    USER_UUID_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    aaguid: str
    algorithm: str
    allowed_actions: _containers.RepeatedScalarFieldContainer[FIDOTokenAction]
    attestation_format: str
    attested_data: bool
    authenticator_model: str
    backup_eligible: bool
    backup_status: bool
    create_date: _timestamp_pb2.Timestamp
    icon: str
    last_used_date: _timestamp_pb2.Timestamp
    relying_party_id: str
    state: FIDOTokenState
    user_id: str
    user_uuid: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., aaguid: _Optional[str] = ..., algorithm: _Optional[str] = ..., allowed_actions: _Optional[_Iterable[_Union[FIDOTokenAction, str]]] = ..., attestation_format: _Optional[str] = ..., attested_data: _Optional[bool] = ..., authenticator_model: _Optional[str] = ..., backup_eligible: _Optional[bool] = ..., backup_status: _Optional[bool] = ..., create_date: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., icon: _Optional[str] = ..., last_used_date: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., relying_party_id: _Optional[str] = ..., state: _Optional[_Union[FIDOTokenState, str]] = ..., user_id: _Optional[str] = ..., user_uuid: _Optional[str] = ...) -> None: ...

class StartFIDORegisterRequest(_message.Message):
    __slots__ = ("authorization",)
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    authorization: str
    def __init__(self, authorization: _Optional[str] = ...) -> None: ...

class StartFIDORegisterResponse(_message.Message):
    __slots__ = ("challenge",)
    CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    challenge: FIDORegisterChallenge
    def __init__(self, challenge: _Optional[_Union[FIDORegisterChallenge, _Mapping]] = ...) -> None: ...

class CompleteFIDORegisterRequest(_message.Message):
    __slots__ = ("authorization", "attestation_object", "client_data_json", "name", "rp_id", "transports", "user_id_stored")
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    ATTESTATION_OBJECT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RP_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSPORTS_FIELD_NUMBER: _ClassVar[int]
    USER_ID_STORED_FIELD_NUMBER: _ClassVar[int]
    authorization: str
    attestation_object: str
    client_data_json: str
    name: str
    rp_id: str
    transports: _containers.RepeatedScalarFieldContainer[str]
    user_id_stored: bool
    def __init__(self, authorization: _Optional[str] = ..., attestation_object: _Optional[str] = ..., client_data_json: _Optional[str] = ..., name: _Optional[str] = ..., rp_id: _Optional[str] = ..., transports: _Optional[_Iterable[str]] = ..., user_id_stored: _Optional[bool] = ...) -> None: ...

class CompleteFIDORegisterResponse(_message.Message):
    __slots__ = ("fido_token",)
    FIDO_TOKEN_FIELD_NUMBER: _ClassVar[int]
    fido_token: FIDOToken
    def __init__(self, fido_token: _Optional[_Union[FIDOToken, _Mapping]] = ...) -> None: ...

class GetSelfFIDOTokenRequest(_message.Message):
    __slots__ = ("authorization", "fidoid")
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    FIDOID_FIELD_NUMBER: _ClassVar[int]
    authorization: str
    fidoid: str
    def __init__(self, authorization: _Optional[str] = ..., fidoid: _Optional[str] = ...) -> None: ...

class GetSelfFIDOTokenResponse(_message.Message):
    __slots__ = ("fido_token",)
    FIDO_TOKEN_FIELD_NUMBER: _ClassVar[int]
    fido_token: FIDOToken
    def __init__(self, fido_token: _Optional[_Union[FIDOToken, _Mapping]] = ...) -> None: ...

class UpdateSelfFIDOTokenRequest(_message.Message):
    __slots__ = ("authorization", "fidoid", "name", "state")
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    FIDOID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    authorization: str
    fidoid: str
    name: str
    state: FIDOTokenState
    def __init__(self, authorization: _Optional[str] = ..., fidoid: _Optional[str] = ..., name: _Optional[str] = ..., state: _Optional[_Union[FIDOTokenState, str]] = ...) -> None: ...

class UpdateSelfFIDOTokenResponse(_message.Message):
    __slots__ = ("fido_token",)
    FIDO_TOKEN_FIELD_NUMBER: _ClassVar[int]
    fido_token: FIDOToken
    def __init__(self, fido_token: _Optional[_Union[FIDOToken, _Mapping]] = ...) -> None: ...

class DeleteSelfFIDOTokenRequest(_message.Message):
    __slots__ = ("authorization", "fidoid")
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    FIDOID_FIELD_NUMBER: _ClassVar[int]
    authorization: str
    fidoid: str
    def __init__(self, authorization: _Optional[str] = ..., fidoid: _Optional[str] = ...) -> None: ...

class DeleteSelfFIDOTokenResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TokenProtectedOfflineParms(_message.Message):
    __slots__ = ("token_protected_offline_otp_client_name", "token_protected_offline_otp_client_secret", "token_protected_offline_otp_do_not_optimize", "token_protected_offline_otp_get", "token_protected_offline_otp_size")
    TOKEN_PROTECTED_OFFLINE_OTP_CLIENT_NAME_FIELD_NUMBER: _ClassVar[int]
    TOKEN_PROTECTED_OFFLINE_OTP_CLIENT_SECRET_FIELD_NUMBER: _ClassVar[int]
    TOKEN_PROTECTED_OFFLINE_OTP_DO_NOT_OPTIMIZE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_PROTECTED_OFFLINE_OTP_GET_FIELD_NUMBER: _ClassVar[int]
    TOKEN_PROTECTED_OFFLINE_OTP_SIZE_FIELD_NUMBER: _ClassVar[int]
    token_protected_offline_otp_client_name: str
    token_protected_offline_otp_client_secret: bytes
    token_protected_offline_otp_do_not_optimize: bool
    token_protected_offline_otp_get: OfflineOTPProtection
    token_protected_offline_otp_size: int
    def __init__(self, token_protected_offline_otp_client_name: _Optional[str] = ..., token_protected_offline_otp_client_secret: _Optional[bytes] = ..., token_protected_offline_otp_do_not_optimize: _Optional[bool] = ..., token_protected_offline_otp_get: _Optional[_Union[OfflineOTPProtection, str]] = ..., token_protected_offline_otp_size: _Optional[int] = ...) -> None: ...

class GetOfflineTokenResponsesRequest(_message.Message):
    __slots__ = ("authorization", "application_id", "token_protected_offline_parms", "token_serial_number")
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_PROTECTED_OFFLINE_PARMS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    authorization: str
    application_id: str
    token_protected_offline_parms: TokenProtectedOfflineParms
    token_serial_number: str
    def __init__(self, authorization: _Optional[str] = ..., application_id: _Optional[str] = ..., token_protected_offline_parms: _Optional[_Union[TokenProtectedOfflineParms, _Mapping]] = ..., token_serial_number: _Optional[str] = ...) -> None: ...

class OfflineTokenAuthenticateResponse(_message.Message):
    __slots__ = ("first_moving_factor", "iterations", "max_size_in_units", "max_time_steps", "minor_size_in_units", "otps", "private_salt_length", "result_optimized", "time_drift", "time_interval", "token_serial_number", "use_secret")
    FIRST_MOVING_FACTOR_FIELD_NUMBER: _ClassVar[int]
    ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_SIZE_IN_UNITS_FIELD_NUMBER: _ClassVar[int]
    MAX_TIME_STEPS_FIELD_NUMBER: _ClassVar[int]
    MINOR_SIZE_IN_UNITS_FIELD_NUMBER: _ClassVar[int]
    OTPS_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_SALT_LENGTH_FIELD_NUMBER: _ClassVar[int]
    RESULT_OPTIMIZED_FIELD_NUMBER: _ClassVar[int]
    TIME_DRIFT_FIELD_NUMBER: _ClassVar[int]
    TIME_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    TOKEN_SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    USE_SECRET_FIELD_NUMBER: _ClassVar[int]
    first_moving_factor: int
    iterations: int
    max_size_in_units: int
    max_time_steps: int
    minor_size_in_units: int
    otps: str
    private_salt_length: int
    result_optimized: bool
    time_drift: int
    time_interval: int
    token_serial_number: str
    use_secret: bytes
    def __init__(self, first_moving_factor: _Optional[int] = ..., iterations: _Optional[int] = ..., max_size_in_units: _Optional[int] = ..., max_time_steps: _Optional[int] = ..., minor_size_in_units: _Optional[int] = ..., otps: _Optional[str] = ..., private_salt_length: _Optional[int] = ..., result_optimized: _Optional[bool] = ..., time_drift: _Optional[int] = ..., time_interval: _Optional[int] = ..., token_serial_number: _Optional[str] = ..., use_secret: _Optional[bytes] = ...) -> None: ...

class GetOfflineTokenResponsesResponse(_message.Message):
    __slots__ = ("offline",)
    OFFLINE_FIELD_NUMBER: _ClassVar[int]
    offline: OfflineTokenAuthenticateResponse
    def __init__(self, offline: _Optional[_Union[OfflineTokenAuthenticateResponse, _Mapping]] = ...) -> None: ...

class UserClientValue(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class GetSelfValuesRequest(_message.Message):
    __slots__ = ("authorization",)
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    authorization: str
    def __init__(self, authorization: _Optional[str] = ...) -> None: ...

class GetSelfValuesResponse(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[UserClientValue]
    def __init__(self, values: _Optional[_Iterable[_Union[UserClientValue, _Mapping]]] = ...) -> None: ...

class DeleteSelfValuesRequest(_message.Message):
    __slots__ = ("authorization", "names")
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    authorization: str
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, authorization: _Optional[str] = ..., names: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteSelfValuesResponse(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[UserClientValue]
    def __init__(self, values: _Optional[_Iterable[_Union[UserClientValue, _Mapping]]] = ...) -> None: ...

class SetSelfValuesRequest(_message.Message):
    __slots__ = ("authorization", "values")
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    authorization: str
    values: _containers.RepeatedCompositeFieldContainer[UserClientValue]
    def __init__(self, authorization: _Optional[str] = ..., values: _Optional[_Iterable[_Union[UserClientValue, _Mapping]]] = ...) -> None: ...

class SetSelfValuesResponse(_message.Message):
    __slots__ = ("values", "pending")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[UserClientValue]
    pending: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[_Union[UserClientValue, _Mapping]]] = ..., pending: _Optional[_Iterable[str]] = ...) -> None: ...

class VerifySelfValueRequest(_message.Message):
    __slots__ = ("authorization", "name", "code")
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    authorization: str
    name: str
    code: str
    def __init__(self, authorization: _Optional[str] = ..., name: _Optional[str] = ..., code: _Optional[str] = ...) -> None: ...

class VerifySelfValueResponse(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[UserClientValue]
    def __init__(self, values: _Optional[_Iterable[_Union[UserClientValue, _Mapping]]] = ...) -> None: ...
