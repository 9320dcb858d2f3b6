"""Self sign-up without account pre-hijacking (issue 15, item 1).

Before: `reg/init` + `reg/complete` with any unused username created a user
on every application, with no proof of the address. An attacker registered
`ceo@corp.example` first; the IdP's later SCIM provisioning got 409, its
`userName eq` filter found the attacker's user and adopted it, and the
attacker's passkey signed in as the provisioned user."""

from __future__ import annotations

import uuid
from typing import Any

from authcore_testkit.api import Admin
from authcore_testkit.consumer import ConsumerClient
from authcore_testkit.loginid import LoginIdClient, assertion_result, awaits_proof
from authcore_testkit.scim import ScimRest, user_doc
from authcore_testkit.server import RunningServer
from authcore_testkit.soft_webauthn import SoftAuthenticator


def reg_init_body(app_id: str, username: str) -> dict[str, Any]:
    return {"app": {"id": app_id}, "deviceInfo": {}, "user": {"username": username}}


async def new_app(admin: Admin, origin: str, **access: bool) -> str:
    body: dict[str, Any] = {"name": "sign-up test",
                            "webauthn": {"rpId": "localhost", "origins": [origin]}}
    if access:
        body["access"] = access
    return str((await admin.req("POST", "/api/admin/v1/applications", body))["applicationId"])


async def test_self_sign_up_is_off_by_default_and_says_nothing(
        loginid: LoginIdClient, admin: Admin, origin: str) -> None:
    app_id = await new_app(admin, origin)
    got = await admin.req("GET", f"/api/admin/v1/applications/{app_id}")
    assert got["application"]["access"] == {"selfSignUp": False, "hideUserExistence": True,
                                            "mfaFactors": 1}
    existing = f"su-{uuid.uuid4().hex[:12]}"
    await admin.user(existing)
    unknown = await loginid.call("reg_init", reg_init_body(app_id, f"su-{uuid.uuid4().hex}"),
                                 origin=origin)
    known = await loginid.call("reg_init", reg_init_body(app_id, existing), origin=origin)
    assert unknown.status == known.status == 403
    assert unknown.body == known.body and unknown.error_code == known.error_code


async def test_a_username_without_an_address_is_usable_at_once(
        loginid: LoginIdClient, admin: Admin, origin: str) -> None:
    app_id = await new_app(admin, origin, selfSignUp=True)
    username = f"su-{uuid.uuid4().hex[:12]}"
    authenticator = SoftAuthenticator()
    done = await loginid.register(app_id=app_id, username=username,
                                  authenticator=authenticator, origin=origin,
                                  prove_address=False)
    assert done.status == 200, done
    assert (await loginid.sign_in(app_id=app_id, authenticator=authenticator, origin=origin,
                                  username=username)).status == 200


async def sign_up_unproved(loginid: LoginIdClient, app_id: str, origin: str, username: str
                           ) -> SoftAuthenticator:
    authenticator = SoftAuthenticator()
    done = await loginid.register(app_id=app_id, username=username,
                                  authenticator=authenticator, origin=origin,
                                  prove_address=False)
    assert awaits_proof(done), done
    return authenticator


async def passkey_signs_in(loginid: LoginIdClient, app_id: str, origin: str,
                           authenticator: SoftAuthenticator) -> bool:
    """A usernameless sign-in with this passkey (the attacker's view)."""
    init = await loginid.call("auth_init", {"app": {"id": app_id}, "deviceInfo": {}},
                              origin=origin)
    assert init.status == 200
    asserted = authenticator.get(options=init.body["assertionOptions"], origin=origin)
    done = await loginid.call("auth_complete", {"session": init.body["session"],
                                                "assertionResult": assertion_result(asserted)})
    return done.status == 200


