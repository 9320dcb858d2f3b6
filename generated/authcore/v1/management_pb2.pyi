import datetime

from authcore.v1 import authenticators_pb2 as _authenticators_pb2
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

class TokenKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TOKEN_KIND_UNSPECIFIED: _ClassVar[TokenKind]
    TOKEN_KIND_TOTP: _ClassVar[TokenKind]
    TOKEN_KIND_HOTP: _ClassVar[TokenKind]

class TokenAlgorithm(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TOKEN_ALGORITHM_UNSPECIFIED: _ClassVar[TokenAlgorithm]
    TOKEN_ALGORITHM_SHA1: _ClassVar[TokenAlgorithm]
    TOKEN_ALGORITHM_SHA256: _ClassVar[TokenAlgorithm]
    TOKEN_ALGORITHM_SHA512: _ClassVar[TokenAlgorithm]
TOKEN_KIND_UNSPECIFIED: TokenKind
TOKEN_KIND_TOTP: TokenKind
TOKEN_KIND_HOTP: TokenKind
TOKEN_ALGORITHM_UNSPECIFIED: TokenAlgorithm
TOKEN_ALGORITHM_SHA1: TokenAlgorithm
TOKEN_ALGORITHM_SHA256: TokenAlgorithm
TOKEN_ALGORITHM_SHA512: TokenAlgorithm

class LockoutPolicy(_message.Message):
    __slots__ = ("max_failures", "lockout_seconds")
    MAX_FAILURES_FIELD_NUMBER: _ClassVar[int]
    LOCKOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    max_failures: int
    lockout_seconds: int
    def __init__(self, max_failures: _Optional[int] = ..., lockout_seconds: _Optional[int] = ...) -> None: ...

class TokenLifetimes(_message.Message):
    __slots__ = ("session_seconds", "challenge_seconds", "refresh_seconds")
    SESSION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CHALLENGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REFRESH_SECONDS_FIELD_NUMBER: _ClassVar[int]
    session_seconds: int
    challenge_seconds: int
    refresh_seconds: int
    def __init__(self, session_seconds: _Optional[int] = ..., challenge_seconds: _Optional[int] = ..., refresh_seconds: _Optional[int] = ...) -> None: ...

class FactorSettings(_message.Message):
    __slots__ = ("totp_drift_steps", "hotp_look_ahead", "grid_challenge_cells", "kba_challenge_questions", "otp_digits", "otp_ttl_seconds", "user_certificate_mapping")
    TOTP_DRIFT_STEPS_FIELD_NUMBER: _ClassVar[int]
    HOTP_LOOK_AHEAD_FIELD_NUMBER: _ClassVar[int]
    GRID_CHALLENGE_CELLS_FIELD_NUMBER: _ClassVar[int]
    KBA_CHALLENGE_QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    OTP_DIGITS_FIELD_NUMBER: _ClassVar[int]
    OTP_TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    USER_CERTIFICATE_MAPPING_FIELD_NUMBER: _ClassVar[int]
    totp_drift_steps: int
    hotp_look_ahead: int
    grid_challenge_cells: int
    kba_challenge_questions: int
    otp_digits: int
    otp_ttl_seconds: int
    user_certificate_mapping: str
    def __init__(self, totp_drift_steps: _Optional[int] = ..., hotp_look_ahead: _Optional[int] = ..., grid_challenge_cells: _Optional[int] = ..., kba_challenge_questions: _Optional[int] = ..., otp_digits: _Optional[int] = ..., otp_ttl_seconds: _Optional[int] = ..., user_certificate_mapping: _Optional[str] = ...) -> None: ...

class AccessSettings(_message.Message):
    __slots__ = ("self_sign_up", "hide_user_existence", "mfa_factors")
    SELF_SIGN_UP_FIELD_NUMBER: _ClassVar[int]
    HIDE_USER_EXISTENCE_FIELD_NUMBER: _ClassVar[int]
    MFA_FACTORS_FIELD_NUMBER: _ClassVar[int]
    self_sign_up: bool
    hide_user_existence: bool
    mfa_factors: int
    def __init__(self, self_sign_up: _Optional[bool] = ..., hide_user_existence: _Optional[bool] = ..., mfa_factors: _Optional[int] = ...) -> None: ...

class ValueNames(_message.Message):
    __slots__ = ("names",)
    NAMES_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, names: _Optional[_Iterable[str]] = ...) -> None: ...

