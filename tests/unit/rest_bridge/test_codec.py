from __future__ import annotations

import json
from typing import Any

import pytest
from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2

from authcore.v1 import authentication_pb2 as auth
from authcore.v1 import authenticators_pb2 as common
from authcore.v1 import management_pb2 as mgmt
from rest_bridge.codec import (
    CodecError,
    field_to_json,
    json_to_message,
    message_to_json,
    parse_scalar,
)

A = common.AuthenticatorType


def field(cls: Any, name: str) -> Any:
    return cls.DESCRIPTOR.fields_by_name[name]


# ------------------------------------------------------------------ output

def test_vendor_json_names_out() -> None:
    resp = auth.QueryUserAuthenticatorsResponse()
    resp.otp_delivery_info.available_otp_delivery.extend(
        [common.OTP_DELIVERY_TYPE_EMAIL, common.OTP_DELIVERY_TYPE_SMS])
    out = message_to_json(resp)
    assert out["otpDeliveryInfo"]["availableOTPDelivery"] == ["EMAIL", "SMS"]
    authenticated = message_to_json(
        auth.AuthenticatedResponse(otpdelivery_type=common.OTP_DELIVERY_TYPE_SMS))
    assert authenticated["otpdeliveryType"] == "SMS"
    fido = message_to_json(common.FIDOResponse(client_data_json="abc"))
    assert fido["clientDataJSON"] == "abc"


def test_enum_json_value_out_and_zero_dropped() -> None:
    resp = auth.QueryUserAuthenticatorsResponse(
        authentication_types=[A.AUTHENTICATOR_TYPE_PASSWORD, A.AUTHENTICATOR_TYPE_UNSPECIFIED,
                              A.AUTHENTICATOR_TYPE_OTP])
    out = message_to_json(resp)
    assert out["authenticationTypes"] == ["PASSWORD", "OTP"]
    # An enum without presence at 0 is omitted; repeated fields are always written.
    status = message_to_json(common.UserAuthenticatorLockoutStatus())
    assert "type" not in status
    assert status["locked"] is False
    assert status["remainingAuthenticationAttempts"] == 0


def test_booleans_present_unset_optional_absent_and_repeated_empty() -> None:
    out = message_to_json(auth.QueryUserAuthenticatorsResponse())
    assert out["authenticationCompleted"] is False
    assert out["registrationRequired"] is False
    assert out["tokenDetails"] == []
    assert out["organizations"] == []
    assert "expires" not in out        # proto3 optional, unset
    assert "token" not in out
    assert "kbaChallenge" not in out   # message, unset
    out = message_to_json(auth.AuthenticatedResponse(token="", expires=0))
    assert out["token"] == "" and out["expires"] == 0   # set optional, even at default


def test_int64_is_a_number() -> None:
    out = message_to_json(mgmt.IntrospectTokenResponse(active=True, exp=(1 << 53) + 1))
    assert out["exp"] == (1 << 53) + 1
    assert json.dumps(out) == '{"active": true, "exp": 9007199254740993}'


def test_timestamp_format() -> None:
    status = common.UserAuthenticatorLockoutStatus(
        lockout_date=timestamp_pb2.Timestamp(seconds=1_700_000_000),
        lockout_expiry_date=timestamp_pb2.Timestamp(seconds=1_700_000_000, nanos=123_456_789))
    out = message_to_json(status)
    assert out["lockoutDate"] == "2023-11-14T22:13:20Z"
    assert out["lockoutExpiryDate"] == "2023-11-14T22:13:20.123Z"
    early = message_to_json(mgmt.SetPasswordRequest(
        expires_at=timestamp_pb2.Timestamp(seconds=-62135596800)))
    assert early["expiresAt"] == "0001-01-01T00:00:00Z"


