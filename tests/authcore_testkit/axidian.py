"""An Axidian Access logon v5 client over REST and over gRPC, so each test
runs on both transports and asserts the same things.

gRPC requests are built from the same JSON bodies (Axidian's PascalCase
names) with the bridge's codec, and replies are read back as JSON, so a test
sees (HTTP-equivalent status, JSON body, error code) either way. Over REST
every error body must be Axidian's {Message, ErrorCode}, with no traceback;
over gRPC the error code is the ErrorInfo reason, which the bridge renders as
ErrorCode.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import grpc
import httpx

from authcore.axidian.v5 import logon_pb2 as pb
from authcore.axidian.v5 import logon_pb2_grpc
from authcore_testkit.api import HTTP_FOR_GRPC, Admin, Reply, error_reason
from authcore_testkit.server import RunningServer
from rest_bridge.codec import field_to_json, json_to_message, message_to_json

# The modes (methods), as the README lists them.
PASSWORD_MODE = "cf189af5-01c5-469d-a859-a8f2f41ed153"
TOTP_MODE = "92407cee-c79e-5d69-8b85-89cbd0c42e8c"
OTP_SMS_MODE = "e71b08cf-6ec5-584a-9222-27fcc9da97f8"
OTP_EMAIL_MODE = "5467a1db-54fc-52ad-a797-2a09d550a343"


@dataclass(frozen=True)
class Op:
    path: str
    service: str
    rpc: str
    request: Any
    unwrap: str | None = None   # the RPC's response_body field
    empty: bool = False         # REST answers 200 with an empty body


OPS: dict[str, Op] = {
    "is_available": Op("/api/v5/logon/isAvailable", "logon", "IsAvailable",
                       pb.IsAvailableRequest, unwrap="available"),
    "get_available_methods": Op("/api/v5/logon/getAvailableMethods", "logon",
                                "GetAvailableMethods", pb.GetAvailableMethodsRequest),
    "authenticate": Op("/api/v5/logon/authenticate", "logon", "Authenticate",
                       pb.AuthenticateRequest),
    "open_verify_session": Op("/api/v5/templateSession/openVerifySession", "session",
                              "OpenVerifySession", pb.OpenVerifySessionRequest),
    "prepare_template_data": Op("/api/v5/templateSession/prepareTemplateData", "session",
                                "PrepareTemplateData", pb.PrepareTemplateDataRequest,
                                empty=True),
    "create_template": Op("/api/v5/templateSession/createTemplate", "session",
                          "CreateTemplate", pb.CreateTemplateRequest),
}
PATHS = {name: op.path for name, op in OPS.items()}


def check_error_body(status: int, body: Any, text: str = "") -> None:
    """A REST error is Axidian's {Message, ErrorCode} and never a 5xx."""
    assert 400 <= status < 500, (status, body)
    assert isinstance(body, dict) and set(body) == {"Message", "ErrorCode"}, body
    assert isinstance(body["Message"], str) and body["Message"], body
    assert isinstance(body["ErrorCode"], str) and body["ErrorCode"], body
    assert "Traceback" not in text and 'File "' not in text, text


