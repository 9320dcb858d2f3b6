"""Entrust IDP and IDP_AND_SECONDFACTOR against a real OpenID provider (the
npm package oidc-provider on a loopback port): the challenge's redirectUrl
(state, nonce, PKCE S256), the provider's login walked like a browser, the
complete with the callback URL, the ID token mapped to the user who started
the challenge (a verified email on both sides, then the link it made);
another user's identity, a replayed code or state and a tampered state
refused and counted on IDP; IDP then a TOKEN or OTP second factor; bad
input 4xx; a provider that is down 503. Over REST and gRPC, on every backend
of the shared test servers; bodies checked against the Entrust spec."""

from __future__ import annotations

import re
import secrets
import string
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pyotp
import pytest

from authcore_testkit.api import Admin, GrpcApi, Reply, RestApi
from authcore_testkit.loginid import LoginIdClient, signed_up
from authcore_testkit.oidc import log_in_at_provider, run_oidc_provider
from authcore_testkit.schemas import validate
from authcore_testkit.server import ADMIN_KEY, RunningServer, database_rows, free_port

Api = RestApi | GrpcApi
IDP = "IDP"
IDP2F = "IDP_AND_SECONDFACTOR"
CLIENT_ID = "authcore-entrust"
CLIENT_SECRET = "s3cret-" + secrets.token_hex(16)
CALLBACK = "https://app.example.com/entrust/idp-callback"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def _provider_id() -> str:
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(24))


@dataclass
class Setup:
    server: RunningServer
    issuer: str
    app: str           # IDP, IDP_AND_SECONDFACTOR, OTP, TOKEN; one provider
    provider: str
    no_provider_app: str  # IDP allowed, no provider offered to Entrust
    no_idp_app: str       # a provider, IDP not allowed
    down_app: str         # its provider's issuer answers nothing


def _app(http: httpx.Client, name: str, authenticators: list[str]) -> str:
    r = http.post("/api/admin/v1/applications", json={"name": name,
                                                      "authenticators": authenticators})
    assert r.status_code == 200, r.text
    return str(r.json()["applicationId"])


def _provider(http: httpx.Client, app_id: str, issuer: str, *,
              redirect: str | None = CALLBACK) -> httpx.Response:
    body: dict[str, Any] = {"providerId": _provider_id(), "issuer": issuer,
                            "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET}
    if redirect is not None:
        body["entrustRedirectUri"] = redirect
    return http.post(f"/api/admin/v1/applications/{app_id}/oidc-providers", json=body)


@pytest.fixture(scope="module")
def idp(server: RunningServer) -> Iterator[Setup]:
    client = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
              "redirect_uris": [CALLBACK], "grant_types": ["authorization_code"],
              "response_types": ["code"]}
    with run_oidc_provider([client]) as op, \
            httpx.Client(base_url=server.http_url, headers=ADMIN, timeout=10) as http:
        suffix = uuid.uuid4().hex[:6]
        app = _app(http, f"idp {suffix}", [IDP, IDP2F, "OTP", "TOKEN"])
        created = _provider(http, app, op.issuer)
        assert created.status_code == 200, created.text
        assert created.json()["provider"]["entrustRedirectUri"] == CALLBACK
        no_provider = _app(http, f"idp none {suffix}", [IDP, "OTP"])
        # A provider for LoginID's login only is not offered to Entrust.
        assert _provider(http, no_provider, op.issuer, redirect=None).status_code == 200
        no_idp = _app(http, f"no idp {suffix}", ["OTP"])
        assert _provider(http, no_idp, op.issuer).status_code == 200
        down = _app(http, f"idp down {suffix}", [IDP])
        assert _provider(http, down, f"http://127.0.0.1:{free_port()}").status_code == 200
        yield Setup(server=server, issuer=op.issuer, app=app,
                    provider=created.json()["provider"]["providerId"],
                    no_provider_app=no_provider, no_idp_app=no_idp, down_app=down)


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=15, follow_redirects=False) as client:
        yield client


@pytest.fixture
async def verified_user(server: RunningServer, origin: str) -> AsyncIterator[str]:
    """A user whose email was proved here (a LoginID sign-up, by the mailed
    code); the username is the address."""
    email = f"idp-{uuid.uuid4().hex[:10]}@example.com"
    loginid = LoginIdClient(server, "rest")
    try:
        await signed_up(loginid, server.demo_application_id, origin, email)
    finally:
        await loginid.close()
    yield email


def _account() -> str:
    return "acct-" + uuid.uuid4().hex[:10]


