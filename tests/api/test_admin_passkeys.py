"""The admin API for passkeys: AAGUID blocklist entries per application, and
users' passkeys (list, rename, delete), over REST and gRPC."""

from __future__ import annotations

from typing import Any

import grpc
import httpx
import pytest

from authcore.v1 import management_pb2 as mgmt
from authcore.v1 import management_pb2_grpc
from authcore_testkit.api import Admin, GrpcApi, RestApi, error_reason
from authcore_testkit.entrust_fido import (
    ORIGIN,
    SelfApi,
    creation_options,
    fido_response,
    login,
    passkey_app,
    register_body,
    request_options,
    user_with_password,
)
from authcore_testkit.server import RunningServer
from authcore_testkit.soft_webauthn import SoftAuthenticator
from rest_bridge.codec import json_to_message, message_to_json

Api = RestApi | GrpcApi
APPLE = "fbfc3007-154e-4ecc-8c0b-6e020557d7bd"  # Apple Passwords, in the shipped list


class AdminCalls:
    """The six admin RPCs over one transport, answering (status, body, reason)."""

    def __init__(self, server: RunningServer, transport: str) -> None:
        self.transport = transport
        self.http = httpx.AsyncClient(base_url=server.http_url, timeout=30,
                                      headers={"Authorization": f"Bearer {server.admin_key}"})
        self.channel = grpc.aio.insecure_channel(server.grpc_target)
        self.stub = management_pb2_grpc.ManagementServiceStub(self.channel)
        self.md = (("authorization", f"Bearer {server.admin_key}"),)

    async def close(self) -> None:
        await self.http.aclose()
        await self.channel.close()

    async def call(self, rpc: str, verb: str, path: str, body: dict[str, Any],
                   ) -> tuple[int, Any, str | None]:
        if self.transport == "rest":
            r = await self.http.request(verb, path, json=body if verb in ("POST", "PUT") else None)
            data = r.json() if r.content else None
            code = data.get("errorCode") if isinstance(data, dict) and r.status_code >= 400 \
                else None
            return r.status_code, data, code
        request_cls = getattr(mgmt, f"{rpc}Request")
        try:
            response = await getattr(self.stub, rpc)(json_to_message(body, request_cls),
                                                     metadata=self.md)
        except grpc.aio.AioRpcError as exc:
            status = {grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.NOT_FOUND: 404,
                      grpc.StatusCode.UNAUTHENTICATED: 401}.get(exc.code(), 500)
            return status, None, error_reason(exc)
        status = 204 if rpc.startswith("Delete") else 200
        return status, message_to_json(response) if status == 200 else None, None

    async def list_blocks(self, app: str) -> tuple[int, Any, str | None]:
        return await self.call("ListAaguidBlocks", "GET",
                               f"/api/admin/v1/applications/{app}/aaguid-blocklist",
                               {"applicationId": app})

    async def add_block(self, app: str, body: dict[str, Any]) -> tuple[int, Any, str | None]:
        return await self.call("AddAaguidBlock", "POST",
                               f"/api/admin/v1/applications/{app}/aaguid-blocklist",
                               {"applicationId": app, **body})

    async def delete_block(self, app: str, aaguid: str) -> tuple[int, Any, str | None]:
        return await self.call("DeleteAaguidBlock", "DELETE",
                               f"/api/admin/v1/applications/{app}/aaguid-blocklist/{aaguid}",
                               {"applicationId": app, "aaguid": aaguid})

    async def list_passkeys(self, user: str) -> tuple[int, Any, str | None]:
        return await self.call("ListUserPasskeys", "GET", f"/api/admin/v1/users/{user}/passkeys",
                               {"userId": user})

    async def rename(self, user: str, pid: str, name: str) -> tuple[int, Any, str | None]:
        return await self.call("RenameUserPasskey", "PUT",
                               f"/api/admin/v1/users/{user}/passkeys/{pid}",
                               {"userId": user, "passkeyId": pid, "name": name})

    async def delete(self, user: str, pid: str) -> tuple[int, Any, str | None]:
        return await self.call("DeleteUserPasskey", "DELETE",
                               f"/api/admin/v1/users/{user}/passkeys/{pid}",
                               {"userId": user, "passkeyId": pid})


