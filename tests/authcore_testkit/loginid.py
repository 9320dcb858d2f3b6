"""A small LoginID FIDO2 (/fido2/v2) client over REST and over gRPC, so each
flow test runs on both transports and asserts the same things.

gRPC requests are built from the same JSON bodies with the bridge's codec and
replies are read back as JSON, so a test sees (HTTP-equivalent status, JSON
body, error code) either way. Every 2xx body is validated against LoginID's
published OpenAPI schemas, strictly (no properties the spec doesn't define);
every REST error body must be LoginID's {msg, msgCode} with a msgCode the spec
allows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import grpc
import httpx

from authcore.v1 import fido2_mgmt_pb2 as fido2_mgmt
from authcore.v1 import fido2_mgmt_pb2_grpc, fido2_pb2_grpc, fido2_profile_pb2_grpc
from authcore.v1 import fido2_pb2 as fido2
from authcore.v1 import fido2_profile_pb2 as profile
from authcore_testkit.api import HTTP_FOR_GRPC, Reply, error_reason
from authcore_testkit.schemas import LOGINID
from authcore_testkit.server import RunningServer
from authcore_testkit.soft_webauthn import SoftAuthenticator
from rest_bridge.codec import field_to_json, json_to_message, message_to_json

MSG_CODE_FOR_STATUS = {400: "bad_request", 401: "unauthorized", 403: "forbidden",
                       404: "not_found", 413: "bad_request", 429: "bad_request"}


# ------------------------------------------------------------------ schemas

# Response fields the reference spec lacks but LoginID's web SDK 1.6.0 reads
# (its generated client predates the spec's TxComplete.token): authcore sends
# both forms. Each must be a non-empty string.
SDK_1_6_FIELDS = {"TxComplete": ("jwtAccess", "txId", "txHash", "nonce")}


def validate(body: Any, schema_name: str) -> None:
    """Raise jsonschema.ValidationError unless `body` fits LoginID's schema."""
    legacy = SDK_1_6_FIELDS.get(schema_name, ())
    if legacy and isinstance(body, dict):
        for name in legacy:
            assert isinstance(body.get(name), str) and body[name], (name, body)
        body = {k: v for k, v in body.items() if k not in legacy}
    LOGINID.validate(body, schema_name)


def check_error_body(status: int, body: Any) -> None:
    validate(body, "AppError")
    assert set(body) == {"msg", "msgCode"}, body
    expected = "internal_error" if status >= 500 else MSG_CODE_FOR_STATUS.get(status,
                                                                              "bad_request")
    assert body["msgCode"] == expected, (status, body)
    assert "Traceback" not in body["msg"]


# ---------------------------------------------------------------- operations

@dataclass(frozen=True)
class Op:
    http_method: str
    path: str
    rpc: str
    request: Any
    # The spec's response schema for 2xx; None for 204; "" for a path the
    # published spec lacks (seed 002 only: profile, devices, mgmt, version).
    schema: str | None
    unwrap: str | None = None   # the RPC's response_body field
    success: int = 200
    service: str = "fido2"      # which stub serves it over gRPC


