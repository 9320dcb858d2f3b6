from authcore.v1 import authenticators_pb2 as _authenticators_pb2
from authcore.v1 import options_pb2 as _options_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PushStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PUSH_STATUS_UNSPECIFIED: _ClassVar[PushStatus]
    PUSH_STATUS_CONFIRM: _ClassVar[PushStatus]
    PUSH_STATUS_CONCERN: _ClassVar[PushStatus]
    PUSH_STATUS_CANCEL: _ClassVar[PushStatus]
    PUSH_STATUS_NO_RESPONSE: _ClassVar[PushStatus]
PUSH_STATUS_UNSPECIFIED: PushStatus
PUSH_STATUS_CONFIRM: PushStatus
PUSH_STATUS_CONCERN: PushStatus
PUSH_STATUS_CANCEL: PushStatus
PUSH_STATUS_NO_RESPONSE: PushStatus

class QueryUserAuthenticatorsRequest(_message.Message):
    __slots__ = ("application_id", "user_id", "auth_token", "client_ip", "ignore_ip_address_for_rba", "machine_authenticator", "max_age", "offline_tvs", "origin", "priority", "push_message_identifier", "push_mutual_challenge_enabled", "request_acrs", "request_detail", "request_time", "return_default_challenge", "rp_id", "summary", "support_choosing_otp_delivery", "token_push_mutual_challenge_enabled", "transaction_details", "auth_request_key")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    AUTH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CLIENT_IP_FIELD_NUMBER: _ClassVar[int]
    IGNORE_IP_ADDRESS_FOR_RBA_FIELD_NUMBER: _ClassVar[int]
    MACHINE_AUTHENTICATOR_FIELD_NUMBER: _ClassVar[int]
    MAX_AGE_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_TVS_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    PUSH_MESSAGE_IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    PUSH_MUTUAL_CHALLENGE_ENABLED_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ACRS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_DETAIL_FIELD_NUMBER: _ClassVar[int]
    REQUEST_TIME_FIELD_NUMBER: _ClassVar[int]
    RETURN_DEFAULT_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    RP_ID_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    SUPPORT_CHOOSING_OTP_DELIVERY_FIELD_NUMBER: _ClassVar[int]
    TOKEN_PUSH_MUTUAL_CHALLENGE_ENABLED_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_DETAILS_FIELD_NUMBER: _ClassVar[int]
    AUTH_REQUEST_KEY_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    user_id: str
    auth_token: str
    client_ip: str
    ignore_ip_address_for_rba: bool
    machine_authenticator: _authenticators_pb2.MachineAuthenticator
    max_age: int
    offline_tvs: bool
    origin: str
    priority: int
    push_message_identifier: str
    push_mutual_challenge_enabled: bool
    request_acrs: str
    request_detail: _authenticators_pb2.RequestDetail
    request_time: int
    return_default_challenge: bool
    rp_id: str
    summary: str
    support_choosing_otp_delivery: bool
    token_push_mutual_challenge_enabled: bool
    transaction_details: _containers.RepeatedCompositeFieldContainer[_authenticators_pb2.TransactionDetail]
    auth_request_key: str
    def __init__(self, application_id: _Optional[str] = ..., user_id: _Optional[str] = ..., auth_token: _Optional[str] = ..., client_ip: _Optional[str] = ..., ignore_ip_address_for_rba: _Optional[bool] = ..., machine_authenticator: _Optional[_Union[_authenticators_pb2.MachineAuthenticator, _Mapping]] = ..., max_age: _Optional[int] = ..., offline_tvs: _Optional[bool] = ..., origin: _Optional[str] = ..., priority: _Optional[int] = ..., push_message_identifier: _Optional[str] = ..., push_mutual_challenge_enabled: _Optional[bool] = ..., request_acrs: _Optional[str] = ..., request_detail: _Optional[_Union[_authenticators_pb2.RequestDetail, _Mapping]] = ..., request_time: _Optional[int] = ..., return_default_challenge: _Optional[bool] = ..., rp_id: _Optional[str] = ..., summary: _Optional[str] = ..., support_choosing_otp_delivery: _Optional[bool] = ..., token_push_mutual_challenge_enabled: _Optional[bool] = ..., transaction_details: _Optional[_Iterable[_Union[_authenticators_pb2.TransactionDetail, _Mapping]]] = ..., auth_request_key: _Optional[str] = ...) -> None: ...

