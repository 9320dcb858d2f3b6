"""The bridge app against small in-module servicers (the real server is tested in tests/api)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import grpc.aio
import httpx
import pytest
from google.api import annotations_pb2
from google.protobuf import timestamp_pb2
from starlette.routing import Match

from authcore.errors import AuthcoreError, NotFound, ResourceExhausted
from authcore.v1 import authentication_pb2 as auth
from authcore.v1 import authentication_pb2_grpc as auth_grpc
from authcore.v1 import authenticators_pb2 as common
from authcore.v1 import management_pb2 as mgmt
from authcore.v1 import management_pb2_grpc as mgmt_grpc
from rest_bridge import InProcessInvoker, create_app, generic_handlers_for

A = common.AuthenticatorType
SERVICES = [
    auth.DESCRIPTOR.services_by_name["AuthenticationService"],
    mgmt.DESCRIPTOR.services_by_name["ManagementService"],
]
SECRET = "secret-internal-detail-do-not-leak"


class AuthServicer(auth_grpc.AuthenticationServiceServicer):
    def __init__(self) -> None:
        self.requests: list[Any] = []

    async def QueryUserAuthenticators(self, request: Any, context: Any) -> Any:
        self.requests.append(request)
        if request.user_id == "boom":
            raise RuntimeError(SECRET)
        if request.user_id == "limited":
            raise ResourceExhausted("too many requests", retry_after=6.2)
        if request.user_id == "missing":
            raise NotFound("user not found", reason="user_not_found",
                           metadata={"userId": "missing"})
        return auth.QueryUserAuthenticatorsResponse(
            authentication_types=[A.AUTHENTICATOR_TYPE_PASSWORD, A.AUTHENTICATOR_TYPE_OTP],
            expires=1 << 40)

    async def RequestUserChallenge(self, request: Any, context: Any) -> Any:
        self.requests.append(request)
        return auth.RequestUserChallengeResponse(authenticated=auth.AuthenticatedResponse(
            token="challenge-token", otpdelivery_type=common.OTP_DELIVERY_TYPE_EMAIL))

    async def AuthenticateUserChallenge(self, request: Any, context: Any) -> Any:
        self.requests.append(request)
        return auth.AuthenticateUserChallengeResponse(authenticated=auth.AuthenticatedResponse(
            authentication_completed=True, token="jwt"))

    async def Logout(self, request: Any, context: Any) -> Any:
        self.requests.append(request)
        return auth.LogoutResponse()

    # RequestPasskeyChallenge stays the generated UNIMPLEMENTED default.


class ManagementServicer(mgmt_grpc.ManagementServiceServicer):
    def __init__(self) -> None:
        self.requests: list[Any] = []

    async def GetUser(self, request: Any, context: Any) -> Any:
        self.requests.append(request)
        return mgmt.GetUserResponse(user=mgmt.User(
            user_id=request.user_id, active=True,
            created_at=timestamp_pb2.Timestamp(seconds=1_700_000_000)))

    async def DeleteUser(self, request: Any, context: Any) -> Any:
        self.requests.append(request)
        return mgmt.DeleteUserResponse()

    async def ListOutbox(self, request: Any, context: Any) -> Any:
        self.requests.append(request)
        return mgmt.ListOutboxResponse()

    async def SetKba(self, request: Any, context: Any) -> Any:
        self.requests.append(request)
        return mgmt.SetKbaResponse()


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Mimics the real error interceptor: AuthcoreError -> abort with rich status."""

    async def intercept_service(self, continuation: Callable[[Any], Awaitable[Any]],
                                details: Any) -> Any:
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary

        async def behavior(request: Any, context: Any) -> Any:
            try:
                return await inner(request, context)
            except AuthcoreError as e:
                await context.abort(e.code, e.message, trailing_metadata=(
                    ("grpc-status-details-bin", e.to_status().SerializeToString()),))

        return grpc.unary_unary_rpc_method_handler(
            behavior, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)


class RecordingInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, log: list[Any]) -> None:
        self.log = log

    async def intercept_service(self, continuation: Callable[[Any], Awaitable[Any]],
                                details: Any) -> Any:
        self.log.append(("details", details.method, dict(details.invocation_metadata)))
        handler = await continuation(details)
        inner = handler.unary_unary

        async def behavior(request: Any, context: Any) -> Any:
            self.log.append(("call", context.peer(), dict(context.invocation_metadata())))
            return await inner(request, context)

        return grpc.unary_unary_rpc_method_handler(behavior)


