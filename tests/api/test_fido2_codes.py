"""LoginID's sign-in codes (/fido2/v2/auth/otp...) and client events: codes
are single use, wrong codes and unknown users get the same answer, repeated
failures lock the codes, sends never reveal whether an account exists, and
client events change nothing."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import jwt

from authcore_testkit.api import Admin
from authcore_testkit.loginid import LoginIdClient, assertion_result, signed_up


def verify_body(app_id: str, username: str, code: str) -> dict[str, Any]:
    return {"authCode": code, "user": {"username": username}, "appId": app_id}


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**len(code):0{len(code)}d}"


async def test_cross_device_code(loginid: LoginIdClient, app_id: str, origin: str,
                                 username: str) -> None:
    _, token = await signed_up(loginid, app_id, origin, username)
    issued = await loginid.call("request_auth_code", authorization="Bearer " + token)
    assert issued.status == 200
    code = issued.body["code"]
    assert re.fullmatch(r"\d{6}", code)
    expires = datetime.strptime(issued.body["expiresAt"], "%Y-%m-%dT%H:%M:%SZ")
    left = expires.replace(tzinfo=UTC).timestamp() - datetime.now(UTC).timestamp()
    assert 240 < left <= 301

    ok = await loginid.call("verify_code", verify_body(app_id, username, code))
    assert ok.status == 200 and ok.body["userId"] == username
    assert "passkeyId" not in ok.body
    # A code-issued JWT names its user for the web SDK too (getUser()).
    issued_claims = jwt.decode(ok.body["jwtAccess"], options={"verify_signature": False})
    assert issued_claims["username"] == username and issued_claims["amr"] != ["passkey"]
    listed = await loginid.call("list_passkeys", authorization=ok.body["jwtAccess"])
    assert listed.status == 200 and len(listed.body) == 1
    # Single use.
    assert (await loginid.call("verify_code", verify_body(app_id, username, code))).status == 401
    assert (await loginid.call("request_auth_code")).status == 401
    assert (await loginid.call("request_auth_code", authorization="garbage")).status == 401


async def test_wrong_code_and_unknown_user_look_the_same(
        loginid: LoginIdClient, app_id: str, origin: str, username: str) -> None:
    _, token = await signed_up(loginid, app_id, origin, username)
    code = (await loginid.call("request_auth_code", authorization=token)).body["code"]
    bad = await loginid.call("verify_code", verify_body(app_id, username, wrong(code)))
    nobody = await loginid.call("verify_code", verify_body(app_id, "nobody-" + username, code))
    assert bad.status == nobody.status == 401
    assert bad.body == nobody.body and bad.error_code == nobody.error_code
    # The code is still good after a wrong guess.
    assert (await loginid.call("verify_code", verify_body(app_id, username, code))).status == 200
    # Another application can't use it.
    other = await loginid.call("verify_code", verify_body(str(uuid.uuid4()), username, code))
    assert other.status == 404
    for missing in ({"authCode": ""}, {"appId": ""}, {"user": {"username": ""}}):
        body = {**verify_body(app_id, username, "123456"), **missing}
        assert (await loginid.call("verify_code", body)).status == 400


async def test_failures_lock_the_codes(loginid: LoginIdClient, app_id: str, origin: str,
                                       username: str) -> None:
    authenticator, token = await signed_up(loginid, app_id, origin, username)
    code = (await loginid.call("request_auth_code", authorization=token)).body["code"]
    for _ in range(5):
        failed = await loginid.call("verify_code", verify_body(app_id, username, wrong(code)))
        assert failed.status == 401
    locked = await loginid.call("verify_code", verify_body(app_id, username, code))
    assert locked.status == 403
    if loginid.transport == "grpc":
        assert locked.error_code == "authenticator_locked"
    # A new code doesn't help, and passkeys are not affected.
    fresh = (await loginid.call("request_auth_code", authorization=token)).body["code"]
    assert (await loginid.call("verify_code", verify_body(app_id, username, fresh))).status == 403
    signed_in = await loginid.sign_in(app_id=app_id, authenticator=authenticator, origin=origin,
                                      username=username)
    assert signed_in.status == 200


async def test_email_and_sms_codes(loginid: LoginIdClient, admin: Admin, app_id: str,
                                   origin: str) -> None:
    mailed = f"mail-{uuid.uuid4().hex[:10]}"
    await admin.user(mailed, email=f"{mailed}@example.com")
    texted = f"sms-{uuid.uuid4().hex[:10]}"
    await admin.user(texted, phone="+15551234567")

    def send_body(name: str) -> dict[str, Any]:
        return {"user": {"username": name}, "appId": app_id}

    # 204 whether or not the user exists or has the address.
    for op, name in (("send_email", mailed), ("send_email", texted),
                     ("send_email", "nobody-" + mailed), ("send_sms", texted),
                     ("send_sms", mailed), ("send_sms", "nobody-" + texted)):
        sent = await loginid.call(op, send_body(name), origin=origin)
        assert sent.status == 204, (op, name, sent)

    mail = await admin.outbox(mailed)
    sms = await admin.outbox(texted)
    assert [m["channel"] for m in mail] == ["EMAIL"]
    assert [m["channel"] for m in sms] == ["SMS"]
    assert mail[0]["address"] == f"{mailed}@example.com"
    assert sms[0]["address"] == "+15551234567"

    for name, messages in ((mailed, mail), (texted, sms)):
        code = re.search(r"\b(\d{6})\b", messages[0]["text"]).group(1)  # type: ignore[union-attr]
        ok = await loginid.call("verify_code", verify_body(app_id, name, code))
        assert ok.status == 200 and ok.body["userId"] == name

    assert (await loginid.call("send_email", {"user": {"username": mailed}},
                               origin=origin)).status == 400
    assert (await loginid.call("send_email", {"appId": app_id}, origin=origin)).status == 400
    assert (await loginid.call("send_email", {**send_body(mailed), "appId": str(uuid.uuid4())},
                               origin=origin)).status == 404


async def test_client_events_change_nothing(loginid: LoginIdClient, app_id: str, origin: str,
                                            username: str) -> None:
    authenticator, token = await signed_up(loginid, app_id, origin, username)
    init = await loginid.call("auth_init", {"app": {"id": app_id}, "deviceInfo": {},
                                            "user": {"username": username}}, origin=origin)
    code = (await loginid.call("request_auth_code", authorization=token)).body["code"]

    anonymous = await loginid.call("client_event", {
        "event": "ERROR_DISCOVERABLE_CREDENTIALS_UNSUPPORTED", "isError": True})
    assert anonymous.status == 200 and anonymous.body == {}
    signed = await loginid.call("client_event", {"event": "x" * 500},
                                authorization="Bearer " + token)
    assert signed.status == 200 and signed.body == {}
    assert (await loginid.call("client_event", {"event": "e"},
                               authorization="Bearer nope")).status == 401
    assert (await loginid.call("client_event", {"isError": True})).status == 400

    # The sign-in session, the code and the JWT are all still good.
    asserted = authenticator.get(options=init.body["assertionOptions"], origin=origin)
    done = await loginid.call("auth_complete", {"session": init.body["session"],
                                                "assertionResult": assertion_result(asserted)})
    assert done.status == 200
    assert (await loginid.call("verify_code", verify_body(app_id, username, code))).status == 200
    assert (await loginid.call("list_passkeys", authorization=token)).status == 200
