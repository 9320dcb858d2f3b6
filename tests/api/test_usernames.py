"""Look-alike usernames are refused where users are made (admin API, SCIM,
LoginID sign-up), and logins match usernames and emails without regard to
case after Unicode normalisation (issue 15, items 4 and 1)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import jwt
import pytest

from authcore_testkit.api import Admin, GrpcApi, RestApi
from authcore_testkit.consumer import PASSWORD, ConsumerClient, Setup
from authcore_testkit.loginid import LoginIdClient
from authcore_testkit.scim import Scim, assert_error, must, patch_op, scim_client, user_doc
from authcore_testkit.server import RunningServer
from authcore_testkit.soft_webauthn import SoftAuthenticator

Api = RestApi | GrpcApi


def _n() -> str:
    return uuid.uuid4().hex[:10]


# Each prints like "jdoe-<n>@corp.example" (or like a harmless name) but is not.
LOOK_ALIKES = {
    "zero-width space": ("jd\u200boe-{n}@corp.example", "username_invisible_character"),
    "Cyrillic o": ("jd\u043ee-{n}@corp.example", "username_mixed_script"),
    "right-to-left override": ("jdoe-{n}\u202egpj.exe", "username_invisible_character"),
}
IDS = list(LOOK_ALIKES)


def look_alike(kind: str) -> tuple[str, str]:
    template, reason = LOOK_ALIKES[kind]
    return template.format(n=_n()), reason


@pytest.fixture(params=["rest", "grpc"])
async def scim(request: pytest.FixtureRequest, server: RunningServer) -> AsyncIterator[Scim]:
    client = scim_client(request.param, server)
    yield client
    await client.close()


@pytest.fixture(params=["rest", "grpc"])
async def consumer(request: pytest.FixtureRequest, server: RunningServer
                   ) -> AsyncIterator[ConsumerClient]:
    async with ConsumerClient(server, request.param) as client:
        yield client


@pytest.fixture
async def setup(server: RunningServer) -> AsyncIterator[Setup]:
    async with Setup(server) as s:
        yield s


@pytest.fixture(params=["rest", "grpc"])
async def loginid(request: pytest.FixtureRequest, server: RunningServer
                  ) -> AsyncIterator[LoginIdClient]:
    client = LoginIdClient(server, request.param)
    yield client
    await client.close()


@pytest.fixture
def origin(server: RunningServer) -> str:
    return "http://localhost:" + server.http_url.rsplit(":", 1)[1]


# ------------------------------------------------------------- refusals

@pytest.mark.parametrize("kind", IDS)
async def test_admin_api_refuses_look_alike_user_ids(admin: Admin, kind: str) -> None:
    name, reason = look_alike(kind)
    r = await admin.http.post("/api/admin/v1/users", json={"userId": name})
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["errorCode"] == reason, body
    [violation] = [p for p in body["parameters"] if "field" in p]
    assert violation["field"] == "userId" and violation["description"], body
    gone = await admin.http.get(f"/api/admin/v1/users/{name}")
    assert gone.status_code == 404, gone.text


async def test_a_fullwidth_copy_of_a_user_id_is_that_user_id(admin: Admin) -> None:
    real = f"jdoe-{_n()}@corp.example"
    await admin.user(real)
    copy = await admin.http.post("/api/admin/v1/users",
                                 json={"userId": real.replace("@", "\uff20")})
    assert copy.status_code == 409, copy.text
    assert copy.json()["errorCode"] == "user_exists"
    # Without the real one it is stored width-mapped: its `sub` is plain ASCII.
    other = f"jdoe-{_n()}\uff20corp.example"
    made = await admin.user(other)
    assert made["user"]["userId"] == other.replace("\uff20", "@")


async def test_admin_user_ids_are_unique_without_regard_to_unicode_case(admin: Admin) -> None:
    n = _n()
    await admin.user(f"j\u00f6e.m\u00fcller-{n}@example.com")
    clash = await admin.http.post("/api/admin/v1/users",
                                  json={"userId": f"J\u00d6E.M\u00dcLLER-{n}@example.com"})
    assert clash.status_code == 409, clash.text


@pytest.mark.parametrize("kind", IDS)
async def test_scim_refuses_look_alike_user_names(scim: Scim, kind: str) -> None:
    name, _ = look_alike(kind)
    assert_error(await scim.create("Users", user_doc(name)), 400, "invalidValue")
    # PUT and PATCH may not rename a user to one either.
    user = await must(scim.create("Users", user_doc(f"scim-{_n()}@corp.example")))
    assert_error(await scim.replace("Users", user["id"], user_doc(name)), 400, "invalidValue")
    assert_error(await scim.patch("Users", user["id"], patch_op(
        {"op": "replace", "path": "userName", "value": name})), 400, "invalidValue")
    assert_error(await scim.patch("Users", user["id"], patch_op(
        {"op": "replace", "value": {"userName": name}})), 400, "invalidValue")
    kept = await must(scim.get("Users", user["id"]))
    assert kept["userName"] == user["userName"]


@pytest.mark.parametrize("kind", IDS)
async def test_loginid_sign_up_refuses_look_alike_usernames(
        loginid: LoginIdClient, app_id: str, origin: str, kind: str) -> None:
    name, reason = look_alike(kind)
    r = await loginid.call("reg_init", {"app": {"id": app_id}, "deviceInfo": {},
                                        "user": {"username": name}}, origin=origin)
    assert r.status == 400, r
    if "msgCode" in r.body:  # REST: LoginID's {msg, msgCode}
        assert r.body["msgCode"] == "bad_request" and "username" in r.body["msg"], r
    else:
        assert r.error_code == reason, r


# ------------------------------------------------------------- matching

async def test_entrust_login_matches_the_user_id_without_regard_to_unicode_case(
        api: Api, admin: Admin, app_id: str, server: RunningServer) -> None:
    n = _n()
    stored = f"J\u00f6e.M\u00fcller-{n}@Example.com"
    asked = f"J\u00d6E.M\u00dcLLER-{n.upper()}@example.com"
    await admin.user(stored)
    await admin.password(stored, PASSWORD)
    q = await api.query({"applicationId": app_id, "userId": asked})
    assert q.status == 200, q
    assert q.body["authenticationTypes"] == ["PASSWORD"]
    ch = await api.challenge("PASSWORD", {"applicationId": app_id, "userId": asked})
    assert ch.status == 200, ch
    done = await api.complete("PASSWORD", {"response": PASSWORD}, f"Bearer {ch.body['token']}")
    assert done.status == 200, done
    claims = jwt.decode(done.body["token"], options={"verify_signature": False})
    assert claims["sub"] == stored  # the stored form, whatever case was typed


async def test_scim_user_name_eq_matches_without_regard_to_unicode_case(scim: Scim) -> None:
    n = _n()
    user = await must(scim.create("Users", user_doc(f"J\u00d6E.M\u00dcLLER-{n}@EXAMPLE.COM")))
    for asked in (f"j\u00f6e.m\u00fcller-{n}@example.com",
                  f"jo\u0308e.mu\u0308ller-{n}@example.com"):  # decomposed
        for extra in ({}, {"sortBy": "userName"}):  # the hot path, then the ORM's
            listed = await must(scim.list("Users", filter=f'userName eq "{asked}"', **extra))
            assert [r["id"] for r in listed.get("Resources", [])] == [user["id"]], (extra, listed)
    clash = await scim.create("Users", user_doc(f"j\u00f6e.m\u00fcller-{n}@example.com"))
    assert_error(clash, 409, "uniqueness")


async def test_consumer_login_matches_the_email_without_regard_to_unicode_case(
        consumer: ConsumerClient, setup: Setup) -> None:
    n = _n()
    email = f"J\u00f6e.M\u00fcller-{n}@Ex\u00e4mple.com"
    user = await setup.user(email=email)
    for typed in (email, email.upper(), email.lower(),
                  email.replace("\u00f6", "o\u0308")):  # decomposed ö
        reply = await consumer.login(typed, PASSWORD)
        assert reply.status == 200, (typed, str(reply))
        assert reply.body["identity"]["id"] == user.scim_id


async def test_another_users_user_id_never_shadows_an_email(
        consumer: ConsumerClient, setup: Setup) -> None:
    email = f"jdoe-{_n()}@corp.example"
    victim = await setup.user(email=email)
    # Somebody takes the victim's address, in another case, as their userId.
    squatter = await setup.user(user_id=email.upper(), email=f"sq-{_n()}@example.org",
                                password="squatters-own-passw0rd!")
    reply = await consumer.login(email, PASSWORD)
    assert reply.status == 200, str(reply)
    assert reply.body["identity"]["id"] == victim.scim_id
    # The squatter still logs in by their own email (and not as the victim).
    theirs = await consumer.login(squatter.email, "squatters-own-passw0rd!")
    assert theirs.status == 200, str(theirs)
    assert theirs.body["identity"]["id"] == squatter.scim_id


async def test_an_unproved_sign_up_never_shadows_an_email(
        consumer: ConsumerClient, setup: Setup, loginid: LoginIdClient, app_id: str,
        origin: str) -> None:
    email = f"jdoe-{_n()}@corp.example"
    victim = await setup.user(email=email)
    # A passkey sign-up with the victim's address (in another case) as its
    # username: pending until somebody proves the address, which only the
    # victim can.
    done = await loginid.register(app_id=app_id, username=email.upper(),
                                  authenticator=SoftAuthenticator(), origin=origin,
                                  prove_address=False)
    assert done.status < 500, done
    reply = await consumer.login(email, PASSWORD)
    assert reply.status == 200, str(reply)
    assert reply.body["identity"]["id"] == victim.scim_id