def test_bytes_and_well_known_types_out() -> None:
    value = struct_pb2.Value()
    value.struct_value.update({"a": 1, "b": [True, None, "x"], "c": 1.5})
    assert message_to_json(value.struct_value) == {"a": 1, "b": [True, None, "x"], "c": 1.5}
    assert field_to_json(duration_pb2.Duration(seconds=1, nanos=500_000_000),
                         duration_pb2.Duration.DESCRIPTOR.fields_by_name["seconds"]) == 1


def test_field_to_json_unset_message_is_object() -> None:
    resp = auth.RequestUserChallengeResponse()
    out = field_to_json(resp, field(auth.RequestUserChallengeResponse, "authenticated"))
    assert out["authenticationCompleted"] is False


# ------------------------------------------------------------------- input

def test_vendor_json_names_in_and_proto_names() -> None:
    msg = json_to_message({
        "applicationId": "app",
        "user_id": "alice",
        "ignoreIPAddressForRBA": True,
        "offlineTVS": False,
    }, auth.QueryUserAuthenticatorsRequest)
    assert msg.application_id == "app"
    assert msg.user_id == "alice"
    assert msg.ignore_ip_address_for_rba is True
    assert msg.HasField("offline_tvs") and msg.offline_tvs is False
    fido = json_to_message({"clientDataJSON": "e30"}, common.FIDOResponse)
    assert fido.client_data_json == "e30"


def test_enum_in_accepts_json_value_proto_name_and_number() -> None:
    msg = json_to_message({"transactionDetails": [
        {"usage": ["RBA", "TRANSACTION_DETAIL_USAGE_TVS", 1]}]},
        auth.QueryUserAuthenticatorsRequest)
    assert list(msg.transaction_details[0].usage) == [1, 2, 1]


def test_unknown_enum_value_rejected() -> None:
    with pytest.raises(CodecError) as err:
        json_to_message({"transactionDetails": [{"usage": ["RBA", "FOO"]}]},
                        auth.QueryUserAuthenticatorsRequest)
    assert err.value.field_path == "transactionDetails[0].usage[1]"
    assert err.value.description == "unknown value 'FOO'"
    with pytest.raises(CodecError, match="unknown value 99"):
        json_to_message({"otpDeliveryType": 99}, auth.RequestUserChallengeRequest)
    with pytest.raises(CodecError):  # case-sensitive
        json_to_message({"otpDeliveryType": "email"}, auth.RequestUserChallengeRequest)


def test_unknown_keys_ignored_and_null_is_unset() -> None:
    msg = json_to_message({"userId": "u", "notAField": {"x": 1}, "maxAge": None,
                           "requestDetail": None}, auth.QueryUserAuthenticatorsRequest)
    assert msg.user_id == "u"
    assert not msg.HasField("max_age")
    assert not msg.HasField("request_detail")


def test_int64_accepts_numbers_and_numeric_strings() -> None:
    msg = json_to_message({"requestTime": "1700000000123"}, auth.QueryUserAuthenticatorsRequest)
    assert msg.request_time == 1700000000123
    msg = json_to_message({"requestTime": 5.0}, auth.QueryUserAuthenticatorsRequest)
    assert msg.request_time == 5


def test_timestamp_in() -> None:
    msg = json_to_message({"expiresAt": "2024-01-02T03:04:05.5+01:00"}, mgmt.SetPasswordRequest)
    assert msg.expires_at.seconds == 1704161045
    assert msg.expires_at.nanos == 500_000_000
    with pytest.raises(CodecError) as err:
        json_to_message({"expiresAt": "2024-02-30T00:00:00Z"}, mgmt.SetPasswordRequest)
    assert err.value.field_path == "expiresAt"


def test_empty_object_marks_message_present() -> None:
    msg = json_to_message({"requestDetail": {}}, auth.QueryUserAuthenticatorsRequest)
    assert msg.HasField("request_detail")


