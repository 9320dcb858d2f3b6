"""LoginID's OIDC login against a real OpenID provider (the npm package
oidc-provider on a loopback port): provider configuration through the admin
API, the start's redirect (state, nonce, PKCE S256), the provider's login
walked like a browser, the callback's redirect with the session JWT in the
fragment, and the refusals (replayed state, unknown provider, redirectUri
off the application's origins, missing parameters, a provider error, a
wrong client secret, no sign-up, a stored secret that no longer opens).
Linking by email needs the address verified on both sides: at the provider
and on the local account (proved by a code), else neither a link nor a
second account. Two first logins of one new subject at once both sign in
as one user (on PostgreSQL forced to overlap with a table lock). Over REST,
and the gRPC form of both calls. On every backend of the shared test
servers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import string
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import grpc
import httpx
import jwt
import pytest

from authcore.v1 import fido2_oidc_pb2 as pb
from authcore.v1 import fido2_oidc_pb2_grpc
from authcore_testkit.loginid import LoginIdClient, check_error_body, signed_up
from authcore_testkit.oidc import log_in_at_provider, run_oidc_provider
from authcore_testkit.server import ADMIN_KEY, RunningServer, database_rows

APP_ORIGIN = "https://app.example.com"
CLIENT_ID = "authcore-test"
CLIENT_SECRET = "s3cret-" + secrets.token_hex(16)
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def _provider_id() -> str:
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(24))


@dataclass
class Setup:
    server: RunningServer
    issuer: str
    open_app: str      # IDP allowed, self sign-up on
    closed_app: str    # IDP allowed, self sign-up off
    no_idp_app: str    # IDP not among the authenticators
    open_provider: str
    closed_provider: str
    no_idp_provider: str
    bad_secret_provider: str
    sealed_secret_provider: str  # its stored secret is damaged by a test

    def callback(self, provider_id: str) -> str:
        return f"{self.server.http_url}/fido2/v2/oidc/{provider_id}/callback"


def _app(http: httpx.Client, name: str, *, authenticators: list[str], sign_up: bool) -> str:
    r = http.post("/api/admin/v1/applications", json={
        "name": name, "authenticators": authenticators,
        "webauthn": {"origins": [APP_ORIGIN]}, "access": {"selfSignUp": sign_up}})
    assert r.status_code == 200, r.text
    return str(r.json()["applicationId"])


def _provider(http: httpx.Client, app_id: str, provider_id: str, issuer: str,
              secret: str = CLIENT_SECRET) -> None:
    r = http.post(f"/api/admin/v1/applications/{app_id}/oidc-providers", json={
        "providerId": provider_id, "issuer": issuer, "clientId": CLIENT_ID,
        "clientSecret": secret})
    assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def oidc(server: RunningServer) -> Iterator[Setup]:
    ids = [_provider_id() for _ in range(5)]
    callbacks = [f"{server.http_url}/fido2/v2/oidc/{p}/callback" for p in ids]
    client = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
              "redirect_uris": callbacks, "grant_types": ["authorization_code"],
              "response_types": ["code"]}
    with run_oidc_provider([client]) as op, \
            httpx.Client(base_url=server.http_url, headers=ADMIN, timeout=10) as http:
        apps = [_app(http, "oidc open", authenticators=["PASSKEY", "IDP"], sign_up=True),
                _app(http, "oidc closed", authenticators=["PASSKEY", "IDP"], sign_up=False),
                _app(http, "oidc no idp", authenticators=["PASSKEY"], sign_up=True)]
        setup = Setup(server=server, issuer=op.issuer, open_app=apps[0], closed_app=apps[1],
                      no_idp_app=apps[2], open_provider=ids[0], closed_provider=ids[1],
                      no_idp_provider=ids[2], bad_secret_provider=ids[3],
                      sealed_secret_provider=ids[4])
        _provider(http, apps[0], ids[0], op.issuer)
        _provider(http, apps[1], ids[1], op.issuer)
        _provider(http, apps[2], ids[2], op.issuer)
        _provider(http, apps[0], ids[3], op.issuer, secret="not-the-secret")
        _provider(http, apps[0], ids[4], op.issuer)
        yield setup


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=15, follow_redirects=False) as client:
        yield client


def _account() -> str:
    return "acct-" + uuid.uuid4().hex[:10]


async def _start(browser: httpx.AsyncClient, setup: Setup, provider_id: str,
                 redirect_uri: str = APP_ORIGIN + "/signed-in?from=oidc") -> httpx.Response:
    return await browser.get(f"{setup.server.http_url}/fido2/v2/oidc/{provider_id}/login",
                             params={"redirectUri": redirect_uri})


async def _callback_url(browser: httpx.AsyncClient, setup: Setup, provider_id: str, *,
                        account: str, email: str | None = None, email_verified: bool = False,
                        redirect_uri: str = APP_ORIGIN + "/signed-in?from=oidc") -> str:
    start = await _start(browser, setup, provider_id, redirect_uri)
    assert start.status_code == 302, start.text
    return await log_in_at_provider(
        browser, start.headers["location"], account=account, email=email,
        email_verified=email_verified, stop_at=setup.callback(provider_id))


async def _jwks_claims(setup: Setup, token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=setup.server.http_url) as http:
        keys = (await http.get("/.well-known/jwks.json")).json()
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in keys["keys"] if k["kid"] == kid)
    return dict(jwt.decode(token, jwt.PyJWK(key).key, algorithms=["ES256"],
                           options={"verify_aud": False}))


def _fragment(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).fragment).items()}


async def _rows(setup: Setup, sql: str, *args: object) -> list[dict[str, Any]]:
    return await database_rows(setup.server, setup.server.database_url, sql, *args)


def _error(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert "location" not in resp.headers
    body = resp.json()
    check_error_body(status, body)
    return dict(body)


# -- the whole login ----------------------------------------------------------------


async def test_login_signs_a_new_user_up_and_redirects_with_the_token(
        oidc: Setup, browser: httpx.AsyncClient) -> None:
    account, email = _account(), f"{uuid.uuid4().hex[:8]}@oidc.example"
    start = await _start(browser, oidc, oidc.open_provider)
    assert start.status_code == 302 and start.content == b"", start.text
    auth = urlsplit(start.headers["location"])
    assert f"{auth.scheme}://{auth.netloc}" == oidc.issuer and auth.path == "/auth"
    query = {k: v[0] for k, v in parse_qs(auth.query).items()}
    assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == oidc.callback(oidc.open_provider)
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert set(query["scope"].split()) == {"openid", "email", "profile"}
    assert len(query["state"]) >= 40 and len(query["nonce"]) >= 40

    callback = await log_in_at_provider(browser, start.headers["location"], account=account,
                                        email=email, email_verified=True,
                                        stop_at=oidc.callback(oidc.open_provider))
    done = await browser.get(callback)
    assert done.status_code == 302 and done.content == b"", done.text
    location = done.headers["location"]
    assert location.startswith(APP_ORIGIN + "/signed-in?from=oidc#"), location
    fragment = _fragment(location)
    assert set(fragment) == {"jwtAccess", "userId"}
    # The verified email became the username (LoginID usernames are emails).
    assert fragment["userId"] == email
    claims = await _jwks_claims(oidc, fragment["jwtAccess"])
    assert claims["sub"] == email and claims["username"] == email
    assert claims["aud"] == oidc.open_app and claims["amr"] == ["fed"]

    # The token is a LoginID session: it lists the (no) passkeys of its user.
    async with httpx.AsyncClient(base_url=oidc.server.http_url) as http:
        listed = await http.get("/fido2/v2/passkeys",
                                headers={"Authorization": "Bearer " + fragment["jwtAccess"]})
    assert listed.status_code == 200 and listed.json() == [], listed.text

    # The state was used up: the same callback again is refused, no redirect.
    again = await browser.get(callback)
    assert _error(again, 401)["msg"].startswith("The state is invalid")

    # The next login of the same subject finds the same user through its link.
    second = await browser.get(await _callback_url(browser, oidc, oidc.open_provider,
                                                   account=account))
    assert second.status_code == 302, second.text
    assert _fragment(second.headers["location"])["userId"] == email

    if oidc.server.backend == "sqlite":
        rows = await database_rows(
            oidc.server, None, "SELECT outcome, reason, application_id FROM audit_events "
            "WHERE event = 'oidc_login' AND user_id = {}", email)
        assert [r["outcome"] for r in rows] == ["success", "success"]
        assert {r["application_id"] for r in rows} == {oidc.open_app}


async def test_a_verified_email_links_the_account_that_proved_it(
        oidc: Setup, browser: httpx.AsyncClient) -> None:
    email = f"known-{uuid.uuid4().hex[:8]}@oidc.example"
    origin = "http://localhost:" + oidc.server.http_url.rsplit(":", 1)[1]
    app_id = oidc.server.demo_application_id
    loginid = LoginIdClient(oidc.server, "rest")
    try:
        # A LoginID sign-up whose address was proved by the mailed code.
        _, jwt_access = await signed_up(loginid, app_id, origin, email)
        # Unverified at the provider: not this user. The open app signs a
        # new one up under a name made of the provider and the subject.
        account = _account()
        unverified = await browser.get(await _callback_url(
            browser, oidc, oidc.open_provider, account=account, email=email))
        assert unverified.status_code == 302, unverified.text
        assert _fragment(unverified.headers["location"])["userId"] == \
            f"{oidc.open_provider}:{account}"
        # Verified on both sides: the existing user, even where sign-up is off.
        account = _account()
        verified = await browser.get(await _callback_url(
            browser, oidc, oidc.closed_provider, account=account, email=email.upper(),
            email_verified=True))
        assert verified.status_code == 302, verified.text
        token = _fragment(verified.headers["location"])
        assert token["userId"] == email
        claims = await _jwks_claims(oidc, token["jwtAccess"])
        assert claims["username"] == email and claims["aud"] == oidc.closed_app
        # The link is stored: the subject's next login needs no email at all.
        again = await browser.get(await _callback_url(
            browser, oidc, oidc.closed_provider, account=account))
        assert _fragment(again.headers["location"])["userId"] == email

        # The user moves to an address they do not prove: it links nothing,
        # and no second account gets it either.
        moved = f"moved-{uuid.uuid4().hex[:8]}@oidc.example"
        changed = await loginid.call("update_email", {"email": moved, "requestVerification":
                                                      False},
                                     path={"id": email}, authorization=jwt_access)
        assert changed.status == 204, changed
        account = _account()
        refused = await browser.get(await _callback_url(
            browser, oidc, oidc.open_provider, account=account, email=moved,
            email_verified=True))
        assert _error(refused, 403)["msg"].startswith(
            "An account with this email address has not verified it.")
        assert [r["user_id"] for r in await _rows(
            oidc, "SELECT user_id FROM users WHERE email = {}", moved)] == [email]
        # Once the code sent to it comes back, the same login links it.
        asked = await loginid.call("update_email", {"email": moved}, path={"id": email},
                                   authorization=jwt_access)
        assert asked.status == 204, asked
        proved = await loginid.call("verify_email", {
            "authCode": await loginid.mailed_code(email), "username": email, "appId": app_id})
        assert proved.status == 204, proved
        linked = await browser.get(await _callback_url(
            browser, oidc, oidc.open_provider, account=account, email=moved,
            email_verified=True))
        assert linked.status_code == 302, linked.text
        assert _fragment(linked.headers["location"])["userId"] == email
    finally:
        await loginid.close()


async def test_an_unverified_local_address_is_neither_linked_nor_duplicated(
        oidc: Setup, browser: httpx.AsyncClient) -> None:
    tag = uuid.uuid4().hex[:8]
    # Provisioned by an administrator: the addresses were never proved.
    held, named = f"held-{tag}@oidc.example", f"named-{tag}@oidc.example"
    async with httpx.AsyncClient(base_url=oidc.server.http_url, headers=ADMIN) as http:
        for body in ({"userId": "held-" + tag, "email": held}, {"userId": named}):
            r = await http.post("/api/admin/v1/users", json=body)
            assert r.status_code == 200, r.text
    before = len(await _rows(oidc, "SELECT id FROM audit_events WHERE event = 'oidc_login' "
                                   "AND reason = 'email_not_verified'"))
    accounts = []
    for email in (held, named, held.upper()):
        for provider in (oidc.open_provider, oidc.closed_provider):
            account = _account()
            accounts.append(account)
            done = await browser.get(await _callback_url(
                browser, oidc, provider, account=account, email=email, email_verified=True))
            body = _error(done, 403)
            assert body["msg"] == ("An account with this email address has not verified "
                                   "it. Sign in to that account and verify the address, "
                                   "then sign in with the provider again."), body
    # Still exactly the two accounts, and no link to either.
    users = await _rows(oidc, "SELECT user_id, email FROM users WHERE user_id IN ({}, {}) "
                              "OR email IN ({}, {})", "held-" + tag, named, held, named)
    assert sorted((u["user_id"], u["email"]) for u in users) == \
        [("held-" + tag, held), (named, None)]
    for account in accounts:
        assert await _rows(oidc, "SELECT user_pk FROM oidc_links WHERE subject = {}",
                           account) == []
    after = await _rows(oidc, "SELECT id FROM audit_events WHERE event = 'oidc_login' "
                              "AND reason = 'email_not_verified'")
    assert len(after) - before == len(accounts)


async def test_an_email_too_long_to_store_counts_as_none(
        oidc: Setup, browser: httpx.AsyncClient) -> None:
    # users.email holds 320 characters (RFC 5321's limits); the provider's
    # claim is its own text. Verified or not, it names nobody here.
    account = _account()
    done = await browser.get(await _callback_url(
        browser, oidc, oidc.open_provider, account=account,
        email="x" * 320 + "@oidc.example", email_verified=True))
    assert done.status_code == 302, done.text
    assert _fragment(done.headers["location"])["userId"] == f"{oidc.open_provider}:{account}"


async def test_no_account_and_no_sign_up_is_refused(
        oidc: Setup, browser: httpx.AsyncClient) -> None:
    done = await browser.get(await _callback_url(
        browser, oidc, oidc.closed_provider, account=_account(),
        email=f"{uuid.uuid4().hex[:8]}@oidc.example", email_verified=True))
    assert "does not allow sign-up" in _error(done, 403)["msg"]


async def test_a_wrong_client_secret_is_refused_at_the_code_exchange(
        oidc: Setup, browser: httpx.AsyncClient) -> None:
    done = await browser.get(await _callback_url(
        browser, oidc, oidc.bad_secret_provider, account=_account()))
    assert _error(done, 401)["msg"] == "The OpenID provider refused the authorization code."


async def test_grpc_start_and_finish(oidc: Setup, browser: httpx.AsyncClient) -> None:
    async with grpc.aio.insecure_channel(oidc.server.grpc_target) as channel:
        stub = fido2_oidc_pb2_grpc.Fido2OidcServiceStub(channel)
        started = await stub.StartOidcLogin(pb.StartOidcLoginRequest(
            provider_id=oidc.open_provider, redirect_uri=APP_ORIGIN + "/grpc"))
        assert started.location.startswith(oidc.issuer + "/auth?")
        assert parse_qs(urlsplit(started.location).query)["state"] == [started.state]
        account = _account()
        callback = await log_in_at_provider(browser, started.location, account=account,
                                            stop_at=oidc.callback(oidc.open_provider))
        params = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
        done = await stub.FinishOidcLogin(pb.FinishOidcLoginRequest(
            provider_id=oidc.open_provider, code=params["code"], state=params["state"],
            iss=params.get("iss", "")))
        assert done.user_id == f"{oidc.open_provider}:{account}"
        assert done.location == f"{APP_ORIGIN}/grpc#jwtAccess={done.jwt_access}" \
            f"&userId={done.user_id.replace(':', '%3A')}"
        assert (await _jwks_claims(oidc, done.jwt_access))["username"] == done.user_id
        with pytest.raises(grpc.aio.AioRpcError) as replay:
            await stub.FinishOidcLogin(pb.FinishOidcLoginRequest(
                provider_id=oidc.open_provider, code=params["code"], state=params["state"]))
        assert replay.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await stub.StartOidcLogin(pb.StartOidcLoginRequest(
                provider_id=_provider_id(), redirect_uri=APP_ORIGIN + "/grpc"))
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


@contextlib.asynccontextmanager
async def _user_writes_held(database_url: str
                            ) -> AsyncIterator[Callable[[int], Awaitable[None]]]:
    """Hold a SHARE lock on `users` in the server's PostgreSQL database:
    reads go on, every insert or delete waits. Yields a function that
    returns once that many of the server's transactions wait on it (each
    has read and decided to write); the lock is let go on exit."""
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    tx = conn.transaction()
    await tx.start()
    try:
        await conn.execute("LOCK TABLE users IN SHARE MODE")

        async def waiting(count: int) -> None:
            deadline = time.monotonic() + 20
            while await conn.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted "
                    "AND relation = 'users'::regclass AND database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())") < count:
                assert time.monotonic() < deadline, f"fewer than {count} writers waited"
                await asyncio.sleep(0.02)

        yield waiting
    finally:
        await tx.rollback()
        await conn.close()


@pytest.mark.parametrize("email_verified", [True, False], ids=["verified", "no-email"])
async def test_two_first_logins_of_one_new_subject_at_once_sign_in_as_one_user(
        oidc: Setup, browser: httpx.AsyncClient, email_verified: bool) -> None:
    account = _account()
    email = f"race-{uuid.uuid4().hex[:8]}@oidc.example"
    # Two real authorization codes for the same new subject.
    urls = [await _callback_url(browser, oidc, oidc.open_provider, account=account,
                                email=email, email_verified=email_verified)
            for _ in range(2)]
    expected = email if email_verified else f"{oidc.open_provider}:{account}"
    if oidc.server.database_url:
        # Both callbacks find no link and no user, then wait to write until
        # both have: whichever inserts second loses the unique key.
        async with _user_writes_held(oidc.server.database_url) as waiting:
            calls = [asyncio.create_task(browser.get(url)) for url in urls]
            await waiting(2)
        done = await asyncio.gather(*calls)
    else:
        # SQLite's writers queue on one lock: the second transaction starts
        # after the first committed and finds its link. Sent at once anyway.
        done = await asyncio.gather(*(browser.get(url) for url in urls))
    for resp in done:
        assert resp.status_code == 302, resp.text
    tokens = [_fragment(resp.headers["location"]) for resp in done]
    assert [t["userId"] for t in tokens] == [expected, expected]
    claims = [await _jwks_claims(oidc, t["jwtAccess"]) for t in tokens]
    assert {c["sub"] for c in claims} == {expected}

    # One user, one link to it, nothing half-written by the loser.
    users = await _rows(oidc, "SELECT pk, email, email_verified_at FROM users "
                              "WHERE user_id = {} OR email = {}", expected, email)
    assert len(users) == 1, users
    assert (users[0]["email"] is not None) == email_verified
    assert (users[0]["email_verified_at"] is not None) == email_verified
    links = await _rows(oidc, "SELECT user_pk FROM oidc_links WHERE provider_id = {} "
                              "AND subject = {}", oidc.open_provider, account)
    assert links == [{"user_pk": users[0]["pk"]}]
    events = await _rows(oidc, "SELECT outcome FROM audit_events WHERE event = 'oidc_login' "
                               "AND user_id = {}", expected)
    assert [e["outcome"] for e in events] == ["success", "success"]
    # And the subject's next login is an ordinary one.
    again = await browser.get(await _callback_url(browser, oidc, oidc.open_provider,
                                                  account=account))
    assert _fragment(again.headers["location"])["userId"] == expected


async def test_a_stored_secret_that_does_not_open_is_unavailable_not_an_error(
        oidc: Setup, browser: httpx.AsyncClient) -> None:
    # As after a change of master key without setting the secret again.
    await _rows(oidc, "UPDATE oidc_providers SET client_secret = {} WHERE id = {}",
                os.urandom(60), oidc.sealed_secret_provider)
    done = await browser.get(await _callback_url(
        browser, oidc, oidc.sealed_secret_provider, account=_account()))
    assert _error(done, 503)["msg"] == "The OpenID provider could not be used."


# -- refusals at the start -----------------------------------------------------------


async def test_start_refusals(oidc: Setup, browser: httpx.AsyncClient) -> None:
    assert "not found" in _error(await _start(browser, oidc, _provider_id()), 404)["msg"]
    for bad in ("https://evil.example.com/x", "https://app.example.com.evil.example/x",
                "http://app.example.com/x", "https://app.example.com:8443/x",
                "https://user@app.example.com/x", "https://app.example.com/x#frag",
                "/relative", "javascript:alert(1)"):
        body = _error(await _start(browser, oidc, oidc.open_provider, bad), 400)
        assert body["msg"] == "redirectUri is not on an origin of the application.", bad
    missing = await browser.get(
        f"{oidc.server.http_url}/fido2/v2/oidc/{oidc.open_provider}/login")
    assert _error(missing, 400)["msg"] == "redirectUri is required."
    # The port spelled out is the same origin.
    ok = await _start(browser, oidc, oidc.open_provider, "https://APP.example.com:443/x")
    assert ok.status_code == 302, ok.text
    # An application that does not allow IDP starts nothing.
    refused = _error(await _start(browser, oidc, oidc.no_idp_provider), 403)
    assert refused["msg"] == "The application does not allow IDP."


# -- refusals at the callback --------------------------------------------------------


async def test_callback_refusals(oidc: Setup, browser: httpx.AsyncClient) -> None:
    base = f"{oidc.server.http_url}/fido2/v2/oidc/{oidc.open_provider}/callback"
    start = await _start(browser, oidc, oidc.open_provider)
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]

    assert _error(await browser.get(base, params={"code": "x"}), 400)["msg"] == \
        "state is required."
    assert _error(await browser.get(base, params={"state": state}), 400)["msg"] == \
        "code is required."
    # A state nobody issued.
    assert _error(await browser.get(base, params={"code": "x", "state": "forged"}), 401)
    # The state of another provider.
    other = await _start(browser, oidc, oidc.closed_provider)
    other_state = parse_qs(urlsplit(other.headers["location"]).query)["state"][0]
    assert _error(await browser.get(base, params={"code": "x", "state": other_state}), 401)
    # The provider's error answer: refused, and the state is used up with it.
    denied = await browser.get(base, params={"error": "access_denied", "state": state,
                                             "error_description": "<script>"})
    body = _error(denied, 401)
    assert body["msg"] == "The OpenID provider refused the login: access_denied."
    assert _error(await browser.get(base, params={"code": "x", "state": state}), 401)
    # Unknown provider.
    unknown = await browser.get(
        f"{oidc.server.http_url}/fido2/v2/oidc/{_provider_id()}/callback",
        params={"code": "x", "state": state})
    _error(unknown, 404)


async def test_an_issuer_mismatch_is_refused(oidc: Setup, browser: httpx.AsyncClient) -> None:
    callback = await _callback_url(browser, oidc, oidc.open_provider, account=_account())
    params = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    params["iss"] = "https://other-issuer.example"
    done = await browser.get(callback.split("?", 1)[0], params=params)
    assert _error(done, 401)["msg"] == "The authorization response names another issuer."


# -- administration --------------------------------------------------------------------


async def test_provider_administration(oidc: Setup) -> None:
    app = oidc.open_app
    path = f"/api/admin/v1/applications/{app}/oidc-providers"
    async with httpx.AsyncClient(base_url=oidc.server.http_url, headers=ADMIN) as http:
        made = await http.post(path, json={"issuer": "https://login.example.com",
                                           "clientId": "cid", "clientSecret": "top-secret"})
        assert made.status_code == 200, made.text
        provider = made.json()["provider"]
        assert len(provider["providerId"]) == 24 and provider["providerId"].isalnum()
        assert provider["providerId"].upper() == provider["providerId"]
        assert provider["hasClientSecret"] is True
        assert provider["scopes"] == ["openid", "email", "profile"]
        assert "top-secret" not in made.text and "clientSecret" not in provider
        listed = await http.get(path)
        assert listed.status_code == 200 and "top-secret" not in listed.text
        ids = [p["providerId"] for p in listed.json()["providers"]]
        assert {oidc.open_provider, oidc.bad_secret_provider, provider["providerId"]} <= set(ids)
        if oidc.server.backend == "sqlite":
            rows = await database_rows(oidc.server, None,
                                       "SELECT client_secret FROM oidc_providers WHERE id = {}",
                                       provider["providerId"])
            assert b"top-secret" not in rows[0]["client_secret"]

        dup = await http.post(path, json={"providerId": oidc.open_provider,
                                          "issuer": "https://login.example.com",
                                          "clientId": "cid"})
        assert dup.status_code == 409, dup.text
        for body in ({"issuer": "http://login.example.com", "clientId": "c"},
                     {"issuer": "https://login.example.com/?x=1", "clientId": "c"},
                     {"issuer": "https://login.example.com"},
                     {"issuer": "https://login.example.com", "clientId": "c",
                      "scopes": ["email"]},
                     {"issuer": "https://login.example.com", "clientId": "c",
                      "providerId": "has space"}):
            bad = await http.post(path, json=body)
            assert bad.status_code == 400, (body, bad.text)
        missing_app = await http.post(f"/api/admin/v1/applications/{uuid.uuid4()}/oidc-providers",
                                      json={"issuer": "https://login.example.com",
                                            "clientId": "c"})
        assert missing_app.status_code == 404

        gone = await http.delete(f"{path}/{provider['providerId']}")
        assert gone.status_code == 204 and gone.content == b""
        again = await http.delete(f"{path}/{provider['providerId']}")
        assert again.status_code == 404
        # Another application's provider is not this one's to delete.
        foreign = await http.delete(f"/api/admin/v1/applications/{oidc.closed_app}"
                                    f"/oidc-providers/{oidc.open_provider}")
        assert foreign.status_code == 404
    async with httpx.AsyncClient(base_url=oidc.server.http_url) as anonymous:
        assert (await anonymous.get(path)).status_code == 401
