"""A consumer API (/consumer/v1) client over REST and over gRPC, so each flow
test runs on both transports and asserts the same things; a soft push device;
and the set-up helpers the consumer tests share (users, groups, outbox,
the sandbox server and its clock).

Replies are `Reply`: the HTTP status (for gRPC: the status the REST binding
would send, i.e. the error's own `http_status` from ErrorInfo metadata or
grpc-gateway's table), the JSON body and, for errors, a body in the consumer
error shape ({message, syntaxErrors?, errorCode?} plus the `http_body:` keys,
e.g. the temporary token of an expired password). gRPC error bodies are built
from the status details the same way the REST bridge renders them, so a test
can assert `invalid_fields` and `error_code` whatever the transport.

Every REST error body is checked against the consumer error shape, every 2xx
body strictly against the response the API documents (no extra keys), and no
call may answer 5xx.
"""

from __future__ import annotations

import base64
import json
import re
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from google.rpc import error_details_pb2, status_pb2

from authcore.consumer.v1 import consumer_pb2 as pb
from authcore.consumer.v1 import consumer_pb2_grpc
from authcore_testkit.api import HTTP_FOR_GRPC
from authcore_testkit.server import ADMIN_KEY, RunningServer, run_server
from rest_bridge.codec import field_to_json, json_to_message, message_to_json

PASSWORD = "correct horse battery staple"
SANDBOX_CODE = "123456"
PHONE = "+447700900123"
PUSH_PREFIX = "authcore-push-v1"

# The gRPC code each documented HTTP status must come with.
GRPC_FOR_HTTP: dict[int, grpc.StatusCode] = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.FAILED_PRECONDITION,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    423: grpc.StatusCode.PERMISSION_DENIED,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
}

ERROR_KEYS = {"message", "syntaxErrors", "errorCode", "token", "tokenType"}
# The consumer API's validation codes (REQUIRED, SIZE, REGEX, IN, NOT_IN, ...)
# and the bridge's INVALID_TYPE are upper-case identifiers.
FIELD_ERROR = re.compile(r"[A-Z][A-Z_]*")


# ---------------------------------------------------------------- operations

@dataclass(frozen=True)
class Op:
    http_method: str
    path: str
    rpc: str
    request: Any
    success: int = 200
    unwrap: str | None = None      # the RPC's response_body field (a bare JSON array)
    keys: frozenset[str] = frozenset()  # the 2xx body's exact keys (200 with an object)
    auth: bool = True


_TOKEN_KEYS = frozenset({"token", "tokenType", "identity", "credentials"})

OPS: dict[str, Op] = {
    "login": Op("POST", "/consumer/v1/login", "Login", pb.LoginRequest,
                keys=_TOKEN_KEYS, auth=False),
    "update_password": Op("POST", "/consumer/v1/passwords/update", "UpdatePassword",
                          pb.UpdatePasswordRequest, keys=_TOKEN_KEYS),
    "identities": Op("GET", "/consumer/v1/identities", "ListIdentities",
                     pb.ListIdentitiesRequest, unwrap="identities"),
    "access_token": Op("POST", "/consumer/v1/access_token", "CreateAccessToken",
                       pb.CreateAccessTokenRequest,
                       keys=frozenset({"token", "identity", "credentials"})),
    "enroll_otp": Op("POST", "/consumer/v1/authentication_factors/otp/{channel}",
                     "EnrollOtpFactor", pb.EnrollOtpFactorRequest, success=204),
    "verify_otp_factor": Op("POST", "/consumer/v1/authentication_factors/otp/{channel}/verify",
                            "VerifyOtpFactor", pb.VerifyOtpFactorRequest, success=204),
    "enroll_push": Op("POST", "/consumer/v1/authentication_factors/push/{channel}",
                      "EnrollPushFactor", pb.EnrollPushFactorRequest, keys=frozenset({"id"})),
    "start_otp_stepup": Op("POST", "/consumer/v1/stepup/otp", "StartOtpStepUp",
                           pb.StartOtpStepUpRequest, success=204),
    "verify_otp_stepup": Op("POST", "/consumer/v1/stepup/otp/verify", "VerifyOtpStepUp",
                            pb.VerifyOtpStepUpRequest, success=204),
    "start_push_stepup": Op("POST", "/consumer/v1/stepup/push/{channel}", "StartPushStepUp",
                            pb.StartPushStepUpRequest, keys=frozenset({"id"})),
    "respond_push": Op("POST", "/consumer/v1/stepup/push/{id}/respond", "RespondPushStepUp",
                       pb.RespondPushStepUpRequest, success=204, auth=False),
    "get_push": Op("GET", "/consumer/v1/stepup/push/{id}", "GetPushStepUp",
                   pb.GetPushStepUpRequest, keys=frozenset({"id", "status", "channel"})),
    "logout": Op("POST", "/consumer/v1/logout", "Logout", pb.LogoutRequest,
                 keys=frozenset({"url"})),
}