class QueryUserAuthenticatorsResponse(_message.Message):
    __slots__ = ("authentication_completed", "authentication_types", "authenticator_lockout_status", "available_second_factor", "device_cert_auth_desired", "expires", "fido_challenge", "grid_challenge", "kba_challenge", "otp_delivery_info", "otp_delivery_type", "password_reset_allowed", "registration_required", "supports_signature", "temp_access_code_challenge", "token", "token_challenge", "token_details", "verification_required", "organizations", "password_challenge", "user_machine_settings", "push_mutual_challenge", "token_push_mutual_challenge")
    AUTHENTICATION_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    AUTHENTICATION_TYPES_FIELD_NUMBER: _ClassVar[int]
    AUTHENTICATOR_LOCKOUT_STATUS_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_SECOND_FACTOR_FIELD_NUMBER: _ClassVar[int]
    DEVICE_CERT_AUTH_DESIRED_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    FIDO_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    GRID_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    KBA_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    OTP_DELIVERY_INFO_FIELD_NUMBER: _ClassVar[int]
    OTP_DELIVERY_TYPE_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_RESET_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    REGISTRATION_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    TEMP_ACCESS_CODE_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_DETAILS_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATIONS_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    USER_MACHINE_SETTINGS_FIELD_NUMBER: _ClassVar[int]
    PUSH_MUTUAL_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_PUSH_MUTUAL_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    authentication_completed: bool
    authentication_types: _containers.RepeatedScalarFieldContainer[_authenticators_pb2.AuthenticatorType]
    authenticator_lockout_status: _containers.RepeatedCompositeFieldContainer[_authenticators_pb2.UserAuthenticatorLockoutStatus]
    available_second_factor: _containers.RepeatedScalarFieldContainer[_authenticators_pb2.AuthenticatorType]
    device_cert_auth_desired: bool
    expires: int
    fido_challenge: _authenticators_pb2.FIDOChallenge
    grid_challenge: _authenticators_pb2.GridChallenge
    kba_challenge: _authenticators_pb2.KbaChallenge
    otp_delivery_info: _authenticators_pb2.OTPDetails
    otp_delivery_type: _authenticators_pb2.OTPDeliveryType
    password_reset_allowed: bool
    registration_required: bool
    supports_signature: bool
    temp_access_code_challenge: _authenticators_pb2.TempAccessCodeChallenge
    token: str
    token_challenge: _authenticators_pb2.TokenChallenge
    token_details: _containers.RepeatedScalarFieldContainer[str]
    verification_required: bool
    organizations: _containers.RepeatedCompositeFieldContainer[_authenticators_pb2.Organization]
    password_challenge: _authenticators_pb2.PasswordChallenge
    user_machine_settings: _authenticators_pb2.UserMachineSettings
    push_mutual_challenge: str
    token_push_mutual_challenge: str
    def __init__(self, authentication_completed: _Optional[bool] = ..., authentication_types: _Optional[_Iterable[_Union[_authenticators_pb2.AuthenticatorType, str]]] = ..., authenticator_lockout_status: _Optional[_Iterable[_Union[_authenticators_pb2.UserAuthenticatorLockoutStatus, _Mapping]]] = ..., available_second_factor: _Optional[_Iterable[_Union[_authenticators_pb2.AuthenticatorType, str]]] = ..., device_cert_auth_desired: _Optional[bool] = ..., expires: _Optional[int] = ..., fido_challenge: _Optional[_Union[_authenticators_pb2.FIDOChallenge, _Mapping]] = ..., grid_challenge: _Optional[_Union[_authenticators_pb2.GridChallenge, _Mapping]] = ..., kba_challenge: _Optional[_Union[_authenticators_pb2.KbaChallenge, _Mapping]] = ..., otp_delivery_info: _Optional[_Union[_authenticators_pb2.OTPDetails, _Mapping]] = ..., otp_delivery_type: _Optional[_Union[_authenticators_pb2.OTPDeliveryType, str]] = ..., password_reset_allowed: _Optional[bool] = ..., registration_required: _Optional[bool] = ..., supports_signature: _Optional[bool] = ..., temp_access_code_challenge: _Optional[_Union[_authenticators_pb2.TempAccessCodeChallenge, _Mapping]] = ..., token: _Optional[str] = ..., token_challenge: _Optional[_Union[_authenticators_pb2.TokenChallenge, _Mapping]] = ..., token_details: _Optional[_Iterable[str]] = ..., verification_required: _Optional[bool] = ..., organizations: _Optional[_Iterable[_Union[_authenticators_pb2.Organization, _Mapping]]] = ..., password_challenge: _Optional[_Union[_authenticators_pb2.PasswordChallenge, _Mapping]] = ..., user_machine_settings: _Optional[_Union[_authenticators_pb2.UserMachineSettings, _Mapping]] = ..., push_mutual_challenge: _Optional[str] = ..., token_push_mutual_challenge: _Optional[str] = ...) -> None: ...

