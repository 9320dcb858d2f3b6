"""Entrust self-service values and offline OTP batches over REST and gRPC
(SelfValuesService, SelfService.GetOfflineTokenResponses), one interface.

Replies are (HTTP status, JSON body, error code). REST errors of
/self/values are Entrust's `Error` ({code, message, target}), of
/self/tokens/offline its `ErrorInfo`; `error_code` is read from either. Over
gRPC the status is HTTP_FOR_GRPC's (a 409 Conflict is FAILED_PRECONDITION
there, so 400) and the code is the ErrorInfo reason.
"""

from __future__ import annotations

from typing import Any

import grpc
import httpx

from authcore.v1 import self_service_pb2 as selfsvc
from authcore.v1 import self_service_pb2_grpc
from authcore_testkit.api import HTTP_FOR_GRPC, Reply, error_reason
from authcore_testkit.server import RunningServer
from rest_bridge.codec import field_to_json, json_to_message, message_to_json

VALUES = "/api/web/v1/self/values"
OFFLINE = "/api/web/v1/self/tokens/offline"


class SelfApi:
    def __init__(self, server: RunningServer, transport: str) -> None:
        self.transport = transport
        if transport == "rest":
            self.http = httpx.AsyncClient(base_url=server.http_url, timeout=60)
        else:
            self.channel = grpc.aio.insecure_channel(server.grpc_target)
            self.values = self_service_pb2_grpc.SelfValuesServiceStub(self.channel)
            self.self = self_service_pb2_grpc.SelfServiceStub(self.channel)

    async def close(self) -> None:
        if self.transport == "rest":
            await self.http.aclose()
        else:
            await self.channel.close()

    async def _rest(self, method: str, path: str, jwt: str | None, body: Any) -> Reply:
        headers = {"Authorization": f"Bearer {jwt}"} if jwt is not None else {}
        r = await self.http.request(method, path, json=body, headers=headers)
        data = r.json() if r.content else None
        code = None
        if isinstance(data, dict) and r.status_code >= 400:
            code = data.get("code") or data.get("errorCode")
        return Reply(r.status_code, data, code, dict(r.headers))

    async def _grpc(self, rpc: Any, request: Any, jwt: str | None, unwrap: str | None) -> Reply:
        md = (("authorization", f"Bearer {jwt}"),) if jwt is not None else ()
        try:
            response = await rpc(request, metadata=md)
        except grpc.aio.AioRpcError as exc:
            return Reply(HTTP_FOR_GRPC.get(exc.code(), 500), {"message": exc.details()},
                         error_reason(exc))
        if unwrap is None:
            return Reply(200, message_to_json(response))
        return Reply(200, field_to_json(response, response.DESCRIPTOR.fields_by_name[unwrap]))

    async def get_values(self, jwt: str | None) -> Reply:
        if self.transport == "rest":
            return await self._rest("GET", VALUES, jwt, None)
        return await self._grpc(self.values.GetSelfValues, selfsvc.GetSelfValuesRequest(),
                                jwt, "values")

    async def set_values(self, jwt: str | None, values: Any) -> Reply:
        if self.transport == "rest":
            return await self._rest("POST", VALUES, jwt, values)
        req = json_to_message({"values": values}, selfsvc.SetSelfValuesRequest)
        reply = await self._grpc(self.values.SetSelfValues, req, jwt, None)
        # REST answers an empty body; so does this, for the same asserts.
        return Reply(reply.status, None if reply.ok else reply.body, reply.error_code)

    async def delete_values(self, jwt: str | None, names: Any) -> Reply:
        if self.transport == "rest":
            return await self._rest("PUT", VALUES, jwt, names)
        req = json_to_message({"names": names}, selfsvc.DeleteSelfValuesRequest)
        return await self._grpc(self.values.DeleteSelfValues, req, jwt, "values")

    async def verify_value(self, jwt: str | None, body: dict[str, Any]) -> Reply:
        if self.transport == "rest":
            return await self._rest("POST", f"{VALUES}/verify", jwt, body)
        req = json_to_message(body, selfsvc.VerifySelfValueRequest)
        return await self._grpc(self.values.VerifySelfValue, req, jwt, "values")

    async def offline(self, jwt: str | None, body: dict[str, Any]) -> Reply:
        if self.transport == "rest":
            return await self._rest("POST", OFFLINE, jwt, body)
        req = json_to_message(body, selfsvc.GetOfflineTokenResponsesRequest)
        return await self._grpc(self.self.GetOfflineTokenResponses, req, jwt, "offline")


__all__ = ["OFFLINE", "VALUES", "SelfApi"]