def authenticated_calls() -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    """Every authenticated operation but passwords/update, each with a request
    that passes validation, for "this token is refused everywhere" tests:
    (operation, body, path parameters)."""
    return [
        ("identities", {}, {}),
        ("access_token", {"identity": {"type": "CONSUMER", "id": str(uuid.uuid4())}}, {}),
        ("enroll_otp", {"mobileNumber": PHONE}, {"channel": "SMS"}),
        ("verify_otp_factor", {"verificationCode": "123456"}, {"channel": "SMS"}),
        ("enroll_push", {"publicKey": SoftPushDevice().public_key(), "deviceName": "x"},
         {"channel": "BIOMETRIC"}),
        ("start_otp_stepup", {}, {}),
        ("verify_otp_stepup", {"verificationCode": "123456"}, {}),
        ("start_push_stepup", {}, {"channel": "BIOMETRIC"}),
        ("get_push", {}, {"id": str(uuid.uuid4())}),
        ("logout", {}, {}),
    ]


# --------------------------------------------------------------------- reply

@dataclass
class Reply:
    status: int
    body: Any
    transport: str
    error_code: str | None = None          # a 409's errorCode
    headers: dict[str, str] = field(default_factory=dict)  # REST only, lower-case names
    grpc_code: grpc.StatusCode | None = None
    retry_after: int | None = None         # REST: Retry-After; gRPC: RetryInfo

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def message(self) -> str:
        return str(self.body.get("message", "")) if isinstance(self.body, dict) else ""

    @property
    def invalid_fields(self) -> dict[str, str]:
        """fieldName -> error of syntaxErrors.invalidFields."""
        if not isinstance(self.body, dict):
            return {}
        items = (self.body.get("syntaxErrors") or {}).get("invalidFields") or []
        return {item["fieldName"]: item["error"] for item in items}

    def __str__(self) -> str:
        code = f" {self.grpc_code.name}" if self.grpc_code is not None else ""
        return f"[{self.transport}] {self.status}{code} {json.dumps(self.body)[:800]}"


def expect_error(reply: Reply, status: int, *, error_code: str | None = None,
                 fields: dict[str, str] | None = None) -> None:
    """`reply` is the consumer error `status` (gRPC: with the matching code),
    with the 409 `errorCode` and exactly the `invalidFields` given."""
    assert reply.status == status, str(reply)
    if reply.grpc_code is not None and status in GRPC_FOR_HTTP:
        assert reply.grpc_code == GRPC_FOR_HTTP[status], str(reply)
    if error_code is not None:
        assert reply.error_code == error_code, str(reply)
    if fields is not None:
        assert reply.invalid_fields == fields, str(reply)
    assert reply.message, str(reply)


def check_error_body(status: int, body: Any) -> None:
    """The consumer API's Error: {message, syntaxErrors?: {invalidFields:
    [{params, fieldName, error}]}}, `errorCode` on a 409 only."""
    assert isinstance(body, dict), (status, body)
    assert set(body) <= ERROR_KEYS, (status, body)
    assert isinstance(body.get("message"), str) and body["message"], (status, body)
    assert "Traceback" not in body["message"] and "Exception" not in body["message"], body
    if status == 409:
        assert isinstance(body.get("errorCode"), str) and body["errorCode"], (status, body)
    else:
        assert "errorCode" not in body, (status, body)
    if "syntaxErrors" in body:
        invalid = body["syntaxErrors"]["invalidFields"]
        assert set(body["syntaxErrors"]) == {"invalidFields"}, body
        assert isinstance(invalid, list) and invalid, body
        for item in invalid:
            assert set(item) == {"params", "fieldName", "error"}, body
            assert isinstance(item["params"], list), body
            assert all(isinstance(p, str) for p in item["params"]), body
            assert isinstance(item["fieldName"], str) and item["fieldName"], body
            assert FIELD_ERROR.fullmatch(item["error"]), body
    if "tokenType" in body:
        assert body["tokenType"] == "TEMPORARY" and isinstance(body.get("token"), str), body


