"""One policy decision point (issue 15, item 0): an application's allowed
authenticators decide on every API whether what the user proved may yield
a token. Each API is tried against applications that allow one
authenticator alone. Before this, LoginID's email code and passkey sign-up
issued tokens for applications that allowed neither."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from authcore_testkit.api import Admin, GrpcApi, RestApi
from authcore_testkit.axidian import PASSWORD_MODE, AxidianClient
from authcore_testkit.consumer import ConsumerClient, Setup
from authcore_testkit.loginid import LoginIdClient, assertion_result
from authcore_testkit.server import RunningServer
from authcore_testkit.soft_webauthn import SoftAuthenticator

Api = RestApi | GrpcApi
ALONE = ["PASSWORD", "OTP", "PASSKEY", "PASSWORD_AND_SECONDFACTOR"]
PASSWORD = "policy-decision-pw-1"


async def app_allowing(admin: Admin, origin: str, *authenticators: str) -> str:
    app = await admin.req("POST", "/api/admin/v1/applications", {
        "name": "only " + "+".join(authenticators), "authenticators": list(authenticators),
        "access": {"selfSignUp": True},
        "webauthn": {"rpId": "localhost", "origins": [origin]},
    })
    return str(app["applicationId"])


async def user_with_password_and_email(admin: Admin) -> str:
    user_id = f"pdp-{uuid.uuid4().hex[:12]}"
    await admin.user(user_id, email=f"{user_id}@example.com")
    await admin.password(user_id, PASSWORD)
    return user_id


def mailed_code(messages: list[dict[str, Any]]) -> str:
    found = re.search(r"\b(\d{6})\b", messages[-1]["text"])
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize("allowed", ALONE)
async def test_loginid_email_code_needs_otp(loginid: LoginIdClient, admin: Admin, origin: str,
                                            allowed: str) -> None:
    app_id = await app_allowing(admin, origin, allowed)
    user_id = await user_with_password_and_email(admin)
    sent = await loginid.call("send_email", {"user": {"username": user_id}, "appId": app_id},
                              origin=origin)
    if allowed != "OTP":
        assert sent.status == 403, sent
        assert await admin.outbox(user_id) == []
        return
    assert sent.status == 204
    code = mailed_code(await admin.outbox(user_id))
    done = await loginid.call("verify_code", {"authCode": code, "user": {"username": user_id},
                                              "appId": app_id})
    assert done.status == 200 and done.body["userId"] == user_id


async def test_loginid_code_is_decided_when_the_token_would_be_issued(
        loginid: LoginIdClient, admin: Admin, origin: str) -> None:
    """The decision is taken at issue time, not only when the code is sent:
    an application that stops allowing OTP refuses a code mailed before."""
    app_id = await app_allowing(admin, origin, "OTP")
    user_id = await user_with_password_and_email(admin)
    assert (await loginid.call("send_email", {"user": {"username": user_id}, "appId": app_id},
                               origin=origin)).status == 204
    code = mailed_code(await admin.outbox(user_id))
    await admin.req("PATCH", f"/api/admin/v1/applications/{app_id}",
                    {"authenticators": ["PASSWORD_AND_SECONDFACTOR"]})
    body = {"authCode": code, "user": {"username": user_id}, "appId": app_id}
    refused = await loginid.call("verify_code", body)
    assert refused.status == 403, refused
    # Nothing was used up by the refusal: allowed again, the code works.
    await admin.req("PATCH", f"/api/admin/v1/applications/{app_id}", {"authenticators": ["OTP"]})
    assert (await loginid.call("verify_code", body)).status == 200


@pytest.mark.parametrize("allowed", ALONE)
async def test_loginid_passkeys_need_passkey(loginid: LoginIdClient, admin: Admin, origin: str,
                                             allowed: str) -> None:
    app_id = await app_allowing(admin, origin, allowed)
    username = f"pdp-{uuid.uuid4().hex[:12]}"
    reg = await loginid.call("reg_init", {"app": {"id": app_id}, "deviceInfo": {},
                                          "user": {"username": username}}, origin=origin)
    auth = await loginid.call("auth_init", {"app": {"id": app_id}, "deviceInfo": {}},
                              origin=origin)
    tx = await loginid.call("tx_init", {"appId": app_id, "username": username,
                                        "txPayload": "pay 10 EUR", "nonce": "n" * 16,
                                        "txType": "text"}, origin=origin)
    if allowed != "PASSKEY":
        assert (reg.status, auth.status, tx.status) == (403, 403, 403), (reg, auth, tx)
        return
    assert (reg.status, auth.status, tx.status) == (200, 200, 200)
    authenticator = SoftAuthenticator()
    done = await loginid.register(app_id=app_id, username=username,
                                  authenticator=authenticator, origin=origin)
    assert done.status == 200, done
    signed_in = await loginid.sign_in(app_id=app_id, authenticator=authenticator,
                                      origin=origin, username=username)
    assert signed_in.status == 200, signed_in


async def test_loginid_passkey_session_is_decided_at_issue_time(
        loginid: LoginIdClient, admin: Admin, origin: str) -> None:
    app_id = await app_allowing(admin, origin, "PASSKEY")
    username = f"pdp-{uuid.uuid4().hex[:12]}"
    authenticator = SoftAuthenticator()
    assert (await loginid.register(app_id=app_id, username=username,
                                   authenticator=authenticator, origin=origin)).status == 200
    init = await loginid.call("auth_init", {"app": {"id": app_id}, "deviceInfo": {},
                                            "user": {"username": username}}, origin=origin)
    assert init.status == 200
    await admin.req("PATCH", f"/api/admin/v1/applications/{app_id}",
                    {"authenticators": ["PASSWORD"]})
    asserted = authenticator.get(options=init.body["assertionOptions"], origin=origin)
    done = await loginid.call("auth_complete", {"session": init.body["session"],
                                                "assertionResult": assertion_result(asserted)})
    assert done.status == 403, done


@pytest.mark.parametrize("allowed", ALONE)
async def test_entrust_password_needs_password(api: Api, admin: Admin, origin: str,
                                               allowed: str) -> None:
    app_id = await app_allowing(admin, origin, allowed)
    user_id = await user_with_password_and_email(admin)
    ch = await api.challenge("PASSWORD", {"applicationId": app_id, "userId": user_id})
    if allowed != "PASSWORD":
        assert ch.status == 403 and ch.error_code == "authenticator_not_allowed", ch
        return
    done = await api.complete("PASSWORD", {"response": PASSWORD}, ch.body["token"])
    assert done.status == 200, done


@pytest.fixture(params=["rest", "grpc"])
async def axidian(request: pytest.FixtureRequest, server: RunningServer
                  ) -> AsyncIterator[AxidianClient]:
    client = AxidianClient(server, request.param)
    yield client
    await client.close()


@pytest.mark.parametrize("allowed", ALONE)
async def test_axidian_password_needs_password(axidian: AxidianClient, admin: Admin,
                                               origin: str, allowed: str) -> None:
    app_id = await app_allowing(admin, origin, allowed)
    user_id = await user_with_password_and_email(admin)
    opened = await axidian.open(app_id, user_id, PASSWORD_MODE)
    if allowed != "PASSWORD":
        assert opened.status == 403, opened
        return
    done = await axidian.logon(app_id, user_id, PASSWORD_MODE, PASSWORD)
    assert done.status == 200, done


@pytest.mark.parametrize("allowed", [["OTP"], ["PASSWORD_AND_SECONDFACTOR"],
                                     ["PASSWORD", "OTP"]])
async def test_consumer_login_needs_password(server: RunningServer, admin: Admin,
                                             allowed: list[str]) -> None:
    async with Setup(server) as setup, ConsumerClient(server, "rest") as consumer:
        user = await setup.user()
        app = "/api/admin/v1/applications/consumer"
        await admin.req("PATCH", app, {"authenticators": allowed})
        try:
            login = await consumer.login(user.email, user.password)
        finally:
            await admin.req("PATCH", app, {"authenticators": ["PASSWORD", "OTP"]})
        if "PASSWORD" not in allowed:
            assert login.status == 403, login
        else:
            assert login.status == 200, login