class SelfServiceSettings(_message.Message):
    __slots__ = ("editable_values", "offline_tokens_enabled", "offline_minor_size", "offline_max_size", "offline_iterations", "offline_private_salt_length")
    EDITABLE_VALUES_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_TOKENS_ENABLED_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_MINOR_SIZE_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_MAX_SIZE_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_PRIVATE_SALT_LENGTH_FIELD_NUMBER: _ClassVar[int]
    editable_values: ValueNames
    offline_tokens_enabled: bool
    offline_minor_size: int
    offline_max_size: int
    offline_iterations: int
    offline_private_salt_length: int
    def __init__(self, editable_values: _Optional[_Union[ValueNames, _Mapping]] = ..., offline_tokens_enabled: _Optional[bool] = ..., offline_minor_size: _Optional[int] = ..., offline_max_size: _Optional[int] = ..., offline_iterations: _Optional[int] = ..., offline_private_salt_length: _Optional[int] = ...) -> None: ...

class MachineSettings(_message.Message):
    __slots__ = ("device_fingerprint_required", "machine_seconds", "max_machines")
    DEVICE_FINGERPRINT_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    MACHINE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_MACHINES_FIELD_NUMBER: _ClassVar[int]
    device_fingerprint_required: bool
    machine_seconds: int
    max_machines: int
    def __init__(self, device_fingerprint_required: _Optional[bool] = ..., machine_seconds: _Optional[int] = ..., max_machines: _Optional[int] = ...) -> None: ...

class MagicLinkSettings(_message.Message):
    __slots__ = ("link_url", "redirect_url", "lifetime_seconds")
    LINK_URL_FIELD_NUMBER: _ClassVar[int]
    REDIRECT_URL_FIELD_NUMBER: _ClassVar[int]
    LIFETIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    link_url: str
    redirect_url: str
    lifetime_seconds: int
    def __init__(self, link_url: _Optional[str] = ..., redirect_url: _Optional[str] = ..., lifetime_seconds: _Optional[int] = ...) -> None: ...