@pytest.fixture
def servicers() -> tuple[AuthServicer, ManagementServicer, list[Any]]:
    return AuthServicer(), ManagementServicer(), []


@pytest.fixture
def app(servicers: tuple[AuthServicer, ManagementServicer, list[Any]]) -> Any:
    auth_servicer, mgmt_servicer, log = servicers
    handlers = [
        *generic_handlers_for(auth_servicer, auth_grpc.add_AuthenticationServiceServicer_to_server),
        *generic_handlers_for(mgmt_servicer, mgmt_grpc.add_ManagementServiceServicer_to_server),
    ]
    invoker = InProcessInvoker(handlers, [RecordingInterceptor(log), ErrorInterceptor()])
    return create_app(invoker, SERVICES, max_body_bytes=1 << 20)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4711))
    async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as c:
        yield c


def _bindings() -> list[tuple[Any, str, str]]:
    out = []
    for service in SERVICES:
        for method in service.methods:
            rule = method.GetOptions().Extensions[annotations_pb2.http]
            for r in [rule, *rule.additional_bindings]:
                kind = r.WhichOneof("pattern")
                out.append((method, kind.upper(), getattr(r, kind)))
    return out


def test_a_route_for_every_http_rule(app: Any) -> None:
    bindings = _bindings()
    assert len(bindings) == sum(len(s.methods) for s in SERVICES) > 20
    for method, verb, template in bindings:
        path = re.sub(r"\{[^}]+\}", "PASSWORD", template)
        scope = {"type": "http", "method": verb, "path": path}
        routes = [r for r in app.router.routes if r.matches(scope)[0] == Match.FULL]
        assert routes, f"no route for {verb} {template}"
        plan = getattr(routes[0].endpoint, "__self__", None)
        assert plan is not None and plan.binding.method is method, template


async def test_query_user_authenticators(client: httpx.AsyncClient,
                                         servicers: Any) -> None:
    r = await client.post("/api/web/v2/authentication/users",
                          json={"userId": "alice", "applicationId": "app",
                                "ignoreIPAddressForRBA": True, "unknownField": 1})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["authenticationTypes"] == ["PASSWORD", "OTP"]
    assert body["authenticationCompleted"] is False
    assert body["expires"] == 1 << 40
    request = servicers[0].requests[-1]
    assert request.user_id == "alice" and request.ignore_ip_address_for_rba is True


async def test_path_param_enum_and_response_body(client: httpx.AsyncClient,
                                                 servicers: Any) -> None:
    r = await client.post("/api/web/v2/authentication/users/authenticate/PASSWORD",
                          json={"userId": "alice", "authenticator": "OTP"})
    assert r.status_code == 200
    # response_body "authenticated": the AuthenticatedResponse is the whole body.
    assert r.json() == {"authenticationCompleted": False, "token": "challenge-token",
                        "otpdeliveryType": "EMAIL", "tokenDetails": [], "organizations": []}
    request = servicers[0].requests[-1]
    assert request.authenticator == A.AUTHENTICATOR_TYPE_PASSWORD  # the path overrides the body