def check_success_body(op_name: str, op: Op, body: Any) -> None:
    if op.success == 204:
        assert body is None, (op_name, body)
        return
    if op.unwrap:
        assert isinstance(body, list), (op_name, body)
        for item in body:
            assert set(item) == {"id", "name"}, (op_name, body)
            assert set(item["id"]) == {"type", "id"}, (op_name, body)
            assert item["id"]["type"] in ("CONSUMER", "CORPORATE"), (op_name, body)
            assert isinstance(item["id"]["id"], str) and item["id"]["id"], (op_name, body)
            assert isinstance(item["name"], str), (op_name, body)
        return
    assert isinstance(body, dict) and set(body) == set(op.keys), (op_name, body)
    if "tokenType" in op.keys:
        assert body["tokenType"] == "AUTH", body
    if "credentials" in op.keys:
        assert set(body["credentials"]) == {"type", "id"}, body
        assert body["credentials"]["type"] == "ROOT", body
        assert isinstance(body["credentials"]["id"], str) and body["credentials"]["id"], body
    if "identity" in op.keys:
        assert set(body["identity"]) == {"type", "id"}, body
    if "token" in op.keys:
        assert isinstance(body["token"], str) and body["token"], body


# -------------------------------------------------------------------- client

def _grpc_error(exc: grpc.aio.AioRpcError) -> tuple[int, dict[str, Any], str | None, int | None]:
    """(status, consumer-shaped body, errorCode, retry seconds) of a gRPC error,
    rendered as the REST bridge renders the same status."""
    metadata: dict[str, str] = {}
    violations: list[str] = []
    retry: int | None = None
    seen_info = False
    for key, value in exc.trailing_metadata() or ():
        if key != "grpc-status-details-bin":
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            bad = error_details_pb2.BadRequest()
            retry_info = error_details_pb2.RetryInfo()
            if detail.Is(info.DESCRIPTOR) and detail.Unpack(info):
                if not seen_info:
                    metadata = dict(info.metadata)
                    seen_info = True
            elif detail.Is(bad.DESCRIPTOR) and detail.Unpack(bad):
                violations.extend(v.field for v in bad.field_violations)
            elif detail.Is(retry_info.DESCRIPTOR) and detail.Unpack(retry_info):
                retry = retry_info.retry_delay.seconds
    raw = metadata.get("http_status")
    http = int(raw) if raw and raw.isdigit() else HTTP_FOR_GRPC.get(exc.code(), 500)
    body: dict[str, Any] = {"message": exc.details() or ""}
    code = metadata.get("errorCode") if http == 409 else None
    if code:
        body["errorCode"] = code
    if violations:
        body["syntaxErrors"] = {"invalidFields": [
            {"params": [p for p in (metadata.get(f"params:{v}") or "").split(",") if p],
             "fieldName": v, "error": metadata.get(f"error:{v}", "INVALID_TYPE")}
            for v in violations]}
    for key, value in metadata.items():
        if key.startswith("http_body:"):
            body.setdefault(key[len("http_body:"):], value)
    header_retry = metadata.get("http_header:Retry-After")
    if retry is None and header_retry and header_retry.isdigit():
        retry = int(header_retry)
    return http, body, code, retry


