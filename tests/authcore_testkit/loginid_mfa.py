"""A client of LoginID's MFA flow (/fido2/v2/mfa) over REST and gRPC, in the
web SDK's call order (packages/core/src/controllers/mfa.ts): begin, then
each action with the flow's session in the Authorization header; a 401
whose body carries a `session` is the next step (MfaNext), not a failure.

gRPC replies are read back as JSON, and a 401 additional_auth_required's
MfaNext comes from the error's typed detail, so a test sees the same
(status, body) on both transports. Every 2xx body, and every 401 MfaNext,
is validated strictly against LoginID's schemas; other REST errors must be
{msg, msgCode}.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
from google.rpc import status_pb2

from authcore.v1 import fido2_mfa_pb2 as mfa
from authcore.v1 import fido2_mfa_pb2_grpc
from authcore_testkit.api import HTTP_FOR_GRPC, Reply, error_reason
from authcore_testkit.loginid import check_error_body, validate
from authcore_testkit.server import RunningServer
from rest_bridge.codec import field_to_json, json_to_message, message_to_json


@dataclass(frozen=True)
class MfaOp:
    path: str
    rpc: str
    request: Any
    schema: str | None
    unwrap: str | None = None
    success: int = 200


MFA_OPS: dict[str, MfaOp] = {
    "begin": MfaOp("/fido2/v2/mfa/begin", "MfaBegin", mfa.MfaBeginRequest, "MfaNext", "next"),
    "discover": MfaOp("/fido2/v2/mfa/discover", "MfaDiscover", mfa.MfaDiscoverRequest, None,
                      success=204),
    "otp_request": MfaOp("/fido2/v2/mfa/otp/request", "MfaOtpRequest",
                         mfa.MfaOtpRequestRequest, "MfaOtpRequestResponseBody"),
    "otp_verify": MfaOp("/fido2/v2/mfa/otp/verify", "MfaOtpVerify", mfa.MfaOtpVerifyRequest,
                        "Mfa", "mfa"),
    "passkey_auth": MfaOp("/fido2/v2/mfa/passkey/auth", "MfaPasskeyAuth",
                          mfa.MfaPasskeyAuthRequest, "Mfa", "mfa"),
    "passkey_reg": MfaOp("/fido2/v2/mfa/passkey/reg", "MfaPasskeyReg",
                         mfa.MfaPasskeyRegRequest, "Mfa", "mfa"),
    "passkey_tx": MfaOp("/fido2/v2/mfa/passkey/tx", "MfaPasskeyTx", mfa.MfaPasskeyTxRequest,
                        "Mfa", "mfa"),
    "payload": MfaOp("/fido2/v2/mfa/payload", "MfaPayloadUpdate", mfa.MfaPayloadUpdateRequest,
                     "MfaNext", "next"),
    "third_party": MfaOp("/fido2/v2/mfa/third-party/verify", "MfaThirdPartyAuthVerify",
                         mfa.MfaThirdPartyAuthVerifyRequest, "Mfa", "mfa"),
    # authcore's own: LoginID documents no way to redeem a refresh token.
    "token_refresh": MfaOp("/fido2/v2/mfa/token/refresh", "MfaTokenRefresh",
                           mfa.MfaTokenRefreshRequest, None),
}

# What token/refresh answers, exactly.
REFRESH_KEYS = {"accessToken", "idToken", "refreshToken"}


def host_of(app_id: str, server: RunningServer) -> str:
    """The SDK's base URL names the application: https://<appId>.<domain>."""
    return f"{app_id}.auth.localhost:{server.http_url.rsplit(':', 1)[1]}"


def options_of(next_body: dict[str, Any], name: str) -> dict[str, Any]:
    """The WebAuthn options of a passkey action, as the SDK decodes them
    (`parseJwt("." + options[0].value)`)."""
    action = action_of(next_body, name)
    value = action["options"][0]["value"]
    return json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))


def action_of(next_body: dict[str, Any], name: str) -> dict[str, Any]:
    found = [a for a in next_body.get("next") or [] if a["action"]["name"] == name]
    assert found, (name, next_body)
    return found[0]