OPS: dict[str, Op] = {
    "reg_init": Op("POST", "/fido2/v2/reg/init", "RegInit", fido2.RegInitRequest, "RegInit"),
    "reg_complete": Op("POST", "/fido2/v2/reg/complete", "RegComplete",
                       fido2.RegCompleteRequest, "JWT", "jwt"),
    "auth_init": Op("POST", "/fido2/v2/auth/init", "AuthInit", fido2.AuthInitRequest,
                    "AuthInit"),
    "auth_complete": Op("POST", "/fido2/v2/auth/complete", "AuthComplete",
                        fido2.AuthCompleteRequest, "JWT", "jwt"),
    "tx_init": Op("POST", "/fido2/v2/tx/init", "TxInit", fido2.TxInitRequest, "TxInit"),
    "tx_complete": Op("POST", "/fido2/v2/tx/complete", "TxComplete", fido2.TxCompleteRequest,
                      "TxComplete"),
    "list_passkeys": Op("GET", "/fido2/v2/passkeys", "ListPasskeys", fido2.ListPasskeysRequest,
                        "PasskeyCollection", "passkeys"),
    "rename_passkey": Op("PUT", "/fido2/v2/passkeys/{id}", "RenamePasskey",
                         fido2.RenamePasskeyRequest, None, success=204),
    "delete_passkey": Op("DELETE", "/fido2/v2/passkeys/{id}", "DeletePasskey",
                         fido2.DeletePasskeyRequest, None, success=204),
    "get_aaguid": Op("GET", "/fido2/v2/passkeys/aaguid/{aaguid}", "GetAaguid",
                     fido2.GetAaguidRequest, "Aaguid", "aaguid"),
    "request_auth_code": Op("POST", "/fido2/v2/auth/otp", "RequestAuthCode",
                            fido2.RequestAuthCodeRequest, "AuthCode", "auth_code"),
    "send_email": Op("POST", "/fido2/v2/auth/otp/email", "SendAuthCodeEmail",
                     fido2.SendAuthCodeEmailRequest, None, success=204),
    "send_sms": Op("POST", "/fido2/v2/auth/otp/sms", "SendAuthCodeSms",
                   fido2.SendAuthCodeSmsRequest, None, success=204),
    "verify_code": Op("POST", "/fido2/v2/auth/otp/verify", "VerifyAuthCode",
                      fido2.VerifyAuthCodeRequest, "JWT", "jwt"),
    "client_event": Op("POST", "/fido2/v2/client-events/submit", "SubmitClientEvent",
                       fido2.SubmitClientEventRequest, "Session"),
    "version": Op("GET", "/fido2/v2/version", "GetVersion", fido2.GetVersionRequest, ""),
    # Seed 002's profile and devices (paths from the web SDK 1.6.0 bundle).
    "delete_profile": Op("DELETE", "/fido2/v2/profile/{id}", "DeleteProfile",
                         profile.DeleteProfileRequest, None, success=204, service="profile"),
    "update_email": Op("POST", "/fido2/v2/profile/{id}/email", "UpdateEmail",
                       profile.UpdateEmailRequest, None, success=204, service="profile"),
    "update_phone": Op("POST", "/fido2/v2/profile/{id}/phone", "UpdatePhone",
                       profile.UpdatePhoneRequest, None, success=204, service="profile"),
    "delete_phone": Op("DELETE", "/fido2/v2/profile/{id}/phone", "DeletePhone",
                       profile.DeletePhoneRequest, None, success=204, service="profile"),
    "verify_email": Op("POST", "/fido2/v2/profile/email/verify", "VerifyEmail",
                       profile.VerifyEmailRequest, None, success=204, service="profile"),
    "verify_phone": Op("POST", "/fido2/v2/profile/phone/verify", "VerifyPhone",
                       profile.VerifyPhoneRequest, None, success=204, service="profile"),
    "list_devices": Op("GET", "/fido2/v2/devices", "ListDevices", profile.ListDevicesRequest,
                       "", service="profile"),
    "rename_device": Op("PUT", "/fido2/v2/devices/{deviceId}", "RenameDevice",
                        profile.RenameDeviceRequest, None, success=204, service="profile"),
    "delete_device": Op("DELETE", "/fido2/v2/devices/{deviceId}", "DeleteDevice",
                        profile.DeleteDeviceRequest, None, success=204, service="profile"),
    # The backend's calls, with an admin key (scope `loginid`).
    "grant": Op("POST", "/fido2/v2/mgmt/grant", "CreateGrant", fido2_mgmt.CreateGrantRequest,
                "", service="mgmt"),
    "verify_token": Op("POST", "/fido2/v2/mgmt/token/verify", "VerifyToken",
                       fido2_mgmt.VerifyTokenRequest, None, success=204, service="mgmt"),
}


# ------------------------------------------------------- LoginID's flat forms

