"""Consumer API tokens over REST and gRPC: the sliding 5-minute auth token
(sandbox clock), identities (CONSUMER, then one CORPORATE per direct SCIM
group), access tokens (ES256 JWTs with their own expiry; CORPORATE ones need
a step-up) and logout."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from authcore_testkit.api import Admin
from authcore_testkit.consumer import (
    SANDBOX_CODE,
    ConsumerClient,
    SandboxClock,
    Setup,
    expect_error,
    sandbox_server,
    verify_access_token,
)
from authcore_testkit.server import RunningServer


@pytest.fixture(params=["rest", "grpc"])
async def consumer(request: pytest.FixtureRequest, server: RunningServer
                   ) -> AsyncIterator[ConsumerClient]:
    async with ConsumerClient(server, request.param) as client:
        yield client


@pytest.fixture
async def setup(server: RunningServer) -> AsyncIterator[Setup]:
    async with Setup(server) as s:
        yield s


@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[RunningServer, SandboxClock]]:
    with sandbox_server() as sb:
        yield sb


@pytest.fixture
def clock(sandbox: tuple[RunningServer, SandboxClock]) -> Iterator[SandboxClock]:
    sandbox[1].reset()
    yield sandbox[1]
    sandbox[1].reset()


@pytest.fixture(params=["rest", "grpc"])
async def sb_consumer(request: pytest.FixtureRequest, sandbox: tuple[RunningServer, SandboxClock]
                      ) -> AsyncIterator[ConsumerClient]:
    async with ConsumerClient(sandbox[0], request.param) as client:
        yield client


@pytest.fixture
async def sb_setup(sandbox: tuple[RunningServer, SandboxClock]) -> AsyncIterator[Setup]:
    async with Setup(sandbox[0]) as s:
        yield s


async def stepped_up(consumer: ConsumerClient, setup: Setup, token: str, user_id: str) -> None:
    """Enroll a phone and complete an SMS step-up in the session of `token`."""
    assert (await consumer.enroll_otp(token)).status == 204
    code = await setup.last_sms_code(user_id)
    assert (await consumer.verify_otp_factor(token, code)).status == 204
    assert (await consumer.start_otp_stepup(token)).status == 204
    code = await setup.last_sms_code(user_id)
    done = await consumer.verify_otp_stepup(token, code)
    assert done.status == 204, str(done)


# ------------------------------------------------------- sliding auth token

async def test_auth_token_lives_five_minutes_from_last_activity(
        sb_consumer: ConsumerClient, sb_setup: Setup, clock: SandboxClock) -> None:
    user = await sb_setup.user()
    token = await sb_consumer.login_ok(user.email)
    clock.set(200)
    assert (await sb_consumer.identities(token)).status == 200
    clock.set(400)   # 400 s after login, 200 s after the last call
    assert (await sb_consumer.identities(token)).status == 200
    clock.set(701)   # 301 s after the last call
    expect_error(await sb_consumer.identities(token), 401)
    # An expired token cannot log out either.
    expect_error(await sb_consumer.logout(token), 401)


async def test_idle_auth_token_expires_after_300_seconds(
        sb_consumer: ConsumerClient, sb_setup: Setup, clock: SandboxClock) -> None:
    user = await sb_setup.user()
    token = await sb_consumer.login_ok(user.email)
    clock.set(295)
    assert (await sb_consumer.identities(token)).status == 200
    clock.set(295 + 301)
    expect_error(await sb_consumer.identities(token), 401)


async def test_every_authenticated_call_extends_the_token(
        sb_consumer: ConsumerClient, sb_setup: Setup, clock: SandboxClock) -> None:
    user = await sb_setup.user()
    token = await sb_consumer.login_ok(user.email)
    clock.set(250)
    at = await sb_consumer.access_token(token, "CONSUMER", user.scim_id)
    assert at.status == 200, str(at)
    clock.set(500)   # 250 s after the access token
    assert (await sb_consumer.enroll_otp(token)).status == 204
    clock.set(790)   # 290 s after the enrollment
    assert (await sb_consumer.identities(token)).status == 200
    clock.set(1091)  # 301 s after the last call
    expect_error(await sb_consumer.identities(token), 401)


# --------------------------------------------------------------- identities

async def test_identities_without_groups(consumer: ConsumerClient, setup: Setup) -> None:
    user = await setup.user()
    token = await consumer.login_ok(user.email)
    reply = await consumer.identities(token)
    assert reply.status == 200, str(reply)
    [own] = reply.body
    assert own["id"] == {"type": "CONSUMER", "id": user.scim_id}
    assert isinstance(own["name"], str) and own["name"]


async def test_identities_list_direct_groups_as_corporate(
        consumer: ConsumerClient, setup: Setup) -> None:
    user = await setup.user()
    other = await setup.user()
    tag = uuid.uuid4().hex[:8]
    first = await setup.group(f"Acme {tag}", [user.scim_id, other.scim_id])
    second = await setup.group(f"Globex {tag}", [user.scim_id])
    await setup.group(f"Initech {tag}", [other.scim_id])          # not the user's
    await setup.group(f"Parent {tag}", [first])                   # nested: not direct
    token = await consumer.login_ok(user.email)
    reply = await consumer.identities(token)
    assert reply.status == 200, str(reply)
    assert reply.body[0]["id"] == {"type": "CONSUMER", "id": user.scim_id}
    corporate = sorted((i["id"]["type"], i["id"]["id"], i["name"]) for i in reply.body[1:])
    assert corporate == sorted([("CORPORATE", first, f"Acme {tag}"),
                                ("CORPORATE", second, f"Globex {tag}")])


async def test_identities_rest_answer_is_a_bare_array(server: RunningServer, setup: Setup
                                                      ) -> None:
    user = await setup.user()
    async with ConsumerClient(server, "rest") as rest:
        token = await rest.login_ok(user.email)
        r = await rest.http.get("/consumer/v1/identities",
                                headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert isinstance(body, list) and len(body) == 1, body
    assert body[0]["id"] == {"type": "CONSUMER", "id": user.scim_id}


async def test_identities_need_a_valid_token(consumer: ConsumerClient) -> None:
    expect_error(await consumer.identities(None), 401)
    expect_error(await consumer.identities("not-a-token"), 401)


# ------------------------------------------------------------ access tokens

async def test_access_token_for_the_own_identity(
        consumer: ConsumerClient, setup: Setup, server: RunningServer) -> None:
    user = await setup.user()
    login = await consumer.login(user.email, user.password)
    token = login.body["token"]
    reply = await consumer.access_token(token, "CONSUMER", user.scim_id)
    assert reply.status == 200, str(reply)
    assert reply.body["identity"] == {"type": "CONSUMER", "id": user.scim_id}
    assert reply.body["credentials"] == login.body["credentials"]
    access = reply.body["token"]
    assert access != token
    claims = await verify_access_token(server, access)
    now = time.time()
    assert 850 <= claims["exp"] - now <= 910, claims
    assert claims["aud"] == "consumer" or "consumer" in claims["aud"]
    # A second exchange gives another token.
    again = await consumer.access_token(token, "CONSUMER", user.scim_id)
    assert again.status == 200 and again.body["token"] != access


async def test_introspection_reports_access_tokens_until_logout(
        consumer: ConsumerClient, setup: Setup, admin: Admin) -> None:
    """An access token is live while the session it came from is: the admin
    introspection says active before logout and inactive after it."""
    user = await setup.user()
    token = (await consumer.login(user.email, user.password)).body["token"]
    access = (await consumer.access_token(token, "CONSUMER", user.scim_id)).body["token"]

    async def active() -> bool:
        body = await admin.req("POST", "/api/admin/v1/tokens/introspect", {"token": access})
        return bool(body["active"])

    assert await active() is True
    assert (await consumer.logout(token)).status == 200
    assert await active() is False


async def test_corporate_access_token_needs_a_step_up(
        consumer: ConsumerClient, setup: Setup, server: RunningServer) -> None:
    user = await setup.user()
    group = await setup.group(f"Corp {uuid.uuid4().hex[:8]}", [user.scim_id])
    token = await consumer.login_ok(user.email)
    expect_error(await consumer.access_token(token, "CORPORATE", group), 403)
    await stepped_up(consumer, setup, token, user.user_id)
    reply = await consumer.access_token(token, "CORPORATE", group)
    assert reply.status == 200, str(reply)
    assert reply.body["identity"] == {"type": "CORPORATE", "id": group}
    await verify_access_token(server, reply.body["token"])
    # The step-up belongs to that session only.
    other = await consumer.login_ok(user.email)
    expect_error(await consumer.access_token(other, "CORPORATE", group), 403)


async def test_access_token_for_an_identity_that_is_not_the_users(
        consumer: ConsumerClient, setup: Setup) -> None:
    user = await setup.user()
    other = await setup.user()
    foreign_group = await setup.group(f"Foreign {uuid.uuid4().hex[:8]}", [other.scim_id])
    token = await consumer.login_ok(user.email)
    await stepped_up(consumer, setup, token, user.user_id)
    expect_error(await consumer.access_token(token, "CONSUMER", other.scim_id), 403)
    expect_error(await consumer.access_token(token, "CORPORATE", foreign_group), 403)
    expect_error(await consumer.access_token(token, "CORPORATE", user.scim_id), 403)
    expect_error(await consumer.access_token(token, "CONSUMER", str(uuid.uuid4())), 403)


async def test_access_token_needs_an_identity(consumer: ConsumerClient, setup: Setup) -> None:
    user = await setup.user()
    token = await consumer.login_ok(user.email)
    missing = await consumer.call("access_token", {}, token=token)
    expect_error(missing, 400, fields={"identity": "REQUIRED"})


async def test_access_token_needs_a_valid_auth_token(consumer: ConsumerClient, setup: Setup
                                                     ) -> None:
    user = await setup.user()
    expect_error(await consumer.access_token(None, "CONSUMER", user.scim_id), 401)
    token = await consumer.login_ok(user.email)
    assert (await consumer.logout(token)).status == 200
    expect_error(await consumer.access_token(token, "CONSUMER", user.scim_id), 401)
    # An access token is not an auth token.
    fresh = await consumer.login_ok(user.email)
    access = (await consumer.access_token(fresh, "CONSUMER", user.scim_id)).body["token"]
    expect_error(await consumer.identities(access), 401)


async def test_sandbox_step_up_unlocks_corporate_access(
        sb_consumer: ConsumerClient, sb_setup: Setup, clock: SandboxClock) -> None:
    user = await sb_setup.user()
    group = await sb_setup.group(f"Sandbox corp {uuid.uuid4().hex[:8]}", [user.scim_id])
    token = await sb_consumer.login_ok(user.email)
    assert (await sb_consumer.enroll_otp(token)).status == 204
    assert (await sb_consumer.verify_otp_factor(token, SANDBOX_CODE)).status == 204
    assert (await sb_consumer.start_otp_stepup(token)).status == 204
    assert (await sb_consumer.verify_otp_stepup(token, SANDBOX_CODE)).status == 204
    assert await sb_setup.sms(user.user_id) == []
    reply = await sb_consumer.access_token(token, "CORPORATE", group)
    assert reply.status == 200, str(reply)


async def test_corporate_identities_follow_group_membership(
        consumer: ConsumerClient, setup: Setup) -> None:
    user = await setup.user()
    tag = uuid.uuid4().hex[:8]
    group = await setup.group(f"Before {tag}", [user.scim_id])
    token = await consumer.login_ok(user.email)
    await stepped_up(consumer, setup, token, user.user_id)
    assert (await consumer.access_token(token, "CORPORATE", group)).status == 200
    renamed = await setup.http.patch(f"/scim/v2/Groups/{group}", json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": f"After {tag}"}]})
    assert renamed.status_code in (200, 204), renamed.text
    listed = (await consumer.identities(token)).body
    assert [i["name"] for i in listed[1:]] == [f"After {tag}"]
    removed = await setup.http.patch(f"/scim/v2/Groups/{group}", json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": f'members[value eq "{user.scim_id}"]'}]})
    assert removed.status_code in (200, 204), removed.text
    listed = (await consumer.identities(token)).body
    assert [i["id"]["type"] for i in listed] == ["CONSUMER"]
    expect_error(await consumer.access_token(token, "CORPORATE", group), 403)
