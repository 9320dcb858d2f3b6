import datetime

from authcore.v1 import options_pb2 as _options_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AuthenticatorType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUTHENTICATOR_TYPE_UNSPECIFIED: _ClassVar[AuthenticatorType]
    AUTHENTICATOR_TYPE_MACHINE: _ClassVar[AuthenticatorType]
    AUTHENTICATOR_TYPE_PASSWORD: _ClassVar[AuthenticatorType]
    AUTHENTICATOR_TYPE_EXTERNAL: _ClassVar[AuthenticatorType]
    AUTHENTICATOR_TYPE_KBA: _ClassVar[AuthenticatorType]
    AUTHENTICATOR_TYPE_TEMP_ACCESS_CODE: _ClassVar[AuthenticatorType]
    AUTHENTICATOR_TYPE_OTP: _ClassVar[AuthenticatorType]
    AUTHENTICATOR_TYPE_GRID: _ClassVar[AuthenticatorType]
    AUTHENTICATOR_TYPE_TOKEN: _ClassVar[AuthenticatorType]
    AUTHENTICATOR_TYPE_TOKENCR: _ClassVar[AuthenticatorType]
    AUTHENTICATOR_TYPE_TOKENPUSH: _ClassVar[AuthenticatorType]
    AUTHENTICATOR_TYPE_FIDO: _ClassVar[AuthenticatorType]
    AUTHENTICATOR_TYPE_SMARTCREDENTIALPUSH: _ClassVar[AuthenticatorType]
    AUTHENTICATOR_TYPE_PASSWORD_AND_SECONDFACTOR: _ClassVar[AuthenticatorType]
    AUTHENTICATOR_TYPE_SMART_LOGIN: _ClassVar[AuthenticatorType]
    AUTHENTICATOR_TYPE_IDP: _ClassVar[AuthenticatorType]
    AUTHENTICATOR_TYPE_PASSKEY: _ClassVar[AuthenticatorType]
    AUTHENTICATOR_TYPE_IDP_AND_SECONDFACTOR: _ClassVar[AuthenticatorType]
    AUTHENTICATOR_TYPE_USER_CERTIFICATE: _ClassVar[AuthenticatorType]
    AUTHENTICATOR_TYPE_FACE: _ClassVar[AuthenticatorType]
    AUTHENTICATOR_TYPE_PASSTHROUGH: _ClassVar[AuthenticatorType]
    AUTHENTICATOR_TYPE_MAGICLINK: _ClassVar[AuthenticatorType]

class OTPDeliveryType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OTP_DELIVERY_TYPE_UNSPECIFIED: _ClassVar[OTPDeliveryType]
    OTP_DELIVERY_TYPE_EMAIL: _ClassVar[OTPDeliveryType]
    OTP_DELIVERY_TYPE_SMS: _ClassVar[OTPDeliveryType]
    OTP_DELIVERY_TYPE_VOICE: _ClassVar[OTPDeliveryType]
    OTP_DELIVERY_TYPE_WECHAT: _ClassVar[OTPDeliveryType]
    OTP_DELIVERY_TYPE_WHATSAPP: _ClassVar[OTPDeliveryType]

class TransactionDetailUsage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSACTION_DETAIL_USAGE_UNSPECIFIED: _ClassVar[TransactionDetailUsage]
    TRANSACTION_DETAIL_USAGE_RBA: _ClassVar[TransactionDetailUsage]
    TRANSACTION_DETAIL_USAGE_TVS: _ClassVar[TransactionDetailUsage]
AUTHENTICATOR_TYPE_UNSPECIFIED: AuthenticatorType
AUTHENTICATOR_TYPE_MACHINE: AuthenticatorType
AUTHENTICATOR_TYPE_PASSWORD: AuthenticatorType
AUTHENTICATOR_TYPE_EXTERNAL: AuthenticatorType
AUTHENTICATOR_TYPE_KBA: AuthenticatorType
AUTHENTICATOR_TYPE_TEMP_ACCESS_CODE: AuthenticatorType
AUTHENTICATOR_TYPE_OTP: AuthenticatorType
AUTHENTICATOR_TYPE_GRID: AuthenticatorType
AUTHENTICATOR_TYPE_TOKEN: AuthenticatorType
AUTHENTICATOR_TYPE_TOKENCR: AuthenticatorType
AUTHENTICATOR_TYPE_TOKENPUSH: AuthenticatorType
AUTHENTICATOR_TYPE_FIDO: AuthenticatorType
AUTHENTICATOR_TYPE_SMARTCREDENTIALPUSH: AuthenticatorType
AUTHENTICATOR_TYPE_PASSWORD_AND_SECONDFACTOR: AuthenticatorType
AUTHENTICATOR_TYPE_SMART_LOGIN: AuthenticatorType
AUTHENTICATOR_TYPE_IDP: AuthenticatorType
AUTHENTICATOR_TYPE_PASSKEY: AuthenticatorType
AUTHENTICATOR_TYPE_IDP_AND_SECONDFACTOR: AuthenticatorType
AUTHENTICATOR_TYPE_USER_CERTIFICATE: AuthenticatorType
AUTHENTICATOR_TYPE_FACE: AuthenticatorType
AUTHENTICATOR_TYPE_PASSTHROUGH: AuthenticatorType
AUTHENTICATOR_TYPE_MAGICLINK: AuthenticatorType
OTP_DELIVERY_TYPE_UNSPECIFIED: OTPDeliveryType
OTP_DELIVERY_TYPE_EMAIL: OTPDeliveryType
OTP_DELIVERY_TYPE_SMS: OTPDeliveryType
OTP_DELIVERY_TYPE_VOICE: OTPDeliveryType
OTP_DELIVERY_TYPE_WECHAT: OTPDeliveryType
OTP_DELIVERY_TYPE_WHATSAPP: OTPDeliveryType
TRANSACTION_DETAIL_USAGE_UNSPECIFIED: TransactionDetailUsage
TRANSACTION_DETAIL_USAGE_RBA: TransactionDetailUsage
TRANSACTION_DETAIL_USAGE_TVS: TransactionDetailUsage

