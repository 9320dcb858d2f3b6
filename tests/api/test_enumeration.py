"""User enumeration (issue 15, item 3): an unknown user is answered as a known
one is, on every API, with the same status and body (ids and tokens aside),
the same lockout after the same number of failures, and the same work.

The timing tests compare medians of interleaved calls as a ratio (unknown /
known within 10%), never an absolute time: the machine is shared and slow."""

from __future__ import annotations

import base64
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from authcore_testkit.api import Admin, Reply, RestApi
from authcore_testkit.axidian import PASSWORD_MODE, TOTP_MODE, AxidianClient
from authcore_testkit.consumer import ConsumerClient, Setup, unique_email
from authcore_testkit.loginid import LoginIdClient
from authcore_testkit.server import RunningServer
from authcore_testkit.soft_webauthn import SoftAuthenticator

PASSWORD = "correct horse battery staple"
WRONG = "not the password at all"
MAX_FAILURES = 5  # the test servers run with the default lockout policy


def name(prefix: str = "enum") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def scrub(body: Any, *keys: str) -> Any:
    """The body with the named keys' values (ids, tokens, times) blanked."""
    if isinstance(body, dict):
        return {k: ("<scrubbed>" if k in keys else scrub(v, *keys)) for k, v in body.items()}
    if isinstance(body, list):
        return [scrub(v, *keys) for v in body]
    return body


def same(known: Reply, unknown: Reply, *keys: str) -> None:
    assert known.status == unknown.status, (known, unknown)
    assert scrub(known.body, *keys) == scrub(unknown.body, *keys), (known, unknown)


async def hidden_app(admin: Admin, **access: bool) -> str:
    app = await admin.req("POST", "/api/admin/v1/applications",
                          {"name": "enum-" + uuid.uuid4().hex[:8], "access": access})
    return str(app["applicationId"])


async def password_user(admin: Admin, user_id: str | None = None) -> str:
    user_id = user_id or name("known")
    await admin.user(user_id)
    await admin.password(user_id, PASSWORD)
    return user_id


@pytest.fixture
async def entrust(server: RunningServer) -> Any:
    client = RestApi(server)
    yield client
    await client.close()


# ------------------------------------------------------------------ Entrust

async def test_entrust_query_answers_an_unknown_user_like_a_password_user(
    entrust: RestApi, admin: Admin
) -> None:
    app_id = await hidden_app(admin)
    known = await password_user(admin)
    ghost = name("ghost")
    for body in ({}, {"returnDefaultChallenge": True}):
        k = await entrust.query({"applicationId": app_id, "userId": known, **body})
        u = await entrust.query({"applicationId": app_id, "userId": ghost, **body})
        assert k.status == 200 and k.body["authenticationTypes"] == ["PASSWORD"], k
        same(k, u, "token", "expires")
        assert bool(u.body.get("token")) == bool(body)


async def test_entrust_password_of_an_unknown_user_fails_and_locks_like_a_wrong_one(
    entrust: RestApi, admin: Admin
) -> None:
    app_id = await hidden_app(admin)
    known = await password_user(admin)
    ghost = name("ghost")
    for attempt in range(MAX_FAILURES + 1):
        replies = []
        for user in (known, ghost):
            ch = await entrust.challenge("PASSWORD", {"applicationId": app_id, "userId": user})
            if attempt == MAX_FAILURES:
                # Locked: refused at the challenge, for both.
                replies.append(ch)
                continue
            assert ch.status == 200, ch
            done = await entrust.complete("PASSWORD", {"response": WRONG, "userId": user},
                                          f"Bearer {ch.body['token']}")
            replies.append(done)
        k, u = replies
        same(k, u)
        if attempt < MAX_FAILURES:
            assert k.status == 401, k
        else:
            assert k.status == 403 and k.error_code == "authenticator_locked", k
    k = await entrust.query({"applicationId": app_id, "userId": known})
    u = await entrust.query({"applicationId": app_id, "userId": ghost})
    same(k, u, "lockoutDate", "lockoutExpiryDate")
    [status] = u.body["authenticatorLockoutStatus"]
    assert status["locked"] is True and status["remainingAuthenticationAttempts"] == 0