async def _callback(browser: httpx.AsyncClient, redirect_url: str, *, email: str | None,
                    account: str | None = None, email_verified: bool = True) -> str:
    return await log_in_at_provider(browser, redirect_url, account=account or _account(),
                                    email=email, email_verified=email_verified,
                                    stop_at=CALLBACK)


async def _challenge(api: Api, setup: Setup, user_id: str, name: str = IDP) -> Reply:
    ch = await api.challenge(name, {"applicationId": setup.app, "userId": user_id})
    assert ch.status == 200, ch
    validate(ch.body, "AuthenticatedResponse")
    assert ch.body["authenticationCompleted"] is False and ch.body["token"]
    return ch


async def _idp_state(api: Api, setup: Setup, user_id: str) -> dict[str, Any]:
    q = await api.query({"applicationId": setup.app, "userId": user_id})
    assert q.status == 200, q
    return next(s for s in q.body["authenticatorLockoutStatus"] if s["type"] == IDP)


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _with(url: str, **changes: str) -> str:
    query = {**_query(url), **changes}
    return f"{CALLBACK}?{urlencode(query)}"


# -- the whole login ----------------------------------------------------------------


async def test_idp_login_by_verified_email_then_by_the_link(
        api: Api, idp: Setup, browser: httpx.AsyncClient, verified_user: str) -> None:
    q = await api.query({"applicationId": idp.app, "userId": verified_user})
    assert q.status == 200, q
    validate(q.body, "UserAuthenticateQueryResponse")
    assert {IDP, IDP2F} <= set(q.body["authenticationTypes"])
    assert q.body["availableSecondFactor"] == ["OTP"]

    ch = await _challenge(api, idp, verified_user)
    auth = urlsplit(ch.body["redirectUrl"])
    assert f"{auth.scheme}://{auth.netloc}" == idp.issuer
    query = _query(ch.body["redirectUrl"])
    assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == CALLBACK
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 40 and len(query["nonce"]) >= 40
    # The challenge token is not the state: the browser never sees the token.
    assert query["state"] != ch.body["token"]

    account = _account()
    callback = await _callback(browser, ch.body["redirectUrl"], account=account,
                               email=verified_user.upper())
    done = await api.complete(IDP, {"response": callback}, ch.body["token"])
    assert done.status == 200, done
    validate(done.body, "AuthenticatedResponse")
    assert done.body["authenticationCompleted"] is True
    assert done.body["userId"] == verified_user
    claims = jwt.decode(done.body["token"], options={"verify_signature": False})
    assert claims["amr"] == [IDP] and claims["aud"] == idp.app

    rows = await database_rows(
        idp.server, idp.server.database_url,
        "SELECT l.subject FROM oidc_links l JOIN users u ON u.pk = l.user_pk "
        "WHERE u.user_id = {} AND l.provider_id = {}", verified_user, idp.provider)
    assert [r["subject"] for r in rows] == [account]

    # Linked now: the same subject signs in even without a verified email,
    # and only the query string of the callback is enough.
    ch = await _challenge(api, idp, verified_user)
    callback = await _callback(browser, ch.body["redirectUrl"], account=account, email=None,
                               email_verified=False)
    done = await api.complete(IDP, {"response": urlsplit(callback).query}, ch.body["token"])
    assert done.status == 200 and done.body["authenticationCompleted"] is True, done


async def test_another_users_identity_fails_and_counts(
        api: Api, idp: Setup, browser: httpx.AsyncClient, verified_user: str,
        admin: Admin) -> None:
    before = await _idp_state(api, idp, verified_user)
    # Someone else's verified address, and an address the provider does not vouch for.
    for email, verified in ((f"else-{uuid.uuid4().hex[:6]}@example.com", True),
                            (verified_user, False)):
        ch = await _challenge(api, idp, verified_user)
        callback = await _callback(browser, ch.body["redirectUrl"], email=email,
                                   email_verified=verified)
        bad = await api.complete(IDP, {"response": callback}, ch.body["token"])
        assert bad.status == 401 and bad.error_code == "identity_mismatch", bad
    after = await _idp_state(api, idp, verified_user)
    assert after["remainingAuthenticationAttempts"] == \
        before["remainingAuthenticationAttempts"] - 2

    # A subject linked to one user is not another user's, whatever its email says.
    other = f"other-{uuid.uuid4().hex[:8]}@example.com"
    await admin.user(other, email=verified_user)
    account = _account()
    ch = await _challenge(api, idp, verified_user)
    ok = await api.complete(IDP, {"response": await _callback(
        browser, ch.body["redirectUrl"], account=account, email=verified_user)},
        ch.body["token"])
    assert ok.status == 200, ok
    ch = await _challenge(api, idp, other)
    bad = await api.complete(IDP, {"response": await _callback(
        browser, ch.body["redirectUrl"], account=account, email=verified_user)},
        ch.body["token"])
    assert bad.status == 401 and bad.error_code == "identity_mismatch", bad


