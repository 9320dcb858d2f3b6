from __future__ import annotations

import json
from typing import Any

import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from authcore.errors import (
    AlreadyExists,
    AuthcoreError,
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    Locked,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    internal_status,
)
from authcore.v1 import options_pb2
from rest_bridge.errors import HTTP_STATUS_BY_CODE, ErrorRenderer, RequestTooLarge

ENTRUST = options_pb2.ERROR_STYLE_ENTRUST
LOGINID = options_pb2.ERROR_STYLE_LOGINID
CONSUMER = options_pb2.ERROR_STYLE_CONSUMER
SCIM = options_pb2.ERROR_STYLE_SCIM
AXIDIAN = options_pb2.ERROR_STYLE_AXIDIAN

INVALID = InvalidArgument("userId is required", reason="missing_field",
                          field_violations=[("userId", "is required")],
                          metadata={"error:userId": "REQUIRED", "scimType": "invalidValue"})


def render(style: int, error: AuthcoreError | status_pb2.Status) -> tuple[int, dict[str, str],
                                                                          Any]:
    renderer = ErrorRenderer(style)
    if isinstance(error, AuthcoreError):
        response = renderer.render_error(error)
    else:
        response = renderer.render(error)
    return response.status_code, dict(response.headers), json.loads(bytes(response.body))


def test_entrust_shape() -> None:
    status, headers, body = render(ENTRUST, INVALID)
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert body == {
        "errorCode": "missing_field",
        "errorMessage": "userId is required",
        "parameters": [
            {"field": "userId", "description": "is required"},
            {"name": "error:userId", "value": "REQUIRED"},
            {"name": "scimType", "value": "invalidValue"},
        ],
    }


def test_entrust_without_error_info_uses_code_name() -> None:
    _, _, body = render(ENTRUST, status_pb2.Status(code=code_pb2.UNAUTHENTICATED,
                                                    message="bad token"))
    assert body == {"errorCode": "unauthenticated", "errorMessage": "bad token",
                    "parameters": []}


def test_loginid_shape() -> None:
    status, _, body = render(LOGINID, NotFound("no such user", reason="user_not_found"))
    assert status == 404
    assert body == {"msg": "no such user", "msgCode": "not_found"}


@pytest.mark.parametrize(("error", "status", "msg_code"), [
    (InvalidArgument("The passkey response was refused: origin_mismatch.",
                     reason="origin_mismatch"), 400, "bad_request"),
    (FailedPrecondition("not yet"), 400, "bad_request"),
    (AuthcoreError("boom"), 500, "internal_error"),
    (RequestTooLarge("too big"), 413, "bad_request"),
    (ResourceExhausted("slow down", retry_after=3), 429, "bad_request"),
])
def test_loginid_msg_code_follows_the_http_status(error: AuthcoreError, status: int,
                                                  msg_code: str) -> None:
    got_status, _, body = render(LOGINID, error)
    assert got_status == status
    assert body == {"msg": error.message, "msgCode": msg_code}


@pytest.mark.parametrize(("code", "status", "msg_code"), [
    (code_pb2.UNAUTHENTICATED, 401, "unauthorized"),
    (code_pb2.PERMISSION_DENIED, 403, "forbidden"),
    (code_pb2.NOT_FOUND, 404, "not_found"),
    (code_pb2.ALREADY_EXISTS, 409, "bad_request"),
    (code_pb2.UNIMPLEMENTED, 501, "internal_error"),
    (code_pb2.UNAVAILABLE, 503, "internal_error"),
])
def test_loginid_msg_code_per_grpc_code(code: int, status: int, msg_code: str) -> None:
    got_status, _, body = render(LOGINID, status_pb2.Status(code=code, message="m"))
    assert (got_status, body) == (status, {"msg": "m", "msgCode": msg_code})


def test_loginid_internal_error_is_safe() -> None:
    status, _, body = render(LOGINID, internal_status())
    assert (status, body) == (500, {"msg": "internal error", "msgCode": "internal_error"})


def test_consumer_shape() -> None:
    status, _, body = render(CONSUMER, INVALID)
    assert status == 400
    assert body == {"message": "userId is required", "syntaxErrors": {"invalidFields": [
        {"params": [], "fieldName": "userId", "error": "REQUIRED"}]}}
    # The bridge's own conversion errors name no code: INVALID_TYPE.
    bare = InvalidArgument("bad", field_violations=[("email", "bad")])
    assert render(CONSUMER, bare)[2]["syntaxErrors"]["invalidFields"][0]["error"] == (
        "INVALID_TYPE")
    assert render(CONSUMER, FailedPrecondition("locked"))[2] == {"message": "locked"}


def test_consumer_params_are_a_list() -> None:
    error = InvalidArgument("channel", field_violations=[("channel", "not allowed")],
                            metadata={"error:channel": "IN", "params:channel": "SMS,VOICE"})
    field = render(CONSUMER, error)[2]["syntaxErrors"]["invalidFields"][0]
    assert field == {"params": ["SMS", "VOICE"], "fieldName": "channel", "error": "IN"}