@pytest.mark.parametrize(("data", "path", "description"), [
    ({"kbaChallenge": {"userQuestions": [{}, {"answer": 5}]}},
     "kbaChallenge.userQuestions[1].answer", "must be a string"),
    ({"userId": 12}, "userId", "must be a string"),
    ({"enableWebSession": "true"}, "enableWebSession", "must be a boolean"),
    ({"enableWebSession": 1}, "enableWebSession", "must be a boolean"),
    ({"kbaChallenge": []}, "kbaChallenge", "must be an object"),
    ({"transactionDetails": {}}, "transactionDetails", "must be an array"),
    ({"transactionDetails": [None]}, "transactionDetails[0]", "must not be null"),
    ({"authenticator": "NOPE"}, "authenticator", "unknown value 'NOPE'"),
    ({"authenticator": True}, "authenticator", "must be a string"),
])
def test_wrong_types_name_the_path(data: dict[str, Any], path: str, description: str) -> None:
    with pytest.raises(CodecError) as err:
        json_to_message(data, auth.AuthenticateUserChallengeRequest)
    assert err.value.field_path == path
    assert err.value.description == description


def test_int32_range_and_type() -> None:
    with pytest.raises(CodecError) as err:
        json_to_message({"maxAge": 1 << 31}, auth.QueryUserAuthenticatorsRequest)
    assert err.value.field_path == "maxAge"
    assert "out of range" in err.value.description
    assert json_to_message({"maxAge": -(1 << 31)}, auth.QueryUserAuthenticatorsRequest).max_age \
        == -(1 << 31)
    for bad in ("5", 1.5, True):
        with pytest.raises(CodecError, match="must be an integer"):
            json_to_message({"maxAge": bad}, auth.QueryUserAuthenticatorsRequest)


def test_top_level_must_be_object() -> None:
    with pytest.raises(CodecError) as err:
        json_to_message([1, 2], auth.LogoutRequest)
    assert err.value.field_path == ""


def test_into_merges_and_replaces() -> None:
    msg = auth.QueryUserAuthenticatorsRequest(user_id="a", application_id="x")
    msg.transaction_details.add(detail="old")
    json_to_message({"userId": "b", "transactionDetails": [{"detail": "new"}]},
                    auth.QueryUserAuthenticatorsRequest, into=msg)
    assert msg.user_id == "b" and msg.application_id == "x"
    assert [d.detail for d in msg.transaction_details] == ["new"]


def test_round_trip() -> None:
    original = auth.AuthenticateUserChallengeRequest(
        authenticator=A.AUTHENTICATOR_TYPE_KBA, user_id="u", cancel=False,
        second_factor_authenticator=A.AUTHENTICATOR_TYPE_OTP)
    original.kba_challenge.user_questions.add(id="1", answer="blue")
    back = json_to_message(message_to_json(original), auth.AuthenticateUserChallengeRequest)
    assert back == original


# ------------------------------------------------------------ parse_scalar

def test_parse_scalar() -> None:
    authenticator = field(auth.RequestUserChallengeRequest, "authenticator")
    assert parse_scalar(authenticator, "PASSWORD") == A.AUTHENTICATOR_TYPE_PASSWORD
    assert parse_scalar(authenticator, "AUTHENTICATOR_TYPE_OTP") == A.AUTHENTICATOR_TYPE_OTP
    with pytest.raises(CodecError) as err:
        parse_scalar(authenticator, "NOPE")
    assert err.value.field_path == "authenticator"
    assert parse_scalar(field(auth.QueryUserAuthenticatorsRequest, "max_age"), "-7") == -7
    assert parse_scalar(field(auth.QueryUserAuthenticatorsRequest, "offline_tvs"), "true") is True
    for bad in (" 7", "7_0", "1e3", "", "٣"):
        with pytest.raises(CodecError):
            parse_scalar(field(auth.QueryUserAuthenticatorsRequest, "max_age"), bad)
    expires = parse_scalar(field(mgmt.SetPasswordRequest, "expires_at"), "1970-01-01T00:01:00Z")
    assert expires.seconds == 60
