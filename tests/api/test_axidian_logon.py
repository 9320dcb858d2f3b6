"""Axidian Access logon v5 end to end, over REST and gRPC: isAvailable,
getAvailableMethods, the template flow (openVerifySession → prepareTemplateData
→ createTemplate → authenticate) for PASSWORD, TOTP and OTP by SMS and email,
single use, the lockout shared with the Entrust API, and Data sealed at rest."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pyotp
import pytest
import sqlalchemy as sa

from authcore_testkit.api import Admin, RestApi
from authcore_testkit.axidian import (
    OTP_EMAIL_MODE,
    OTP_SMS_MODE,
    PASSWORD_MODE,
    TOTP_MODE,
    AxidianClient,
    otp_session,
)
from authcore_testkit.scim import ScimRest, user_doc
from authcore_testkit.server import RunningServer, run_server

PASSWORD = "correct horse battery staple"
ALL_MODES = [PASSWORD_MODE, TOTP_MODE, OTP_SMS_MODE, OTP_EMAIL_MODE]


@pytest.fixture(params=["rest", "grpc"])
async def axidian(request: pytest.FixtureRequest, server: RunningServer
                  ) -> AsyncIterator[AxidianClient]:
    client = AxidianClient(server, request.param)
    yield client
    await client.close()


async def totp_user(admin: Admin, user_id: str, **attrs: Any) -> pyotp.TOTP:
    await admin.user(user_id, **attrs)
    tok = await admin.req("POST", f"/api/admin/v1/users/{user_id}/tokens", {"type": "TOTP"})
    return pyotp.TOTP(tok["secret"])


async def verify_jwt(server: RunningServer, token: str, app_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        jwks = (await http.get(server.http_url + "/.well-known/jwks.json")).json()
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256"
    [key] = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    claims: dict[str, Any] = jwt.decode(token, jwt.PyJWK(key).key, algorithms=["ES256"],
                                        audience=app_id)
    return claims


def assert_logged_on(reply: Any, user_id: str) -> None:
    assert reply.status == 200, reply
    assert reply.body == {"ValidPropertiesMask": 5, "Token": reply.body["Token"],
                          "LogonResult": {"ValidPropertiesMask": 0, "Result": None},
                          "UserId": user_id}, reply.body
    assert reply.body["Token"].count(".") == 2


# -- isAvailable ---------------------------------------------------------------

async def test_is_available_with_password_only_depends_on_exclude_windows_password(
    axidian: AxidianClient, admin: Admin, app_id: str, user_id: str
) -> None:
    await admin.user(user_id)
    await admin.password(user_id, PASSWORD)
    # ExcludeWindowsPassword defaults to true: the password alone does not count.
    assert (await axidian.is_available(app_id, user_id)).body is False
    assert (await axidian.is_available(app_id, user_id, ExcludeWindowsPassword=True)
            ).body is False
    assert (await axidian.is_available(app_id, user_id, ExcludeWindowsPassword=False)
            ).body is True


async def test_is_available_with_a_second_method(
    axidian: AxidianClient, admin: Admin, app_id: str, user_id: str
) -> None:
    await totp_user(admin, user_id)
    for extra in ({}, {"ExcludeWindowsPassword": True}, {"ExcludeWindowsPassword": False}):
        reply = await axidian.is_available(app_id, user_id, **extra)
        assert reply.status == 200 and reply.body is True, reply


async def test_is_available_is_a_bare_json_boolean(server: RunningServer, admin: Admin,
                                                   app_id: str, user_id: str) -> None:
    await admin.user(user_id, email="bare@example.com")
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        yes = await http.post("/api/v5/logon/isAvailable",
                              json={"ApplicationId": app_id, "UserId": user_id})
        no = await http.post("/api/v5/logon/isAvailable",
                             json={"ApplicationId": app_id, "UserId": "nobody-" + user_id})
    assert yes.status_code == 200 and yes.content.strip() == b"true", yes.text
    assert no.status_code == 200 and no.content.strip() == b"false", no.text
    assert yes.headers["content-type"].startswith("application/json")


async def test_unknown_and_disabled_users_are_not_available(
    axidian: AxidianClient, server: RunningServer, app_id: str, user_id: str
) -> None:
    # The demo application hides user existence: an unknown user looks like
    # one with a password (tests/api/test_enumeration.py).
    unknown = await axidian.is_available(app_id, "nobody-" + user_id,
                                         ExcludeWindowsPassword=False)
    assert unknown.status == 200 and unknown.body is True, unknown
    scim = ScimRest(server)
    try:
        created = await scim.create("Users", user_doc(user_id, password=PASSWORD, active=False,
                                                      emails=[{"value": "off@example.com",
                                                               "primary": True}]))
        assert created.status == 201, str(created)
    finally:
        await scim.close()
    disabled = await axidian.is_available(app_id, user_id, ExcludeWindowsPassword=False)
    assert disabled.status == 200 and disabled.body is False, disabled
    methods = await axidian.methods(app_id, user_id)
    assert methods.body == {"ValidPropertiesMask": 1, "AutheticationMethods": []}


async def test_unknown_application_is_404(axidian: AxidianClient, user_id: str) -> None:
    reply = await axidian.is_available(str(uuid.uuid4()), user_id)
    assert reply.status == 404 and reply.error_code == "application_not_found", reply


# -- getAvailableMethods -------------------------------------------------------

async def test_available_methods_in_fixed_order_with_documented_spelling(
    axidian: AxidianClient, admin: Admin, app_id: str, user_id: str
) -> None:
    await totp_user(admin, user_id, email="m@example.com", phone="+15550001111")
    await admin.password(user_id, PASSWORD)
    reply = await axidian.methods(app_id, user_id)
    assert reply.status == 200, reply
    assert reply.body == {"ValidPropertiesMask": 1, "AutheticationMethods": ALL_MODES}


async def test_available_methods_follow_what_the_user_has(
    axidian: AxidianClient, admin: Admin, app_id: str, user_id: str
) -> None:
    await admin.user(user_id, email="only-mail@example.com")
    reply = await axidian.methods(app_id, user_id)
    assert reply.body["AutheticationMethods"] == [OTP_EMAIL_MODE]
    await admin.password(user_id, PASSWORD)
    reply = await axidian.methods(app_id, user_id)
    assert reply.body["AutheticationMethods"] == [PASSWORD_MODE, OTP_EMAIL_MODE]


async def test_unknown_user_has_no_methods(axidian: AxidianClient, admin: Admin, app_id: str,
                                           user_id: str) -> None:
    # Not on the demo application, which hides user existence.
    created = await admin.req("POST", "/api/admin/v1/applications",
                              {"name": "tells", "access": {"hideUserExistence": False}})
    reply = await axidian.methods(created["applicationId"], "nobody-" + user_id)
    assert reply.status == 200
    assert reply.body == {"ValidPropertiesMask": 1, "AutheticationMethods": []}
    hidden = await axidian.methods(app_id, "nobody-" + user_id)
    assert hidden.body == {"ValidPropertiesMask": 1, "AutheticationMethods": [PASSWORD_MODE]}


async def test_include_and_exclude_filters(axidian: AxidianClient, admin: Admin, app_id: str,
                                          user_id: str) -> None:
    await totp_user(admin, user_id, email="f@example.com", phone="+15550002222")
    await admin.password(user_id, PASSWORD)
    unknown = str(uuid.uuid4())

    async def methods(**filters: Any) -> list[str]:
        reply = await axidian.methods(app_id, user_id, **filters)
        assert reply.status == 200, reply
        return reply.body["AutheticationMethods"]  # type: ignore[no-any-return]

    # GUIDs compare without regard to case or .NET format; unknown ones match nothing.
    assert await methods(IncludeModeIds=[TOTP_MODE.upper(), unknown]) == [TOTP_MODE]
    assert await methods(IncludeModeIds=["{" + OTP_SMS_MODE + "}",
                                         PASSWORD_MODE.replace("-", "")]) == [
        PASSWORD_MODE, OTP_SMS_MODE]
    assert await methods(ExcludeModeIds=[PASSWORD_MODE]) == [TOTP_MODE, OTP_SMS_MODE,
                                                             OTP_EMAIL_MODE]
    assert await methods(IncludeModeIds=[PASSWORD_MODE, TOTP_MODE],
                         ExcludeModeIds=[TOTP_MODE.upper()]) == [PASSWORD_MODE]
    assert await methods(IncludeModeIds=[unknown]) == []
    assert await methods(IncludeModeIds=[], ExcludeModeIds=[]) == ALL_MODES


async def test_application_decides_which_methods_are_allowed(
    axidian: AxidianClient, admin: Admin, user_id: str
) -> None:
    app = await admin.req("POST", "/api/admin/v1/applications",
                          {"name": "axidian-pw", "authenticators": ["PASSWORD", "OTP"]})
    app_id = app["applicationId"]
    await totp_user(admin, user_id, phone="+15550003333")
    await admin.password(user_id, PASSWORD)
    reply = await axidian.methods(app_id, user_id)
    assert reply.body["AutheticationMethods"] == [PASSWORD_MODE, OTP_SMS_MODE]
    refused = await axidian.open(app_id, user_id, TOTP_MODE)
    assert refused.status == 403 and refused.error_code == "authenticator_not_allowed", refused


# -- the template flow -------------------------------------------------------------

async def test_password_template_flow_issues_verifiable_jwt(
    axidian: AxidianClient, admin: Admin, server: RunningServer, app_id: str, user_id: str
) -> None:
    await admin.user(user_id)
    await admin.password(user_id, PASSWORD)
    created = await axidian.template(app_id, user_id, PASSWORD_MODE, PASSWORD)
    assert created.status == 200, created
    assert set(created.body) == {"TemplateId"}
    template_id = created.body["TemplateId"]
    assert str(uuid.UUID(template_id)) == template_id  # a GUID, as documented
    done = await axidian.authenticate(template_id, business_application="Payroll")
    assert_logged_on(done, user_id)
    claims = await verify_jwt(server, done.body["Token"], app_id)
    assert claims["sub"] == user_id and claims["aud"] == app_id
    assert claims["amr"] == ["PASSWORD"]
    assert claims["business_application"] == "Payroll"
    assert claims["exp"] - claims["iat"] == 3600
    info = await admin.req("POST", "/api/admin/v1/tokens/introspect",
                           {"token": done.body["Token"]})
    assert info["active"] is True


async def test_session_id_accepts_other_guid_spellings(
    axidian: AxidianClient, admin: Admin, app_id: str, user_id: str
) -> None:
    await admin.user(user_id)
    await admin.password(user_id, PASSWORD)
    session_id = await axidian.session(app_id, user_id, PASSWORD_MODE)
    assert (await axidian.prepare(session_id.upper(), PASSWORD)).status == 200
    created = await axidian.create_template("{" + session_id + "}")
    assert created.status == 200, created
    done = await axidian.authenticate(created.body["TemplateId"].upper().replace("-", ""))
    assert_logged_on(done, user_id)
    assert "business_application" not in jwt.decode(done.body["Token"],
                                                     options={"verify_signature": False})


async def test_totp_template_flow_and_replay(
    axidian: AxidianClient, admin: Admin, server: RunningServer, app_id: str, user_id: str
) -> None:
    totp = await totp_user(admin, user_id)
    code = totp.now()
    done = await axidian.logon(app_id, user_id, TOTP_MODE, code)
    assert_logged_on(done, user_id)
    claims = await verify_jwt(server, done.body["Token"], app_id)
    assert claims["amr"] == ["TOKEN"]
    replay = await axidian.template(app_id, user_id, TOTP_MODE, code)
    assert replay.status == 401 and replay.error_code == "replayed_code", replay


@pytest.mark.parametrize("mode,channel,address", [
    (OTP_SMS_MODE, "SMS", "+15557654321"),
    (OTP_EMAIL_MODE, "EMAIL", "grace.hopper@example.com"),
])
async def test_otp_template_flow(axidian: AxidianClient, admin: Admin, server: RunningServer,
                                 app_id: str, user_id: str, mode: str, channel: str,
                                 address: str) -> None:
    await admin.user(user_id, email="grace.hopper@example.com", phone="+15557654321")
    session_id, code = await otp_session(axidian, admin, app_id, user_id, mode)
    last = (await admin.outbox(user_id))[-1]
    assert last["channel"] == channel and last["address"] == address
    assert (await axidian.prepare(session_id, code)).status == 200
    created = await axidian.create_template(session_id)
    assert created.status == 200, created
    done = await axidian.authenticate(created.body["TemplateId"])
    assert_logged_on(done, user_id)
    assert (await verify_jwt(server, done.body["Token"], app_id))["amr"] == ["OTP"]

    session_id, code = await otp_session(axidian, admin, app_id, user_id, mode)
    wrong = "000000" if code != "000000" else "111111"
    assert (await axidian.prepare(session_id, wrong)).status == 200
    bad = await axidian.create_template(session_id)
    assert bad.status == 401 and bad.error_code == "invalid_code", bad


async def test_otp_mode_needs_the_address(axidian: AxidianClient, admin: Admin, app_id: str,
                                          user_id: str) -> None:
    await admin.user(user_id, email="no-phone@example.com")
    refused = await axidian.open(app_id, user_id, OTP_SMS_MODE)
    assert refused.status == 400 and refused.error_code == "authenticator_not_enrolled", refused
    assert await admin.outbox(user_id) == []


async def test_template_is_single_use(axidian: AxidianClient, admin: Admin, app_id: str,
                                      user_id: str) -> None:
    await admin.user(user_id)
    await admin.password(user_id, PASSWORD)
    created = await axidian.template(app_id, user_id, PASSWORD_MODE, PASSWORD)
    template_id = created.body["TemplateId"]
    assert_logged_on(await axidian.authenticate(template_id), user_id)
    again = await axidian.authenticate(template_id)
    assert again.status == 401 and again.error_code == "invalid_template", again


async def test_concurrent_authenticates_of_one_template_succeed_once(
    axidian: AxidianClient, admin: Admin, app_id: str, user_id: str
) -> None:
    await admin.user(user_id)
    await admin.password(user_id, PASSWORD)
    created = await axidian.template(app_id, user_id, PASSWORD_MODE, PASSWORD)
    results = await asyncio.gather(*[axidian.authenticate(created.body["TemplateId"])
                                     for _ in range(10)])
    assert sorted(r.status for r in results) == [200] + [401] * 9


async def test_session_is_single_use(axidian: AxidianClient, admin: Admin, app_id: str,
                                     user_id: str) -> None:
    await admin.user(user_id)
    await admin.password(user_id, PASSWORD)
    session_id = await axidian.session(app_id, user_id, PASSWORD_MODE)
    await axidian.prepare(session_id, PASSWORD)
    assert (await axidian.create_template(session_id)).status == 200
    again = await axidian.create_template(session_id)
    assert again.status == 401 and again.error_code == "invalid_session", again
    late = await axidian.prepare(session_id, PASSWORD)
    assert late.status == 401 and late.error_code == "invalid_session", late


async def test_concurrent_create_templates_of_one_session_succeed_once(
    axidian: AxidianClient, admin: Admin, app_id: str, user_id: str
) -> None:
    await admin.user(user_id)
    await admin.password(user_id, PASSWORD)
    session_id = await axidian.session(app_id, user_id, PASSWORD_MODE)
    await axidian.prepare(session_id, PASSWORD)
    results = await asyncio.gather(*[axidian.create_template(session_id) for _ in range(10)])
    assert sorted(r.status for r in results) == [200] + [401] * 9, results
    assert {r.error_code for r in results if r.status == 401} == {"invalid_session"}
    [ok] = [r for r in results if r.status == 200]
    assert_logged_on(await axidian.authenticate(ok.body["TemplateId"]), user_id)


async def test_create_template_needs_data_and_data_can_be_replaced(
    axidian: AxidianClient, admin: Admin, app_id: str, user_id: str
) -> None:
    await admin.user(user_id)
    await admin.password(user_id, PASSWORD)
    session_id = await axidian.session(app_id, user_id, PASSWORD_MODE)
    early = await axidian.create_template(session_id)
    assert early.status == 400 and early.error_code == "template_data_missing", early
    # Not used up by that; a second prepare replaces the first Data.
    assert (await axidian.prepare(session_id, "a typo")).status == 200
    assert (await axidian.prepare(session_id, PASSWORD)).status == 200
    created = await axidian.create_template(session_id)
    assert created.status == 200, created


async def test_wrong_password_is_401_and_uses_the_session_up(
    axidian: AxidianClient, admin: Admin, app_id: str, user_id: str
) -> None:
    await admin.user(user_id)
    await admin.password(user_id, PASSWORD)
    session_id = await axidian.session(app_id, user_id, PASSWORD_MODE)
    await axidian.prepare(session_id, "wrong password")
    bad = await axidian.create_template(session_id)
    assert bad.status == 401 and bad.error_code == "invalid_password", bad
    await axidian.prepare(session_id, PASSWORD)
    assert (await axidian.create_template(session_id)).status == 401


async def test_failures_count_on_the_lockout_shared_with_the_entrust_api(
    axidian: AxidianClient, admin: Admin, server: RunningServer, app_id: str, user_id: str
) -> None:
    await admin.user(user_id, email="lock@example.com")
    await admin.password(user_id, PASSWORD)
    entrust = RestApi(server)
    try:
        async def entrust_login(password: str) -> Any:
            ch = await entrust.challenge("PASSWORD", {"applicationId": app_id,
                                                      "userId": user_id})
            if ch.status != 200:
                return ch
            return await entrust.complete("PASSWORD", {"response": password},
                                          ch.body["token"])

        async def remaining() -> int:
            q = await entrust.query({"applicationId": app_id, "userId": user_id})
            [status] = [s for s in q.body["authenticatorLockoutStatus"]
                        if s["type"] == "PASSWORD"]
            return int(status["remainingAuthenticationAttempts"])

        # Two failures through Entrust, three through Axidian: one counter.
        for _ in range(2):
            assert (await entrust_login("wrong")).status == 401
        assert await remaining() == 3
        for attempt in range(3):
            bad = await axidian.template(app_id, user_id, PASSWORD_MODE, "wrong")
            assert bad.status == 401 and bad.error_code == "invalid_password", bad
            assert await remaining() == 2 - attempt

        q = await entrust.query({"applicationId": app_id, "userId": user_id})
        [status] = [s for s in q.body["authenticatorLockoutStatus"]
                    if s["type"] == "PASSWORD"]
        assert status["locked"] is True
        refused = await entrust_login(PASSWORD)
        assert refused.status == 403 and refused.error_code == "authenticator_locked"
        # Axidian refuses the password too, and no longer lists it.
        locked = await axidian.open(app_id, user_id, PASSWORD_MODE)
        assert locked.status == 403 and locked.error_code == "authenticator_locked", locked
        methods = await axidian.methods(app_id, user_id)
        assert methods.body["AutheticationMethods"] == [OTP_EMAIL_MODE]
        assert (await axidian.is_available(app_id, user_id, ExcludeWindowsPassword=False)
                ).body is True

        # A session opened before the lock can't be used after it.
        await admin.req("POST", f"/api/admin/v1/users/{user_id}/unlock", {})
        session_id = await axidian.session(app_id, user_id, PASSWORD_MODE)
        for _ in range(5):
            assert (await entrust_login("wrong")).status == 401
        await axidian.prepare(session_id, PASSWORD)
        late = await axidian.create_template(session_id)
        assert late.status == 403 and late.error_code == "authenticator_locked", late

        # A success through Axidian resets the counter the Entrust API reads.
        await admin.req("POST", f"/api/admin/v1/users/{user_id}/unlock", {})
        assert (await axidian.template(app_id, user_id, PASSWORD_MODE, "wrong")).status == 401
        assert await remaining() == 4
        assert (await axidian.template(app_id, user_id, PASSWORD_MODE, PASSWORD)).status == 200
        assert await remaining() == 5
    finally:
        await entrust.close()


async def test_expired_password_is_refused_without_counting_a_failure(
    axidian: AxidianClient, admin: Admin, app_id: str, user_id: str
) -> None:
    await admin.user(user_id)
    await admin.password(user_id, PASSWORD, expires_at="2020-01-01T00:00:00Z")
    session_id = await axidian.session(app_id, user_id, PASSWORD_MODE)
    await axidian.prepare(session_id, PASSWORD)
    expired = await axidian.create_template(session_id)
    assert expired.status == 400 and expired.error_code == "password_expired", expired
    assert (await axidian.create_template(session_id)).status == 401
    for _ in range(5):
        again = await axidian.template(app_id, user_id, PASSWORD_MODE, PASSWORD)
        assert again.error_code == "password_expired", again
    # Five refusals, no lockout.
    assert (await axidian.methods(app_id, user_id)).body["AutheticationMethods"] == [
        PASSWORD_MODE]


async def test_open_verify_session_refusals(axidian: AxidianClient, server: RunningServer,
                                            admin: Admin, app_id: str, user_id: str) -> None:
    tells = await admin.req("POST", "/api/admin/v1/applications",
                            {"name": "tells", "access": {"hideUserExistence": False}})
    unknown = await axidian.open(tells["applicationId"], "nobody-" + user_id, PASSWORD_MODE)
    assert unknown.status == 404 and unknown.error_code == "user_not_found", unknown
    await admin.user(user_id)
    not_enrolled = await axidian.open(app_id, user_id, PASSWORD_MODE)
    assert not_enrolled.status == 400, not_enrolled
    assert not_enrolled.error_code == "authenticator_not_enrolled"
    unknown_mode = await axidian.open(app_id, user_id, str(uuid.uuid4()))
    assert unknown_mode.status == 400 and unknown_mode.error_code == "unknown_mode"
    no_app = await axidian.open(str(uuid.uuid4()), user_id, PASSWORD_MODE)
    assert no_app.status == 404 and no_app.error_code == "application_not_found"

    name = "off-" + user_id
    scim = ScimRest(server)
    try:
        created = await scim.create("Users", user_doc(name, password=PASSWORD, active=False))
        assert created.status == 201, str(created)
    finally:
        await scim.close()
    disabled = await axidian.open(app_id, name, PASSWORD_MODE)
    assert disabled.status == 403 and disabled.error_code == "user_disabled", disabled


async def test_disabled_user_cannot_finish(axidian: AxidianClient, server: RunningServer,
                                           app_id: str, user_id: str) -> None:
    scim = ScimRest(server)
    try:
        user = (await scim.create("Users", user_doc(user_id, password=PASSWORD))).body
        session_id = await axidian.session(app_id, user_id, PASSWORD_MODE)
        await axidian.prepare(session_id, PASSWORD)
        template = (await axidian.template(app_id, user_id, PASSWORD_MODE, PASSWORD)).body
        off = await scim.patch("Users", user["id"], {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": False}]})
        assert off.status == 200, str(off)
    finally:
        await scim.close()
    late = await axidian.create_template(session_id)
    assert late.status == 403 and late.error_code == "user_disabled", late
    refused = await axidian.authenticate(template["TemplateId"])
    assert refused.status == 403 and refused.error_code == "user_disabled", refused


async def test_expired_session_is_refused(axidian: AxidianClient, admin: Admin,
                                          user_id: str) -> None:
    app = await admin.req("POST", "/api/admin/v1/applications",
                          {"name": "short", "tokenLifetimes": {"challengeSeconds": 1}})
    await admin.user(user_id)
    await admin.password(user_id, PASSWORD)
    session_id = await axidian.session(app["applicationId"], user_id, PASSWORD_MODE)
    await axidian.prepare(session_id, PASSWORD)
    await asyncio.sleep(1.2)
    late = await axidian.create_template(session_id)
    assert late.status == 401 and late.error_code == "invalid_session", late
    prepare = await axidian.prepare(session_id, PASSWORD)
    assert prepare.status == 401 and prepare.error_code == "invalid_session", prepare


# -- Data is sealed at rest ----------------------------------------------------------

def stored_state(server: RunningServer, row_id: str) -> str:
    """The JSON state of the challenge row behind a SessionId/TemplateId (its
    token's SHA-256 keys the row), read straight from the SQLite file."""
    engine = sa.create_engine(f"sqlite:///{server.data_dir / 'authcore.db'}")
    try:
        with engine.connect() as conn:
            state = conn.execute(sa.text("SELECT state FROM challenges WHERE token_hash = :h"),
                                 {"h": hashlib.sha256(row_id.encode()).hexdigest()}).scalar_one()
    finally:
        engine.dispose()
    return str(state)


async def test_prepared_data_is_not_stored_in_clear(
    axidian: AxidianClient, admin: Admin, server: RunningServer, app_id: str, user_id: str
) -> None:
    if server.backend != "sqlite":
        pytest.skip("reads the SQLite file")
    secret = f"Unique-Secret-{uuid.uuid4().hex}"
    await admin.user(user_id)
    await admin.password(user_id, secret)
    session_id = await axidian.session(app_id, user_id, PASSWORD_MODE)
    assert '"data"' not in stored_state(server, session_id)
    assert (await axidian.prepare(session_id, secret)).status == 200

    state = json.loads(stored_state(server, session_id))
    sealed = base64.b64decode(state["data"])
    assert sealed[:1] == b"\x01" and len(sealed) == 1 + 12 + len(secret) + 16  # AES-GCM
    assert secret not in json.dumps(state)
    assert base64.b64encode(secret.encode()).decode() not in json.dumps(state)
    for path in server.data_dir.iterdir():
        if path.name.startswith("authcore.db"):
            assert secret.encode() not in path.read_bytes(), path

    # A second prepare replaces it (sealed anew: another nonce).
    assert (await axidian.prepare(session_id, secret)).status == 200
    again = json.loads(stored_state(server, session_id))["data"]
    assert again != state["data"]

    created = await axidian.create_template(session_id)
    assert created.status == 200, created
    # Once used, the session keeps no Data at all, not even sealed.
    assert '"data"' not in stored_state(server, session_id)
    assert '"data"' not in stored_state(server, created.body["TemplateId"])


# -- template expiry (a sandbox server of its own, with a movable clock) ------------------

@dataclass
class ClockServer:
    server: RunningServer
    offset: Path
    # Credentials given as Data; none may appear in the server's output.
    secrets: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def clock_server() -> Iterator[ClockServer]:
    offset = Path(tempfile.mkdtemp(prefix="axidian-clock-")) / "offset"
    offset.write_text("0")
    with run_server(env={"AUTHCORE_SANDBOX": "1",
                         "AUTHCORE_CLOCK_OFFSET_FILE": str(offset),
                         "AUTHCORE_LOG_LEVEL": "DEBUG"}) as srv:
        running = ClockServer(srv, offset)
        yield running
    # The whole log is known only once the server has stopped.
    log = "".join(srv.output)
    assert "logon success" in log, log[-2000:]
    for secret in running.secrets:
        assert secret not in log, "Data reached the server's log"


async def test_template_expires_after_60_seconds(clock_server: ClockServer,
                                                 user_id: str) -> None:
    srv, offset = clock_server.server, clock_server.offset
    secret = f"Log-Secret-{uuid.uuid4().hex}"
    clock_server.secrets.append(secret)
    admin = Admin(srv)
    client = AxidianClient(srv, "rest")
    try:
        await admin.user(user_id)
        await admin.password(user_id, secret)
        app_id = srv.demo_application_id
        wrong = await client.template(app_id, user_id, PASSWORD_MODE, secret + "-wrong")
        assert wrong.status == 401, wrong
        fresh = await client.template(app_id, user_id, PASSWORD_MODE, secret)
        stale = await client.template(app_id, user_id, PASSWORD_MODE, secret)
        offset.write_text("45")
        assert_logged_on(await client.authenticate(fresh.body["TemplateId"]), user_id)
        offset.write_text("61")
        late = await client.authenticate(stale.body["TemplateId"])
        assert late.status == 401 and late.error_code == "invalid_template", late
    finally:
        offset.write_text("0")
        await admin.close()
        await client.close()