class AuthenticatedResponse(_message.Message):
    __slots__ = ("authentication_completed", "expires", "token", "user_id", "first_name", "last_name", "fido_challenge", "grid_challenge", "kba_challenge", "token_challenge", "temp_access_code_challenge", "password_challenge", "otpdelivery_type", "token_details", "organizations", "user_registration_required", "user_verification_required", "machine_authenticator", "user_machine_settings", "user_certificate_challenge", "redirect_url", "passthrough_authentication_response", "push_mutual_challenge", "token_push_mutual_challenge", "status", "magic_link_type")
    AUTHENTICATION_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_NAME_FIELD_NUMBER: _ClassVar[int]
    FIDO_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    GRID_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    KBA_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    TEMP_ACCESS_CODE_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    OTPDELIVERY_TYPE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATIONS_FIELD_NUMBER: _ClassVar[int]
    USER_REGISTRATION_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    USER_VERIFICATION_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    MACHINE_AUTHENTICATOR_FIELD_NUMBER: _ClassVar[int]
    USER_MACHINE_SETTINGS_FIELD_NUMBER: _ClassVar[int]
    USER_CERTIFICATE_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    REDIRECT_URL_FIELD_NUMBER: _ClassVar[int]
    PASSTHROUGH_AUTHENTICATION_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    PUSH_MUTUAL_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_PUSH_MUTUAL_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MAGIC_LINK_TYPE_FIELD_NUMBER: _ClassVar[int]
    authentication_completed: bool
    expires: int
    token: str
    user_id: str
    first_name: str
    last_name: str
    fido_challenge: _authenticators_pb2.FIDOChallenge
    grid_challenge: _authenticators_pb2.GridChallenge
    kba_challenge: _authenticators_pb2.KbaChallenge
    token_challenge: _authenticators_pb2.TokenChallenge
    temp_access_code_challenge: _authenticators_pb2.TempAccessCodeChallenge
    password_challenge: _authenticators_pb2.PasswordChallenge
    otpdelivery_type: _authenticators_pb2.OTPDeliveryType
    token_details: _containers.RepeatedScalarFieldContainer[str]
    organizations: _containers.RepeatedCompositeFieldContainer[_authenticators_pb2.Organization]
    user_registration_required: bool
    user_verification_required: bool
    machine_authenticator: _authenticators_pb2.MachineAuthenticator
    user_machine_settings: _authenticators_pb2.UserMachineSettings
    user_certificate_challenge: _authenticators_pb2.UserCertificateChallenge
    redirect_url: str
    passthrough_authentication_response: _authenticators_pb2.PassthroughAuthenticationResponse
    push_mutual_challenge: str
    token_push_mutual_challenge: str
    status: PushStatus
    magic_link_type: str
    def __init__(self, authentication_completed: _Optional[bool] = ..., expires: _Optional[int] = ..., token: _Optional[str] = ..., user_id: _Optional[str] = ..., first_name: _Optional[str] = ..., last_name: _Optional[str] = ..., fido_challenge: _Optional[_Union[_authenticators_pb2.FIDOChallenge, _Mapping]] = ..., grid_challenge: _Optional[_Union[_authenticators_pb2.GridChallenge, _Mapping]] = ..., kba_challenge: _Optional[_Union[_authenticators_pb2.KbaChallenge, _Mapping]] = ..., token_challenge: _Optional[_Union[_authenticators_pb2.TokenChallenge, _Mapping]] = ..., temp_access_code_challenge: _Optional[_Union[_authenticators_pb2.TempAccessCodeChallenge, _Mapping]] = ..., password_challenge: _Optional[_Union[_authenticators_pb2.PasswordChallenge, _Mapping]] = ..., otpdelivery_type: _Optional[_Union[_authenticators_pb2.OTPDeliveryType, str]] = ..., token_details: _Optional[_Iterable[str]] = ..., organizations: _Optional[_Iterable[_Union[_authenticators_pb2.Organization, _Mapping]]] = ..., user_registration_required: _Optional[bool] = ..., user_verification_required: _Optional[bool] = ..., machine_authenticator: _Optional[_Union[_authenticators_pb2.MachineAuthenticator, _Mapping]] = ..., user_machine_settings: _Optional[_Union[_authenticators_pb2.UserMachineSettings, _Mapping]] = ..., user_certificate_challenge: _Optional[_Union[_authenticators_pb2.UserCertificateChallenge, _Mapping]] = ..., redirect_url: _Optional[str] = ..., passthrough_authentication_response: _Optional[_Union[_authenticators_pb2.PassthroughAuthenticationResponse, _Mapping]] = ..., push_mutual_challenge: _Optional[str] = ..., token_push_mutual_challenge: _Optional[str] = ..., status: _Optional[_Union[PushStatus, str]] = ..., magic_link_type: _Optional[str] = ...) -> None: ...

