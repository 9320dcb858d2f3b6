"""Entrust FIDO/PASSKEY helpers for API tests: the self-service FIDO token
API over REST and gRPC, and conversions between Entrust's shapes (standard
base64, FIDORegisterChallenge, FIDOChallenge, FIDOResponse) and the WebAuthn
JSON the software authenticator speaks."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import grpc
import httpx

from authcore.v1 import self_service_pb2 as selfsvc
from authcore.v1 import self_service_pb2_grpc
from authcore_testkit.api import HTTP_FOR_GRPC, Admin, GrpcApi, Reply, RestApi, error_reason
from authcore_testkit.server import RunningServer
from authcore_testkit.soft_webauthn import b64url, unb64url
from rest_bridge.codec import json_to_message, message_to_json

RP_ID = "localhost"
ORIGIN = "https://app.example"
PASSWORD = "correct horse battery"
SELF = "/api/web/v1/self/fidotokens"

Api = RestApi | GrpcApi


def std(value: str) -> str:
    """base64url (as WebAuthn JSON carries it) → standard padded base64."""
    return base64.b64encode(unb64url(value)).decode()


def url(value: str) -> str:
    """Standard base64 (as Entrust sends it) → base64url without padding."""
    return b64url(base64.b64decode(value))


def creation_options(challenge: dict[str, Any], rp_id: str = RP_ID) -> dict[str, Any]:
    """Entrust's FIDORegisterChallenge as PublicKeyCredentialCreationOptionsJSON."""
    return {
        "rp": {"id": rp_id, "name": challenge["rpName"]},
        "user": {"id": url(challenge["userId"]), "name": challenge["userName"],
                 "displayName": challenge["userDisplayName"]},
        "challenge": url(challenge["challenge"]),
        "excludeCredentials": [{"id": url(c), "type": "public-key"}
                               for c in challenge.get("registeredCredentials", [])],
    }


def register_body(credential: dict[str, Any], *, name: str | None = None,
                  encode: Any = std) -> dict[str, Any]:
    """A RegistrationResponseJSON as Entrust's FIDORegisterResponse."""
    body: dict[str, Any] = {
        "attestationObject": encode(credential["response"]["attestationObject"]),
        "clientDataJSON": encode(credential["response"]["clientDataJSON"]),
        "transports": credential["response"]["transports"],
    }
    if name is not None:
        body["name"] = name
    return body


def request_options(fido_challenge: dict[str, Any], rp_id: str = RP_ID) -> dict[str, Any]:
    """Entrust's FIDOChallenge as PublicKeyCredentialRequestOptionsJSON."""
    return {
        "rpId": rp_id,
        "challenge": url(fido_challenge["challenge"]),
        "allowCredentials": [{"id": url(c), "type": "public-key"}
                             for c in fido_challenge.get("allowCredentials", [])],
    }


def fido_response(assertion: dict[str, Any], *, encode: Any = std) -> dict[str, Any]:
    """An AuthenticationResponseJSON as Entrust's FIDOResponse."""
    r = assertion["response"]
    out = {"authenticatorData": encode(r["authenticatorData"]),
           "clientDataJSON": encode(r["clientDataJSON"]),
           "credentialId": encode(assertion["rawId"]),
           "signature": encode(r["signature"])}
    if r.get("userHandle"):
        out["userHandle"] = encode(r["userHandle"])
    return out


