"""LoginID's MFA flow (/fido2/v2/mfa) beyond one passkey, over REST and
gRPC: a code by SMS to a verified number, wrong codes reaching the code
lockout, an application that asks for two different factors
(`access.mfaFactors`), and the devices MFA's passkey steps record."""

from __future__ import annotations

import base64
import json
import re
import secrets
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from authcore.v1 import management_pb2 as mgmt
from authcore.v1 import management_pb2_grpc
from authcore_testkit.api import Admin
from authcore_testkit.loginid import (
    LoginIdClient,
    assertion_result,
    creation_result,
    signed_up,
)
from authcore_testkit.loginid_mfa import MfaClient, action_of, host_of, is_next, names, options_of
from authcore_testkit.server import RunningServer
from authcore_testkit.soft_webauthn import SoftAuthenticator, b64url
from rest_bridge.codec import json_to_message, message_to_json

LAPTOP = {"clientType": "browser", "clientName": "Chrome", "osName": "Linux",
          "osVersion": "6.1", "osArch": "x86_64",
          "deviceId": "5d1f0c8e-94a4-4a0e-9d39-6f1b1b7f6a10"}
# What websdk3 sends before a completed flow has given it a deviceId.
NEW_PHONE = {"clientType": "browser", "clientName": "Safari", "osName": "iOS",
             "osVersion": "18.1.1"}


@pytest.fixture(params=["rest", "grpc"])
async def client(request: pytest.FixtureRequest, server: RunningServer
                 ) -> AsyncIterator[MfaClient]:
    c = MfaClient(server, request.param)
    yield c
    await c.close()


@pytest.fixture
async def rest_loginid(server: RunningServer) -> AsyncIterator[LoginIdClient]:
    """The plain LoginID API, for setting users up as they would themselves."""
    c = LoginIdClient(server, "rest")
    yield c
    await c.close()


def claims(jwt: str) -> dict[str, Any]:
    part = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # type: ignore[no-any-return]


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def new_phone() -> str:
    return "+1416" + "".join(secrets.choice("0123456789") for _ in range(7))


async def code_sent(admin: Admin, username: str, medium: str, address: str) -> str:
    """The newest code the outbox holds for `address` by `medium`."""
    sent = [m for m in await admin.outbox(username)
            if m["medium"] == medium and m["address"] == address]
    assert sent, (medium, address, await admin.outbox(username))
    found = re.search(r"\b(\d{6})\b", sent[-1]["text"])
    assert found is not None, sent[-1]
    return found.group(1)


async def with_verified_phone(loginid: LoginIdClient, admin: Admin, app_id: str, origin: str,
                              username: str) -> tuple[SoftAuthenticator, str]:
    """A user signed up with a passkey (email proved), who then adds a
    phone number with messaging consent and verifies it by its code, as
    the profile API lets a user do."""
    authenticator, jwt = await signed_up(loginid, app_id, origin, username)
    phone = new_phone()
    asked = await loginid.call("update_phone", {"phoneNumber": phone, "messagingConsent": True},
                               path={"id": username}, authorization=jwt)
    assert asked.status == 204, asked
    code = await code_sent(admin, username, "SMS", phone)
    verified = await loginid.call("verify_phone", {"authCode": code, "username": username,
                                                   "appId": app_id})
    assert verified.status == 204, verified
    return authenticator, phone


async def begin(client: MfaClient, server: RunningServer, app_id: str, origin: str,
                username: str, **extra: Any) -> dict[str, Any]:
    begun = await client.call("begin", {"user": {"username": username}, **extra},
                              host=host_of(app_id, server), origin=origin)
    assert begun.status == 200, begun
    return begun.body  # type: ignore[no-any-return]


async def otp_step(client: MfaClient, following: dict[str, Any], method: str,
                   address: str) -> str:
    """otp/request for `method`'s option as the SDK sends it (the masked
    label, which must not show `address`); the session for otp/verify."""
    label = action_of(following, f"otp:{method}")["options"][0]["label"]
    assert label and address not in label
    sent = await client.call("otp_request", {"method": method, "option": label},
                             session=following["session"])
    assert sent.status == 200, sent
    return str(sent.body["session"])