def test_consumer_409_names_its_error_code_and_423_is_kept() -> None:
    status, _, body = render(CONSUMER, Conflict("busy", metadata={"errorCode": "STATE_INVALID"}))
    assert (status, body) == (409, {"message": "busy", "errorCode": "STATE_INVALID"})
    status, headers, body = render(CONSUMER, Locked(
        "locked", metadata={"http_header:Retry-After": "1800"}))
    assert (status, body, headers["retry-after"]) == (423, {"message": "locked"}, "1800")


def test_error_body_fields_join_the_body_but_never_replace_it() -> None:
    error = Unauthenticated("expired", metadata={"http_body:token": "t0k",
                                                 "http_body:message": "forged"})
    status, _, body = render(CONSUMER, error)
    assert (status, body) == (401, {"message": "expired", "token": "t0k"})
    # The metadata keys are transport: they don't show as Entrust parameters.
    _, _, body = render(ENTRUST, error)
    assert body["parameters"] == [] and body["token"] == "t0k"


def test_scim_shape() -> None:
    status, headers, body = render(SCIM, INVALID)
    assert status == 400
    assert headers["content-type"] == "application/scim+json"
    assert body == {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                    "status": "400", "scimType": "invalidValue",
                    "detail": "userId is required"}
    _, _, body = render(SCIM, NotFound("no such user"))
    assert body == {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                    "status": "404", "detail": "no such user"}


def test_axidian_shape() -> None:
    _, _, body = render(AXIDIAN, NotFound("no such user", reason="user_not_found"))
    assert body == {"Message": "no such user", "ErrorCode": "user_not_found"}


def test_code_message_shape() -> None:
    status, headers, body = render(options_pb2.ERROR_STYLE_CODE_MESSAGE, INVALID)
    assert status == 400 and headers["content-type"] == "application/json"
    assert body == {"code": "missing_field", "message": "userId is required",
                    "target": "userId"}
    # No field, no target; no reason, the code's name.
    _, _, body = render(options_pb2.ERROR_STYLE_CODE_MESSAGE,
                        status_pb2.Status(code=code_pb2.UNAUTHENTICATED, message="bad token"))
    assert body == {"code": "unauthenticated", "message": "bad token"}


def test_unspecified_style_is_grpc_gateway_status() -> None:
    status, _, body = render(options_pb2.ERROR_STYLE_UNSPECIFIED, NotFound("gone"))
    assert status == 404
    assert body["code"] == code_pb2.NOT_FOUND and body["message"] == "gone"
    assert body["details"][0]["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert body["details"][0]["reason"] == "not_found"


@pytest.mark.parametrize(("retry_after", "header"), [(7, "7"), (0.2, "1"), (6.01, "7")])
def test_retry_after(retry_after: float, header: str) -> None:
    status, headers, _ = render(ENTRUST, ResourceExhausted("slow down",
                                                           retry_after=retry_after))
    assert status == 429
    assert headers["retry-after"] == header


def test_retry_after_ceil_from_nanos() -> None:
    retry = error_details_pb2.RetryInfo()
    retry.retry_delay.seconds, retry.retry_delay.nanos = 2, 1
    packed = any_pb2.Any()
    packed.Pack(retry)
    st = status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message="x", details=[packed])
    assert render(ENTRUST, st)[1]["retry-after"] == "3"


def test_no_retry_after_without_retry_info() -> None:
    assert "retry-after" not in render(ENTRUST, ResourceExhausted("slow down"))[1]


def test_internal_status_is_safe() -> None:
    status, _, body = render(ENTRUST, internal_status())
    assert status == 500
    assert body == {"errorCode": "internal_error", "errorMessage": "internal error",
                    "parameters": []}


def test_request_too_large_is_413() -> None:
    status, headers, body = render(SCIM, RequestTooLarge("too big"))
    assert status == 413
    assert body["status"] == "413"
    assert "retry-after" not in headers


def test_http_status_table() -> None:
    expected = {"OK": 200, "CANCELLED": 499, "UNKNOWN": 500, "INVALID_ARGUMENT": 400,
                "DEADLINE_EXCEEDED": 504, "NOT_FOUND": 404, "ALREADY_EXISTS": 409,
                "PERMISSION_DENIED": 403, "UNAUTHENTICATED": 401, "RESOURCE_EXHAUSTED": 429,
                "FAILED_PRECONDITION": 400, "ABORTED": 409, "OUT_OF_RANGE": 400,
                "UNIMPLEMENTED": 501, "INTERNAL": 500, "UNAVAILABLE": 503, "DATA_LOSS": 500}
    assert {code_pb2.Code.Name(c): s for c, s in HTTP_STATUS_BY_CODE.items()} == expected


# ------------------------------------------------ an error's own HTTP status

class PreconditionFailed(FailedPrecondition):
    http_status = 412