class SelfApi:
    """/api/web/v1/self/fidotokens over REST, or SelfService over gRPC."""

    def __init__(self, server: RunningServer, transport: str) -> None:
        self.transport = transport
        if transport == "rest":
            self.http = httpx.AsyncClient(base_url=server.http_url, timeout=30)
        else:
            self.channel = grpc.aio.insecure_channel(server.grpc_target)
            self.stub = self_service_pb2_grpc.SelfServiceStub(self.channel)

    async def close(self) -> None:
        if self.transport == "rest":
            await self.http.aclose()
        else:
            await self.channel.close()

    async def _rest(self, method: str, path: str, jwt: str | None, body: Any = None) -> Reply:
        headers = {"Authorization": f"Bearer {jwt}"} if jwt is not None else {}
        r = await self.http.request(method, path, json=body, headers=headers)
        data = r.json() if r.content else None
        code = data.get("errorCode") if isinstance(data, dict) and r.status_code >= 400 else None
        return Reply(r.status_code, data, code, dict(r.headers))

    async def _grpc(self, rpc: Any, request: Any, jwt: str | None, unwrap: str | None
                    ) -> Reply:
        md = (("authorization", f"Bearer {jwt}"),) if jwt is not None else ()
        try:
            response = await rpc(request, metadata=md)
        except grpc.aio.AioRpcError as exc:
            return Reply(HTTP_FOR_GRPC.get(exc.code(), 500), {"message": exc.details()},
                         error_reason(exc))
        return Reply(200, message_to_json(getattr(response, unwrap) if unwrap else response))

    async def start(self, jwt: str | None) -> Reply:
        if self.transport == "rest":
            return await self._rest("GET", SELF, jwt)
        return await self._grpc(self.stub.StartFIDORegister, selfsvc.StartFIDORegisterRequest(),
                                jwt, "challenge")

    async def complete(self, jwt: str | None, body: dict[str, Any]) -> Reply:
        if self.transport == "rest":
            return await self._rest("POST", SELF, jwt, body)
        return await self._grpc(self.stub.CompleteFIDORegister,
                                json_to_message(body, selfsvc.CompleteFIDORegisterRequest),
                                jwt, "fido_token")

    async def get(self, jwt: str | None, fidoid: str) -> Reply:
        if self.transport == "rest":
            return await self._rest("GET", f"{SELF}/{fidoid}", jwt)
        return await self._grpc(self.stub.GetSelfFIDOToken,
                                selfsvc.GetSelfFIDOTokenRequest(fidoid=fidoid), jwt, "fido_token")

    async def update(self, jwt: str | None, fidoid: str, body: dict[str, Any]) -> Reply:
        if self.transport == "rest":
            return await self._rest("PUT", f"{SELF}/{fidoid}", jwt, body)
        req = json_to_message(body, selfsvc.UpdateSelfFIDOTokenRequest)
        req.fidoid = fidoid
        return await self._grpc(self.stub.UpdateSelfFIDOToken, req, jwt, None)

    async def delete(self, jwt: str | None, fidoid: str) -> Reply:
        if self.transport == "rest":
            return await self._rest("DELETE", f"{SELF}/{fidoid}", jwt)
        return await self._grpc(self.stub.DeleteSelfFIDOToken,
                                selfsvc.DeleteSelfFIDOTokenRequest(fidoid=fidoid), jwt, None)


async def passkey_app(admin: Admin, **extra: Any) -> str:
    """An application allowing PASSWORD, FIDO and PASSKEY with RP localhost
    and origin https://app.example."""
    body = {"name": f"passkeys-{uuid.uuid4().hex[:8]}",
            "authenticators": ["PASSWORD", "FIDO", "PASSKEY", "PASSWORD_AND_SECONDFACTOR"],
            "webauthn": {"rpId": RP_ID, "origins": [ORIGIN]}, **extra}
    app = await admin.req("POST", "/api/admin/v1/applications", body)
    return str(app["applicationId"])


async def login(api: Api, app_id: str, user_id: str, password: str = PASSWORD) -> str:
    """A session JWT from a PASSWORD authentication."""
    ch = await api.challenge("PASSWORD", {"applicationId": app_id, "userId": user_id})
    assert ch.status == 200, ch
    done = await api.complete("PASSWORD", {"response": password}, ch.body["token"])
    assert done.status == 200 and done.body["authenticationCompleted"], done
    return str(done.body["token"])


async def user_with_password(admin: Admin, user_id: str, **attrs: Any) -> None:
    await admin.user(user_id, **attrs)
    await admin.password(user_id, PASSWORD)