def names(next_body: dict[str, Any]) -> list[str]:
    return [a["action"]["name"] for a in next_body.get("next") or []]


def is_next(reply: Reply) -> bool:
    """The SDK's test for another step: a 401 whose body has a session."""
    return reply.status == 401 and isinstance(reply.body, dict) and "session" in reply.body


class MfaClient:
    def __init__(self, server: RunningServer, transport: str) -> None:
        self.server = server
        self.transport = transport
        self.http = httpx.AsyncClient(base_url=server.http_url, timeout=30)
        self.channel = grpc.aio.insecure_channel(server.grpc_target)
        self.stub = fido2_mfa_pb2_grpc.Fido2MfaServiceStub(self.channel)

    async def close(self) -> None:
        await self.http.aclose()
        await self.channel.close()

    async def call(self, op_name: str, body: dict[str, Any] | None = None, *,
                   session: str | None = None, host: str | None = None,
                   origin: str | None = None, raw: bytes | None = None) -> Reply:
        op = MFA_OPS[op_name]
        if self.transport == "rest":
            reply = await self._rest(op, body, session, host, origin, raw)
        else:
            assert raw is None
            reply = await self._grpc(op, body, session, host, origin)
        if reply.ok:
            assert reply.status == op.success, (op_name, reply)
            if op.schema is not None:
                validate(reply.body, op.schema)
            elif op.success == 204:
                assert reply.body is None
            else:
                assert isinstance(reply.body, dict) and set(reply.body) == REFRESH_KEYS, reply
        elif is_next(reply):
            validate(reply.body, "MfaNext")
        return reply

    async def _rest(self, op: MfaOp, body: dict[str, Any] | None, session: str | None,
                    host: str | None, origin: str | None, raw: bytes | None) -> Reply:
        headers = {"Content-Type": "application/json"}
        if host is not None:
            headers["Host"] = host
        if session is not None:
            # As the SDK sends it: the bare session, no scheme.
            headers["Authorization"] = session
        if origin is not None:
            headers["Origin"] = origin
        content = raw if raw is not None else json.dumps(body or {}).encode()
        r = await self.http.post(op.path, content=content, headers=headers)
        data = r.json() if r.content else None
        code = None
        if r.status_code >= 400:
            if r.status_code == 401 and isinstance(data, dict) and "session" in data:
                assert data["msgCode"] == "additional_auth_required", data
            else:
                check_error_body(r.status_code, data)
            code = data["msgCode"]
        return Reply(r.status_code, data, code, dict(r.headers))

    async def _grpc(self, op: MfaOp, body: dict[str, Any] | None, session: str | None,
                    host: str | None, origin: str | None) -> Reply:
        data = dict(body or {})
        if origin is not None and op.rpc == "MfaBegin":
            data["origin"] = origin
        request = json_to_message(data, op.request)
        metadata: tuple[tuple[str, str], ...] = ()
        if session is not None:
            metadata += (("authorization", session),)
        if host is not None:
            metadata += (("x-forwarded-host", host),)
        try:
            response = await getattr(self.stub, op.rpc)(request, metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            following = _mfa_next(exc)
            if following is not None:
                return Reply(401, message_to_json(following), error_reason(exc))
            return Reply(HTTP_FOR_GRPC.get(exc.code(), 500), {"msg": exc.details()},
                         error_reason(exc))
        if op.success == 204:
            return Reply(204, None)
        if op.unwrap:
            field = response.DESCRIPTOR.fields_by_name[op.unwrap]
            return Reply(op.success, field_to_json(response, field))
        return Reply(op.success, message_to_json(response))


def _mfa_next(exc: grpc.aio.AioRpcError) -> mfa.MfaNext | None:
    for key, value in exc.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                following = mfa.MfaNext()
                if detail.Is(following.DESCRIPTOR) and detail.Unpack(following):
                    return following
    return None


__all__ = ["MFA_OPS", "REFRESH_KEYS", "MfaClient", "action_of", "host_of", "is_next",
           "names", "options_of"]