# ------------------------------------------------------------- SMS codes

async def test_a_code_by_sms_to_a_verified_number(
        client: MfaClient, server: RunningServer, rest_loginid: LoginIdClient, admin: Admin,
        app_id: str, origin: str, username: str) -> None:
    _, phone = await with_verified_phone(rest_loginid, admin, app_id, origin, username)
    following = await begin(client, server, app_id, origin, username)
    assert {"passkey:auth", "otp:email", "otp:sms"} <= set(names(following)), names(following)
    session = await otp_step(client, following, "sms", phone)
    code = await code_sent(admin, username, "SMS", phone)
    assert (await client.call("otp_verify", {"otp": wrong(code)}, session=session)).status == 401
    done = await client.call("otp_verify", {"otp": code}, session=session)
    assert done.status == 200, done
    assert done.body["flow"] == "signIn"
    assert claims(done.body["accessToken"])["amr"] == ["otp"]
    assert claims(done.body["accessToken"])["username"] == username
    # The code and its session are used up.
    assert (await client.call("otp_verify", {"otp": code}, session=session)).status == 401


async def test_wrong_codes_inside_mfa_reach_the_lockout(
        client: MfaClient, server: RunningServer, rest_loginid: LoginIdClient, admin: Admin,
        app_id: str, origin: str, username: str) -> None:
    authenticator, phone = await with_verified_phone(rest_loginid, admin, app_id, origin,
                                                     username)
    following = await begin(client, server, app_id, origin, username)
    session = await otp_step(client, following, "sms", phone)
    code = await code_sent(admin, username, "SMS", phone)
    # The directory's lockout: 5 failures (AUTHCORE_LOCKOUT_MAX_FAILURES).
    for _ in range(5):
        failed = await client.call("otp_verify", {"otp": wrong(code)}, session=session)
        assert failed.status == 401 and not is_next(failed), failed
    locked = await client.call("otp_verify", {"otp": code}, session=session)
    assert locked.status == 403, locked
    if client.transport == "grpc":
        assert locked.error_code == "authenticator_locked"
    else:
        assert locked.body["msgCode"] == "forbidden" and "locked" in locked.body["msg"]
    # One counter with LoginID's sign-in codes: a fresh MFA code by email
    # is refused as well, right as it is.
    again = await begin(client, server, app_id, origin, username)
    session = await otp_step(client, again, "email", username)
    mailed = await code_sent(admin, username, "EMAIL", username)
    assert (await client.call("otp_verify", {"otp": mailed}, session=session)).status == 403
    assert (await rest_loginid.call("verify_code", {
        "authCode": mailed, "user": {"username": username}, "appId": app_id})).status == 403
    # Passkeys are not locked.
    again = await begin(client, server, app_id, origin, username)
    asserted = authenticator.get(options=options_of(again, "passkey:auth"), origin=origin)
    signed_in = await client.call("passkey_auth", {"assertionResult": assertion_result(asserted)},
                                  session=again["session"])
    assert signed_in.status == 200, signed_in


# ----------------------------------------------------------- two factors

async def set_mfa_factors(server: RunningServer, transport: str, app_id: str,
                          factors: int) -> dict[str, Any]:
    """PATCH access.mfaFactors, over the admin API's REST or gRPC."""
    if transport == "rest":
        admin = Admin(server)
        try:
            return await admin.req(  # type: ignore[no-any-return]
                "PATCH", f"/api/admin/v1/applications/{app_id}",
                {"access": {"mfaFactors": factors}})
        finally:
            await admin.close()
    async with grpc.aio.insecure_channel(server.grpc_target) as channel:
        stub = management_pb2_grpc.ManagementServiceStub(channel)
        request = json_to_message({"applicationId": app_id, "access": {"mfaFactors": factors}},
                                  mgmt.UpdateApplicationRequest)
        updated = await stub.UpdateApplication(
            request, metadata=(("authorization", f"Bearer {server.admin_key}"),))
        return message_to_json(updated)