def creation_result(credential: dict[str, Any]) -> dict[str, Any]:
    """A RegistrationResponseJSON in LoginID's flat creationResult form."""
    response = credential["response"]
    return {"attestationObject": response["attestationObject"],
            "clientDataJSON": response["clientDataJSON"],
            "credentialId": credential["id"],
            "transports": response.get("transports", [])}


def assertion_result(credential: dict[str, Any]) -> dict[str, Any]:
    """An AuthenticationResponseJSON in LoginID's flat assertionResult form."""
    response = credential["response"]
    out = {"authenticatorData": response["authenticatorData"],
           "clientDataJSON": response["clientDataJSON"],
           "credentialId": credential["id"],
           "signature": response["signature"]}
    if response.get("userHandle"):
        out["userHandle"] = response["userHandle"]
    return out


def tx_result(session: str, credential: dict[str, Any]) -> dict[str, Any]:
    """An AuthenticationResponseJSON as tx/complete's body."""
    response = credential["response"]
    return {"session": session, "keyHandle": credential["id"],
            "clientData": response["clientDataJSON"],
            "authenticatorData": response["authenticatorData"],
            "signature": response["signature"]}


def awaits_proof(reply: Reply) -> bool:
    """reg/complete of an email username on a self sign-up application:
    403, and (LoginID's msgCode being only the status's) the message says
    why; over gRPC the reason is email_verification_required."""
    if reply.status != 403:
        return False
    return (reply.error_code == "email_verification_required"
            or "email address to be proved" in str((reply.body or {}).get("msg", "")))


# -------------------------------------------------------------------- client

