"""LoginID's profile and devices (/fido2/v2/profile, /fido2/v2/devices):
addresses change only once their code is verified (single use, counted by
lockout), SMS needs consent, the user may delete their account, and the
devices they signed in from are listed, renamed and forgotten."""

from __future__ import annotations

import re
import uuid
from typing import Any

from authcore_testkit.api import Admin
from authcore_testkit.loginid import LoginIdClient, signed_up
from authcore_testkit.loginid_mfa import MfaClient, host_of, names
from authcore_testkit.scim import ScimRest, patch_op
from authcore_testkit.server import RunningServer
from authcore_testkit.soft_webauthn import SoftAuthenticator

LAPTOP = {"clientType": "browser", "clientName": "Chrome", "osName": "Linux",
          "osVersion": "6.1", "osArch": "x86_64",
          "deviceId": "2a363a42-a397-4af0-b089-0935fc223017"}
PHONE = {"clientType": "browser", "clientName": "Safari", "osName": "iOS",
         "osVersion": "18.1.1", "deviceId": "ab715482-4089-4818-9f79-80523d8eb3c6"}


async def code_sent_to(admin: Admin, username: str, address: str) -> str:
    messages = [m for m in await admin.outbox(username) if m.get("address") == address]
    assert messages, f"nothing was sent to {address}"
    found = re.search(r"\b(\d{6})\b", messages[-1]["text"])
    assert found is not None
    return found.group(1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


async def get_user(admin: Admin, username: str) -> dict[str, Any]:
    return (await admin.req("GET", f"/api/admin/v1/users/{username}"))["user"]  # type: ignore[no-any-return]


async def test_email_changes_once_its_code_is_verified(
        loginid: LoginIdClient, admin: Admin, app_id: str, origin: str, username: str) -> None:
    _, jwt = await signed_up(loginid, app_id, origin, username)
    new = f"new-{uuid.uuid4().hex[:8]}@example.org"
    asked = await loginid.call("update_email", {"email": new}, path={"id": username},
                               authorization=jwt)
    assert asked.status == 204
    # Not yet: the address is unproved.
    assert (await get_user(admin, username))["email"] == username
    code = await code_sent_to(admin, username, new)
    body = {"authCode": code, "username": username, "appId": app_id}
    assert (await loginid.call("verify_email", {**body, "authCode": wrong(code)})).status == 401
    assert (await loginid.call("verify_email", body)).status == 204
    assert (await get_user(admin, username))["email"] == new
    # Single use.
    assert (await loginid.call("verify_email", body)).status == 401
    # A phone code is no email code, and an unknown user answers as a wrong code.
    assert (await loginid.call("verify_phone", body)).status == 401
    nobody = await loginid.call("verify_email", {**body, "username": "nobody-" + username})
    assert nobody.status == 401


async def test_without_verification_the_change_is_immediate(
        loginid: LoginIdClient, admin: Admin, app_id: str, origin: str, username: str) -> None:
    _, jwt = await signed_up(loginid, app_id, origin, username)
    new = f"now-{uuid.uuid4().hex[:8]}@example.org"
    before = len(await admin.outbox(username))
    got = await loginid.call("update_email", {"email": new, "requestVerification": False},
                             path={"id": username}, authorization=jwt)
    assert got.status == 204
    assert (await get_user(admin, username))["email"] == new
    assert len(await admin.outbox(username)) == before
    phone = "+14161234567"
    got = await loginid.call("update_phone", {"phoneNumber": phone, "requestVerification": False},
                             path={"id": username}, authorization=jwt)
    assert got.status == 204 and (await get_user(admin, username))["phone"] == phone
    assert (await loginid.call("delete_phone", path={"id": username},
                               authorization=jwt)).status == 204
    assert "phone" not in await get_user(admin, username)


async def test_phone_needs_consent_and_its_code(
        loginid: LoginIdClient, admin: Admin, app_id: str, origin: str, username: str) -> None:
    _, jwt = await signed_up(loginid, app_id, origin, username)
    phone = "+1 (416) 555-0199"
    refused = await loginid.call("update_phone", {"phoneNumber": phone}, path={"id": username},
                                 authorization=jwt)
    assert refused.status == 400
    assert not [m for m in await admin.outbox(username) if m["medium"] == "SMS"]
    asked = await loginid.call("update_phone", {"phoneNumber": phone, "messagingConsent": True},
                               path={"id": username}, authorization=jwt)
    assert asked.status == 204
    code = await code_sent_to(admin, username, "+14165550199")
    body = {"authCode": code, "username": username, "appId": app_id}
    assert (await loginid.call("verify_email", body)).status == 401
    assert (await loginid.call("verify_phone", body)).status == 204
    assert (await get_user(admin, username))["phone"] == "+14165550199"


async def test_failed_codes_lock_verification(
        loginid: LoginIdClient, admin: Admin, app_id: str, origin: str, username: str) -> None:
    _, jwt = await signed_up(loginid, app_id, origin, username)
    new = f"lock-{uuid.uuid4().hex[:8]}@example.org"
    await loginid.call("update_email", {"email": new}, path={"id": username}, authorization=jwt)
    code = await code_sent_to(admin, username, new)
    body = {"authCode": wrong(code), "username": username, "appId": app_id}
    for _ in range(5):
        assert (await loginid.call("verify_email", body)).status == 401
    locked = await loginid.call("verify_email", {**body, "authCode": code})
    assert locked.status == 403
    assert (await get_user(admin, username))["email"] == username


async def test_only_the_user_and_the_right_grant_may_change_it(
        loginid: LoginIdClient, admin: Admin, app_id: str, origin: str, username: str) -> None:
    _, jwt = await signed_up(loginid, app_id, origin, username)
    other = f"other-{uuid.uuid4().hex[:8]}@example.com"
    await admin.user(other, email=other)
    change = {"email": "mallory@example.org", "requestVerification": False}
    assert (await loginid.call("update_email", change, path={"id": other},
                               authorization=jwt)).status == 403
    assert (await loginid.call("update_email", change, path={"id": str(uuid.uuid4())},
                               authorization=jwt)).status == 403
    assert (await loginid.call("update_email", change, path={"id": username})).status == 401
    assert (await loginid.call("update_email", change, path={"id": username},
                               authorization="garbage")).status == 401
    reader = await loginid.call("grant", {"grants": ["profile:read"], "username": username,
                                          "appId": app_id},
                                authorization="Bearer " + loginid.server.admin_key)
    assert (await loginid.call("update_email", change, path={"id": username},
                               authorization=reader.body["token"])).status == 403
    assert (await loginid.call("delete_profile", path={"id": username},
                               authorization=reader.body["token"])).status == 403
    assert (await get_user(admin, other))["email"] == other
    assert (await get_user(admin, username))["email"] == username


async def test_profile_bad_input(loginid: LoginIdClient, app_id: str, origin: str,
                                 username: str) -> None:
    _, jwt = await signed_up(loginid, app_id, origin, username)
    path = {"id": username}
    for op, body in (("update_email", {"email": ""}),
                     ("update_email", {"email": "not-an-address"}),
                     ("update_email", {"email": "a@" + "b" * 330 + ".com"}),
                     ("update_phone", {"phoneNumber": "", "messagingConsent": True}),
                     ("update_phone", {"phoneNumber": "0123", "messagingConsent": True}),
                     ("update_phone", {"phoneNumber": "call me", "messagingConsent": True})):
        got = await loginid.call(op, body, path=path, authorization=jwt)
        assert got.status == 400, (op, body, got)
    for body in ({"authCode": "", "username": username, "appId": app_id},
                 {"authCode": "123456", "username": "", "appId": app_id},
                 {"authCode": "123456", "username": username, "appId": ""}):
        assert (await loginid.call("verify_email", body)).status == 400, body
    unknown_app = {"authCode": "123456", "username": username, "appId": str(uuid.uuid4())}
    assert (await loginid.call("verify_phone", unknown_app)).status == 404
    if loginid.transport == "rest":
        for raw in (b"{", b'{"email": 7}', b'{"email": "a@b.co", "requestVerification": "no"}',
                    b"[]"):
            r = await loginid.http.post(f"/fido2/v2/profile/{username}/email", content=raw,
                                        headers={"Authorization": jwt,
                                                 "Content-Type": "application/json"})
            assert r.status_code == 400, (raw, r.text)
            assert set(r.json()) == {"msg", "msgCode"}


async def test_delete_profile(loginid: LoginIdClient, admin: Admin, app_id: str, origin: str,
                              username: str) -> None:
    authenticator, jwt = await signed_up(loginid, app_id, origin, username)
    assert (await loginid.call("delete_profile", path={"id": username},
                               authorization=jwt)).status == 204
    r = await admin.http.get(f"/api/admin/v1/users/{username}")
    assert r.status_code == 404
    assert (await loginid.call("list_passkeys", authorization=jwt)).status == 401
    # The passkey is gone with the account.
    again = await loginid.sign_in(app_id=app_id, authenticator=authenticator, origin=origin)
    assert again.status == 400


async def test_devices_are_listed_renamed_and_forgotten(
        loginid: LoginIdClient, app_id: str, origin: str, username: str) -> None:
    authenticator = SoftAuthenticator()
    done = await loginid.register(app_id=app_id, username=username, authenticator=authenticator,
                                  origin=origin, device_info=LAPTOP)
    assert done.status == 200
    jwt = done.body["jwtAccess"]
    listed = await loginid.call("list_devices", authorization=jwt)
    assert listed.status == 200
    assert [(d["deviceId"], d["name"]) for d in listed.body["devices"]] == [
        (LAPTOP["deviceId"], "Linux 6.1 (x86_64)")]
    # Signing in from another device (the hot path) records it too.
    signed = await loginid.sign_in(app_id=app_id, authenticator=authenticator, origin=origin,
                                   username=username, device_info=PHONE)
    assert signed.status == 200
    devices = (await loginid.call("list_devices", authorization=jwt)).body["devices"]
    assert [d["deviceId"] for d in devices] == [LAPTOP["deviceId"], PHONE["deviceId"]]
    assert devices[1]["name"] == "iOS 18.1.1" and devices[1]["lastUsedAt"]
    renamed = await loginid.call("rename_device", {"name": "My iPhone"},
                                 path={"deviceId": PHONE["deviceId"]}, authorization=jwt)
    assert renamed.status == 204
    # Used again: the name the user chose stays.
    await loginid.sign_in(app_id=app_id, authenticator=authenticator, origin=origin,
                          device_info=PHONE)
    devices = (await loginid.call("list_devices", authorization=jwt)).body["devices"]
    assert devices[1]["name"] == "My iPhone"
    assert (await loginid.call("delete_device", path={"deviceId": LAPTOP["deviceId"]},
                               authorization=jwt)).status == 204
    devices = (await loginid.call("list_devices", authorization=jwt)).body["devices"]
    assert [d["deviceId"] for d in devices] == [PHONE["deviceId"]]
    for op, kwargs in (("delete_device", {}), ("rename_device", {"body": {"name": "x"}})):
        got = await loginid.call(op, kwargs.get("body"), path={"deviceId": LAPTOP["deviceId"]},
                                 authorization=jwt)
        assert got.status == 404, (op, got)
    assert (await loginid.call("rename_device", {"name": " "},
                               path={"deviceId": PHONE["deviceId"]},
                               authorization=jwt)).status == 400
    # Another user sees none of them.
    other = f"dev-{uuid.uuid4().hex[:8]}@example.com"
    _, other_jwt = await signed_up(loginid, app_id, origin, other)
    assert (await loginid.call("list_devices", authorization=other_jwt)).body == {"devices": []}
    assert (await loginid.call("delete_device", path={"deviceId": PHONE["deviceId"]},
                               authorization=other_jwt)).status == 404
    assert (await loginid.call("list_devices")).status == 401


async def sms_sent(loginid: LoginIdClient, admin: Admin, app_id: str, origin: str,
                   username: str) -> int:
    """How many SMS messages `auth/otp/sms` queued for the user (always 204)."""
    before = len([m for m in await admin.outbox(username) if m["channel"] == "SMS"])
    sent = await loginid.call("send_sms", {"user": {"username": username}, "appId": app_id},
                              origin=origin)
    assert sent.status == 204, sent
    return len([m for m in await admin.outbox(username) if m["channel"] == "SMS"]) - before


async def test_a_declined_number_gets_no_sign_in_codes(
        loginid: LoginIdClient, admin: Admin, app_id: str, origin: str, username: str) -> None:
    _, jwt = await signed_up(loginid, app_id, origin, username)
    # The user's own number, with messagingConsent false: kept, never texted.
    set_phone = await loginid.call(
        "update_phone", {"phoneNumber": "+14165550111", "requestVerification": False,
                         "messagingConsent": False}, path={"id": username}, authorization=jwt)
    assert set_phone.status == 204
    assert (await get_user(admin, username))["phone"] == "+14165550111"
    assert await sms_sent(loginid, admin, app_id, origin, username) == 0
    # Agreeing later lets the codes go.
    agreed = await loginid.call(
        "update_phone", {"phoneNumber": "+14165550111", "requestVerification": False,
                         "messagingConsent": True}, path={"id": username}, authorization=jwt)
    assert agreed.status == 204
    assert await sms_sent(loginid, admin, app_id, origin, username) == 1


async def test_an_operators_number_is_texted(loginid: LoginIdClient, admin: Admin,
                                             app_id: str, origin: str) -> None:
    # Nobody asked this user (consent unknown): the operator's number, as
    # LoginID documents ("sent if the phone is registered").
    name = f"operator-{uuid.uuid4().hex[:8]}"
    await admin.user(name, phone="+14165550122")
    assert await sms_sent(loginid, admin, app_id, origin, name) == 1


async def test_an_address_changed_elsewhere_is_no_longer_verified(
        loginid: LoginIdClient, admin: Admin, server: RunningServer, app_id: str, origin: str,
        username: str) -> None:
    """A proof belongs to the address it proved: SCIM replacing the email or
    phone clears it (and the number's consent), so MFA stops offering codes
    to the new address."""
    _, jwt = await signed_up(loginid, app_id, origin, username)
    asked = await loginid.call("update_phone", {"phoneNumber": "+14165550133",
                                                "messagingConsent": True},
                               path={"id": username}, authorization=jwt)
    assert asked.status == 204
    code = await code_sent_to(admin, username, "+14165550133")
    assert (await loginid.call("verify_phone", {"authCode": code, "username": username,
                                                "appId": app_id})).status == 204

    mfa = MfaClient(server, "rest")
    scim = ScimRest(server)
    try:
        async def otp_actions() -> list[str]:
            begun = await mfa.call("begin", {"user": {"username": username,
                                                      "usernameType": "email"}},
                                   host=host_of(app_id, server), origin=origin)
            assert begun.status == 200, begun
            return sorted(n for n in names(begun.body) if n.startswith("otp:"))

        assert await otp_actions() == ["otp:email", "otp:sms"]
        found = await scim.list("Users", filter=f'userName eq "{username}"')
        assert found.status == 200 and found.body["totalResults"] == 1, found
        rid = found.body["Resources"][0]["id"]
        patched = await scim.patch("Users", rid, patch_op(
            {"op": "replace", "path": "phoneNumbers",
             "value": [{"value": "+14165550144", "type": "mobile", "primary": True}]}))
        assert patched.ok, patched
        assert await otp_actions() == ["otp:email"]
        patched = await scim.patch("Users", rid, patch_op(
            {"op": "replace", "path": "emails",
             "value": [{"value": f"other-{username}", "type": "work", "primary": True}]}))
        assert patched.ok, patched
        assert await otp_actions() == []
    finally:
        await mfa.close()
        await scim.close()
