"""MFA's refresh tokens (POST /fido2/v2/mfa/token/refresh, flows/refresh.py)
over REST and gRPC: rotation, reuse detection that revokes the session, a
race of two redemptions, the family's fixed end, and bad input."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest

from authcore_testkit.api import Admin
from authcore_testkit.consumer import sandbox_server
from authcore_testkit.loginid import LoginIdClient, assertion_result, signed_up
from authcore_testkit.loginid_mfa import MfaClient, host_of, options_of
from authcore_testkit.server import RunningServer


@pytest.fixture(params=["rest", "grpc"])
async def client(request: pytest.FixtureRequest, server: RunningServer
                 ) -> AsyncIterator[MfaClient]:
    c = MfaClient(server, request.param)
    yield c
    await c.close()


def claims(token: str) -> dict[str, Any]:
    out: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return out


async def signed_in(client: MfaClient, server: RunningServer, app_id: str, origin: str,
                    username: str) -> dict[str, Any]:
    """The Mfa tokens of a passkey sign-in through the MFA flow."""
    loginid = LoginIdClient(server, "rest")
    try:
        authenticator, _ = await signed_up(loginid, app_id, origin, username)
    finally:
        await loginid.close()
    begun = await client.call("begin", {"user": {"username": username,
                                                 "usernameType": "email"}},
                              host=host_of(app_id, server), origin=origin)
    assert begun.status == 200, begun
    asserted = authenticator.get(options=options_of(begun.body, "passkey:auth"), origin=origin)
    done = await client.call("passkey_auth", {"assertionResult": assertion_result(asserted)},
                             session=begun.body["session"])
    assert done.status == 200, done
    body: dict[str, Any] = done.body
    return body


def refused(reply: Any, status: int, reason: str, words: str) -> bool:
    """LoginID's REST errors carry only the spec's msgCode for the status
    class; gRPC carries authcore's reason. Both carry the message."""
    if reply.status != status or words not in reply.body["msg"]:
        return False
    return bool(reply.error_code == (reason if "msgCode" not in reply.body
                                     else reply.body["msgCode"]))


async def session_works(server: RunningServer, token: str) -> int:
    """The status of an authenticated LoginID call with `token`."""
    loginid = LoginIdClient(server, "rest")
    try:
        r = await loginid.call("list_passkeys", authorization=f"Bearer {token}")
    finally:
        await loginid.close()
    return r.status


async def test_rotation_and_reuse_revokes_the_session(
        client: MfaClient, server: RunningServer, app_id: str, origin: str,
        username: str) -> None:
    first = await signed_in(client, server, app_id, origin, username)
    r1 = await client.call("token_refresh", {"refreshToken": first["refreshToken"]})
    assert r1.status == 200, r1
    old, new = claims(first["accessToken"]), claims(r1.body["accessToken"])
    # The same session, signed in at the same time, with the same methods.
    assert new["jti"] == old["jti"] and new["sub"] == old["sub"] == username
    assert new["auth_time"] == old["auth_time"] and new["amr"] == old["amr"] == ["passkey"]
    assert new["username"] == username and new["aud"] == app_id
    assert claims(r1.body["idToken"])["sid"] == old["jti"]
    assert r1.body["refreshToken"] != first["refreshToken"]
    assert jwt.get_unverified_header(r1.body["refreshToken"])["typ"] == "refresh+jwt"
    assert await session_works(server, r1.body["accessToken"]) == 200

    r2 = await client.call("token_refresh", {"refreshToken": r1.body["refreshToken"]})
    assert r2.status == 200, r2

    # The first refresh token again: someone else holds it. The whole
    # session ends, the live refresh token and the access tokens with it.
    reused = await client.call("token_refresh", {"refreshToken": first["refreshToken"]})
    assert refused(reused, 401, "refresh_token_reused", "already used"), reused
    after = await client.call("token_refresh", {"refreshToken": r2.body["refreshToken"]})
    assert after.status == 401, after
    assert await session_works(server, r2.body["accessToken"]) == 401
    assert await session_works(server, first["accessToken"]) == 401