async def test_entrust_other_authenticators_of_an_unknown_user(
    entrust: RestApi, admin: Admin
) -> None:
    app_id = await hidden_app(admin)
    known = await password_user(admin)
    ghost = name("ghost")
    for authenticator in ("OTP", "TOKEN", "GRID", "KBA", "PASSWORD_AND_SECONDFACTOR"):
        k = await entrust.challenge(authenticator, {"applicationId": app_id, "userId": known})
        u = await entrust.challenge(authenticator, {"applicationId": app_id, "userId": ghost})
        assert k.status == 400 and k.error_code == "authenticator_not_enrolled", k
        same(k, u)


async def test_entrust_says_user_not_found_when_hiding_is_off(
    entrust: RestApi, admin: Admin
) -> None:
    app_id = await hidden_app(admin, hideUserExistence=False)
    ghost = name("ghost")
    q = await entrust.query({"applicationId": app_id, "userId": ghost})
    assert q.status == 404 and q.error_code == "user_not_found", q
    ch = await entrust.challenge("PASSWORD", {"applicationId": app_id, "userId": ghost})
    assert ch.status == 404 and ch.error_code == "user_not_found", ch
    # Turned on later, it takes effect at once.
    await admin.req("PATCH", f"/api/admin/v1/applications/{app_id}",
                    {"access": {"hideUserExistence": True}})
    assert (await entrust.query({"applicationId": app_id, "userId": ghost})).status == 200


# ----------------------------------------------------------------- consumer

async def test_consumer_unknown_email_locks_like_an_account(server: RunningServer) -> None:
    async with Setup(server) as setup, ConsumerClient(server, "rest") as consumer:
        known = (await setup.user(password=PASSWORD)).email
        ghost = unique_email("ghost")
        for attempt in range(MAX_FAILURES + 1):
            k = await consumer.login(known, WRONG)
            u = await consumer.login(ghost, WRONG)
            assert k.status == (401 if attempt < MAX_FAILURES - 1 else 423), (attempt, k)
            same(k, u)
            assert abs(int(k.headers.get("retry-after", "0"))
                       - int(u.headers.get("retry-after", "0"))) <= 1
        # The right password of the locked account is refused like the ghost's.
        k = await consumer.login(known, PASSWORD)
        u = await consumer.login(ghost, PASSWORD)
        assert k.status == 423
        same(k, u)


# ------------------------------------------------------------------ Axidian

async def test_axidian_unknown_user_looks_like_a_password_user(
    server: RunningServer, admin: Admin
) -> None:
    axidian = AxidianClient(server, "rest")
    try:
        app_id = await hidden_app(admin)
        known = await password_user(admin)
        ghost = name("ghost")
        for extra in ({}, {"ExcludeWindowsPassword": False}, {"ExcludeWindowsPassword": True}):
            same(await axidian.is_available(app_id, known, **extra),
                 await axidian.is_available(app_id, ghost, **extra))
        k, u = await axidian.methods(app_id, known), await axidian.methods(app_id, ghost)
        assert k.body["AutheticationMethods"] == [PASSWORD_MODE], k
        same(k, u)
        k, u = await axidian.open(app_id, known, TOTP_MODE), await axidian.open(app_id, ghost,
                                                                                 TOTP_MODE)
        assert k.status == 400 and k.error_code == "authenticator_not_enrolled", k
        same(k, u)
        for attempt in range(MAX_FAILURES + 1):
            replies = []
            for user in (known, ghost):
                opened = await axidian.open(app_id, user, PASSWORD_MODE)
                if attempt == MAX_FAILURES:
                    replies.append(opened)
                    continue
                assert opened.status == 200, opened
                session = opened.body["SessionId"]
                assert (await axidian.prepare(session, WRONG)).status == 200
                replies.append(await axidian.create_template(session))
            same(*replies)
            assert replies[0].status == (401 if attempt < MAX_FAILURES else 403), replies
        same(await axidian.methods(app_id, known), await axidian.methods(app_id, ghost))
    finally:
        await axidian.close()