class LoginIdClient:
    """`call(op, body, ...)` over one transport; helpers for whole ceremonies."""

    def __init__(self, server: RunningServer, transport: str) -> None:
        self.server = server
        self.transport = transport
        self.http = httpx.AsyncClient(base_url=server.http_url, timeout=30)
        self.channel = grpc.aio.insecure_channel(server.grpc_target)
        self.stub = fido2_pb2_grpc.Fido2ServiceStub(self.channel)
        self.stubs: dict[str, Any] = {
            "fido2": self.stub,
            "profile": fido2_profile_pb2_grpc.Fido2ProfileServiceStub(self.channel),
            "mgmt": fido2_mgmt_pb2_grpc.Fido2MgmtServiceStub(self.channel),
        }

    async def close(self) -> None:
        await self.http.aclose()
        await self.channel.close()

    async def call(self, op_name: str, body: dict[str, Any] | None = None, *,
                   path: dict[str, str] | None = None, authorization: str | None = None,
                   origin: str | None = None, host: str | None = None) -> Reply:
        """`host`: the host name the call is addressed to (REST: the Host
        header; gRPC: `x-forwarded-host` metadata), as the web SDK's base URL
        names its application."""
        op = OPS[op_name]
        if self.transport == "rest":
            reply = await self._rest(op, body, path or {}, authorization, origin, host)
        else:
            reply = await self._grpc(op, body, path or {}, authorization, origin, host)
        if reply.ok:
            assert reply.status == op.success, (op_name, reply)
            if op.schema:
                validate(reply.body, op.schema)
            elif op.schema is None:
                assert reply.body is None
        return reply

    async def _rest(self, op: Op, body: dict[str, Any] | None, path: dict[str, str],
                    authorization: str | None, origin: str | None,
                    host: str | None = None) -> Reply:
        headers = {}
        if host is not None:
            headers["Host"] = host
        if authorization is not None:
            headers["Authorization"] = authorization
        if origin is not None:
            headers["Origin"] = origin
        send_body = op.http_method in ("POST", "PUT")
        r = await self.http.request(op.http_method, op.path.format(**path),
                                    json=(body or {}) if send_body else None, headers=headers)
        data = r.json() if r.content else None
        code = None
        if r.status_code >= 400:
            check_error_body(r.status_code, data)
            code = data["msgCode"]
        return Reply(r.status_code, data, code, dict(r.headers))

    async def _grpc(self, op: Op, body: dict[str, Any] | None, path: dict[str, str],
                    authorization: str | None, origin: str | None,
                    host: str | None = None) -> Reply:
        data = {**(body or {}), **path}
        if origin is not None:
            data["origin"] = origin
        request = json_to_message(data, op.request)
        metadata: tuple[tuple[str, str], ...] = ()
        if authorization is not None:
            metadata += (("authorization", authorization),)
        if host is not None:
            metadata += (("x-forwarded-host", host),)
        try:
            response = await getattr(self.stubs[op.service], op.rpc)(request,
                                                                     metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            return Reply(HTTP_FOR_GRPC.get(exc.code(), 500), {"msg": exc.details()},
                         error_reason(exc))
        if op.success == 204:
            return Reply(204, None)
        if op.unwrap:
            field = response.DESCRIPTOR.fields_by_name[op.unwrap]
            return Reply(op.success, field_to_json(response, field))
        return Reply(op.success, message_to_json(response))

    # -- whole ceremonies ----------------------------------------------------

    async def register(self, *, app_id: str, username: str, authenticator: SoftAuthenticator,
                       origin: str, jwt: str | None = None, passkey_name: str | None = None,
                       device_info: dict[str, Any] | None = None,
                       prove_address: bool = True) -> Reply:
        init = await self.call("reg_init", {
            "app": {"id": app_id}, "deviceInfo": device_info or {"clientType": "browser"},
            "user": {"username": username, "usernameType": "other"},
        }, authorization=jwt, origin=origin)
        assert init.status == 200, init
        created = authenticator.create(options=init.body["registrationRequestOptions"],
                                       origin=origin)
        body: dict[str, Any] = {"session": init.body["session"],
                                "creationResult": creation_result(created)}
        if passkey_name is not None:
            body["passkeyName"] = passkey_name
        done = await self.call("reg_complete", body)
        if prove_address and awaits_proof(done):
            return await self.prove_address(app_id=app_id, username=username)
        return done

    async def mailed_code(self, username: str) -> str:
        """The newest code mailed to `username` (the admin API's outbox)."""
        r = await self.http.get("/api/admin/v1/outbox", params={"userId": username},
                                headers={"Authorization": f"Bearer {self.server.admin_key}"})
        assert r.status_code == 200, r.text
        texts = [m["text"] for m in r.json().get("messages") or [] if m.get("text")]
        assert texts, f"no code was mailed to {username}"
        found = re.search(r"\b(\d{6})\b", texts[-1])
        assert found is not None, texts[-1]
        return found.group(1)

    async def prove_address(self, *, app_id: str, username: str) -> Reply:
        """Finish a self sign-up of an email username with the mailed code."""
        return await self.call("verify_code", {
            "authCode": await self.mailed_code(username), "user": {"username": username},
            "appId": app_id})

    async def sign_in(self, *, app_id: str, authenticator: SoftAuthenticator, origin: str,
                      username: str | None = None,
                      device_info: dict[str, Any] | None = None) -> Reply:
        body: dict[str, Any] = {"app": {"id": app_id},
                                "deviceInfo": device_info or {"clientType": "browser"}}
        if username is not None:
            body["user"] = {"username": username}
        init = await self.call("auth_init", body, origin=origin)
        assert init.status == 200, init
        asserted = authenticator.get(options=init.body["assertionOptions"], origin=origin)
        return await self.call("auth_complete", {"session": init.body["session"],
                                                 "assertionResult": assertion_result(asserted)})


__all__ = ["OPS", "LoginIdClient", "assertion_result", "awaits_proof", "check_error_body",
           "creation_result", "tx_result", "validate"]


async def signed_up(loginid: LoginIdClient, app_id: str, origin: str, username: str
                    ) -> tuple[SoftAuthenticator, str]:
    """A new user with one passkey (address proved), and their JWT."""
    authenticator = SoftAuthenticator()
    done = await loginid.register(app_id=app_id, username=username,
                                  authenticator=authenticator, origin=origin)
    assert done.status == 200, done
    return authenticator, done.body["jwtAccess"]