class RequestUserChallengeRequest(_message.Message):
    __slots__ = ("authenticator", "application_id", "user_id", "auth_token", "client_ip", "ignore_ip_address_for_rba", "locale", "machine_authenticator", "offline_tvs", "origin", "otp_delivery_attribute", "otp_delivery_type", "priority", "push_message_identifier", "push_mutual_challenge_enabled", "request_acrs", "request_detail", "rp_id", "second_factor_authenticator", "summary", "token_push_mutual_challenge_enabled", "transaction_details", "auth_request_key", "passthrough_authenticator_parms")
    AUTHENTICATOR_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    AUTH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CLIENT_IP_FIELD_NUMBER: _ClassVar[int]
    IGNORE_IP_ADDRESS_FOR_RBA_FIELD_NUMBER: _ClassVar[int]
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    MACHINE_AUTHENTICATOR_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_TVS_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    OTP_DELIVERY_ATTRIBUTE_FIELD_NUMBER: _ClassVar[int]
    OTP_DELIVERY_TYPE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    PUSH_MESSAGE_IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    PUSH_MUTUAL_CHALLENGE_ENABLED_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ACRS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_DETAIL_FIELD_NUMBER: _ClassVar[int]
    RP_ID_FIELD_NUMBER: _ClassVar[int]
    SECOND_FACTOR_AUTHENTICATOR_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    TOKEN_PUSH_MUTUAL_CHALLENGE_ENABLED_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_DETAILS_FIELD_NUMBER: _ClassVar[int]
    AUTH_REQUEST_KEY_FIELD_NUMBER: _ClassVar[int]
    PASSTHROUGH_AUTHENTICATOR_PARMS_FIELD_NUMBER: _ClassVar[int]
    authenticator: _authenticators_pb2.AuthenticatorType
    application_id: str
    user_id: str
    auth_token: str
    client_ip: str
    ignore_ip_address_for_rba: bool
    locale: str
    machine_authenticator: _authenticators_pb2.MachineAuthenticator
    offline_tvs: bool
    origin: str
    otp_delivery_attribute: str
    otp_delivery_type: _authenticators_pb2.OTPDeliveryType
    priority: int
    push_message_identifier: str
    push_mutual_challenge_enabled: bool
    request_acrs: str
    request_detail: _authenticators_pb2.RequestDetail
    rp_id: str
    second_factor_authenticator: _authenticators_pb2.AuthenticatorType
    summary: str
    token_push_mutual_challenge_enabled: bool
    transaction_details: _containers.RepeatedCompositeFieldContainer[_authenticators_pb2.TransactionDetail]
    auth_request_key: str
    passthrough_authenticator_parms: _authenticators_pb2.PassthroughAuthenticatorParms
    def __init__(self, authenticator: _Optional[_Union[_authenticators_pb2.AuthenticatorType, str]] = ..., application_id: _Optional[str] = ..., user_id: _Optional[str] = ..., auth_token: _Optional[str] = ..., client_ip: _Optional[str] = ..., ignore_ip_address_for_rba: _Optional[bool] = ..., locale: _Optional[str] = ..., machine_authenticator: _Optional[_Union[_authenticators_pb2.MachineAuthenticator, _Mapping]] = ..., offline_tvs: _Optional[bool] = ..., origin: _Optional[str] = ..., otp_delivery_attribute: _Optional[str] = ..., otp_delivery_type: _Optional[_Union[_authenticators_pb2.OTPDeliveryType, str]] = ..., priority: _Optional[int] = ..., push_message_identifier: _Optional[str] = ..., push_mutual_challenge_enabled: _Optional[bool] = ..., request_acrs: _Optional[str] = ..., request_detail: _Optional[_Union[_authenticators_pb2.RequestDetail, _Mapping]] = ..., rp_id: _Optional[str] = ..., second_factor_authenticator: _Optional[_Union[_authenticators_pb2.AuthenticatorType, str]] = ..., summary: _Optional[str] = ..., token_push_mutual_challenge_enabled: _Optional[bool] = ..., transaction_details: _Optional[_Iterable[_Union[_authenticators_pb2.TransactionDetail, _Mapping]]] = ..., auth_request_key: _Optional[str] = ..., passthrough_authenticator_parms: _Optional[_Union[_authenticators_pb2.PassthroughAuthenticatorParms, _Mapping]] = ...) -> None: ...

