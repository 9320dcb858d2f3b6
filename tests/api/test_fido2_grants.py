"""LoginID's management calls (/fido2/v2/mgmt) and the grants every client
endpoint enforces: a grant token minted by the backend opens exactly its
grants over its username, for five minutes; a session JWT opens them all;
`mgmt/token/verify` checks a session JWT; `version` answers anyone."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from typing import Any

import pytest

from authcore_testkit.api import Admin
from authcore_testkit.consumer import sandbox_server
from authcore_testkit.loginid import LoginIdClient, signed_up
from authcore_testkit.server import RunningServer, run_server
from authcore_testkit.soft_webauthn import SoftAuthenticator

ALL = ["passkey:read", "passkey:write", "profile:read", "profile:write", "reg:write",
       "auth:write"]


def admin_auth(server: RunningServer) -> str:
    return "Bearer " + server.admin_key


async def grant(loginid: LoginIdClient, app_id: str, username: str, grants: list[str]) -> str:
    minted = await loginid.call("grant", {"grants": grants, "username": username,
                                          "appId": app_id},
                                authorization=admin_auth(loginid.server))
    assert minted.status == 200, minted
    assert set(minted.body) == {"token"} and "." not in minted.body["token"]
    return str(minted.body["token"])


def create_key(server: RunningServer, *scopes: str) -> str:
    args = [sys.executable, "-m", "authcore.cli", "admin", "create-key", "--name", "backend"]
    for scope in scopes:
        args += ["--scope", scope]
    out = subprocess.run(args, env={**os.environ, "AUTHCORE_DATA_DIR": str(server.data_dir)},
                         capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip().splitlines()[-1]


async def test_a_grant_opens_exactly_its_grants(loginid: LoginIdClient, app_id: str,
                                                origin: str, username: str) -> None:
    await signed_up(loginid, app_id, origin, username)
    reader = await grant(loginid, app_id, username, ["passkey:read"])
    listed = await loginid.call("list_passkeys", authorization="Bearer " + reader)
    assert listed.status == 200 and len(listed.body) == 1
    passkey_id = listed.body[0]["id"]
    refused = await loginid.call("rename_passkey", {"name": "x"}, path={"id": passkey_id},
                                 authorization=reader)
    assert refused.status == 403
    if loginid.transport == "grpc":
        assert refused.error_code == "missing_grant"
    else:
        assert "passkey:write" in refused.body["msg"]
    for op, kwargs in (("delete_passkey", {"path": {"id": passkey_id}}),
                       ("list_devices", {}),
                       ("delete_phone", {"path": {"id": username}})):
        assert (await loginid.call(op, authorization=reader, **kwargs)).status == 403, op
    # Nothing changed, and a token with the grant may.
    assert (await loginid.call("list_passkeys", authorization=reader)).body == listed.body
    writer = await grant(loginid, app_id, username, ["passkey:write"])
    renamed = await loginid.call("rename_passkey", {"name": "Granted"},
                                 path={"id": passkey_id}, authorization=writer)
    assert renamed.status == 204
    assert (await loginid.call("list_passkeys", authorization=reader)).body[0]["name"] == \
        "Granted"
    # A grant token is no session: it mints no sign-in code.
    coded = await loginid.call("request_auth_code", authorization=await grant(
        loginid, app_id, username, ALL))
    assert coded.status == 403


async def test_a_grant_is_bound_to_its_application_and_expires(
        loginid: LoginIdClient, admin: Admin, server: RunningServer, app_id: str, origin: str,
        username: str) -> None:
    await signed_up(loginid, app_id, origin, username)
    token = await grant(loginid, app_id, username, ["passkey:read"])
    other = str((await admin.req("POST", "/api/admin/v1/applications", {
        "name": "other", "webauthn": {"rpId": "localhost", "origins": [origin]}}))
        ["applicationId"])
    # Addressed to another application's host: as good as none.
    assert (await loginid.call("list_passkeys", authorization=token,
                               host=f"{other}.auth.example.com")).status == 401
    assert (await loginid.call("list_passkeys", authorization=token,
                               host=f"{app_id}.auth.example.com")).status == 200


async def test_a_grant_expires_after_five_minutes() -> None:
    with sandbox_server() as (server, clock):
        client = LoginIdClient(server, "rest")
        try:
            app_id, username = server.demo_application_id, f"exp-{uuid.uuid4().hex[:10]}"
            origin = "http://localhost:" + server.http_url.rsplit(":", 1)[1]
            await signed_up(client, app_id, origin, username)
            token = await grant(client, app_id, username, ["passkey:read"])
            clock.set(290)
            assert (await client.call("list_passkeys", authorization=token)).status == 200
            clock.set(301)
            assert (await client.call("list_passkeys", authorization=token)).status == 401
        finally:
            await client.close()


async def test_reg_write_vouches_for_a_new_user_where_sign_up_is_closed(
        loginid: LoginIdClient, admin: Admin, origin: str) -> None:
    closed = str((await admin.req("POST", "/api/admin/v1/applications", {
        "name": "closed", "webauthn": {"rpId": "localhost", "origins": [origin]}}))
        ["applicationId"])
    username = f"vouched-{uuid.uuid4().hex[:10]}"
    alone = await loginid.call("reg_init", {"app": {"id": closed}, "deviceInfo": {},
                                            "user": {"username": username}}, origin=origin)
    assert alone.status == 403
    token = await grant(loginid, closed, username, ["reg:write"])
    # Not for another name...
    other = await loginid.call("reg_init", {"app": {"id": closed}, "deviceInfo": {},
                                            "user": {"username": username + "x"}},
                               authorization=token, origin=origin)
    assert other.status == 403
    # ...nor without reg:write.
    reader = await grant(loginid, closed, username, ["passkey:read"])
    lacking = await loginid.call("reg_init", {"app": {"id": closed}, "deviceInfo": {},
                                              "user": {"username": username}},
                                 authorization=reader, origin=origin)
    assert lacking.status == 403
    done = await loginid.register(app_id=closed, username=username,
                                  authenticator=SoftAuthenticator(), origin=origin, jwt=token)
    assert done.status == 200 and done.body["userId"] == username
    # The same token adds a second passkey to the user it now names.
    again = await loginid.register(app_id=closed, username=username,
                                   authenticator=SoftAuthenticator(), origin=origin, jwt=token)
    assert again.status == 200
    listed = await loginid.call("list_passkeys", authorization=done.body["jwtAccess"])
    assert len(listed.body) == 2


@pytest.mark.parametrize("transport", ["rest", "grpc"])
async def test_grant_needs_the_loginid_scope(transport: str) -> None:
    # Keys are made by the CLI, which this server's SQLite file serves.
    with run_server() as server:
        loginid = LoginIdClient(server, transport)
        try:
            await _scopes(loginid, server, server.demo_application_id)
        finally:
            await loginid.close()


async def _scopes(loginid: LoginIdClient, server: RunningServer, app_id: str) -> None:
    body = {"grants": ["passkey:read"], "username": "someone", "appId": app_id}
    assert (await loginid.call("grant", body)).status == 401
    assert (await loginid.call("grant", body, authorization="Bearer ak_nope")).status == 401
    scim_only = create_key(server, "scim")
    assert (await loginid.call("grant", body, authorization="Bearer " + scim_only)).status == 403
    backend = create_key(server, "loginid")
    assert (await loginid.call("grant", body, authorization="Bearer " + backend)).status == 200
    # ...and that key administers nothing else.
    assert (await loginid.call("verify_token", {"jwtAccess": "x.y.z", "appId": app_id},
                               authorization="Bearer " + backend)).status == 401


async def test_grant_bad_input(loginid: LoginIdClient, app_id: str) -> None:
    auth = admin_auth(loginid.server)
    good: dict[str, Any] = {"grants": ["passkey:read"], "username": "u1", "appId": app_id}
    cases: list[tuple[dict[str, Any], int]] = [
        ({**good, "grants": []}, 400),
        ({**good, "grants": ["passkey:read", "root"]}, 400),
        ({**good, "username": ""}, 400),
        ({**good, "username": "x" * 300}, 400),
        ({**good, "appId": ""}, 400),
        ({**good, "appId": str(uuid.uuid4())}, 404),
    ]
    for body, status in cases:
        got = await loginid.call("grant", body, authorization=auth)
        assert got.status == status, (body, got)
    # The host names the application when the body doesn't; they must agree.
    hosted = await loginid.call("grant", {**good, "appId": ""}, authorization=auth,
                                host=f"{app_id}.auth.example.com")
    assert hosted.status == 200
    clash = await loginid.call("grant", {**good, "appId": str(uuid.uuid4())},
                               authorization=auth, host=f"{app_id}.auth.example.com")
    assert clash.status == 400
    if loginid.transport == "rest":
        for raw in (b"{", b'{"grants": "passkey:read", "username": "u1"}',
                    b'{"grants": [1], "username": "u1"}'):
            r = await loginid.http.post("/fido2/v2/mgmt/grant", content=raw, headers={
                "Authorization": auth, "Content-Type": "application/json"})
            assert r.status_code == 400, (raw, r.text)
            assert set(r.json()) == {"msg", "msgCode"}


async def test_token_verify(loginid: LoginIdClient, admin: Admin, app_id: str, origin: str,
                            username: str) -> None:
    auth = admin_auth(loginid.server)
    _, jwt = await signed_up(loginid, app_id, origin, username)
    ok = await loginid.call("verify_token", {"jwtAccess": jwt, "appId": app_id},
                            authorization=auth)
    assert ok.status == 204
    other = str((await admin.req("POST", "/api/admin/v1/applications", {
        "name": "other", "webauthn": {"rpId": "localhost", "origins": [origin]}}))
        ["applicationId"])
    for body, status in (({"jwtAccess": jwt, "appId": other}, 401),
                         ({"jwtAccess": jwt[:-4] + "AAAA", "appId": app_id}, 401),
                         ({"jwtAccess": "garbage", "appId": app_id}, 401),
                         ({"jwtAccess": "x" * 10_000, "appId": app_id}, 401),
                         ({"jwtAccess": "", "appId": app_id}, 400)):
        got = await loginid.call("verify_token", body, authorization=auth)
        assert got.status == status, (body, got)
    # A grant token is not an access token.
    token = await grant(loginid, app_id, username, ALL)
    assert (await loginid.call("verify_token", {"jwtAccess": token, "appId": app_id},
                               authorization=auth)).status == 401


async def test_version(loginid: LoginIdClient) -> None:
    from authcore import __version__

    got = await loginid.call("version")
    assert got.status == 200 and got.body == {"version": __version__, "server": "authcore"}