class NotModified(FailedPrecondition):
    http_status = 304


def _with_metadata(code: int, metadata: dict[str, str]) -> status_pb2.Status:
    packed = any_pb2.Any()
    packed.Pack(error_details_pb2.ErrorInfo(reason="r", domain="authcore", metadata=metadata))
    return status_pb2.Status(code=code, message="m", details=[packed])


@pytest.mark.parametrize("style", [ENTRUST, LOGINID, CONSUMER, SCIM, AXIDIAN,
                                   options_pb2.ERROR_STYLE_UNSPECIFIED])
def test_http_status_from_metadata_is_used_and_never_shown(style: int) -> None:
    status, _, body = render(style, PreconditionFailed("version mismatch",
                                                       metadata={"k": "v"}))
    assert status == 412
    assert "http_status" not in json.dumps(body)
    if style == ENTRUST:
        assert body["parameters"] == [{"name": "k", "value": "v"}]
    if style == SCIM:
        assert body["status"] == "412" and "scimType" not in body


def test_bridge_errors_do_not_leak_http_status_into_parameters() -> None:
    status, _, body = render(ENTRUST, RequestTooLarge("too big"))
    assert (status, body["parameters"]) == (413, [])


@pytest.mark.parametrize("raw", ["abc", "99", "600", " 412", "4_12", "+412", "٤١٢", ""])
def test_invalid_http_status_metadata_falls_back_to_the_table(raw: str) -> None:
    status, _, body = render(ENTRUST, _with_metadata(code_pb2.FAILED_PRECONDITION,
                                                     {"http_status": raw}))
    assert status == 400
    assert body["parameters"] == []


def test_explicit_http_status_wins() -> None:
    response = ErrorRenderer(ENTRUST).render(PreconditionFailed("x").to_status(),
                                             http_status=409)
    assert response.status_code == 409


@pytest.mark.parametrize("code", [304, 204, 101])
def test_no_body_statuses(code: int) -> None:
    error = _with_metadata(code_pb2.FAILED_PRECONDITION, {"http_status": str(code)})
    response = ErrorRenderer(SCIM).render(error, headers={"ETag": 'W/"1"'})
    assert response.status_code == code
    assert bytes(response.body) == b""
    assert "content-type" not in response.headers
    assert "content-length" not in response.headers
    assert response.headers["etag"] == 'W/"1"'


def test_not_modified_from_an_error_class() -> None:
    response = ErrorRenderer(ENTRUST).render_error(NotModified("unchanged"))
    assert (response.status_code, bytes(response.body)) == (304, b"")


def test_retry_after_kept_with_an_http_status() -> None:
    class Busy(ResourceExhausted):
        http_status = 503

    status, headers, _ = render(ENTRUST, Busy("busy", retry_after=2))
    assert (status, headers["retry-after"]) == (503, "2")


# ------------------------------------------------------------- SCIM details

@pytest.mark.parametrize(("error", "status", "scim_type"), [
    (InvalidArgument("not json", reason="malformed_json"), 400, "invalidSyntax"),
    (InvalidArgument("bad", field_violations=[("userName", "must be a string")]), 400,
     "invalidValue"),
    (InvalidArgument("bad", field_violations=[("a", "b")], metadata={"scimType": "mutability"}),
     400, "mutability"),
    (InvalidArgument("no details"), 400, None),
    (FailedPrecondition("bad", field_violations=[("a", "b")]), 400, None),
    (AlreadyExists("taken", metadata={"scimType": "uniqueness"}), 409, "uniqueness"),
    (AlreadyExists("taken", metadata={"scimType": "mutability"}), 409, None),
    (AlreadyExists("taken"), 409, None),
    (PermissionDenied("no", metadata={"scimType": "sensitive"}), 403, None),
    (NotFound("gone", metadata={"scimType": "noTarget"}), 404, None),
    (RequestTooLarge("too big"), 413, None),
    (PreconditionFailed("changed", metadata={"scimType": "invalidVers"}), 412, None),
])
def test_scim_type(error: AuthcoreError, status: int, scim_type: str | None) -> None:
    got_status, _, body = render(SCIM, error)
    assert got_status == status
    assert body.get("scimType") == scim_type
    assert body["status"] == str(status)
    assert next(iter(body)) == "schemas" and body["detail"] == error.message


def test_www_authenticate_on_scim_401_only() -> None:
    _, headers, _ = render(SCIM, Unauthenticated("no token"))
    assert headers["www-authenticate"] == 'Bearer realm="authcore"'
    assert "www-authenticate" not in render(ENTRUST, Unauthenticated("no token"))[1]
    assert "www-authenticate" not in render(SCIM, PermissionDenied("no"))[1]
    response = ErrorRenderer(SCIM).render_error(
        Unauthenticated("no"), headers={"www-authenticate": 'Bearer error="invalid_token"'})
    assert response.headers.getlist("www-authenticate") == ['Bearer error="invalid_token"']