@pytest.fixture
async def two_factor_app(client: MfaClient, server: RunningServer, admin: Admin,
                         origin: str) -> str:
    created = await admin.req("POST", "/api/admin/v1/applications", {
        "name": "two factors", "access": {"selfSignUp": True},
        "authenticators": ["PASSKEY", "OTP"],
        "webauthn": {"rpId": "localhost", "origins": [origin]}})
    app_id = str(created["applicationId"])
    assert created["application"]["access"]["mfaFactors"] == 1
    return app_id


async def ask_two(client: MfaClient, server: RunningServer, app_id: str) -> None:
    """Raise the application to two factors (after its users were set up
    through the single-step endpoints, which two factors close)."""
    updated = await set_mfa_factors(server, client.transport, app_id, 2)
    assert updated["application"]["access"]["mfaFactors"] == 2


async def test_two_factors_a_passkey_then_a_code(
        client: MfaClient, server: RunningServer, rest_loginid: LoginIdClient, admin: Admin,
        two_factor_app: str, origin: str, username: str) -> None:
    authenticator, _ = await signed_up(rest_loginid, two_factor_app, origin, username)
    await ask_two(client, server, two_factor_app)
    following = await begin(client, server, two_factor_app, origin, username)
    asserted = authenticator.get(options=options_of(following, "passkey:auth"), origin=origin)
    first = await client.call("passkey_auth", {"assertionResult": assertion_result(asserted)},
                              session=following["session"])
    # The passkey worked; a factor of another kind is next: the code to the
    # verified address (no SMS: no number), not the passkey again.
    assert is_next(first), first
    assert names(first.body) == ["otp:email"]
    session = await otp_step(client, first.body, "email", username)
    code = await code_sent(admin, username, "EMAIL", username)
    done = await client.call("otp_verify", {"otp": code}, session=session)
    assert done.status == 200, done
    assert claims(done.body["accessToken"])["amr"] == ["passkey", "otp"]
    assert claims(done.body["idToken"])["amr"] == ["passkey", "otp"]
    assert done.body["passkeyInfo"]["passkeyId"]
    # The first step's session is used up.
    again = await client.call("passkey_auth", {"assertionResult": assertion_result(asserted)},
                              session=following["session"])
    assert again.status == 401 and not is_next(again)


async def test_two_factors_a_code_then_the_passkey(
        client: MfaClient, server: RunningServer, rest_loginid: LoginIdClient, admin: Admin,
        two_factor_app: str, origin: str, username: str) -> None:
    authenticator, _ = await signed_up(rest_loginid, two_factor_app, origin, username)
    await ask_two(client, server, two_factor_app)
    following = await begin(client, server, two_factor_app, origin, username)
    session = await otp_step(client, following, "email", username)
    first = await client.call("otp_verify", {"otp": await code_sent(admin, username, "EMAIL",
                                                                      username)},
                              session=session)
    assert is_next(first), first
    assert names(first.body) == ["passkey:auth"]
    options = options_of(first.body, "passkey:auth")
    # Only the user's own passkey: after a first factor nothing is hidden.
    assert [c["id"] for c in options["allowCredentials"]] == [
        b64url(c) for c in authenticator.credentials]
    asserted = authenticator.get(options=options, origin=origin)
    done = await client.call("passkey_auth", {"assertionResult": assertion_result(asserted)},
                             session=first.body["session"])
    assert done.status == 200, done
    assert claims(done.body["accessToken"])["amr"] == ["otp", "passkey"]


async def test_two_factors_a_sign_up_counts_its_address_proof(
        client: MfaClient, server: RunningServer, admin: Admin, two_factor_app: str,
        origin: str, username: str) -> None:
    await ask_two(client, server, two_factor_app)
    following = await begin(client, server, two_factor_app, origin, username)
    assert following["flow"] == "signUp"
    authenticator = SoftAuthenticator()
    created = authenticator.create(options=options_of(following, "passkey:reg"), origin=origin)
    reg = await client.call("passkey_reg", {"creationResult": creation_result(created)},
                            session=following["session"])
    assert is_next(reg) and names(reg.body) == ["otp:email"], reg
    session = await otp_step(client, reg.body, "email", username)
    done = await client.call("otp_verify", {"otp": await code_sent(admin, username, "EMAIL",
                                                                     username)},
                             session=session)
    # The mailed code proved the address and is the second factor: no
    # second mail right after the first.
    assert done.status == 200, done
    assert claims(done.body["accessToken"])["amr"] == ["passkey", "otp"]