class ConsumerClient:
    """`call(op, body, ...)` over one transport, plus one method per operation.

    Tokens go in `Authorization: Bearer <token>` over REST (`bearer=False`:
    the raw token) and in the request's `authorization` field over gRPC
    (`via_metadata=True`: as `authorization` metadata instead).
    """

    def __init__(self, server: RunningServer, transport: str) -> None:
        assert transport in ("rest", "grpc")
        self.server = server
        self.transport = transport
        self.http = httpx.AsyncClient(base_url=server.http_url, timeout=30)
        self.channel = grpc.aio.insecure_channel(server.grpc_target)
        self.stub = consumer_pb2_grpc.ConsumerServiceStub(self.channel)

    async def close(self) -> None:
        await self.http.aclose()
        await self.channel.close()

    async def __aenter__(self) -> ConsumerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def call(self, op_name: str, body: dict[str, Any] | None = None, *,
                   path: dict[str, str] | None = None, token: str | None = None,
                   bearer: bool = True, via_metadata: bool = False) -> Reply:
        op = OPS[op_name]
        if self.transport == "rest":
            auth = None if token is None else (f"Bearer {token}" if bearer else token)
            reply = await self._rest(op, body, path or {}, auth)
        else:
            reply = await self._grpc(op, body, path or {}, token, via_metadata)
        assert reply.status < 500, (op_name, str(reply))
        if reply.ok:
            assert reply.status == op.success, (op_name, str(reply))
            check_success_body(op_name, op, reply.body)
        return reply

    async def _rest(self, op: Op, body: dict[str, Any] | None, path: dict[str, str],
                    authorization: str | None) -> Reply:
        headers = {} if authorization is None else {"Authorization": authorization}
        url = op.path.format(**path)
        if op.http_method == "GET":
            r = await self.http.get(url, headers=headers)
        else:
            r = await self.http.request(op.http_method, url, json=body or {}, headers=headers)
        return rest_reply(r)

    async def _grpc(self, op: Op, body: dict[str, Any] | None, path: dict[str, str],
                    token: str | None, via_metadata: bool) -> Reply:
        data: dict[str, Any] = {**(body or {}), **path}
        metadata: tuple[tuple[str, str], ...] = ()
        if token is not None:
            if via_metadata:
                metadata = (("authorization", f"Bearer {token}"),)
            else:
                data["authorization"] = token
        request = json_to_message(data, op.request)
        try:
            response = await getattr(self.stub, op.rpc)(request, metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            status, err_body, code, retry = _grpc_error(exc)
            return Reply(status, err_body, "grpc", code, grpc_code=exc.code(),
                         retry_after=retry)
        if op.success == 204:
            return Reply(204, None, "grpc")
        if op.unwrap:
            fd = response.DESCRIPTOR.fields_by_name[op.unwrap]
            return Reply(op.success, field_to_json(response, fd), "grpc")
        return Reply(op.success, message_to_json(response), "grpc")

    async def raw(self, method: str, path: str, *, content: bytes | None = None,
                  headers: dict[str, str] | None = None) -> Reply:
        """A REST request with any bytes as its body (bad-input tests)."""
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        r = await self.http.request(method, path, content=content, headers=all_headers)
        reply = rest_reply(r)
        assert reply.status < 500, (method, path, str(reply))
        return reply

    # -- one method per operation ---------------------------------------------

    async def login(self, email: Any, password: Any) -> Reply:
        return await self.call("login", {"email": email, "password": {"value": password}})

    async def login_ok(self, email: str, password: str = PASSWORD) -> str:
        reply = await self.login(email, password)
        assert reply.status == 200, str(reply)
        return str(reply.body["token"])

    async def update_password(self, token: str | None, new: str,
                              old: str | None = None) -> Reply:
        body: dict[str, Any] = {"newPassword": {"value": new}}
        if old is not None:
            body["oldPassword"] = {"value": old}
        return await self.call("update_password", body, token=token)

    async def identities(self, token: str | None, **kw: Any) -> Reply:
        return await self.call("identities", token=token, **kw)

    async def access_token(self, token: str | None, kind: str, identity_id: str) -> Reply:
        return await self.call("access_token", {"identity": {"type": kind, "id": identity_id}},
                               token=token)

    async def enroll_otp(self, token: str | None, mobile: str | None = PHONE,
                         channel: str = "SMS") -> Reply:
        body = {} if mobile is None else {"mobileNumber": mobile}
        return await self.call("enroll_otp", body, path={"channel": channel}, token=token)

    async def verify_otp_factor(self, token: str | None, code: str,
                                channel: str = "SMS") -> Reply:
        return await self.call("verify_otp_factor", {"verificationCode": code},
                               path={"channel": channel}, token=token)

    async def enroll_push(self, token: str | None, public_key: str,
                          device_name: str = "Test phone", channel: str = "BIOMETRIC") -> Reply:
        return await self.call("enroll_push", {"publicKey": public_key,
                                               "deviceName": device_name},
                               path={"channel": channel}, token=token)

    async def start_otp_stepup(self, token: str | None) -> Reply:
        return await self.call("start_otp_stepup", {}, token=token)

    async def verify_otp_stepup(self, token: str | None, code: str) -> Reply:
        return await self.call("verify_otp_stepup", {"verificationCode": code}, token=token)

    async def start_push_stepup(self, token: str | None, channel: str = "BIOMETRIC") -> Reply:
        return await self.call("start_push_stepup", {}, path={"channel": channel}, token=token)

    async def respond_push(self, step_up_id: str, outcome: str, signature: str) -> Reply:
        return await self.call("respond_push", {"outcome": outcome, "signature": signature},
                               path={"id": step_up_id})

    async def get_push(self, token: str | None, step_up_id: str) -> Reply:
        return await self.call("get_push", path={"id": step_up_id}, token=token)

    async def logout(self, token: str | None) -> Reply:
        return await self.call("logout", {}, token=token)


def rest_reply(r: httpx.Response) -> Reply:
    data = None
    if r.content:
        assert r.headers.get("content-type", "").startswith("application/json"), \
            (r.status_code, r.headers, r.text[:300])
        data = r.json()
    headers = {k.lower(): v for k, v in r.headers.items()}
    code = None
    retry = None
    if r.status_code >= 400:
        check_error_body(r.status_code, data)
        code = data.get("errorCode")
        if "retry-after" in headers:
            retry = int(headers["retry-after"])
    return Reply(r.status_code, data, "rest", code, headers, retry_after=retry)


# --------------------------------------------------------- soft push device

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class SoftPushDevice:
    """A phone app's push key: P-256, public key exported as base64url
    SubjectPublicKeyInfo DER; signs step-up answers the way the device must."""

    def __init__(self, curve: ec.EllipticCurve | None = None) -> None:
        self.key = ec.generate_private_key(curve or ec.SECP256R1())

    def public_key_der(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    def public_key(self, form: str = "spki") -> str:
        """"spki": base64url DER without padding; "spki-std": standard base64
        with padding; "point": base64url of the 65-byte uncompressed point."""
        if form == "spki":
            return b64url(self.public_key_der())
        if form == "spki-std":
            return base64.b64encode(self.public_key_der()).decode("ascii")
        if form == "point":
            return b64url(self.key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
        raise ValueError(form)

    @staticmethod
    def message(step_up_id: str, challenge: str, outcome: str) -> bytes:
        return f"{PUSH_PREFIX}\n{step_up_id}\n{challenge}\n{outcome}".encode()

    def sign(self, step_up_id: str, challenge: str, outcome: str, *, raw: bool = False) -> str:
        der = self.key.sign(self.message(step_up_id, challenge, outcome),
                            ec.ECDSA(hashes.SHA256()))
        if not raw:
            return b64url(der)
        r, s = decode_dss_signature(der)
        return b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def answer(self, push: dict[str, Any], outcome: str, *, signed_outcome: str | None = None,
               raw: bool = False) -> tuple[str, str, str]:
        """(id, outcome, signature) answering a push message; `signed_outcome`
        signs another outcome than the one sent (a forgery)."""
        sig = self.sign(push["id"], push["challenge"], signed_outcome or outcome, raw=raw)
        return push["id"], outcome, sig


# ------------------------------------------------------------ set-up helpers

@dataclass
class ConsumerUser:
    user_id: str
    email: str
    password: str
    scim_id: str
    phone: str | None = None


def unique_email(prefix: str = "c") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


class Setup:
    """Admin and SCIM calls (REST, admin key) the consumer tests set up with."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.http = httpx.AsyncClient(base_url=server.http_url, timeout=30,
                                      headers={"Authorization": f"Bearer {ADMIN_KEY}"})

    async def close(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> Setup:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _req(self, method: str, path: str, body: Any = None,
                   params: dict[str, str] | None = None) -> Any:
        r = await self.http.request(method, path, json=body, params=params)
        assert r.status_code < 300, (method, path, r.status_code, r.text)
        return r.json() if r.content else None

    async def user(self, *, email: str | None = None, user_id: str | None = None,
                   phone: str | None = None, password: str | None = PASSWORD,
                   expires_at: str | None = None) -> ConsumerUser:
        email = email or unique_email()
        user_id = user_id or f"uid-{uuid.uuid4().hex[:12]}@example.org"
        attrs: dict[str, Any] = {"userId": user_id, "email": email}
        if phone is not None:
            attrs["phone"] = phone
        await self._req("POST", "/api/admin/v1/users", attrs)
        if password is not None:
            await self.password(user_id, password, expires_at)
        return ConsumerUser(user_id, email, password or "", await self.scim_id(user_id), phone)

    async def password(self, user_id: str, password: str, expires_at: str | None = None
                       ) -> None:
        body: dict[str, Any] = {"password": password}
        if expires_at:
            body["expiresAt"] = expires_at
        await self._req("PUT", f"/api/admin/v1/users/{user_id}/password", body)

    async def scim_id(self, user_id: str) -> str:
        data = await self._req("GET", "/scim/v2/Users",
                               params={"filter": f'userName eq "{user_id}"'})
        [resource] = data["Resources"]
        return str(resource["id"])

    async def group(self, display_name: str, members: list[str]) -> str:
        """A SCIM group with these members (SCIM ids); returns its id."""
        doc = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
               "displayName": display_name, "members": [{"value": m} for m in members]}
        r = await self.http.post("/scim/v2/Groups", json=doc)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def outbox(self, user_id: str) -> list[dict[str, Any]]:
        data = await self._req("GET", "/api/admin/v1/outbox", params={"userId": user_id})
        return list(data.get("messages") or [])

    async def sms(self, user_id: str) -> list[dict[str, Any]]:
        return [m for m in await self.outbox(user_id) if m.get("channel") == "SMS"]

    async def last_sms_code(self, user_id: str) -> str:
        messages = await self.sms(user_id)
        assert messages, f"no SMS for {user_id}"
        m = re.search(r"\b(\d{6})\b", messages[-1]["text"])
        assert m, messages[-1]
        return m.group(1)

    async def pushes(self, user_id: str) -> list[dict[str, Any]]:
        """The push messages to the user's device, parsed, oldest first."""
        out = []
        for m in await self.outbox(user_id):
            try:
                data = json.loads(m.get("text") or "")
            except ValueError:
                continue
            if isinstance(data, dict) and data.get("type") == "stepup":
                out.append({**data, "_channel": m.get("channel"), "_address": m.get("address")})
        return out

    async def last_push(self, user_id: str) -> dict[str, Any]:
        pushes = await self.pushes(user_id)
        assert pushes, f"no push message for {user_id}"
        return pushes[-1]


async def jwks(server: RunningServer) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        r = await http.get(server.http_url + "/.well-known/jwks.json")
    r.raise_for_status()
    return r.json()  # type: ignore[no-any-return]


async def verify_access_token(server: RunningServer, token: str,
                              audience: str = "consumer") -> dict[str, Any]:
    """The claims of an access token, after checking its ES256 signature
    against the server's JWKS and its audience and expiry."""
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256", header
    keys = [k for k in (await jwks(server))["keys"] if k.get("kid") == header.get("kid")]
    assert len(keys) == 1, (header, keys)
    return jwt.decode(token, jwt.PyJWK(keys[0]).key, algorithms=["ES256"],  # type: ignore[no-any-return]
                      audience=audience)


# ------------------------------------------------------------ sandbox server

@dataclass
class SandboxClock:
    """The file the sandbox server adds to its clock, read on every call."""

    path: Path

    def set(self, seconds: float) -> None:
        self.path.write_text(str(seconds))

    def reset(self) -> None:
        self.set(0)


@contextmanager
def sandbox_server(env: dict[str, str] | None = None
                   ) -> Iterator[tuple[RunningServer, SandboxClock]]:
    """A SQLite server with AUTHCORE_SANDBOX=1 and a controllable clock."""
    clock = SandboxClock(Path(tempfile.mkdtemp(prefix="authcore-clock-")) / "offset")
    clock.reset()
    full = {"AUTHCORE_SANDBOX": "1", "AUTHCORE_CLOCK_OFFSET_FILE": str(clock.path),
            **(env or {})}
    with run_server(env=full) as server:
        yield server, clock


__all__ = [
    "GRPC_FOR_HTTP",
    "OPS",
    "PASSWORD",
    "PHONE",
    "SANDBOX_CODE",
    "ConsumerClient",
    "ConsumerUser",
    "Reply",
    "SandboxClock",
    "Setup",
    "SoftPushDevice",
    "authenticated_calls",
    "b64url",
    "check_error_body",
    "expect_error",
    "sandbox_server",
    "unique_email",
    "verify_access_token",
]