class AxidianClient:
    """`call(op, body)` over one transport, plus the whole template flow."""

    def __init__(self, server: RunningServer, transport: str) -> None:
        self.server = server
        self.transport = transport
        self.http = httpx.AsyncClient(base_url=server.http_url, timeout=60)
        self.channel = grpc.aio.insecure_channel(server.grpc_target)
        self.stubs = {"logon": logon_pb2_grpc.LogonServiceStub(self.channel),
                      "session": logon_pb2_grpc.TemplateSessionServiceStub(self.channel)}

    async def close(self) -> None:
        await self.http.aclose()
        await self.channel.close()

    async def call(self, op_name: str, body: dict[str, Any]) -> Reply:
        op = OPS[op_name]
        if self.transport == "rest":
            return await self._rest(op, body)
        return await self._grpc(op, body)

    async def _rest(self, op: Op, body: dict[str, Any]) -> Reply:
        r = await self.http.post(op.path, json=body)
        data = r.json() if r.content else None
        if r.status_code >= 400:
            check_error_body(r.status_code, data, r.text)
            assert isinstance(data, dict)
            return Reply(r.status_code, data, data["ErrorCode"], dict(r.headers))
        assert r.status_code == 200, (r.status_code, r.text)
        if op.empty:
            assert r.content == b"", r.content
        return Reply(r.status_code, data, None, dict(r.headers))

    async def _grpc(self, op: Op, body: dict[str, Any]) -> Reply:
        request = json_to_message(body, op.request)
        try:
            response = await getattr(self.stubs[op.service], op.rpc)(request)
        except grpc.aio.AioRpcError as exc:
            return Reply(HTTP_FOR_GRPC.get(exc.code(), 500), {"Message": exc.details()},
                         error_reason(exc))
        if op.empty:
            return Reply(200, None)
        if op.unwrap:
            field = response.DESCRIPTOR.fields_by_name[op.unwrap]
            return Reply(200, field_to_json(response, field))
        return Reply(200, message_to_json(response))

    # -- the operations -------------------------------------------------------

    async def is_available(self, app_id: str, user_id: str, **extra: Any) -> Reply:
        return await self.call("is_available",
                               {"ApplicationId": app_id, "UserId": user_id, **extra})

    async def methods(self, app_id: str, user_id: str, **extra: Any) -> Reply:
        return await self.call("get_available_methods",
                               {"ApplicationId": app_id, "UserId": user_id, **extra})

    async def open(self, app_id: str, user_id: str, mode: str) -> Reply:
        return await self.call("open_verify_session", {
            "UserSearchParams": {"UserId": user_id}, "ModeId": mode, "ApplicationId": app_id})

    async def prepare(self, session_id: str, data: str) -> Reply:
        return await self.call("prepare_template_data",
                               {"SessionId": session_id, "Data": data})

    async def create_template(self, session_id: str) -> Reply:
        return await self.call("create_template", {"SessionId": session_id})

    async def authenticate(self, template_id: str, business_application: str | None = None
                           ) -> Reply:
        body = {"TemplateId": template_id}
        if business_application is not None:
            body["BusinessApplication"] = business_application
        return await self.call("authenticate", body)

    async def session(self, app_id: str, user_id: str, mode: str) -> str:
        """A new verify session's id (the call must succeed)."""
        opened = await self.open(app_id, user_id, mode)
        assert opened.status == 200, opened
        assert set(opened.body) == {"SessionId"}, opened.body
        return str(opened.body["SessionId"])

    async def template(self, app_id: str, user_id: str, mode: str, data: str) -> Reply:
        """open → prepare → create; the createTemplate reply."""
        session_id = await self.session(app_id, user_id, mode)
        prepared = await self.prepare(session_id, data)
        assert prepared.status == 200 and prepared.body is None, prepared
        return await self.create_template(session_id)

    async def logon(self, app_id: str, user_id: str, mode: str, data: str) -> Reply:
        """The whole flow; the authenticate reply."""
        created = await self.template(app_id, user_id, mode, data)
        assert created.status == 200, created
        return await self.authenticate(created.body["TemplateId"])


async def otp_session(client: AxidianClient, admin: Admin, app_id: str, user_id: str,
                      mode: str) -> tuple[str, str]:
    """A verify session for an OTP mode and the code it sent (from the outbox)."""
    before = len(await admin.outbox(user_id))
    session_id = await client.session(app_id, user_id, mode)
    messages = await admin.outbox(user_id)
    assert len(messages) == before + 1, messages
    found = re.search(r"\b(\d{6,8})\b", messages[-1]["text"])
    assert found, messages[-1]
    return session_id, found.group(1)


__all__ = [
    "OPS",
    "OTP_EMAIL_MODE",
    "OTP_SMS_MODE",
    "PASSWORD_MODE",
    "PATHS",
    "TOTP_MODE",
    "AxidianClient",
    "check_error_body",
    "otp_session",
]