async def test_two_factors_without_a_second_one_is_refused(
        client: MfaClient, server: RunningServer, rest_loginid: LoginIdClient,
        two_factor_app: str, origin: str) -> None:
    # A username that is no address: a passkey and nothing else.
    username = f"only-pk-{uuid.uuid4().hex[:10]}"
    authenticator = SoftAuthenticator()
    registered = await rest_loginid.register(app_id=two_factor_app, username=username,
                                             authenticator=authenticator, origin=origin)
    assert registered.status == 200, registered
    await ask_two(client, server, two_factor_app)
    following = await begin(client, server, two_factor_app, origin, username)
    assert names(following) == ["passkey:auth"]
    asserted = authenticator.get(options=options_of(following, "passkey:auth"), origin=origin)
    refused = await client.call("passkey_auth", {"assertionResult": assertion_result(asserted)},
                                session=following["session"])
    assert refused.status == 403 and not is_next(refused), refused
    if client.transport == "grpc":
        assert refused.error_code == "second_factor_unavailable"
    else:
        assert refused.body["msgCode"] == "forbidden"
        assert "no other factor" in refused.body["msg"]
    # The flow is over: its session is used up.
    assert (await client.call("passkey_auth", {"assertionResult": assertion_result(asserted)},
                              session=following["session"])).status == 401


async def test_the_setting_has_bounds_and_the_factors_must_be_allowed(
        client: MfaClient, server: RunningServer, admin: Admin, origin: str,
        username: str) -> None:
    created = await admin.req("POST", "/api/admin/v1/applications", {
        "name": "passkeys only", "authenticators": ["PASSKEY"], "access": {"mfaFactors": 2},
        "webauthn": {"rpId": "localhost", "origins": [origin]}})
    app_id = str(created["applicationId"])
    for bad in (0, 3):
        r = await admin.http.patch(f"/api/admin/v1/applications/{app_id}",
                                   json={"access": {"mfaFactors": bad}})
        assert r.status_code == 400, r.text
        assert "access.mfaFactors" in r.text
    got = await admin.req("GET", f"/api/admin/v1/applications/{app_id}")
    assert got["application"]["access"]["mfaFactors"] == 2
    # Two factors of one allowed kind can't be had: refused at begin, for
    # every username alike.
    refused = await client.call("begin", {"user": {"username": username}},
                                host=host_of(app_id, server), origin=origin)
    assert refused.status == 403, refused


# ----------------------------------------------------------------- devices

