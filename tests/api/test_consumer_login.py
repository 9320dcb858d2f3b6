"""Consumer API login (POST /consumer/v1/login) over REST and gRPC: the auth
token, email matching, no enumeration, the 5-failure lockout (shared with the
Entrust API), expired passwords and their temporary token, password updates,
logout, rate limits, and the sandbox server's start-up rules."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator

import pytest

from authcore_testkit.api import RestApi
from authcore_testkit.consumer import (
    PASSWORD,
    ConsumerClient,
    SandboxClock,
    Setup,
    authenticated_calls,
    expect_error,
    sandbox_server,
    unique_email,
)
from authcore_testkit.server import RunningServer, run_server

NEW_PASSWORD = "n3w-consumer-passw0rd!"
PAST = "2020-01-01T00:00:00Z"


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


# ------------------------------------------------------------------- login

async def test_login_returns_an_auth_token_for_the_consumer_identity(
        consumer: ConsumerClient, setup: Setup) -> None:
    user = await setup.user()
    reply = await consumer.login(user.email, user.password)
    assert reply.status == 200, str(reply)
    assert reply.body["tokenType"] == "AUTH"
    assert reply.body["identity"] == {"type": "CONSUMER", "id": user.scim_id}
    assert reply.body["credentials"]["type"] == "ROOT"
    assert isinstance(reply.body["credentials"]["id"], str) and reply.body["credentials"]["id"]
    token = reply.body["token"]
    assert user.password not in token
    # The token authenticates.
    listed = await consumer.identities(token)
    assert listed.status == 200, str(listed)
    # Each login is its own session with its own token.
    again = await consumer.login(user.email, user.password)
    assert again.status == 200 and again.body["token"] != token


async def test_email_matches_user_id_or_email_without_regard_to_case(
        consumer: ConsumerClient, setup: Setup) -> None:
    email = unique_email("Mixed.Case")
    user_id = unique_email("Login.Name").replace("example.com", "Example.ORG")
    user = await setup.user(email=email, user_id=user_id)
    for candidate in (email, email.upper(), email.lower(), user_id, user_id.lower(),
                      user_id.swapcase()):
        reply = await consumer.login(candidate, PASSWORD)
        assert reply.status == 200, (candidate, str(reply))
        assert reply.body["identity"] == {"type": "CONSUMER", "id": user.scim_id}


async def test_unknown_email_and_wrong_password_look_the_same(
        consumer: ConsumerClient, setup: Setup) -> None:
    user = await setup.user()
    wrong = await consumer.login(user.email, "not the password")
    unknown = await consumer.login(unique_email("nobody"), PASSWORD)
    expect_error(wrong, 401)
    expect_error(unknown, 401)
    assert wrong.body == unknown.body
    assert "token" not in wrong.body
    # The right password still works (one failure doesn't lock).
    assert (await consumer.login(user.email, PASSWORD)).status == 200


async def test_password_is_case_sensitive(consumer: ConsumerClient, setup: Setup) -> None:
    user = await setup.user()
    expect_error(await consumer.login(user.email, PASSWORD.upper()), 401)


# ----------------------------------------------------------------- lockout

async def test_five_failures_lock_the_account_even_for_the_right_password(
        consumer: ConsumerClient, setup: Setup) -> None:
    user = await setup.user()
    for attempt in range(4):
        reply = await consumer.login(user.email, f"wrong-{attempt}")
        expect_error(reply, 401)
    fifth = await consumer.login(user.email, "wrong-5")
    expect_error(fifth, 423)
    # The API documents "Try again in 30 minutes."
    assert "30 minutes" in fifth.message, str(fifth)
    for password in (PASSWORD, "wrong-6"):
        locked = await consumer.login(user.email, password)
        expect_error(locked, 423)
        assert "token" not in locked.body
        # The message says when to try again.
        assert re.search(r"\d", locked.message), str(locked)
    # Other users are not affected.
    other = await setup.user()
    assert (await consumer.login(other.email, PASSWORD)).status == 200


async def test_concurrent_failures_are_all_counted(consumer: ConsumerClient, setup: Setup
                                                   ) -> None:
    user = await setup.user()
    replies = await asyncio.gather(*[consumer.login(user.email, f"wrong-{i}")
                                     for i in range(8)])
    statuses = sorted(r.status for r in replies)
    assert statuses == [401] * 4 + [423] * 4, [str(r) for r in replies]
    expect_error(await consumer.login(user.email, PASSWORD), 423)


async def test_lockout_rest_answer_has_retry_after(server: RunningServer, setup: Setup) -> None:
    user = await setup.user()
    async with ConsumerClient(server, "rest") as rest:
        for _ in range(5):
            await rest.login(user.email, "wrong")
        locked = await rest.login(user.email, PASSWORD)
    expect_error(locked, 423)
    assert set(locked.body) == {"message"}, locked.body
    assert "retry-after" in locked.headers, locked.headers
    assert 1 <= int(locked.headers["retry-after"]) <= 1800


async def test_lockout_grpc_is_permission_denied(server: RunningServer, setup: Setup) -> None:
    user = await setup.user()
    async with ConsumerClient(server, "grpc") as grpc_client:
        for _ in range(5):
            await grpc_client.login(user.email, "wrong")
        locked = await grpc_client.login(user.email, PASSWORD)
    assert locked.grpc_code is not None and locked.grpc_code.name == "PERMISSION_DENIED"
    assert locked.status == 423, str(locked)


async def test_a_success_resets_the_failure_count(consumer: ConsumerClient, setup: Setup
                                                  ) -> None:
    user = await setup.user()
    for _ in range(4):
        expect_error(await consumer.login(user.email, "wrong"), 401)
    assert (await consumer.login(user.email, PASSWORD)).status == 200
    for _ in range(4):
        expect_error(await consumer.login(user.email, "wrong"), 401)
    assert (await consumer.login(user.email, PASSWORD)).status == 200


async def test_failures_are_shared_with_the_entrust_api(
        consumer: ConsumerClient, setup: Setup, server: RunningServer) -> None:
    user = await setup.user()
    for _ in range(3):
        expect_error(await consumer.login(user.email, "wrong"), 401)
    entrust = RestApi(server)
    try:
        for _ in range(2):
            ch = await entrust.challenge("PASSWORD", {"applicationId": server.demo_application_id,
                                                      "userId": user.user_id})
            assert ch.status == 200, ch
            done = await entrust.complete("PASSWORD", {"response": "wrong"}, ch.body["token"])
            assert done.status == 401, done
    finally:
        await entrust.close()
    expect_error(await consumer.login(user.email, PASSWORD), 423)


async def test_lockout_ends_after_30_minutes(
        sb_consumer: ConsumerClient, sb_setup: Setup, clock: SandboxClock) -> None:
    user = await sb_setup.user()
    for _ in range(5):
        await sb_consumer.login(user.email, "wrong")
    expect_error(await sb_consumer.login(user.email, PASSWORD), 423)
    clock.set(1700)
    still = await sb_consumer.login(user.email, PASSWORD)
    expect_error(still, 423)
    if still.transport == "rest":
        # About 100 s are left, on the server's (sandbox) clock.
        assert 1 <= int(still.headers["retry-after"]) <= 110, still.headers
    clock.set(1801)
    reply = await sb_consumer.login(user.email, PASSWORD)
    assert reply.status == 200, str(reply)
    # The count starts again from zero.
    for _ in range(4):
        expect_error(await sb_consumer.login(user.email, "wrong"), 401)
    assert (await sb_consumer.login(user.email, PASSWORD)).status == 200


# -------------------------------------------------------- expired password

async def test_expired_password_gets_a_temporary_token_for_password_update_only(
        consumer: ConsumerClient, setup: Setup) -> None:
    user = await setup.user(expires_at=PAST)
    # A wrong password of an expired account gets no temporary token.
    wrong = await consumer.login(user.email, "wrong")
    expect_error(wrong, 401)
    assert "token" not in wrong.body and "tokenType" not in wrong.body

    expired = await consumer.login(user.email, PASSWORD)
    expect_error(expired, 401)
    assert expired.body["tokenType"] == "TEMPORARY", str(expired)
    temporary = expired.body["token"]
    assert isinstance(temporary, str) and temporary
    assert expired.body["message"] != wrong.body["message"]

    for op, body, path in authenticated_calls():
        refused = await consumer.call(op, body, path=path, token=temporary)
        assert refused.status == 401, (op, str(refused))

    updated = await consumer.update_password(temporary, NEW_PASSWORD)
    assert updated.status == 200, str(updated)
    assert updated.body["tokenType"] == "AUTH"
    assert updated.body["identity"] == {"type": "CONSUMER", "id": user.scim_id}
    assert updated.body["token"] != temporary
    assert (await consumer.identities(updated.body["token"])).status == 200

    # The temporary token is spent.
    expect_error(await consumer.update_password(temporary, "yet-another-passw0rd"), 401)
    expect_error(await consumer.login(user.email, PASSWORD), 401)
    fresh = await consumer.login(user.email, NEW_PASSWORD)
    assert fresh.status == 200 and fresh.body["tokenType"] == "AUTH", str(fresh)


async def test_password_update_with_a_temporary_token_ends_every_session(
        consumer: ConsumerClient, setup: Setup) -> None:
    user = await setup.user()
    old_session = await consumer.login_ok(user.email)
    await setup.password(user.user_id, PASSWORD, expires_at=PAST)
    expired = await consumer.login(user.email, PASSWORD)
    expect_error(expired, 401)
    updated = await consumer.update_password(expired.body["token"], NEW_PASSWORD)
    assert updated.status == 200, str(updated)
    expect_error(await consumer.identities(old_session), 401)
    assert (await consumer.identities(updated.body["token"])).status == 200


async def test_expired_password_account_still_locks(consumer: ConsumerClient, setup: Setup
                                                    ) -> None:
    user = await setup.user(expires_at=PAST)
    for _ in range(4):
        expect_error(await consumer.login(user.email, "wrong"), 401)
    expect_error(await consumer.login(user.email, "wrong"), 423)
    locked = await consumer.login(user.email, PASSWORD)
    expect_error(locked, 423)
    assert "token" not in locked.body


async def test_temporary_token_update_needs_a_new_password(
        consumer: ConsumerClient, setup: Setup) -> None:
    user = await setup.user(expires_at=PAST)
    temporary = (await consumer.login(user.email, PASSWORD)).body["token"]
    missing = await consumer.call("update_password", {}, token=temporary)
    expect_error(missing, 400)
    assert missing.invalid_fields.get("newPassword.value") == "REQUIRED", str(missing)
    empty = await consumer.call("update_password", {"newPassword": {"value": ""}},
                                token=temporary)
    expect_error(empty, 400, fields={"newPassword.value": "REQUIRED"})


# ----------------------------------------------------------- password update

async def test_password_update_with_an_auth_token(consumer: ConsumerClient, setup: Setup
                                                  ) -> None:
    user = await setup.user()
    token = await consumer.login_ok(user.email)
    other_session = await consumer.login_ok(user.email)

    missing = await consumer.update_password(token, NEW_PASSWORD)
    expect_error(missing, 400)
    assert missing.invalid_fields.get("oldPassword.value") == "REQUIRED", str(missing)
    expect_error(await consumer.update_password(token, NEW_PASSWORD, old="wrong"), 401)

    updated = await consumer.update_password(token, NEW_PASSWORD, old=PASSWORD)
    assert updated.status == 200, str(updated)
    assert updated.body["identity"] == {"type": "CONSUMER", "id": user.scim_id}
    new_token = updated.body["token"]
    assert new_token not in (token, other_session)
    # Every other session ended; the new token works.
    expect_error(await consumer.identities(token), 401)
    expect_error(await consumer.identities(other_session), 401)
    assert (await consumer.identities(new_token)).status == 200
    expect_error(await consumer.login(user.email, PASSWORD), 401)
    assert (await consumer.login(user.email, NEW_PASSWORD)).status == 200


async def test_password_update_without_a_token_is_unauthenticated(
        consumer: ConsumerClient) -> None:
    expect_error(await consumer.update_password(None, NEW_PASSWORD, old=PASSWORD), 401)
    expect_error(await consumer.update_password("garbage", NEW_PASSWORD, old=PASSWORD), 401)


# --------------------------------------------------------- token handling

async def test_token_presentations(consumer: ConsumerClient, setup: Setup) -> None:
    user = await setup.user()
    token = await consumer.login_ok(user.email)
    assert (await consumer.identities(token, bearer=True)).status == 200
    if consumer.transport == "rest":
        assert (await consumer.identities(token, bearer=False)).status == 200
        lower = await consumer.http.get("/consumer/v1/identities",
                                        headers={"Authorization": f"bearer {token}"})
        assert lower.status_code == 200, lower.text
    else:
        assert (await consumer.identities(token, via_metadata=True)).status == 200
        assert (await consumer.identities(f"Bearer {token}")).status == 200
    expect_error(await consumer.identities(None), 401)
    expect_error(await consumer.identities("garbage"), 401)
    expect_error(await consumer.identities(token[:-2]), 401)
    expect_error(await consumer.identities("Bearer", bearer=False), 401)


# ------------------------------------------------------------------- logout

async def test_logout_ends_only_this_session(consumer: ConsumerClient, setup: Setup,
                                             server: RunningServer) -> None:
    user = await setup.user()
    token = await consumer.login_ok(user.email)
    other = await consumer.login_ok(user.email)
    out = await consumer.logout(token)
    assert out.status == 200, str(out)
    assert out.body == {"url": server.http_url + "/"}
    expect_error(await consumer.identities(token), 401)
    expect_error(await consumer.logout(token), 401)
    assert (await consumer.identities(other)).status == 200
    expect_error(await consumer.logout(None), 401)


# -------------------------------------------------------------- rate limits

async def test_request_floods_are_refused_with_429() -> None:
    env = {"AUTHCORE_RATE_LIMIT_IP_PER_MINUTE": "5",
           "AUTHCORE_RATE_LIMIT_USER_PER_MINUTE": "1000"}
    with run_server(env=env) as srv:
        async with ConsumerClient(srv, "rest") as rest, ConsumerClient(srv, "grpc") as rpc:
            email = unique_email("flood")
            statuses = [(await rest.login(email, PASSWORD)).status for _ in range(5)]
            # An unknown email locks like an account (tests/api/test_enumeration.py).
            assert statuses == [401] * 4 + [423]
            limited = await rest.login(email, PASSWORD)
            expect_error(limited, 429)
            assert int(limited.headers["retry-after"]) >= 1
            over_grpc = await rpc.login(email, PASSWORD)
            expect_error(over_grpc, 429)


# ------------------------------------------------------------------ sandbox

def test_sandbox_start_logs_a_warning(sandbox: tuple[RunningServer, SandboxClock]) -> None:
    server, _ = sandbox
    warnings = [line for line in server.output[0].splitlines() if "SANDBOX" in line]
    assert warnings, server.output[0]
    assert any("WARN" in line.upper() for line in warnings), warnings


def test_sandbox_is_refused_on_postgresql() -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    with pytest.raises(RuntimeError) as info, run_server(env={"AUTHCORE_SANDBOX": "1"},
                                                         database_url=url):
        pass
    assert "exited early" in str(info.value)
    assert "AUTHCORE_SANDBOX" in str(info.value)


def test_normal_server_logs_no_sandbox_warning(server: RunningServer) -> None:
    assert "SANDBOX" not in server.output[0]


async def test_sandbox_still_checks_passwords(sb_consumer: ConsumerClient, sb_setup: Setup,
                                              clock: SandboxClock) -> None:
    user = await sb_setup.user()
    expect_error(await sb_consumer.login(user.email, "123456"), 401)
    assert (await sb_consumer.login(user.email, PASSWORD)).status == 200