async def test_two_redemptions_at_once_leave_one_winner(
        client: MfaClient, server: RunningServer, app_id: str, origin: str,
        username: str) -> None:
    first = await signed_in(client, server, app_id, origin, username)
    replies = await asyncio.gather(*(client.call("token_refresh",
                                                 {"refreshToken": first["refreshToken"]})
                                     for _ in range(4)))
    statuses = sorted(r.status for r in replies)
    # At most one wins; the losers are reuse, which revokes the session, so
    # even the winner's tokens end.
    assert statuses.count(200) <= 1 and all(s in (200, 401) for s in statuses), statuses
    assert any(refused(r, 401, "refresh_token_reused", "already used") for r in replies), \
        replies
    winners = [r for r in replies if r.status == 200]
    for won in winners:
        again = await client.call("token_refresh", {"refreshToken": won.body["refreshToken"]})
        assert again.status == 401, again


async def test_other_tokens_are_not_refresh_tokens(
        client: MfaClient, server: RunningServer, app_id: str, origin: str,
        username: str) -> None:
    first = await signed_in(client, server, app_id, origin, username)
    for name in ("accessToken", "idToken", "payloadSignature"):
        r = await client.call("token_refresh", {"refreshToken": first[name]})
        assert refused(r, 401, "invalid_token", "invalid or has expired"), (name, r)
    # A refresh token addressed to another application's host.
    other = await client.call("token_refresh", {"refreshToken": first["refreshToken"]},
                              host=host_of("0" * 8 + "-0000-4000-8000-" + "0" * 12, server))
    assert other.status == 401, other
    # None of that used the real one up.
    ok = await client.call("token_refresh", {"refreshToken": first["refreshToken"]})
    assert ok.status == 200, ok


async def test_bad_input(client: MfaClient) -> None:
    missing = await client.call("token_refresh", {})
    assert refused(missing, 400, "missing_field", "refreshToken is required"), missing
    for junk in ("x", "a.b.c", "ey" * 3000):
        r = await client.call("token_refresh", {"refreshToken": junk})
        assert r.status == 401, (junk[:10], r)
    if client.transport == "rest":
        for raw in (b"{", b'{"refreshToken": 5}', b"[]"):
            r = await client.call("token_refresh", raw=raw)
            assert r.status == 400, (raw, r)


async def test_the_family_ends_refresh_seconds_after_sign_in() -> None:
    # A server of its own (SQLite, sandbox) whose clock the test moves.
    with sandbox_server() as (sandbox, clock):
        admin = Admin(sandbox)
        client = MfaClient(sandbox, "rest")
        try:
            app_id = sandbox.demo_application_id
            await admin.req("PATCH", f"/api/admin/v1/applications/{app_id}",
                            {"tokenLifetimes": {"sessionSeconds": 60,
                                                "refreshSeconds": 600}})
            sandbox_origin = "http://localhost:" + sandbox.http_url.rsplit(":", 1)[1]
            first = await signed_in(client, sandbox, app_id, sandbox_origin,
                                    "family@example.com")
            assert claims(first["refreshToken"])["exp"] - claims(first["refreshToken"])["iat"] \
                == 600
            clock.set(500)
            r1 = await client.call("token_refresh", {"refreshToken": first["refreshToken"]})
            assert r1.status == 200, r1
            # Rotation does not extend the family: the last 100 seconds, and
            # no access token outlives it.
            c1 = claims(r1.body["refreshToken"])
            assert c1["exp"] == claims(first["refreshToken"])["exp"]
            access = claims(r1.body["accessToken"])
            assert access["exp"] - access["iat"] == 60
            clock.set(601)
            late = await client.call("token_refresh", {"refreshToken": r1.body["refreshToken"]})
            assert refused(late, 401, "invalid_token", "invalid or has expired"), late
        finally:
            await client.close()
            await admin.close()