async def test_lockout_after_too_many_wrong_identities(
        api: Api, idp: Setup, browser: httpx.AsyncClient, verified_user: str) -> None:
    left = (await _idp_state(api, idp, verified_user))["remainingAuthenticationAttempts"]
    for _ in range(left):
        ch = await _challenge(api, idp, verified_user)
        callback = await _callback(browser, ch.body["redirectUrl"],
                                   email=f"x-{uuid.uuid4().hex[:6]}@example.com")
        bad = await api.complete(IDP, {"response": callback}, ch.body["token"])
        assert bad.status == 401, bad
    state = await _idp_state(api, idp, verified_user)
    assert state["locked"] is True
    locked = await api.challenge(IDP, {"applicationId": idp.app, "userId": verified_user})
    assert locked.status == 403 and locked.error_code == "authenticator_locked"


async def test_replayed_and_tampered_callbacks_fail(
        api: Api, idp: Setup, browser: httpx.AsyncClient, verified_user: str) -> None:
    ch = await _challenge(api, idp, verified_user)
    callback = await _callback(browser, ch.body["redirectUrl"], email=verified_user)
    done = await api.complete(IDP, {"response": callback}, ch.body["token"])
    assert done.status == 200, done
    # The challenge is used up.
    again = await api.complete(IDP, {"response": callback}, ch.body["token"])
    assert again.status == 401 and again.error_code == "invalid_token", again

    # The old callback (code and state) on a new challenge: not its state.
    fresh = await _challenge(api, idp, verified_user)
    replay = await api.complete(IDP, {"response": callback}, fresh.body["token"])
    assert replay.status == 401 and replay.error_code == "invalid_state", replay

    # The old code under the new challenge's state: the provider refuses the
    # used code (and its PKCE verifier is another).
    fresh = await _challenge(api, idp, verified_user)
    forged = _with(callback, state=_query(fresh.body["redirectUrl"])["state"])
    replay = await api.complete(IDP, {"response": forged}, fresh.body["token"])
    assert replay.status == 401 and replay.error_code == "token_invalid_grant", replay

    # A tampered state, then a response naming another issuer.
    for change in ({"state": "x" + secrets.token_urlsafe(32)}, {"iss": "https://evil.example"}):
        fresh = await _challenge(api, idp, verified_user)
        callback = await _callback(browser, fresh.body["redirectUrl"], email=verified_user)
        bad = await api.complete(IDP, {"response": _with(callback, **change)},
                                 fresh.body["token"])
        assert bad.status == 401 and bad.error_code in ("invalid_state", "issuer_mismatch")
        # Used up: the genuine callback cannot follow.
        late = await api.complete(IDP, {"response": callback}, fresh.body["token"])
        assert late.status == 401 and late.error_code == "invalid_token", late

    # The provider's own refusal.
    fresh = await _challenge(api, idp, verified_user)
    state = _query(fresh.body["redirectUrl"])["state"]
    denied = await api.complete(IDP, {"response": f"{CALLBACK}?error=access_denied&state={state}"},
                                fresh.body["token"])
    assert denied.status == 401 and denied.error_code == "provider_refused", denied


# -- IDP_AND_SECONDFACTOR -------------------------------------------------------------


async def test_idp_then_token(api: Api, idp: Setup, browser: httpx.AsyncClient,
                              verified_user: str, admin: Admin) -> None:
    tok = await admin.req("POST", f"/api/admin/v1/users/{verified_user}/tokens",
                          {"type": "TOTP"})
    totp = pyotp.TOTP(tok["secret"])
    q = await api.query({"applicationId": idp.app, "userId": verified_user})
    assert q.body["availableSecondFactor"] == ["OTP", "TOKEN"]

    t1 = await _challenge(api, idp, verified_user, IDP2F)
    callback = await _callback(browser, t1.body["redirectUrl"], email=verified_user)
    t2 = await api.complete(IDP2F, {"response": callback}, t1.body["token"])
    assert t2.status == 200, t2
    validate(t2.body, "AuthenticatedResponse")
    assert t2.body["authenticationCompleted"] is False and t2.body["token"]

    early = await api.complete(IDP2F, {"response": totp.now()}, t2.body["token"])
    assert early.status == 400 and early.error_code == "second_factor_required"
    # A PASSWORD_AND_SECONDFACTOR second step cannot take this token.
    crossed = await api.challenge("PASSWORD_AND_SECONDFACTOR", {
        "applicationId": idp.app, "secondFactorAuthenticator": "TOKEN",
        "authToken": t2.body["token"]})
    assert crossed.status in (401, 403), crossed

    t3 = await api.challenge(IDP2F, {"applicationId": idp.app,
                                     "secondFactorAuthenticator": "TOKEN",
                                     "authToken": t2.body["token"]})
    assert t3.status == 200, t3
    validate(t3.body, "AuthenticatedResponse")
    done = await api.complete(IDP2F, {"secondFactorAuthenticator": "TOKEN",
                                      "response": totp.now()}, t3.body["token"])
    assert done.status == 200, done
    validate(done.body, "AuthenticatedResponse")
    assert done.body["authenticationCompleted"] is True
    claims = jwt.decode(done.body["token"], options={"verify_signature": False})
    assert claims["amr"] == [IDP, "TOKEN"]


