"""One client interface over both transports, so each flow test runs over REST
and over gRPC and asserts the same things.

gRPC requests are built from the same JSON bodies with the bridge's codec;
replies come back as (HTTP-equivalent status, JSON body, error reason).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
from google.rpc import error_details_pb2, status_pb2

from authcore.v1 import (
    authentication_pb2 as authn,
)
from authcore.v1 import (
    authentication_pb2_grpc,
    management_pb2_grpc,
)
from authcore.v1 import (
    management_pb2 as mgmt,
)
from authcore_testkit.server import RunningServer
from rest_bridge.codec import json_to_message, message_to_json

HTTP_FOR_GRPC = {
    grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400, grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403, grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409, grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429, grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500, grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}


@dataclass
class Reply:
    status: int
    body: Any
    error_code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class RestApi:
    transport = "rest"

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.http = httpx.AsyncClient(base_url=server.http_url, timeout=30)

    async def close(self) -> None:
        await self.http.aclose()

    async def _post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Reply:
        r = await self.http.post(path, json=body, headers=headers or {})
        data = r.json() if r.content else None
        code = data.get("errorCode") if isinstance(data, dict) and r.status_code >= 400 else None
        return Reply(r.status_code, data, code, dict(r.headers))

    async def query(self, body: dict[str, Any]) -> Reply:
        return await self._post("/api/web/v2/authentication/users", body)

    async def challenge(self, authenticator: str, body: dict[str, Any]) -> Reply:
        return await self._post(
            f"/api/web/v2/authentication/users/authenticate/{authenticator}", body)

    async def complete(self, authenticator: str, body: dict[str, Any], token: str | None
                       ) -> Reply:
        headers = {"Authorization": token} if token is not None else {}
        return await self._post(
            f"/api/web/v1/authentication/users/authenticate/{authenticator}/complete",
            body, headers)

    async def logout(self, token: str) -> Reply:
        r = await self.http.post("/api/web/v1/authentication/logout",
                                 headers={"Authorization": f"Bearer {token}"})
        data = r.json() if r.content else None
        code = data.get("errorCode") if isinstance(data, dict) else None
        return Reply(r.status_code, data, code, dict(r.headers))


class GrpcApi:
    transport = "grpc"

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.channel = grpc.aio.insecure_channel(server.grpc_target)
        self.authn = authentication_pb2_grpc.AuthenticationServiceStub(self.channel)
        self.mgmt = management_pb2_grpc.ManagementServiceStub(self.channel)

    async def close(self) -> None:
        await self.channel.close()

    async def _call(self, rpc: Any, request: Any, *, unwrap: str | None = None,
                    metadata: tuple[tuple[str, str], ...] = ()) -> Reply:
        try:
            response = await rpc(request, metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            return Reply(HTTP_FOR_GRPC.get(exc.code(), 500), {"message": exc.details()},
                         error_reason(exc))
        if unwrap:
            response = getattr(response, unwrap)
        return Reply(200, message_to_json(response))

    async def query(self, body: dict[str, Any]) -> Reply:
        return await self._call(self.authn.QueryUserAuthenticators,
                                json_to_message(body, authn.QueryUserAuthenticatorsRequest))

    async def challenge(self, authenticator: str, body: dict[str, Any]) -> Reply:
        req = json_to_message({**body, "authenticator": authenticator},
                              authn.RequestUserChallengeRequest)
        return await self._call(self.authn.RequestUserChallenge, req, unwrap="authenticated")

    async def complete(self, authenticator: str, body: dict[str, Any], token: str | None
                       ) -> Reply:
        req = json_to_message({**body, "authenticator": authenticator},
                              authn.AuthenticateUserChallengeRequest)
        # gRPC clients send the challenge token as metadata.
        md = (("authorization", token),) if token is not None else ()
        return await self._call(self.authn.AuthenticateUserChallenge, req,
                                unwrap="authenticated", metadata=md)

    async def logout(self, token: str) -> Reply:
        return await self._call(self.authn.Logout, authn.LogoutRequest(),
                                metadata=(("authorization", f"Bearer {token}"),))


def error_reason(exc: grpc.aio.AioRpcError) -> str | None:
    for key, value in exc.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info.reason
    return None


class Admin:
    """REST admin calls used to set up fixtures."""

    def __init__(self, server: RunningServer) -> None:
        self.http = httpx.AsyncClient(
            base_url=server.http_url, timeout=30,
            headers={"Authorization": f"Bearer {server.admin_key}"})

    async def close(self) -> None:
        await self.http.aclose()

    async def req(self, method: str, path: str, body: Any = None,
                  params: dict[str, str] | None = None) -> Any:
        r = await self.http.request(method, path, json=body, params=params)
        assert r.status_code < 300, (r.status_code, r.text)
        return r.json() if r.content else None

    async def user(self, user_id: str, **attrs: Any) -> dict[str, Any]:
        return await self.req("POST", "/api/admin/v1/users",  # type: ignore[no-any-return]
                              {"userId": user_id, **attrs})

    async def password(self, user_id: str, password: str, expires_at: str | None = None
                       ) -> None:
        body: dict[str, Any] = {"password": password}
        if expires_at:
            body["expiresAt"] = expires_at
        await self.req("PUT", f"/api/admin/v1/users/{user_id}/password", body)

    async def outbox(self, user_id: str) -> list[dict[str, Any]]:
        data = await self.req("GET", "/api/admin/v1/outbox", params={"userId": user_id})
        return data["messages"]  # type: ignore[no-any-return]


__all__ = ["Admin", "GrpcApi", "Reply", "RestApi", "mgmt"]