async def test_axidian_says_user_not_found_when_hiding_is_off(
    server: RunningServer, admin: Admin
) -> None:
    axidian = AxidianClient(server, "rest")
    try:
        app_id = await hidden_app(admin, hideUserExistence=False)
        unknown = await axidian.open(app_id, name("ghost"), PASSWORD_MODE)
        assert unknown.status == 404 and unknown.error_code == "user_not_found", unknown
    finally:
        await axidian.close()


# ------------------------------------------------------------------ LoginID

def origin_of(server: RunningServer) -> str:
    return "http://localhost:" + server.http_url.rsplit(":", 1)[1]


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def test_loginid_auth_init_gives_an_unknown_user_a_stable_credential(
    server: RunningServer, admin: Admin
) -> None:
    loginid = LoginIdClient(server, "rest")
    origin, app_id = origin_of(server), server.demo_application_id
    try:
        known = name("pk")
        done = await loginid.register(app_id=app_id, username=known,
                                      authenticator=SoftAuthenticator(), origin=origin)
        # Whether the demo application lets anyone sign up is another item's
        # decision; without it only the ghost half is checked here.
        registered = done.status == 200

        async def init(username: str) -> Reply:
            r = await loginid.call("auth_init", {"app": {"id": app_id},
                                                 "user": {"username": username}},
                                   origin=origin)
            assert r.status == 200, r
            return r

        ghost, nameless = name("ghost"), name("nopk")
        await admin.user(nameless)
        first, again = await init(ghost), await init(ghost)
        allow = first.body["assertionOptions"]["allowCredentials"]
        assert len(allow) == 1 and allow[0]["type"] == "public-key", allow
        assert len(_b64(allow[0]["id"])) == 32
        assert again.body["assertionOptions"]["allowCredentials"] == allow
        assert first.body["session"] != again.body["session"]
        other = (await init(name("ghost"))).body["assertionOptions"]["allowCredentials"]
        assert other != allow and len(other) == 1
        # An account without a passkey looks the same as no account.
        assert len((await init(nameless)).body["assertionOptions"]["allowCredentials"]) == 1
        if registered:
            k = await init(known)
            [real] = k.body["assertionOptions"]["allowCredentials"]
            assert len(_b64(real["id"])) == 32
            same(k, first, "session", "challenge", "id")
    finally:
        await loginid.close()


# ------------------------------------------------------------------- timing

async def _ratio(known: Callable[[int], Awaitable[None]],
                 unknown: Callable[[int], Awaitable[None]], *, pairs: int,
                 warmup: int = 10) -> float:
    """median(unknown) / median(known) over interleaved calls, after a
    warm-up of both; which goes first alternates, so drift in the machine's
    load falls on both sides alike."""
    for i in range(warmup):
        await known(i)
        await unknown(i)
    k_times: list[float] = []
    u_times: list[float] = []
    for i in range(pairs):
        order = ((known, k_times), (unknown, u_times))
        for call, times in (order if i % 2 == 0 else order[::-1]):
            start = time.perf_counter()
            await call(warmup + i)
            times.append(time.perf_counter() - start)
    return statistics.median(u_times) / statistics.median(k_times)


def _check(ratio: float, what: str) -> None:
    print(f"{what}: median(unknown)/median(known) = {ratio:.3f}")  # seen with -s
    assert 0.9 <= ratio <= 1.1, f"{what}: median(unknown)/median(known) = {ratio:.3f}"


async def _check_twice(known: Callable[[int], Awaitable[None]],
                       unknown: Callable[[int], Awaitable[None]], what: str, *,
                       pairs: int, warmup: int) -> None:
    """`_check`, measuring once more when the first run lands outside the
    band: under the full suite on 2 cores one run of 200 pairs came out at
    0.898 (and the same test alone at 0.95-1.0). A real difference between
    the paths fails both runs. Only for calls that can repeat without side
    effects (no lockout counting)."""
    ratio = await _ratio(known, unknown, pairs=pairs, warmup=warmup)
    if not 0.9 <= ratio <= 1.1:
        print(f"{what}: first run {ratio:.3f}, measuring again")  # seen with -s
        ratio = await _ratio(known, unknown, pairs=pairs, warmup=warmup)
    _check(ratio, what)


PAIRS = 100
# Each user (and ghost) takes at most this many wrong passwords, so no
# lockout is reached while measuring.
PER_USER = MAX_FAILURES - 1