async def test_idp_then_otp(api: Api, idp: Setup, browser: httpx.AsyncClient,
                            verified_user: str, admin: Admin) -> None:
    t1 = await _challenge(api, idp, verified_user, IDP2F)
    callback = await _callback(browser, t1.body["redirectUrl"], email=verified_user)
    t2 = await api.complete(IDP2F, {"response": callback}, t1.body["token"])
    assert t2.status == 200 and t2.body["authenticationCompleted"] is False, t2
    t3 = await api.challenge(IDP2F, {"applicationId": idp.app, "userId": verified_user,
                                     "secondFactorAuthenticator": "OTP",
                                     "authToken": t2.body["token"]})
    assert t3.status == 200 and t3.body["otpdeliveryType"] == "EMAIL", t3
    text = (await admin.outbox(verified_user))[-1]["text"]
    code = re.search(r"\b(\d{6})\b", text).group(1)  # type: ignore[union-attr]
    wrong = await api.complete(IDP2F, {"secondFactorAuthenticator": "OTP",
                                       "response": "000000" if code != "000000" else "111111"},
                               t3.body["token"])
    assert wrong.status == 401 and wrong.error_code == "invalid_code", wrong
    # The failed second step used the token up; start again from the provider.
    t1 = await _challenge(api, idp, verified_user, IDP2F)
    t2 = await api.complete(IDP2F, {"response": await _callback(
        browser, t1.body["redirectUrl"], email=verified_user)}, t1.body["token"])
    t3 = await api.challenge(IDP2F, {"applicationId": idp.app,
                                     "secondFactorAuthenticator": "OTP",
                                     "authToken": t2.body["token"]})
    code = re.search(r"\b(\d{6})\b",  # type: ignore[union-attr]
                     (await admin.outbox(verified_user))[-1]["text"]).group(1)
    done = await api.complete(IDP2F, {"secondFactorAuthenticator": "OTP", "response": code},
                              t3.body["token"])
    assert done.status == 200 and done.body["authenticationCompleted"] is True, done
    claims = jwt.decode(done.body["token"], options={"verify_signature": False})
    assert claims["amr"] == [IDP, "OTP"]


async def test_a_wrong_identity_stops_idp_and_secondfactor_at_step_one(
        api: Api, idp: Setup, browser: httpx.AsyncClient, verified_user: str) -> None:
    before = await _idp_state(api, idp, verified_user)
    t1 = await _challenge(api, idp, verified_user, IDP2F)
    callback = await _callback(browser, t1.body["redirectUrl"],
                               email=f"nobody-{uuid.uuid4().hex[:6]}@example.com")
    bad = await api.complete(IDP2F, {"response": callback}, t1.body["token"])
    assert bad.status == 401 and bad.error_code == "identity_mismatch", bad
    after = await _idp_state(api, idp, verified_user)
    assert after["remainingAuthenticationAttempts"] == \
        before["remainingAuthenticationAttempts"] - 1


# -- refusals ---------------------------------------------------------------------------