@pytest.fixture(params=["rest", "grpc"])
async def calls(request: pytest.FixtureRequest, server: RunningServer) -> Any:
    client = AdminCalls(server, request.param)
    yield client
    await client.close()


async def test_aaguid_blocklist_entries(calls: AdminCalls, admin: Admin) -> None:
    app = await passkey_app(admin)
    status, body, _ = await calls.list_blocks(app)
    assert status == 200 and body["entries"] == []

    status, body, _ = await calls.add_block(app, {"aaguid": APPLE.upper()})
    assert status == 200, body
    assert body["entry"] == {"aaguid": APPLE, "reg": True, "auth": True,
                             "name": "Apple Passwords"}
    unknown = "00000000-1111-2222-3333-444444444444"
    status, body, _ = await calls.add_block(app, {"aaguid": unknown, "reg": False})
    assert status == 200 and body["entry"] == {"aaguid": unknown, "reg": False, "auth": True}
    # Adding again replaces the entry.
    status, body, _ = await calls.add_block(app, {"aaguid": APPLE, "auth": False})
    assert status == 200 and body["entry"]["reg"] is True and body["entry"]["auth"] is False

    status, body, _ = await calls.list_blocks(app)
    assert [(e["aaguid"], e["reg"], e["auth"]) for e in body["entries"]] == [
        (unknown, False, True), (APPLE, True, False)]
    # Per application: another application's list is empty.
    status, body, _ = await calls.list_blocks(await passkey_app(admin))
    assert body["entries"] == []

    status, _, _ = await calls.delete_block(app, APPLE.upper())
    assert status == 204
    status, _, reason = await calls.delete_block(app, APPLE)
    assert status == 404 and reason == "aaguid_block_not_found"
    status, body, _ = await calls.list_blocks(app)
    assert [e["aaguid"] for e in body["entries"]] == [unknown]


async def test_aaguid_blocklist_refusals(calls: AdminCalls, admin: Admin) -> None:
    app = await passkey_app(admin)
    for bad in ("not-a-uuid", "", "fbfc3007154e4ecc8c0b6e020557d7bdxx"):
        status, _, _ = await calls.add_block(app, {"aaguid": bad})
        assert status == 400, bad
    status, _, _ = await calls.add_block(app, {"aaguid": APPLE, "reg": False, "auth": False})
    assert status == 400
    status, _, reason = await calls.delete_block(app, "not-a-uuid")
    assert status == 400
    missing = "2b8b1d1c-9a3d-4c36-8f7c-3b1d0f6a0b11"
    for status, _, reason in (await calls.list_blocks(missing),
                              await calls.add_block(missing, {"aaguid": APPLE}),
                              await calls.delete_block(missing, APPLE)):
        assert status == 404 and reason == "application_not_found"


async def _passkey_user(server: RunningServer, admin: Admin, user_id: str
                        ) -> tuple[str, list[SoftAuthenticator]]:
    """An application and a user with two passkeys, "Phone" and "Laptop"."""
    app = await passkey_app(admin)
    await user_with_password(admin, user_id)
    api = RestApi(server)
    me = SelfApi(server, "rest")
    try:
        jwt = await login(api, app, user_id)
        auths = [SoftAuthenticator(aaguid=bytes.fromhex(APPLE.replace("-", "")),
                                   backup_eligible=True, backup_state=True) for _ in range(2)]
        for name, auth in zip(("Phone", "Laptop"), auths, strict=True):
            ch = await me.start(jwt)
            credential = auth.create(options=creation_options(ch.body), origin=ORIGIN)
            done = await me.complete(jwt, register_body(credential, name=name))
            assert done.status == 200, done
    finally:
        await api.close()
        await me.close()
    return app, auths


