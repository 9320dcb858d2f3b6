"""Every field of the Entrust-facing messages has a JSON name the Entrust
OpenAPI 5.46 spec defines, in the schema the message stands for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.protobuf.descriptor import Descriptor

from authcore.v1 import authentication_pb2 as authn
from authcore.v1 import authenticators_pb2 as common
from authcore.v1 import self_service_pb2 as selfsvc

SPEC = Path(__file__).resolve().parents[2] / "fixtures" / (
    "entrust-idaas-authentication-api-5.46.openapi.json")
SCHEMAS = json.loads(SPEC.read_text())["components"]["schemas"]

# Fields that come from the path or a header, not the body.
TRANSPORT_FIELDS = {"authenticator", "authorization"}

PAIRS: list[tuple[Descriptor, str]] = [
    (authn.QueryUserAuthenticatorsRequest.DESCRIPTOR, "UserAuthenticateQueryParameters"),
    (authn.QueryUserAuthenticatorsResponse.DESCRIPTOR, "UserAuthenticateQueryResponse"),
    (authn.AuthenticatedResponse.DESCRIPTOR, "AuthenticatedResponse"),
    (authn.RequestUserChallengeRequest.DESCRIPTOR, "UserChallengeParameters"),
    (authn.AuthenticateUserChallengeRequest.DESCRIPTOR, "UserAuthenticateParameters"),
] + [
    (common.DESCRIPTOR.message_types_by_name[name], name)
    for name in ("UserAuthenticatorLockoutStatus", "GridChallengeCell", "GridInfo",
                 "GridChallenge", "UserQuestion", "KbaChallenge", "FIDOChallenge",
                 "FIDOResponse", "TokenInfo", "TokenChallenge", "TempAccessCodeChallenge",
                 "PasswordChallenge", "MachineAuthenticator", "OTPContactValue", "OTPDetails",
                 "RequestDetail", "TransactionDetail", "Organization")
] + [
    (selfsvc.GetOfflineTokenResponsesRequest.DESCRIPTOR, "GetOfflineTokenAuthenticateParms"),
    (selfsvc.TokenProtectedOfflineParms.DESCRIPTOR, "TokenProtectedOfflineParms"),
    (selfsvc.OfflineTokenAuthenticateResponse.DESCRIPTOR, "OfflineTokenAuthenticateResponse"),
    (selfsvc.UserClientValue.DESCRIPTOR, "UserClientValue"),
]


@pytest.mark.parametrize("message,schema", PAIRS, ids=[p[1] for p in PAIRS])
def test_json_names_exist_in_the_spec(message: Descriptor, schema: str) -> None:
    allowed = set(SCHEMAS[schema]["properties"])
    names = {f.json_name for f in message.fields if f.name not in TRANSPORT_FIELDS}
    assert names - allowed == set()


def test_required_request_fields_are_modelled() -> None:
    for message, schema in PAIRS:
        names = {f.json_name for f in message.fields}
        assert set(SCHEMAS[schema].get("required", [])) <= names, schema