class UserAuthenticatorLockoutStatus(_message.Message):
    __slots__ = ("type", "locked", "lockout_date", "lockout_expiry_date", "remaining_authentication_attempts")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    LOCKED_FIELD_NUMBER: _ClassVar[int]
    LOCKOUT_DATE_FIELD_NUMBER: _ClassVar[int]
    LOCKOUT_EXPIRY_DATE_FIELD_NUMBER: _ClassVar[int]
    REMAINING_AUTHENTICATION_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    type: AuthenticatorType
    locked: bool
    lockout_date: _timestamp_pb2.Timestamp
    lockout_expiry_date: _timestamp_pb2.Timestamp
    remaining_authentication_attempts: int
    def __init__(self, type: _Optional[_Union[AuthenticatorType, str]] = ..., locked: _Optional[bool] = ..., lockout_date: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lockout_expiry_date: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., remaining_authentication_attempts: _Optional[int] = ...) -> None: ...

class GridChallengeCell(_message.Message):
    __slots__ = ("row", "column")
    ROW_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    row: int
    column: int
    def __init__(self, row: _Optional[int] = ..., column: _Optional[int] = ...) -> None: ...

class GridInfo(_message.Message):
    __slots__ = ("serial_number", "expiry_date")
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_DATE_FIELD_NUMBER: _ClassVar[int]
    serial_number: str
    expiry_date: _timestamp_pb2.Timestamp
    def __init__(self, serial_number: _Optional[str] = ..., expiry_date: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GridChallenge(_message.Message):
    __slots__ = ("challenge", "grid_info", "num_chars_per_cell", "cell_alphabets")
    CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    GRID_INFO_FIELD_NUMBER: _ClassVar[int]
    NUM_CHARS_PER_CELL_FIELD_NUMBER: _ClassVar[int]
    CELL_ALPHABETS_FIELD_NUMBER: _ClassVar[int]
    challenge: _containers.RepeatedCompositeFieldContainer[GridChallengeCell]
    grid_info: _containers.RepeatedCompositeFieldContainer[GridInfo]
    num_chars_per_cell: int
    cell_alphabets: str
    def __init__(self, challenge: _Optional[_Iterable[_Union[GridChallengeCell, _Mapping]]] = ..., grid_info: _Optional[_Iterable[_Union[GridInfo, _Mapping]]] = ..., num_chars_per_cell: _Optional[int] = ..., cell_alphabets: _Optional[str] = ...) -> None: ...

class UserQuestion(_message.Message):
    __slots__ = ("id", "question", "answer")
    ID_FIELD_NUMBER: _ClassVar[int]
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    id: str
    question: str
    answer: str
    def __init__(self, id: _Optional[str] = ..., question: _Optional[str] = ..., answer: _Optional[str] = ...) -> None: ...

class KbaChallenge(_message.Message):
    __slots__ = ("id", "user_questions")
    ID_FIELD_NUMBER: _ClassVar[int]
    USER_QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    id: str
    user_questions: _containers.RepeatedCompositeFieldContainer[UserQuestion]
    def __init__(self, id: _Optional[str] = ..., user_questions: _Optional[_Iterable[_Union[UserQuestion, _Mapping]]] = ...) -> None: ...

class FIDOChallenge(_message.Message):
    __slots__ = ("allow_credentials", "challenge", "timeout", "timeout_millis")
    ALLOW_CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MILLIS_FIELD_NUMBER: _ClassVar[int]
    allow_credentials: _containers.RepeatedScalarFieldContainer[str]
    challenge: str
    timeout: int
    timeout_millis: int
    def __init__(self, allow_credentials: _Optional[_Iterable[str]] = ..., challenge: _Optional[str] = ..., timeout: _Optional[int] = ..., timeout_millis: _Optional[int] = ...) -> None: ...

class FIDOResponse(_message.Message):
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

class TokenInfo(_message.Message):
    __slots__ = ("serial_number", "label", "qr_code", "qr_code_url")
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    QR_CODE_FIELD_NUMBER: _ClassVar[int]
    QR_CODE_URL_FIELD_NUMBER: _ClassVar[int]
    serial_number: str
    label: str
    qr_code: str
    qr_code_url: str
    def __init__(self, serial_number: _Optional[str] = ..., label: _Optional[str] = ..., qr_code: _Optional[str] = ..., qr_code_url: _Optional[str] = ...) -> None: ...

class TokenChallenge(_message.Message):
    __slots__ = ("token", "challenge")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    token: _containers.RepeatedCompositeFieldContainer[TokenInfo]
    challenge: str
    def __init__(self, token: _Optional[_Iterable[_Union[TokenInfo, _Mapping]]] = ..., challenge: _Optional[str] = ...) -> None: ...

class TempAccessCodeChallenge(_message.Message):
    __slots__ = ("enable_admin_contact", "admin_contact")
    ENABLE_ADMIN_CONTACT_FIELD_NUMBER: _ClassVar[int]
    ADMIN_CONTACT_FIELD_NUMBER: _ClassVar[int]
    enable_admin_contact: bool
    admin_contact: str
    def __init__(self, enable_admin_contact: _Optional[bool] = ..., admin_contact: _Optional[str] = ...) -> None: ...

class UserCertificateChallenge(_message.Message):
    __slots__ = ("challenge",)
    CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    challenge: str
    def __init__(self, challenge: _Optional[str] = ...) -> None: ...

class UserCertificateResponse(_message.Message):
    __slots__ = ("code", "verifier")
    CODE_FIELD_NUMBER: _ClassVar[int]
    VERIFIER_FIELD_NUMBER: _ClassVar[int]
    code: str
    verifier: str
    def __init__(self, code: _Optional[str] = ..., verifier: _Optional[str] = ...) -> None: ...

class PasswordChallenge(_message.Message):
    __slots__ = ("name", "named_password_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMED_PASSWORD_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    named_password_id: str
    def __init__(self, name: _Optional[str] = ..., named_password_id: _Optional[str] = ...) -> None: ...

class MachineAuthenticator(_message.Message):
    __slots__ = ("fingerprint", "machine_nonce", "sequence_nonce")
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    MACHINE_NONCE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_NONCE_FIELD_NUMBER: _ClassVar[int]
    fingerprint: str
    machine_nonce: str
    sequence_nonce: str
    def __init__(self, fingerprint: _Optional[str] = ..., machine_nonce: _Optional[str] = ..., sequence_nonce: _Optional[str] = ...) -> None: ...

class OTPContactValue(_message.Message):
    __slots__ = ("name", "type", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: OTPDeliveryType
    value: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[OTPDeliveryType, str]] = ..., value: _Optional[str] = ...) -> None: ...

class OTPDetails(_message.Message):
    __slots__ = ("available_otp_delivery", "otp_contact_values", "otp_default_delivery", "otp_delivery_attribute")
    AVAILABLE_OTP_DELIVERY_FIELD_NUMBER: _ClassVar[int]
    OTP_CONTACT_VALUES_FIELD_NUMBER: _ClassVar[int]
    OTP_DEFAULT_DELIVERY_FIELD_NUMBER: _ClassVar[int]
    OTP_DELIVERY_ATTRIBUTE_FIELD_NUMBER: _ClassVar[int]
    available_otp_delivery: _containers.RepeatedScalarFieldContainer[OTPDeliveryType]
    otp_contact_values: _containers.RepeatedCompositeFieldContainer[OTPContactValue]
    otp_default_delivery: OTPDeliveryType
    otp_delivery_attribute: str
    def __init__(self, available_otp_delivery: _Optional[_Iterable[_Union[OTPDeliveryType, str]]] = ..., otp_contact_values: _Optional[_Iterable[_Union[OTPContactValue, _Mapping]]] = ..., otp_default_delivery: _Optional[_Union[OTPDeliveryType, str]] = ..., otp_delivery_attribute: _Optional[str] = ...) -> None: ...

class RequestDetail(_message.Message):
    __slots__ = ("browser", "os")
    BROWSER_FIELD_NUMBER: _ClassVar[int]
    OS_FIELD_NUMBER: _ClassVar[int]
    browser: str
    os: str
    def __init__(self, browser: _Optional[str] = ..., os: _Optional[str] = ...) -> None: ...

class TransactionDetail(_message.Message):
    __slots__ = ("detail", "usage", "value")
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    detail: str
    usage: _containers.RepeatedScalarFieldContainer[TransactionDetailUsage]
    value: str
    def __init__(self, detail: _Optional[str] = ..., usage: _Optional[_Iterable[_Union[TransactionDetailUsage, str]]] = ..., value: _Optional[str] = ...) -> None: ...

class Organization(_message.Message):
    __slots__ = ("id", "name", "display_name", "description", "logo_uri")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LOGO_URI_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    display_name: str
    description: str
    logo_uri: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., logo_uri: _Optional[str] = ...) -> None: ...