async def test_bad_input_is_a_clear_4xx(api: Api, idp: Setup, verified_user: str) -> None:
    ch = await _challenge(api, idp, verified_user)
    state = _query(ch.body["redirectUrl"])["state"]
    for response in (None, "", "garbage", f"{CALLBACK}?state={state}",
                     f"{CALLBACK}?code=a&code=b&state={state}", "x" * 9000):
        body = {} if response is None else {"response": response}
        bad = await api.complete(IDP, body, ch.body["token"])
        assert bad.status == 400, (response, bad)
        assert bad.error_code in ("missing_field", "invalid_field"), bad
        if api.transport == "rest":
            validate(bad.body, "ErrorInfo")
    # None of those used the challenge up, nor counted.
    state_now = await _idp_state(api, idp, verified_user)
    assert state_now["locked"] is False

    # An application without a provider for Entrust, one that does not allow IDP.
    none = await api.challenge(IDP, {"applicationId": idp.no_provider_app,
                                     "userId": verified_user})
    assert none.status == 400 and none.error_code == "authenticator_not_enrolled", none
    q = await api.query({"applicationId": idp.no_provider_app, "userId": verified_user})
    assert IDP not in q.body["authenticationTypes"]
    refused = await api.challenge(IDP, {"applicationId": idp.no_idp_app,
                                        "userId": verified_user})
    assert refused.status == 403 and refused.error_code == "authenticator_not_allowed"
    # A second Entrust provider for the same application is refused.
    async with httpx.AsyncClient(base_url=idp.server.http_url, headers=ADMIN) as http:
        r = await http.post(f"/api/admin/v1/applications/{idp.app}/oidc-providers", json={
            "issuer": idp.issuer, "clientId": CLIENT_ID, "entrustRedirectUri": CALLBACK})
        assert r.status_code == 409 and r.json()["errorCode"] == "entrust_idp_provider_exists"
        r = await http.post(f"/api/admin/v1/applications/{idp.app}/oidc-providers", json={
            "issuer": idp.issuer, "clientId": CLIENT_ID,
            "entrustRedirectUri": "http://app.example.com/cb"})
        assert r.status_code == 400 and r.json()["errorCode"] == "invalid_field"


async def test_provider_down_is_503(api: Api, idp: Setup, verified_user: str) -> None:
    down = await api.challenge(IDP, {"applicationId": idp.down_app, "userId": verified_user})
    assert down.status == 503 and down.error_code == "provider_unavailable", down
    if api.transport == "rest":
        validate(down.body, "ErrorInfo")


async def test_provider_gone_between_challenge_and_complete(
        api: Api, server: RunningServer, admin: Admin, browser: httpx.AsyncClient,
        verified_user: str) -> None:
    client = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
              "redirect_uris": [CALLBACK], "grant_types": ["authorization_code"],
              "response_types": ["code"]}
    app = await admin.req("POST", "/api/admin/v1/applications", {
        "name": f"idp gone {uuid.uuid4().hex[:6]}", "authenticators": [IDP]})
    with run_oidc_provider([client]) as op:
        await admin.req("POST", f"/api/admin/v1/applications/{app['applicationId']}"
                        "/oidc-providers", {"issuer": op.issuer, "clientId": CLIENT_ID,
                                            "clientSecret": CLIENT_SECRET,
                                            "entrustRedirectUri": CALLBACK})
        ch = await api.challenge(IDP, {"applicationId": app["applicationId"],
                                       "userId": verified_user})
        assert ch.status == 200, ch
        callback = await _callback(browser, ch.body["redirectUrl"], email=verified_user)
    # The provider stopped: its token endpoint answers nothing.
    gone = await api.complete(IDP, {"response": callback}, ch.body["token"])
    assert gone.status == 503 and gone.error_code == "provider_unavailable", gone
    if api.transport == "rest":
        validate(gone.body, "ErrorInfo")


async def test_an_unknown_user_looks_like_an_account_with_idp(
        api: Api, idp: Setup, browser: httpx.AsyncClient, admin: Admin) -> None:
    # New applications hide user existence: a name that is no account is
    # answered as an account with nothing enrolled, and IDP needs nothing.
    plain = f"plain-{uuid.uuid4().hex[:8]}@example.com"
    await admin.user(plain)
    ghost = f"ghost-{uuid.uuid4().hex[:8]}@example.com"
    answers = []
    for user_id in (plain, ghost):
        q = await api.query({"applicationId": idp.app, "userId": user_id})
        assert q.status == 200, q
        validate(q.body, "UserAuthenticateQueryResponse")
        assert q.body["authenticationTypes"] == [IDP]
        ch = await _challenge(api, idp, user_id)
        assert _query(ch.body["redirectUrl"])["client_id"] == CLIENT_ID
        callback = await _callback(browser, ch.body["redirectUrl"],
                                   email=f"x-{uuid.uuid4().hex[:6]}@example.com")
        malformed = await api.complete(IDP, {"response": "garbage"}, ch.body["token"])
        assert malformed.status == 400 and malformed.error_code == "invalid_field", malformed
        bad = await api.complete(IDP, {"response": callback}, ch.body["token"])
        assert bad.status == 401, bad
        answers.append((bad.error_code, await _idp_state(api, idp, user_id)))
    assert answers[0] == answers[1]
    assert answers[0][0] == "identity_mismatch"