async def test_user_passkeys_list_rename_delete(calls: AdminCalls, admin: Admin,
                                                server: RunningServer, user_id: str) -> None:
    app, (phone_auth, laptop_auth) = await _passkey_user(server, admin, user_id)
    status, body, _ = await calls.list_passkeys(user_id)
    assert status == 200
    phone, laptop = body["passkeys"]
    assert (phone["name"], laptop["name"]) == ("Phone", "Laptop")
    assert phone["aaguid"] == APPLE and phone["providerName"] == "Apple Passwords"
    assert phone["backupEligible"] is True and phone["backupState"] is True
    assert phone["transports"] == ["internal"] and phone["rpId"] == "localhost"
    assert phone["signCount"] == 0 and "createdAt" in phone
    assert "lastUsedAt" not in phone and "flaggedAt" not in phone

    status, body, _ = await calls.rename(user_id, phone["passkeyId"], "  Old phone ")
    assert status == 200 and body["passkey"]["name"] == "Old phone"
    status, _, _ = await calls.rename(user_id, phone["passkeyId"], "   ")
    assert status == 400

    status, _, _ = await calls.delete(user_id, laptop["passkeyId"])
    assert status == 204
    status, body, _ = await calls.list_passkeys(user_id)
    assert [p["name"] for p in body["passkeys"]] == ["Old phone"]
    user = await admin.req("GET", f"/api/admin/v1/users/{user_id}")
    assert {"FIDO", "PASSKEY", "PASSWORD"} <= set(user["user"]["authenticators"])

    # The deleted credential no longer signs in; the other one does.
    api = GrpcApi(server)
    try:
        ch = await api.challenge("PASSKEY", {"applicationId": app})
        assertion = laptop_auth.get(options=request_options(ch.body["fidoChallenge"]),
                                    origin=ORIGIN)
        r = await api.complete("PASSKEY", {"fidoResponse": fido_response(assertion)},
                               ch.body["token"])
        assert r.status == 401 and r.error_code == "credential_mismatch"
        ch = await api.challenge("FIDO", {"applicationId": app, "userId": user_id})
        assertion = phone_auth.get(options=request_options(ch.body["fidoChallenge"]),
                                   origin=ORIGIN)
        r = await api.complete("FIDO", {"fidoResponse": fido_response(assertion)},
                               ch.body["token"])
        assert r.status == 200, r
    finally:
        await api.close()
    status, body, _ = await calls.list_passkeys(user_id)
    assert "lastUsedAt" in body["passkeys"][0] and body["passkeys"][0]["signCount"] == 1


async def test_user_passkeys_not_found(calls: AdminCalls, admin: Admin, server: RunningServer,
                                       user_id: str) -> None:
    await _passkey_user(server, admin, user_id)
    status, body, _ = await calls.list_passkeys(user_id)
    pid = body["passkeys"][0]["passkeyId"]
    for status, _, reason in (await calls.list_passkeys("ghost"),
                              await calls.rename("ghost", pid, "x"),
                              await calls.delete("ghost", pid)):
        assert status == 404 and reason == "user_not_found"
    # Another user's passkey id is not found for this user.
    await admin.user("other-" + user_id)
    for status, _, reason in (await calls.rename("other-" + user_id, pid, "x"),
                              await calls.delete("other-" + user_id, pid),
                              await calls.rename(user_id, "nope", "x"),
                              await calls.delete(user_id, "nope")):
        assert status == 404 and reason == "passkey_not_found"
    status, body, _ = await calls.list_passkeys("other-" + user_id)
    assert status == 200 and body["passkeys"] == []


async def test_admin_passkey_api_needs_the_key(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        r = await http.get("/api/admin/v1/users/x/passkeys")
        assert r.status_code == 401 and r.json()["errorCode"] == "missing_admin_key"
        r = await http.post("/api/admin/v1/applications/x/aaguid-blocklist", json={})
        assert r.status_code == 401