async def test_scim_never_adopts_an_unproved_sign_up(
        loginid: LoginIdClient, admin: Admin, server: RunningServer, origin: str) -> None:
    app_id = await new_app(admin, origin, selfSignUp=True)
    victim = f"ceo-{uuid.uuid4().hex[:10]}@corp.example"
    attacker = await sign_up_unproved(loginid, app_id, origin, victim)
    # The unproved account signs in nowhere.
    assert not await passkey_signs_in(loginid, app_id, origin, attacker)
    scim = ScimRest(server)
    try:
        found = await scim.list("Users", filter=f'userName eq "{victim}"')
        assert found.status == 200 and found.body["totalResults"] == 0
        listed = await scim.list("Users", filter=f'userName sw "{victim[:14]}"')
        assert listed.body["totalResults"] == 0
        # The IdP's provisioning takes the name over cleanly...
        created = await scim.create("Users", user_doc(victim))
        assert created.status == 201, created
        found = await scim.list("Users", filter=f'userName eq "{victim}"')
        assert [r["id"] for r in found.body["Resources"]] == [created.body["id"]]
    finally:
        await scim.close()
    # ...and the attacker's passkey and mailed code went with the old account.
    assert not await passkey_signs_in(loginid, app_id, origin, attacker)
    assert await admin.outbox(victim) == []
    assert (await admin.req("GET", f"/api/admin/v1/users/{victim}"))["user"]["active"] is True


async def test_an_admin_create_takes_the_name_over_too(
        loginid: LoginIdClient, admin: Admin, origin: str) -> None:
    app_id = await new_app(admin, origin, selfSignUp=True)
    victim = f"cfo-{uuid.uuid4().hex[:10]}@corp.example"
    attacker = await sign_up_unproved(loginid, app_id, origin, victim)
    await admin.user(victim, email=victim)
    assert not await passkey_signs_in(loginid, app_id, origin, attacker)
    # The code mailed to the sign-up finishes nothing now.
    body = {"authCode": "000000", "user": {"username": victim}, "appId": app_id}
    assert (await loginid.call("verify_code", body)).status == 401


async def test_the_mailed_code_finishes_the_sign_up(
        loginid: LoginIdClient, admin: Admin, server: RunningServer, origin: str) -> None:
    app_id = await new_app(admin, origin, selfSignUp=True)
    username = f"su-{uuid.uuid4().hex[:10]}@example.com"
    authenticator = await sign_up_unproved(loginid, app_id, origin, username)
    [message] = await admin.outbox(username)
    assert message["channel"] == "EMAIL" and message["address"] == username
    assert "sign-up test" in message["text"]  # names the application
    wrong = await loginid.call("verify_code", {"authCode": "000000",
                                               "user": {"username": username}, "appId": app_id})
    assert wrong.status == 401
    done = await loginid.prove_address(app_id=app_id, username=username)
    assert done.status == 200 and done.body["userId"] == username
    assert done.body["passkeyId"]
    assert await passkey_signs_in(loginid, app_id, origin, authenticator)
    # Proved, the account is an ordinary one: SCIM sees it, and a second
    # sign-up of the name is a registration for an existing user (403).
    scim = ScimRest(server)
    try:
        found = await scim.list("Users", filter=f'userName eq "{username}"')
        assert found.body["totalResults"] == 1
    finally:
        await scim.close()
    again = await loginid.call("reg_init", reg_init_body(app_id, username), origin=origin)
    assert again.status == 403


async def test_a_new_sign_up_replaces_an_unproved_one(
        loginid: LoginIdClient, admin: Admin, origin: str) -> None:
    app_id = await new_app(admin, origin, selfSignUp=True)
    username = f"su-{uuid.uuid4().hex[:10]}@example.com"
    squatter = await sign_up_unproved(loginid, app_id, origin, username)
    owner = SoftAuthenticator()
    done = await loginid.register(app_id=app_id, username=username, authenticator=owner,
                                  origin=origin)
    assert done.status == 200, done
    assert await passkey_signs_in(loginid, app_id, origin, owner)
    assert not await passkey_signs_in(loginid, app_id, origin, squatter)


async def test_a_squatted_email_still_logs_in_by_email(
        loginid: LoginIdClient, admin: Admin, server: RunningServer, origin: str) -> None:
    """Self-registering a victim's email, in another case, as a userId
    stopped the victim's consumer login by email for good."""
    app_id = await new_app(admin, origin, selfSignUp=True)
    victim_id = f"jdoe-{uuid.uuid4().hex[:8]}"
    email = f"{victim_id}@corp.example"
    await admin.user(victim_id, email=email)
    await admin.password(victim_id, "victim-password-1")
    await sign_up_unproved(loginid, app_id, origin, email.upper())
    async with ConsumerClient(server, "rest") as consumer:
        login = await consumer.login(email, "victim-password-1")
    assert login.status == 200, login