class RequestUserChallengeResponse(_message.Message):
    __slots__ = ("authenticated",)
    AUTHENTICATED_FIELD_NUMBER: _ClassVar[int]
    authenticated: AuthenticatedResponse
    def __init__(self, authenticated: _Optional[_Union[AuthenticatedResponse, _Mapping]] = ...) -> None: ...

class AuthenticateUserChallengeRequest(_message.Message):
    __slots__ = ("authenticator", "authorization", "application_id", "user_id", "response", "new_password", "cancel", "second_factor_authenticator", "kba_challenge", "fido_response", "client_ip", "enable_web_session", "ignore_ip_address_for_rba", "locale", "machine_authenticator", "offline_tvs", "origin", "request_acrs", "rp_id", "transaction_details", "auth_request_key", "application_info", "machine_authenticator_registration", "user_certificate_response", "passthrough_authenticator_parms")
    AUTHENTICATOR_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    NEW_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    SECOND_FACTOR_AUTHENTICATOR_FIELD_NUMBER: _ClassVar[int]
    KBA_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    FIDO_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_IP_FIELD_NUMBER: _ClassVar[int]
    ENABLE_WEB_SESSION_FIELD_NUMBER: _ClassVar[int]
    IGNORE_IP_ADDRESS_FOR_RBA_FIELD_NUMBER: _ClassVar[int]
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    MACHINE_AUTHENTICATOR_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_TVS_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ACRS_FIELD_NUMBER: _ClassVar[int]
    RP_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_DETAILS_FIELD_NUMBER: _ClassVar[int]
    AUTH_REQUEST_KEY_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_INFO_FIELD_NUMBER: _ClassVar[int]
    MACHINE_AUTHENTICATOR_REGISTRATION_FIELD_NUMBER: _ClassVar[int]
    USER_CERTIFICATE_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    PASSTHROUGH_AUTHENTICATOR_PARMS_FIELD_NUMBER: _ClassVar[int]
    authenticator: _authenticators_pb2.AuthenticatorType
    authorization: str
    application_id: str
    user_id: str
    response: str
    new_password: str
    cancel: bool
    second_factor_authenticator: _authenticators_pb2.AuthenticatorType
    kba_challenge: _authenticators_pb2.KbaChallenge
    fido_response: _authenticators_pb2.FIDOResponse
    client_ip: str
    enable_web_session: bool
    ignore_ip_address_for_rba: bool
    locale: str
    machine_authenticator: _authenticators_pb2.MachineAuthenticator
    offline_tvs: bool
    origin: str
    request_acrs: str
    rp_id: str
    transaction_details: _containers.RepeatedCompositeFieldContainer[_authenticators_pb2.TransactionDetail]
    auth_request_key: str
    application_info: str
    machine_authenticator_registration: _authenticators_pb2.MachineAuthenticatorRegistration
    user_certificate_response: _authenticators_pb2.UserCertificateResponse
    passthrough_authenticator_parms: _authenticators_pb2.PassthroughAuthenticatorParms
    def __init__(self, authenticator: _Optional[_Union[_authenticators_pb2.AuthenticatorType, str]] = ..., authorization: _Optional[str] = ..., application_id: _Optional[str] = ..., user_id: _Optional[str] = ..., response: _Optional[str] = ..., new_password: _Optional[str] = ..., cancel: _Optional[bool] = ..., second_factor_authenticator: _Optional[_Union[_authenticators_pb2.AuthenticatorType, str]] = ..., kba_challenge: _Optional[_Union[_authenticators_pb2.KbaChallenge, _Mapping]] = ..., fido_response: _Optional[_Union[_authenticators_pb2.FIDOResponse, _Mapping]] = ..., client_ip: _Optional[str] = ..., enable_web_session: _Optional[bool] = ..., ignore_ip_address_for_rba: _Optional[bool] = ..., locale: _Optional[str] = ..., machine_authenticator: _Optional[_Union[_authenticators_pb2.MachineAuthenticator, _Mapping]] = ..., offline_tvs: _Optional[bool] = ..., origin: _Optional[str] = ..., request_acrs: _Optional[str] = ..., rp_id: _Optional[str] = ..., transaction_details: _Optional[_Iterable[_Union[_authenticators_pb2.TransactionDetail, _Mapping]]] = ..., auth_request_key: _Optional[str] = ..., application_info: _Optional[str] = ..., machine_authenticator_registration: _Optional[_Union[_authenticators_pb2.MachineAuthenticatorRegistration, _Mapping]] = ..., user_certificate_response: _Optional[_Union[_authenticators_pb2.UserCertificateResponse, _Mapping]] = ..., passthrough_authenticator_parms: _Optional[_Union[_authenticators_pb2.PassthroughAuthenticatorParms, _Mapping]] = ...) -> None: ...

class AuthenticateUserChallengeResponse(_message.Message):
    __slots__ = ("authenticated",)
    AUTHENTICATED_FIELD_NUMBER: _ClassVar[int]
    authenticated: AuthenticatedResponse
    def __init__(self, authenticated: _Optional[_Union[AuthenticatedResponse, _Mapping]] = ...) -> None: ...

class RequestPasskeyChallengeRequest(_message.Message):
    __slots__ = ("application_id", "origin", "rp_id")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    RP_ID_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    origin: str
    rp_id: str
    def __init__(self, application_id: _Optional[str] = ..., origin: _Optional[str] = ..., rp_id: _Optional[str] = ...) -> None: ...

class RequestPasskeyChallengeResponse(_message.Message):
    __slots__ = ("fido_challenge", "token")
    FIDO_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    fido_challenge: _authenticators_pb2.FIDOChallenge
    token: str
    def __init__(self, fido_challenge: _Optional[_Union[_authenticators_pb2.FIDOChallenge, _Mapping]] = ..., token: _Optional[str] = ...) -> None: ...

class LogoutRequest(_message.Message):
    __slots__ = ("authorization",)
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    authorization: str
    def __init__(self, authorization: _Optional[str] = ...) -> None: ...

class LogoutResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
