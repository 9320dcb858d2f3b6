"""SCIM provisioning drives authentication: a user made over SCIM with a
password signs in with Entrust's PASSWORD flow; `active: false` refuses
them (and ends their sessions) until they are reactivated; a SCIM password
change takes effect; group display names are the token's `groups` claim."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest

from authcore_testkit.api import Admin, GrpcApi, RestApi
from authcore_testkit.scim import (
    ScimRest,
    group_doc,
    load_fixture,
    must,
    patch_op,
    unique,
    user_doc,
)
from authcore_testkit.server import RunningServer

Api = RestApi | GrpcApi
PASSWORD = "correct horse battery staple"


@pytest.fixture
async def scim(server: RunningServer) -> AsyncIterator[ScimRest]:
    client = ScimRest(server)
    yield client
    await client.close()


async def login(api: Api, app_id: str, user_name: str, password: str) -> Any:
    ch = await api.challenge("PASSWORD", {"applicationId": app_id, "userId": user_name})
    if ch.status != 200:
        return ch
    return await api.complete("PASSWORD", {"response": password}, ch.body["token"])


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


async def introspect(admin: Admin, token: str) -> bool:
    body = await admin.req("POST", "/api/admin/v1/tokens/introspect", {"token": token})
    return bool(body["active"])


async def test_scim_user_with_password_signs_in(api: Api, scim: ScimRest, app_id: str
                                                ) -> None:
    name = unique("signin-") + "@example.com"
    user = await must(scim.create("Users", user_doc(
        name, password=PASSWORD, name={"givenName": "Ada", "familyName": "Lovelace"},
        emails=[{"value": "ada@example.org", "type": "work", "primary": True}])))
    q = await api.query({"applicationId": app_id, "userId": name})
    assert q.status == 200, q
    assert "PASSWORD" in q.body["authenticationTypes"]
    done = await login(api, app_id, name, PASSWORD)
    assert done.status == 200, done
    assert done.body["authenticationCompleted"] is True
    assert done.body["userId"] == name
    assert done.body["firstName"] == "Ada" and done.body["lastName"] == "Lovelace"
    token = claims(done.body["token"])
    assert token["sub"] == name and token["amr"] == ["PASSWORD"]
    assert token["groups"] == []
    wrong = await login(api, app_id, name, "not the password")
    assert wrong.status == 401, wrong
    assert "password" not in user


async def test_rfc_full_user_password_signs_in(api: Api, scim: ScimRest, app_id: str) -> None:
    fixture = load_fixture("rfc7643_8_2_full_user")
    name = unique("babs-")
    await must(scim.create("Users", {**fixture, "userName": name}))
    done = await login(api, app_id, name, fixture["password"])  # "t1meMa$heen"
    assert done.status == 200, done


async def test_deactivated_user_is_refused_until_reactivated(
    api: Api, scim: ScimRest, admin: Admin, app_id: str
) -> None:
    name = unique("inactive-")
    user = await must(scim.create("Users", user_doc(name, password=PASSWORD)))
    first = await login(api, app_id, name, PASSWORD)
    assert first.status == 200, first
    session = first.body["token"]
    assert await introspect(admin, session) is True
    # A challenge started while active...
    pending = await api.challenge("PASSWORD", {"applicationId": app_id, "userId": name})
    assert pending.status == 200

    off = await must(scim.patch("Users", user["id"], patch_op(
        {"op": "replace", "path": "active", "value": False})))
    assert off["active"] is False

    refused = await login(api, app_id, name, PASSWORD)
    assert refused.status == 403 and refused.error_code == "user_disabled", refused
    q = await api.query({"applicationId": app_id, "userId": name})
    assert q.status == 403 and q.error_code == "user_disabled", q
    # ...cannot be completed after the deactivation.
    late = await api.complete("PASSWORD", {"response": PASSWORD}, pending.body["token"])
    assert late.status == 403 and late.error_code == "user_disabled", late
    # Deactivation ends existing sessions too.
    assert await introspect(admin, session) is False

    # Entra ID's spelling: replace without a path.
    on = await must(scim.patch("Users", user["id"], patch_op(
        {"op": "Replace", "value": {"active": True}})))
    assert on["active"] is True
    again = await login(api, app_id, name, PASSWORD)
    assert again.status == 200, again
    assert await introspect(admin, again.body["token"]) is True
    # The old session stays ended.
    assert await introspect(admin, session) is False


async def test_deactivation_by_put_and_creation_inactive(api: Api, scim: ScimRest,
                                                         app_id: str) -> None:
    name = unique("put-off-")
    user = await must(scim.create("Users", user_doc(name, password=PASSWORD)))
    await must(scim.replace("Users", user["id"], user_doc(name, active=False)))
    refused = await login(api, app_id, name, PASSWORD)
    assert refused.status == 403 and refused.error_code == "user_disabled", refused
    # The password survived the PUT (write-only, not cleared by omission).
    await must(scim.replace("Users", user["id"], user_doc(name, active=True)))
    assert (await login(api, app_id, name, PASSWORD)).status == 200

    born_off = unique("born-off-")
    await must(scim.create("Users", user_doc(born_off, password=PASSWORD, active=False)))
    refused = await login(api, app_id, born_off, PASSWORD)
    assert refused.status == 403 and refused.error_code == "user_disabled", refused


async def test_scim_password_change_takes_effect(api: Api, scim: ScimRest, app_id: str
                                                 ) -> None:
    name = unique("pwchange-")
    user = await must(scim.create("Users", user_doc(name, password=PASSWORD)))
    new = "a brand new passphrase"
    await must(scim.patch("Users", user["id"], patch_op(
        {"op": "replace", "path": "password", "value": new})))
    assert (await login(api, app_id, name, PASSWORD)).status == 401
    assert (await login(api, app_id, name, new)).status == 200
    newer = "and yet another passphrase"
    await must(scim.replace("Users", user["id"], user_doc(name, password=newer)))
    assert (await login(api, app_id, name, new)).status == 401
    assert (await login(api, app_id, name, newer)).status == 200


async def test_renamed_user_signs_in_with_the_new_user_name(api: Api, scim: ScimRest,
                                                            app_id: str) -> None:
    old, new = unique("old-"), unique("new-")
    user = await must(scim.create("Users", user_doc(old, password=PASSWORD)))
    await must(scim.patch("Users", user["id"], patch_op(
        {"op": "replace", "path": "userName", "value": new})))
    assert (await login(api, app_id, new, PASSWORD)).status == 200
    # The old name is nobody's now: the demo application answers it like a
    # user with a password that never matches.
    gone = await login(api, app_id, old, PASSWORD)
    assert gone.status == 401 and gone.error_code == "invalid_password", gone


async def test_deleted_user_cannot_sign_in(api: Api, scim: ScimRest, admin: Admin,
                                           app_id: str) -> None:
    name = unique("deleted-")
    user = await must(scim.create("Users", user_doc(name, password=PASSWORD)))
    done = await login(api, app_id, name, PASSWORD)
    assert done.status == 200
    assert (await scim.delete("Users", user["id"])).status == 204
    assert (await login(api, app_id, name, PASSWORD)).status == 401
    assert await introspect(admin, done.body["token"]) is False


async def test_group_display_names_are_the_groups_claim(api: Api, scim: ScimRest,
                                                        app_id: str) -> None:
    name = unique("grouped-")
    user = await must(scim.create("Users", user_doc(name, password=PASSWORD)))
    tag = unique()
    zeta = await must(scim.create("Groups", group_doc(f"Zeta {tag}", [user["id"]])))
    await must(scim.create("Groups", group_doc(f"Alpha {tag}", [user["id"]])))
    other = await must(scim.create("Users", user_doc(unique("other-"))))
    await must(scim.create("Groups", group_doc(f"Not Mine {tag}", [other["id"]])))
    # A group holding one of the user's groups: membership is direct only.
    await must(scim.create("Groups", group_doc(f"Outer {tag}", [zeta["id"]])))

    done = await login(api, app_id, name, PASSWORD)
    assert done.status == 200, done
    assert claims(done.body["token"])["groups"] == [f"Alpha {tag}", f"Zeta {tag}"]

    await must(scim.patch("Groups", zeta["id"], patch_op(
        {"op": "replace", "path": "displayName", "value": f"Omega {tag}"})))
    done = await login(api, app_id, name, PASSWORD)
    assert claims(done.body["token"])["groups"] == [f"Alpha {tag}", f"Omega {tag}"]

    await must(scim.patch("Groups", zeta["id"], patch_op(
        {"op": "remove", "path": f'members[value eq "{user["id"]}"]'})))
    done = await login(api, app_id, name, PASSWORD)
    assert claims(done.body["token"])["groups"] == [f"Alpha {tag}"]


async def test_emails_and_phone_numbers_are_the_delivery_addresses(
    scim: ScimRest, admin: Admin
) -> None:
    """The primary email (else the first) and the primary phone number (else
    the first mobile, else the first) are where OTPs go."""
    fixture = load_fixture("rfc7643_8_2_full_user")
    name = unique("delivery-")
    user = await must(scim.create("Users", {**fixture, "userName": name}))
    got = await admin.req("GET", f"/api/admin/v1/users/{name}")
    record = got["user"]
    assert record["userId"] == name
    assert record["email"] == "bjensen@example.com"   # the primary (work) address
    assert record["phone"] == "555-555-4444"          # no primary: the mobile number
    assert (record["firstName"], record["lastName"]) == ("Barbara", "Jensen")
    assert record["active"] is True

    await must(scim.patch("Users", user["id"], patch_op(
        {"op": "replace", "path": "emails", "value": [
            {"value": "first@example.org", "type": "work"},
            {"value": "second@example.org", "type": "home", "primary": True}]},
        {"op": "remove", "path": "phoneNumbers"})))
    got = await admin.req("GET", f"/api/admin/v1/users/{name}")
    record = got["user"]
    assert record["email"] == "second@example.org"
    assert "phone" not in record
    await must(scim.patch("Users", user["id"], patch_op(
        {"op": "replace", "path": "active", "value": False})))
    got = await admin.req("GET", f"/api/admin/v1/users/{name}")
    assert got["user"]["active"] is False