class WebAuthnSettings(_message.Message):
    __slots__ = ("rp_id", "rp_name", "origins", "user_verification", "resident_key", "require_attestation", "timeout_ms")
    RP_ID_FIELD_NUMBER: _ClassVar[int]
    RP_NAME_FIELD_NUMBER: _ClassVar[int]
    ORIGINS_FIELD_NUMBER: _ClassVar[int]
    USER_VERIFICATION_FIELD_NUMBER: _ClassVar[int]
    RESIDENT_KEY_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_ATTESTATION_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    rp_id: str
    rp_name: str
    origins: _containers.RepeatedScalarFieldContainer[str]
    user_verification: str
    resident_key: str
    require_attestation: bool
    timeout_ms: int
    def __init__(self, rp_id: _Optional[str] = ..., rp_name: _Optional[str] = ..., origins: _Optional[_Iterable[str]] = ..., user_verification: _Optional[str] = ..., resident_key: _Optional[str] = ..., require_attestation: _Optional[bool] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class Application(_message.Message):
    __slots__ = ("application_id", "name", "authenticators", "lockout_policy", "token_lifetimes", "factor_settings", "created_at", "webauthn", "access", "self_service", "machine", "magic_link")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    AUTHENTICATORS_FIELD_NUMBER: _ClassVar[int]
    LOCKOUT_POLICY_FIELD_NUMBER: _ClassVar[int]
    TOKEN_LIFETIMES_FIELD_NUMBER: _ClassVar[int]
    FACTOR_SETTINGS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    WEBAUTHN_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    SELF_SERVICE_FIELD_NUMBER: _ClassVar[int]
    MACHINE_FIELD_NUMBER: _ClassVar[int]
    MAGIC_LINK_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    name: str
    authenticators: _containers.RepeatedScalarFieldContainer[_authenticators_pb2.AuthenticatorType]
    lockout_policy: LockoutPolicy
    token_lifetimes: TokenLifetimes
    factor_settings: FactorSettings
    created_at: _timestamp_pb2.Timestamp
    webauthn: WebAuthnSettings
    access: AccessSettings
    self_service: SelfServiceSettings
    machine: MachineSettings
    magic_link: MagicLinkSettings
    def __init__(self, application_id: _Optional[str] = ..., name: _Optional[str] = ..., authenticators: _Optional[_Iterable[_Union[_authenticators_pb2.AuthenticatorType, str]]] = ..., lockout_policy: _Optional[_Union[LockoutPolicy, _Mapping]] = ..., token_lifetimes: _Optional[_Union[TokenLifetimes, _Mapping]] = ..., factor_settings: _Optional[_Union[FactorSettings, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., webauthn: _Optional[_Union[WebAuthnSettings, _Mapping]] = ..., access: _Optional[_Union[AccessSettings, _Mapping]] = ..., self_service: _Optional[_Union[SelfServiceSettings, _Mapping]] = ..., machine: _Optional[_Union[MachineSettings, _Mapping]] = ..., magic_link: _Optional[_Union[MagicLinkSettings, _Mapping]] = ...) -> None: ...

class CreateApplicationRequest(_message.Message):
    __slots__ = ("name", "authenticators", "lockout_policy", "token_lifetimes", "factor_settings", "webauthn", "access", "self_service", "machine", "magic_link")
    NAME_FIELD_NUMBER: _ClassVar[int]
    AUTHENTICATORS_FIELD_NUMBER: _ClassVar[int]
    LOCKOUT_POLICY_FIELD_NUMBER: _ClassVar[int]
    TOKEN_LIFETIMES_FIELD_NUMBER: _ClassVar[int]
    FACTOR_SETTINGS_FIELD_NUMBER: _ClassVar[int]
    WEBAUTHN_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    SELF_SERVICE_FIELD_NUMBER: _ClassVar[int]
    MACHINE_FIELD_NUMBER: _ClassVar[int]
    MAGIC_LINK_FIELD_NUMBER: _ClassVar[int]
    name: str
    authenticators: _containers.RepeatedScalarFieldContainer[_authenticators_pb2.AuthenticatorType]
    lockout_policy: LockoutPolicy
    token_lifetimes: TokenLifetimes
    factor_settings: FactorSettings
    webauthn: WebAuthnSettings
    access: AccessSettings
    self_service: SelfServiceSettings
    machine: MachineSettings
    magic_link: MagicLinkSettings
    def __init__(self, name: _Optional[str] = ..., authenticators: _Optional[_Iterable[_Union[_authenticators_pb2.AuthenticatorType, str]]] = ..., lockout_policy: _Optional[_Union[LockoutPolicy, _Mapping]] = ..., token_lifetimes: _Optional[_Union[TokenLifetimes, _Mapping]] = ..., factor_settings: _Optional[_Union[FactorSettings, _Mapping]] = ..., webauthn: _Optional[_Union[WebAuthnSettings, _Mapping]] = ..., access: _Optional[_Union[AccessSettings, _Mapping]] = ..., self_service: _Optional[_Union[SelfServiceSettings, _Mapping]] = ..., machine: _Optional[_Union[MachineSettings, _Mapping]] = ..., magic_link: _Optional[_Union[MagicLinkSettings, _Mapping]] = ...) -> None: ...

class CreateApplicationResponse(_message.Message):
    __slots__ = ("application_id", "application")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    application: Application
    def __init__(self, application_id: _Optional[str] = ..., application: _Optional[_Union[Application, _Mapping]] = ...) -> None: ...

class UpdateApplicationRequest(_message.Message):
    __slots__ = ("application_id", "name", "authenticators", "lockout_policy", "token_lifetimes", "factor_settings", "webauthn", "access", "self_service", "machine", "magic_link")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    AUTHENTICATORS_FIELD_NUMBER: _ClassVar[int]
    LOCKOUT_POLICY_FIELD_NUMBER: _ClassVar[int]
    TOKEN_LIFETIMES_FIELD_NUMBER: _ClassVar[int]
    FACTOR_SETTINGS_FIELD_NUMBER: _ClassVar[int]
    WEBAUTHN_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    SELF_SERVICE_FIELD_NUMBER: _ClassVar[int]
    MACHINE_FIELD_NUMBER: _ClassVar[int]
    MAGIC_LINK_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    name: str
    authenticators: _containers.RepeatedScalarFieldContainer[_authenticators_pb2.AuthenticatorType]
    lockout_policy: LockoutPolicy
    token_lifetimes: TokenLifetimes
    factor_settings: FactorSettings
    webauthn: WebAuthnSettings
    access: AccessSettings
    self_service: SelfServiceSettings
    machine: MachineSettings
    magic_link: MagicLinkSettings
    def __init__(self, application_id: _Optional[str] = ..., name: _Optional[str] = ..., authenticators: _Optional[_Iterable[_Union[_authenticators_pb2.AuthenticatorType, str]]] = ..., lockout_policy: _Optional[_Union[LockoutPolicy, _Mapping]] = ..., token_lifetimes: _Optional[_Union[TokenLifetimes, _Mapping]] = ..., factor_settings: _Optional[_Union[FactorSettings, _Mapping]] = ..., webauthn: _Optional[_Union[WebAuthnSettings, _Mapping]] = ..., access: _Optional[_Union[AccessSettings, _Mapping]] = ..., self_service: _Optional[_Union[SelfServiceSettings, _Mapping]] = ..., machine: _Optional[_Union[MachineSettings, _Mapping]] = ..., magic_link: _Optional[_Union[MagicLinkSettings, _Mapping]] = ...) -> None: ...

class UpdateApplicationResponse(_message.Message):
    __slots__ = ("application",)
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    application: Application
    def __init__(self, application: _Optional[_Union[Application, _Mapping]] = ...) -> None: ...

class GetApplicationRequest(_message.Message):
    __slots__ = ("application_id",)
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    def __init__(self, application_id: _Optional[str] = ...) -> None: ...

class GetApplicationResponse(_message.Message):
    __slots__ = ("application",)
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    application: Application
    def __init__(self, application: _Optional[_Union[Application, _Mapping]] = ...) -> None: ...

class User(_message.Message):
    __slots__ = ("user_id", "email", "phone", "first_name", "last_name", "active", "created_at", "authenticators")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    FIRST_NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_NAME_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    AUTHENTICATORS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    email: str
    phone: str
    first_name: str
    last_name: str
    active: bool
    created_at: _timestamp_pb2.Timestamp
    authenticators: _containers.RepeatedScalarFieldContainer[_authenticators_pb2.AuthenticatorType]
    def __init__(self, user_id: _Optional[str] = ..., email: _Optional[str] = ..., phone: _Optional[str] = ..., first_name: _Optional[str] = ..., last_name: _Optional[str] = ..., active: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., authenticators: _Optional[_Iterable[_Union[_authenticators_pb2.AuthenticatorType, str]]] = ...) -> None: ...

class CreateUserRequest(_message.Message):
    __slots__ = ("user_id", "email", "phone", "first_name", "last_name")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    FIRST_NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_NAME_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    email: str
    phone: str
    first_name: str
    last_name: str
    def __init__(self, user_id: _Optional[str] = ..., email: _Optional[str] = ..., phone: _Optional[str] = ..., first_name: _Optional[str] = ..., last_name: _Optional[str] = ...) -> None: ...

class CreateUserResponse(_message.Message):
    __slots__ = ("user",)
    USER_FIELD_NUMBER: _ClassVar[int]
    user: User
    def __init__(self, user: _Optional[_Union[User, _Mapping]] = ...) -> None: ...

class GetUserRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class GetUserResponse(_message.Message):
    __slots__ = ("user",)
    USER_FIELD_NUMBER: _ClassVar[int]
    user: User
    def __init__(self, user: _Optional[_Union[User, _Mapping]] = ...) -> None: ...

class DeleteUserRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class DeleteUserResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SetPasswordRequest(_message.Message):
    __slots__ = ("user_id", "password", "expires_at")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    password: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., password: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SetPasswordResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateTokenRequest(_message.Message):
    __slots__ = ("user_id", "type", "algorithm", "digits", "period", "secret", "label", "ocra_suite")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    DIGITS_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    OCRA_SUITE_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    type: TokenKind
    algorithm: TokenAlgorithm
    digits: int
    period: int
    secret: str
    label: str
    ocra_suite: str
    def __init__(self, user_id: _Optional[str] = ..., type: _Optional[_Union[TokenKind, str]] = ..., algorithm: _Optional[_Union[TokenAlgorithm, str]] = ..., digits: _Optional[int] = ..., period: _Optional[int] = ..., secret: _Optional[str] = ..., label: _Optional[str] = ..., ocra_suite: _Optional[str] = ...) -> None: ...

class CreateTokenResponse(_message.Message):
    __slots__ = ("serial_number", "secret", "otpauth_uri", "qr_code_png", "ocra_suite")
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    OTPAUTH_URI_FIELD_NUMBER: _ClassVar[int]
    QR_CODE_PNG_FIELD_NUMBER: _ClassVar[int]
    OCRA_SUITE_FIELD_NUMBER: _ClassVar[int]
    serial_number: str
    secret: str
    otpauth_uri: str
    qr_code_png: str
    ocra_suite: str
    def __init__(self, serial_number: _Optional[str] = ..., secret: _Optional[str] = ..., otpauth_uri: _Optional[str] = ..., qr_code_png: _Optional[str] = ..., ocra_suite: _Optional[str] = ...) -> None: ...

class ResyncTokenRequest(_message.Message):
    __slots__ = ("user_id", "serial_number", "code1", "code2")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CODE1_FIELD_NUMBER: _ClassVar[int]
    CODE2_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    serial_number: str
    code1: str
    code2: str
    def __init__(self, user_id: _Optional[str] = ..., serial_number: _Optional[str] = ..., code1: _Optional[str] = ..., code2: _Optional[str] = ...) -> None: ...

class ResyncTokenResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateGridRequest(_message.Message):
    __slots__ = ("user_id", "rows", "columns", "chars_per_cell", "expires_in_days")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    CHARS_PER_CELL_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_DAYS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    rows: int
    columns: int
    chars_per_cell: int
    expires_in_days: int
    def __init__(self, user_id: _Optional[str] = ..., rows: _Optional[int] = ..., columns: _Optional[int] = ..., chars_per_cell: _Optional[int] = ..., expires_in_days: _Optional[int] = ...) -> None: ...

class GridRow(_message.Message):
    __slots__ = ("cells",)
    CELLS_FIELD_NUMBER: _ClassVar[int]
    cells: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cells: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateGridResponse(_message.Message):
    __slots__ = ("serial_number", "grid", "expiry_date")
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    GRID_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_DATE_FIELD_NUMBER: _ClassVar[int]
    serial_number: str
    grid: _containers.RepeatedCompositeFieldContainer[GridRow]
    expiry_date: _timestamp_pb2.Timestamp
    def __init__(self, serial_number: _Optional[str] = ..., grid: _Optional[_Iterable[_Union[GridRow, _Mapping]]] = ..., expiry_date: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class KbaQuestion(_message.Message):
    __slots__ = ("question", "answer")
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    question: str
    answer: str
    def __init__(self, question: _Optional[str] = ..., answer: _Optional[str] = ...) -> None: ...

class SetKbaRequest(_message.Message):
    __slots__ = ("user_id", "questions")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    questions: _containers.RepeatedCompositeFieldContainer[KbaQuestion]
    def __init__(self, user_id: _Optional[str] = ..., questions: _Optional[_Iterable[_Union[KbaQuestion, _Mapping]]] = ...) -> None: ...

class SetKbaResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateTempAccessCodeRequest(_message.Message):
    __slots__ = ("user_id", "expires_in_seconds", "max_uses")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_USES_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    expires_in_seconds: int
    max_uses: int
    def __init__(self, user_id: _Optional[str] = ..., expires_in_seconds: _Optional[int] = ..., max_uses: _Optional[int] = ...) -> None: ...

class CreateTempAccessCodeResponse(_message.Message):
    __slots__ = ("code", "expires_at", "max_uses")
    CODE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    MAX_USES_FIELD_NUMBER: _ClassVar[int]
    code: str
    expires_at: _timestamp_pb2.Timestamp
    max_uses: int
    def __init__(self, code: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., max_uses: _Optional[int] = ...) -> None: ...

class UnlockUserRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class UnlockUserResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListOutboxRequest(_message.Message):
    __slots__ = ("user_id", "status")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    status: str
    def __init__(self, user_id: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class OutboxMessage(_message.Message):
    __slots__ = ("channel", "address", "text", "time", "medium", "id", "status", "kind", "attempts", "last_error", "sent_at", "expires_at", "user_id", "application_id")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    MEDIUM_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    channel: _authenticators_pb2.OTPDeliveryType
    address: str
    text: str
    time: _timestamp_pb2.Timestamp
    medium: str
    id: int
    status: str
    kind: str
    attempts: int
    last_error: str
    sent_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    user_id: str
    application_id: str
    def __init__(self, channel: _Optional[_Union[_authenticators_pb2.OTPDeliveryType, str]] = ..., address: _Optional[str] = ..., text: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., medium: _Optional[str] = ..., id: _Optional[int] = ..., status: _Optional[str] = ..., kind: _Optional[str] = ..., attempts: _Optional[int] = ..., last_error: _Optional[str] = ..., sent_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., user_id: _Optional[str] = ..., application_id: _Optional[str] = ...) -> None: ...

class ListOutboxResponse(_message.Message):
    __slots__ = ("messages",)
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[OutboxMessage]
    def __init__(self, messages: _Optional[_Iterable[_Union[OutboxMessage, _Mapping]]] = ...) -> None: ...

class IntrospectTokenRequest(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class IntrospectTokenResponse(_message.Message):
    __slots__ = ("active", "sub", "aud", "exp", "iat", "jti")
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    SUB_FIELD_NUMBER: _ClassVar[int]
    AUD_FIELD_NUMBER: _ClassVar[int]
    EXP_FIELD_NUMBER: _ClassVar[int]
    IAT_FIELD_NUMBER: _ClassVar[int]
    JTI_FIELD_NUMBER: _ClassVar[int]
    active: bool
    sub: str
    aud: str
    exp: int
    iat: int
    jti: str
    def __init__(self, active: _Optional[bool] = ..., sub: _Optional[str] = ..., aud: _Optional[str] = ..., exp: _Optional[int] = ..., iat: _Optional[int] = ..., jti: _Optional[str] = ...) -> None: ...

class AaguidBlock(_message.Message):
    __slots__ = ("aaguid", "reg", "auth", "name")
    AAGUID_FIELD_NUMBER: _ClassVar[int]
    REG_FIELD_NUMBER: _ClassVar[int]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    aaguid: str
    reg: bool
    auth: bool
    name: str
    def __init__(self, aaguid: _Optional[str] = ..., reg: _Optional[bool] = ..., auth: _Optional[bool] = ..., name: _Optional[str] = ...) -> None: ...

class ListAaguidBlocksRequest(_message.Message):
    __slots__ = ("application_id",)
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    def __init__(self, application_id: _Optional[str] = ...) -> None: ...

class ListAaguidBlocksResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[AaguidBlock]
    def __init__(self, entries: _Optional[_Iterable[_Union[AaguidBlock, _Mapping]]] = ...) -> None: ...

class AddAaguidBlockRequest(_message.Message):
    __slots__ = ("application_id", "aaguid", "reg", "auth")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    AAGUID_FIELD_NUMBER: _ClassVar[int]
    REG_FIELD_NUMBER: _ClassVar[int]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    aaguid: str
    reg: bool
    auth: bool
    def __init__(self, application_id: _Optional[str] = ..., aaguid: _Optional[str] = ..., reg: _Optional[bool] = ..., auth: _Optional[bool] = ...) -> None: ...

class AddAaguidBlockResponse(_message.Message):
    __slots__ = ("entry",)
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    entry: AaguidBlock
    def __init__(self, entry: _Optional[_Union[AaguidBlock, _Mapping]] = ...) -> None: ...

class DeleteAaguidBlockRequest(_message.Message):
    __slots__ = ("application_id", "aaguid")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    AAGUID_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    aaguid: str
    def __init__(self, application_id: _Optional[str] = ..., aaguid: _Optional[str] = ...) -> None: ...

class DeleteAaguidBlockResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UserPasskey(_message.Message):
    __slots__ = ("passkey_id", "name", "credential_id", "aaguid", "provider_name", "sign_count", "backup_eligible", "backup_state", "transports", "created_at", "last_used_at", "flagged_at", "rp_id")
    PASSKEY_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    AAGUID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_NAME_FIELD_NUMBER: _ClassVar[int]
    SIGN_COUNT_FIELD_NUMBER: _ClassVar[int]
    BACKUP_ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    BACKUP_STATE_FIELD_NUMBER: _ClassVar[int]
    TRANSPORTS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    FLAGGED_AT_FIELD_NUMBER: _ClassVar[int]
    RP_ID_FIELD_NUMBER: _ClassVar[int]
    passkey_id: str
    name: str
    credential_id: str
    aaguid: str
    provider_name: str
    sign_count: int
    backup_eligible: bool
    backup_state: bool
    transports: _containers.RepeatedScalarFieldContainer[str]
    created_at: _timestamp_pb2.Timestamp
    last_used_at: _timestamp_pb2.Timestamp
    flagged_at: _timestamp_pb2.Timestamp
    rp_id: str
    def __init__(self, passkey_id: _Optional[str] = ..., name: _Optional[str] = ..., credential_id: _Optional[str] = ..., aaguid: _Optional[str] = ..., provider_name: _Optional[str] = ..., sign_count: _Optional[int] = ..., backup_eligible: _Optional[bool] = ..., backup_state: _Optional[bool] = ..., transports: _Optional[_Iterable[str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_used_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., flagged_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., rp_id: _Optional[str] = ...) -> None: ...

class ListUserPasskeysRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class ListUserPasskeysResponse(_message.Message):
    __slots__ = ("passkeys",)
    PASSKEYS_FIELD_NUMBER: _ClassVar[int]
    passkeys: _containers.RepeatedCompositeFieldContainer[UserPasskey]
    def __init__(self, passkeys: _Optional[_Iterable[_Union[UserPasskey, _Mapping]]] = ...) -> None: ...

class RenameUserPasskeyRequest(_message.Message):
    __slots__ = ("user_id", "passkey_id", "name")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PASSKEY_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    passkey_id: str
    name: str
    def __init__(self, user_id: _Optional[str] = ..., passkey_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class RenameUserPasskeyResponse(_message.Message):
    __slots__ = ("passkey",)
    PASSKEY_FIELD_NUMBER: _ClassVar[int]
    passkey: UserPasskey
    def __init__(self, passkey: _Optional[_Union[UserPasskey, _Mapping]] = ...) -> None: ...

class DeleteUserPasskeyRequest(_message.Message):
    __slots__ = ("user_id", "passkey_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PASSKEY_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    passkey_id: str
    def __init__(self, user_id: _Optional[str] = ..., passkey_id: _Optional[str] = ...) -> None: ...

class DeleteUserPasskeyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetJwksRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Jwk(_message.Message):
    __slots__ = ("kty", "crv", "x", "y", "kid", "use", "alg")
    KTY_FIELD_NUMBER: _ClassVar[int]
    CRV_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    KID_FIELD_NUMBER: _ClassVar[int]
    USE_FIELD_NUMBER: _ClassVar[int]
    ALG_FIELD_NUMBER: _ClassVar[int]
    kty: str
    crv: str
    x: str
    y: str
    kid: str
    use: str
    alg: str
    def __init__(self, kty: _Optional[str] = ..., crv: _Optional[str] = ..., x: _Optional[str] = ..., y: _Optional[str] = ..., kid: _Optional[str] = ..., use: _Optional[str] = ..., alg: _Optional[str] = ...) -> None: ...

class GetJwksResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[Jwk]
    def __init__(self, keys: _Optional[_Iterable[_Union[Jwk, _Mapping]]] = ...) -> None: ...

class UserMachine(_message.Message):
    __slots__ = ("machine_id", "label", "created_at", "expires_at", "last_used_at", "has_fingerprint")
    MACHINE_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    HAS_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    machine_id: str
    label: str
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    last_used_at: _timestamp_pb2.Timestamp
    has_fingerprint: bool
    def __init__(self, machine_id: _Optional[str] = ..., label: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_used_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., has_fingerprint: _Optional[bool] = ...) -> None: ...

class ListUserMachinesRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class ListUserMachinesResponse(_message.Message):
    __slots__ = ("machines",)
    MACHINES_FIELD_NUMBER: _ClassVar[int]
    machines: _containers.RepeatedCompositeFieldContainer[UserMachine]
    def __init__(self, machines: _Optional[_Iterable[_Union[UserMachine, _Mapping]]] = ...) -> None: ...

class DeleteUserMachineRequest(_message.Message):
    __slots__ = ("user_id", "machine_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    MACHINE_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    machine_id: str
    def __init__(self, user_id: _Optional[str] = ..., machine_id: _Optional[str] = ...) -> None: ...

class DeleteUserMachineResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