async def test_timing_consumer_wrong_password(server: RunningServer) -> None:
    async with Setup(server) as setup, ConsumerClient(server, "rest") as consumer:
        count = (PAIRS + 10) // PER_USER + 1
        known = [(await setup.user(password=PASSWORD)).email for _ in range(count)]
        ghosts = [unique_email("ghost") for _ in range(count)]

        async def k(i: int) -> None:
            assert (await consumer.login(known[i // PER_USER], WRONG)).status == 401

        async def u(i: int) -> None:
            assert (await consumer.login(ghosts[i // PER_USER], WRONG)).status == 401

        _check(await _ratio(k, u, pairs=PAIRS), "consumer wrong password")


async def test_timing_entrust_password_complete(server: RunningServer, admin: Admin,
                                                entrust: RestApi) -> None:
    app_id = await hidden_app(admin)
    count = (PAIRS + 10) // PER_USER + 1
    known = [await password_user(admin) for _ in range(count)]
    ghosts = [name("ghost") for _ in range(count)]

    def completer(users: list[str]) -> Callable[[int], Awaitable[None]]:
        async def complete(i: int) -> None:
            token = tokens.pop(users[i // PER_USER])
            done = await entrust.complete("PASSWORD", {"response": WRONG},
                                          f"Bearer {token}")
            assert done.status == 401, done
        return complete

    tokens: dict[str, str] = {}
    k_complete, u_complete = completer(known), completer(ghosts)

    async def challenge(users: list[str], i: int) -> None:
        user = users[i // PER_USER]
        ch = await entrust.challenge("PASSWORD", {"applicationId": app_id, "userId": user})
        assert ch.status == 200, ch
        tokens[user] = ch.body["token"]

    # Only the complete is timed: each call gets its challenge first.
    async def k(i: int) -> None:
        await challenge(known, i)
        start = time.perf_counter()
        await k_complete(i)
        spent.append(time.perf_counter() - start)

    async def u(i: int) -> None:
        await challenge(ghosts, i)
        start = time.perf_counter()
        await u_complete(i)
        spent.append(time.perf_counter() - start)

    spent: list[float] = []
    k_times: list[float] = []
    u_times: list[float] = []
    for i in range(10):
        await k(i)
        await u(i)
    for i in range(PAIRS):
        pair = ((k, k_times), (u, u_times))
        for call, times in (pair if i % 2 == 0 else pair[::-1]):
            await call(10 + i)
            times.append(spent.pop())
    _check(statistics.median(u_times) / statistics.median(k_times), "Entrust PASSWORD complete")


async def test_timing_loginid_send_email(server: RunningServer, admin: Admin) -> None:
    loginid = LoginIdClient(server, "rest")
    origin, app_id = origin_of(server), server.demo_application_id
    try:
        known = name("mail")
        await admin.user(known, email=known)

        async def send(username: str) -> None:
            r = await loginid.call("send_email", {"user": {"username": username},
                                                  "appId": app_id}, origin=origin)
            assert r.status == 204, r

        async def k(i: int) -> None:
            await send(known)

        async def u(i: int) -> None:
            await send("ghost-" + known)

        await _check_twice(k, u, "LoginID auth/otp/email", pairs=2 * PAIRS, warmup=20)
    finally:
        await loginid.close()


async def test_timing_loginid_auth_init(server: RunningServer, admin: Admin) -> None:
    loginid = LoginIdClient(server, "rest")
    origin, app_id = origin_of(server), server.demo_application_id
    try:
        known = name("pk")
        done = await loginid.register(app_id=app_id, username=known,
                                      authenticator=SoftAuthenticator(), origin=origin)
        if done.status != 200:
            await admin.user(known)  # sign-up closed: an account without passkeys

        async def init(username: str) -> None:
            r = await loginid.call("auth_init", {"app": {"id": app_id},
                                                 "user": {"username": username}},
                                   origin=origin)
            assert r.status == 200, r

        async def k(i: int) -> None:
            await init(known)

        async def u(i: int) -> None:
            await init("ghost-" + known)

        await _check_twice(k, u, "LoginID auth/init", pairs=2 * PAIRS, warmup=20)
    finally:
        await loginid.close()