async def test_bad_path_enum_is_entrust_400(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/web/v2/authentication/users/authenticate/NOPE", json={})
    assert r.status_code == 400
    body = r.json()
    assert body["errorCode"] == "invalid_argument"
    assert "authenticator" in body["errorMessage"]
    assert body["parameters"] == [{"field": "authenticator",
                                   "description": "unknown value 'NOPE'"}]


async def test_authorization_header_lands_in_field(client: httpx.AsyncClient,
                                                   servicers: Any) -> None:
    r = await client.post("/api/web/v1/authentication/users/authenticate/OTP/complete",
                          json={"response": "123456"},
                          headers={"Authorization": "Bearer tok-123"})
    assert r.status_code == 200
    assert r.json()["authenticationCompleted"] is True
    request = servicers[0].requests[-1]
    assert request.authorization == "Bearer tok-123"
    assert request.authenticator == A.AUTHENTICATOR_TYPE_OTP
    assert request.response == "123456"


async def test_metadata_and_peer_forwarded(client: httpx.AsyncClient, servicers: Any) -> None:
    log = servicers[2]
    await client.post("/api/web/v1/authentication/logout", content=b"",
                      headers={"Authorization": "Bearer s", "User-Agent": "ua/1",
                               "X-Request-Id": "rid-1", "X-Other": "no"})
    # The requested host goes along too (LoginID names its app by it).
    assert log[0] == ("details", "/authcore.v1.AuthenticationService/Logout",
                      {"authorization": "Bearer s", "user-agent": "ua/1",
                       "x-request-id": "rid-1", "x-forwarded-host": "bridge"})
    assert log[1][0] == "call"
    assert log[1][1] == "ipv4:203.0.113.7:0"


async def test_a_proxys_forwarded_host_is_forwarded(client: httpx.AsyncClient,
                                                    servicers: Any) -> None:
    log = servicers[2]
    await client.post("/api/web/v1/authentication/logout", content=b"",
                      headers={"Authorization": "Bearer s",
                               "X-Forwarded-Host": "app.auth.example.com"})
    assert log[0][2]["x-forwarded-host"] == "app.auth.example.com"


async def test_empty_response_body(client: httpx.AsyncClient, servicers: Any) -> None:
    r = await client.post("/api/web/v1/authentication/logout",
                          headers={"Authorization": "tok"})
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["content-length"] == "0"
    assert servicers[0].requests[-1].authorization == "tok"


async def test_delete_user_204(client: httpx.AsyncClient, servicers: Any) -> None:
    r = await client.delete("/api/admin/v1/users/bob")
    assert r.status_code == 204
    assert r.content == b""
    assert servicers[1].requests[-1].user_id == "bob"


async def test_get_user_with_timestamp(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/admin/v1/users/carol")
    assert r.status_code == 200
    assert r.json() == {"user": {"userId": "carol", "active": True,
                                 "createdAt": "2023-11-14T22:13:20Z", "authenticators": []}}


async def test_query_params(client: httpx.AsyncClient, servicers: Any) -> None:
    r = await client.get("/api/admin/v1/outbox", params={"userId": "dave", "junk": "x"})
    assert r.status_code == 200
    assert r.json() == {"messages": []}
    assert servicers[1].requests[-1].user_id == "dave"
    await client.get("/api/admin/v1/outbox", params={"user_id": "erin"})
    assert servicers[1].requests[-1].user_id == "erin"


async def test_malformed_json_400(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/web/v2/authentication/users", content=b'{"userId": ',
                          headers={"content-type": "application/json"})
    assert r.status_code == 400
    body = r.json()
    assert body["errorCode"] == "malformed_json"
    assert set(body) == {"errorCode", "errorMessage", "parameters"}


@pytest.mark.parametrize("payload", [b"[1, 2]", b'"text"', b"3", b"null", b"NaN"])
async def test_body_not_an_object_400(client: httpx.AsyncClient, payload: bytes) -> None:
    r = await client.post("/api/web/v2/authentication/users", content=payload)
    assert r.status_code == 400
    assert r.json()["errorCode"] in ("invalid_argument", "malformed_json")


async def test_wrong_field_type_400(client: httpx.AsyncClient) -> None:
    r = await client.put("/api/admin/v1/users/u/kba",
                         json={"questions": [{"question": "q"}, {"answer": 7}]})
    assert r.status_code == 400
    assert r.json()["parameters"] == [{"field": "questions[1].answer",
                                       "description": "must be a string"}]


async def test_empty_body_counts_as_empty_object(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/web/v2/authentication/users")
    assert r.status_code == 200


async def test_body_too_large_413(client: httpx.AsyncClient) -> None:
    big = b'{"userId": "' + b"x" * (2 << 20) + b'"}'
    r = await client.post("/api/web/v2/authentication/users", content=big)
    assert r.status_code == 413
    assert r.json()["errorCode"] == "request_too_large"


async def test_chunked_body_too_large_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"userId": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    r = await client.post("/api/web/v2/authentication/users", content=chunks())
    assert "content-length" not in r.request.headers
    assert r.status_code == 413
    assert r.json()["errorCode"] == "request_too_large"


async def test_authcore_error_rendered(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/web/v2/authentication/users", json={"userId": "missing"})
    assert r.status_code == 404
    assert r.json() == {"errorCode": "user_not_found", "errorMessage": "user not found",
                        "parameters": [{"name": "userId", "value": "missing"}]}


async def test_resource_exhausted_retry_after(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/web/v2/authentication/users", json={"userId": "limited"})
    assert r.status_code == 429
    assert r.headers["retry-after"] == "7"
    assert r.json()["errorCode"] == "rate_limited"


async def test_unexpected_exception_is_500_without_details(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/web/v2/authentication/users", json={"userId": "boom"})
    assert r.status_code == 500
    assert SECRET not in r.text
    assert "Traceback" not in r.text and "RuntimeError" not in r.text
    assert r.json() == {"errorCode": "internal_error", "errorMessage": "internal error",
                        "parameters": []}


async def test_unimplemented_method_501(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/web/v1/authentication/passkey", json={})
    assert r.status_code == 501
    assert r.json()["errorCode"] == "unimplemented"


async def test_unknown_path_404_and_wrong_method_405(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/web/v2/nothing/here")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/json"
    assert r.json()["errorCode"] == "not_found"
    r = await client.get("/api/web/v1/authentication/logout")
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"
    assert r.json()["errorCode"] == "method_not_allowed"
    r = await client.put("/api/admin/v1/users/x")
    assert r.status_code == 405
    assert r.headers["allow"] == "DELETE, GET, HEAD"


async def test_openapi_document(client: httpx.AsyncClient) -> None:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(doc)
    paths = doc["paths"]
    query = paths["/api/web/v2/authentication/users"]["post"]
    assert query["operationId"] == "AuthenticationService_QueryUserAuthenticators"
    assert query["summary"] == "Query User Authenticators."
    assert "lockout status" in query["description"]
    challenge = paths["/api/web/v2/authentication/users/authenticate/{authenticator}"]["post"]
    param = challenge["parameters"][0]
    assert param["name"] == "authenticator" and param["in"] == "path"
    assert paths["/api/web/v1/authentication/passkey"]["post"]["deprecated"] is True
    logout = paths["/api/web/v1/authentication/logout"]["post"]
    assert "content" not in logout["responses"]["200"]
    header = next(p for p in logout["parameters"] if p["in"] == "header")
    assert header["name"] == "Authorization"
    assert header["schema"] == {"type": "string"}
    assert "authorization" not in logout["requestBody"]["content"]["application/json"][
        "schema"]["properties"]
    assert "204" in paths["/api/admin/v1/users/{user_id}"]["delete"]["responses"]
    outbox = paths["/api/admin/v1/outbox"]["get"]
    assert [p["name"] for p in outbox["parameters"]] == ["userId", "status"]
    assert outbox["security"] == [{"adminKey": []}]
    schemas = doc["components"]["schemas"]
    request = schemas["authcore.v1.QueryUserAuthenticatorsRequest"]["properties"]
    assert "ignoreIPAddressForRBA" in request and "offlineTVS" in request
    assert request["requestTime"]["type"] == "integer"
    assert request["requestTime"]["format"] == "int64"
    assert "availableOTPDelivery" in schemas["authcore.v1.OTPDetails"]["properties"]
    assert "clientDataJSON" in schemas["authcore.v1.FIDOResponse"]["properties"]
    assert "otpdeliveryType" in schemas["authcore.v1.AuthenticatedResponse"]["properties"]
    assert "PASSWORD" in schemas["authcore.v1.AuthenticatorType"]["enum"]
    assert "AUTHENTICATOR_TYPE_UNSPECIFIED" not in schemas["authcore.v1.AuthenticatorType"]["enum"]
    lockout = schemas["authcore.v1.UserAuthenticatorLockoutStatus"]["properties"]
    assert lockout["lockoutDate"]["type"] == "string"
    assert lockout["lockoutDate"]["format"] == "date-time"
    assert set(schemas["EntrustError"]["properties"]) == {"errorCode", "errorMessage",
                                                         "parameters"}


async def test_docs_page(client: httpx.AsyncClient) -> None:
    r = await client.get("/docs")
    assert r.status_code == 200
    assert "docs/init.js" in r.text
    init = await client.get("/docs/init.js")
    assert init.status_code == 200 and "./openapi.json" in init.text