async def test_mfa_passkey_steps_record_the_device(
        client: MfaClient, server: RunningServer, rest_loginid: LoginIdClient, admin: Admin,
        app_id: str, origin: str) -> None:
    # Registration (an account live at once: no address to prove).
    username = f"dev-{uuid.uuid4().hex[:10]}"
    following = await begin(client, server, app_id, origin, username,
                            deviceInfo=LAPTOP)
    authenticator = SoftAuthenticator()
    created = authenticator.create(options=options_of(following, "passkey:reg"), origin=origin)
    reg = await client.call("passkey_reg", {"creationResult": creation_result(created)},
                            session=following["session"])
    assert reg.status == 200, reg
    assert reg.body["deviceId"] == LAPTOP["deviceId"]
    token = reg.body["accessToken"]
    listed = await rest_loginid.call("list_devices", authorization=token)
    assert [(d["deviceId"], d["name"]) for d in listed.body["devices"]] == [
        (LAPTOP["deviceId"], "Linux 6.1 (x86_64)")]

    # Sign-in from a device the SDK has no id for yet: the server names it
    # (the SDK keeps Mfa.deviceId and sends it next time).
    following = await begin(client, server, app_id, origin, username, deviceInfo=NEW_PHONE)
    asserted = authenticator.get(options=options_of(following, "passkey:auth"), origin=origin)
    signed_in = await client.call("passkey_auth", {"assertionResult": assertion_result(asserted)},
                                  session=following["session"])
    assert signed_in.status == 200, signed_in
    phone_id = signed_in.body["deviceId"]
    uuid.UUID(phone_id)
    devices = (await rest_loginid.call("list_devices", authorization=token)).body["devices"]
    assert [d["deviceId"] for d in devices] == [LAPTOP["deviceId"], phone_id]
    assert devices[1]["name"] == "iOS 18.1.1" and devices[1]["lastUsedAt"]
    # Sent back, the same device is used again, not a new one.
    following = await begin(client, server, app_id, origin, username,
                            deviceInfo={**NEW_PHONE, "deviceId": phone_id}, payload="pay 5 EUR")
    asserted = authenticator.get(options=options_of(following, "passkey:tx"), origin=origin)
    confirmed = await client.call("passkey_tx", {"assertionResult": assertion_result(asserted)},
                                  session=following["session"])
    assert confirmed.status == 200 and confirmed.body["deviceId"] == phone_id, confirmed
    devices = (await rest_loginid.call("list_devices", authorization=token)).body["devices"]
    assert [d["deviceId"] for d in devices] == [LAPTOP["deviceId"], phone_id]


async def test_a_sign_up_records_its_device_once_its_address_is_proved(
        client: MfaClient, server: RunningServer, rest_loginid: LoginIdClient, admin: Admin,
        app_id: str, origin: str, username: str) -> None:
    following = await begin(client, server, app_id, origin, username, deviceInfo=LAPTOP)
    authenticator = SoftAuthenticator()
    created = authenticator.create(options=options_of(following, "passkey:reg"), origin=origin)
    reg = await client.call("passkey_reg", {"creationResult": creation_result(created)},
                            session=following["session"])
    assert is_next(reg), reg
    session = await otp_step(client, reg.body, "email", username)
    done = await client.call("otp_verify", {"otp": await code_sent(admin, username, "EMAIL",
                                                                     username)},
                             session=session)
    assert done.status == 200 and done.body["deviceId"] == LAPTOP["deviceId"], done
    listed = await rest_loginid.call("list_devices", authorization=done.body["accessToken"])
    assert [d["deviceId"] for d in listed.body["devices"]] == [LAPTOP["deviceId"]]


async def test_two_factors_close_the_single_step_sign_ins(
        client: MfaClient, server: RunningServer, rest_loginid: LoginIdClient,
        two_factor_app: str, origin: str, username: str) -> None:
    """auth/complete, auth/otp/verify and reg/complete would issue a session
    on one factor; on a two-factor application they refuse (403) before
    anything is used up, and MFA is the way in."""
    authenticator, _ = await signed_up(rest_loginid, two_factor_app, origin, username)
    await ask_two(client, server, two_factor_app)

    def refused(reply: Any) -> bool:
        return bool(reply.status == 403 and "requires 2 different factors" in reply.body["msg"])

    passkey = await rest_loginid.sign_in(app_id=two_factor_app, authenticator=authenticator,
                                         origin=origin, username=username)
    assert refused(passkey), passkey
    sent = await rest_loginid.call("send_email", {"user": {"username": username},
                                                  "appId": two_factor_app}, origin=origin)
    assert sent.status == 204, sent
    code = await rest_loginid.mailed_code(username)
    body = {"authCode": code, "user": {"username": username}, "appId": two_factor_app}
    assert refused(await rest_loginid.call("verify_code", body)), "code accepted on one factor"
    newcomer = await rest_loginid.register(app_id=two_factor_app,
                                           username=f"new-{uuid.uuid4().hex[:10]}",
                                           authenticator=SoftAuthenticator(), origin=origin)
    assert refused(newcomer), newcomer

    # The refusal used nothing up: back at one factor, the same code works.
    await set_mfa_factors(server, client.transport, two_factor_app, 1)
    again = await rest_loginid.call("verify_code", body)
    assert again.status == 200 and again.body["jwtAccess"], again
