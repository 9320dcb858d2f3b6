"""Entrust FIDO and PASSKEY: registration through /api/web/v1/self/fidotokens,
then the challenge/complete flow, over REST and gRPC, with bodies checked
against the Entrust spec and every refusal a clear 4xx."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from authcore.v1 import authentication_pb2 as authn
from authcore.v1 import self_service_pb2 as selfsvc
from authcore_testkit.api import Admin, GrpcApi, Reply, RestApi
from authcore_testkit.entrust_fido import (
    ORIGIN,
    RP_ID,
    SelfApi,
    creation_options,
    fido_response,
    login,
    passkey_app,
    register_body,
    request_options,
    std,
    user_with_password,
)
from authcore_testkit.schemas import ENTRUST, validate
from authcore_testkit.server import RunningServer
from authcore_testkit.soft_webauthn import SoftAuthenticator, b64url, unb64url
from rest_bridge.codec import message_to_json

Api = RestApi | GrpcApi
AAGUID = bytes.fromhex("ea9b8d664d011d213ce4b6b48cb575d4")  # Google Password Manager


@pytest.fixture
async def me(api: Api, server: RunningServer) -> AsyncIterator[SelfApi]:
    client = SelfApi(server, api.transport)
    yield client
    await client.close()


@pytest.fixture
async def app(admin: Admin) -> str:
    return await passkey_app(admin)


async def register(me: SelfApi, jwt: str, auth: SoftAuthenticator, *, name: str | None = None,
                   origin: str = ORIGIN, encode: Any = std) -> Reply:
    ch = await me.start(jwt)
    assert ch.status == 200, ch
    validate(ch.body, "FIDORegisterChallenge")
    credential = auth.create(options=creation_options(ch.body), origin=origin)
    return await me.complete(jwt, register_body(credential, name=name, encode=encode))


async def enrolled(api: Api, me: SelfApi, admin: Admin, app: str, user_id: str,
                   auth: SoftAuthenticator | None = None) -> tuple[SoftAuthenticator, str]:
    """A user with a password and one passkey; returns the authenticator and
    the FIDO token id."""
    await user_with_password(admin, user_id, firstName="Ada", lastName="Lovelace")
    auth = auth or SoftAuthenticator(aaguid=AAGUID)
    done = await register(me, await login(api, app, user_id), auth, name="Laptop")
    assert done.status == 200, done
    return auth, done.body["id"]


async def fido_challenge(api: Api, kind: str, app: str, user_id: str | None) -> Reply:
    body = {"applicationId": app, **({"userId": user_id} if user_id else {})}
    ch = await api.challenge(kind, body)
    assert ch.status == 200, ch
    validate(ch.body, "AuthenticatedResponse")
    return ch


async def answer(api: Api, kind: str, ch: Reply, assertion: dict[str, Any],
                 **extra: Any) -> Reply:
    return await api.complete(kind, {"fidoResponse": fido_response(assertion), **extra},
                              ch.body["token"])


# -- registration and FIDO ---------------------------------------------------

async def test_register_then_authenticate_with_fido(api: Api, me: SelfApi, admin: Admin,
                                                    app: str, user_id: str) -> None:
    await user_with_password(admin, user_id, firstName="Ada", lastName="Lovelace")
    jwt = await login(api, app, user_id)
    q = await api.query({"applicationId": app, "userId": user_id})
    assert "FIDO" not in q.body["authenticationTypes"]

    start = await me.start(jwt)
    assert start.status == 200, start
    validate(start.body, "FIDORegisterChallenge")
    assert start.body["userName"] == user_id
    assert start.body["userDisplayName"] == "Ada Lovelace"
    assert start.body["registeredCredentials"] == []
    assert start.body["timeoutMillis"] == 60000 and start.body["timeout"] == 60
    assert start.body["attestation"] == "NONE"
    assert len(base64.b64decode(start.body["challenge"], validate=True)) == 32

    auth = SoftAuthenticator(aaguid=AAGUID)
    credential = auth.create(options=creation_options(start.body), origin=ORIGIN)
    token = await me.complete(jwt, register_body(credential, name="  My laptop "))
    assert token.status == 200, token
    validate(token.body, "FIDOToken")
    assert token.body["name"] == "My laptop"
    assert token.body["userId"] == user_id
    assert token.body["state"] == "ACTIVE"
    assert token.body["authenticatorModel"] == "Google Password Manager"
    assert token.body["aaguid"] == "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4"
    assert token.body["algorithm"] == "ES256"
    assert token.body["relyingPartyId"] == RP_ID
    assert "lastUsedDate" not in token.body

    q = await api.query({"applicationId": app, "userId": user_id})
    validate(q.body, "UserAuthenticateQueryResponse")
    assert {"FIDO", "PASSKEY"} <= set(q.body["authenticationTypes"])
    assert "FIDO" in q.body["availableSecondFactor"]

    ch = await fido_challenge(api, "FIDO", app, user_id)
    fc = ch.body["fidoChallenge"]
    assert fc["allowCredentials"] == [std(credential["rawId"])]
    assert fc["timeoutMillis"] == 60000 and fc["timeout"] == 60
    ok = await answer(api, "FIDO", ch, auth.get(options=request_options(fc), origin=ORIGIN))
    assert ok.status == 200, ok
    validate(ok.body, "AuthenticatedResponse")
    assert ok.body["authenticationCompleted"] is True and ok.body["userId"] == user_id
    # Used up: the same token can't complete twice.
    again = await answer(api, "FIDO", ch, auth.get(options=request_options(fc), origin=ORIGIN))
    assert again.status == 401 and again.error_code == "invalid_token"

    # base64url without padding is accepted too.
    ch = await fido_challenge(api, "FIDO", app, user_id)
    assertion = auth.get(options=request_options(ch.body["fidoChallenge"]), origin=ORIGIN)
    ok = await api.complete("FIDO", {"fidoResponse": fido_response(assertion, encode=str)},
                            ch.body["token"])
    assert ok.status == 200, ok

    listed = await admin.req("GET", f"/api/admin/v1/users/{user_id}/passkeys")
    [passkey] = listed["passkeys"]
    assert passkey["signCount"] == 3 and "lastUsedAt" in passkey and "flaggedAt" not in passkey
    got = await me.get(jwt, token.body["id"])
    assert got.status == 200 and "lastUsedDate" in got.body
    validate(got.body, "FIDOToken")


async def test_default_challenge_and_registration_with_base64url(
        api: Api, me: SelfApi, admin: Admin, app: str, user_id: str) -> None:
    await user_with_password(admin, user_id)
    jwt = await login(api, app, user_id)
    auth = SoftAuthenticator(aaguid=AAGUID)
    done = await register(me, jwt, auth, encode=str)  # base64url as WebAuthn JSON has it
    assert done.status == 200, done
    # No name given: the model's name from the AAGUID list.
    assert done.body["name"] == "Google Password Manager"
    # An application with the same relying party, FIDO first: the default
    # challenge of a query is a FIDO challenge.
    fido_first = await passkey_app(admin, authenticators=["FIDO", "PASSKEY"])
    q = await api.query({"applicationId": fido_first, "userId": user_id,
                         "returnDefaultChallenge": True})
    validate(q.body, "UserAuthenticateQueryResponse")
    assert q.body["authenticationTypes"] == ["FIDO", "PASSKEY"]
    assertion = auth.get(options=request_options(q.body["fidoChallenge"]), origin=ORIGIN)
    ok = await api.complete("FIDO", {"fidoResponse": fido_response(assertion)}, q.body["token"])
    assert ok.status == 200, ok

    # A second registration excludes the first credential.
    ch = await me.start(jwt)
    assert ch.body["registeredCredentials"] == [std(b64url(auth.last_credential.credential_id))]  # type: ignore[union-attr]
    assert ch.body["registeredCredentialsNames"] == ["Google Password Manager"]
    with pytest.raises(ValueError, match="InvalidStateError"):
        auth.create(options=creation_options(ch.body), origin=ORIGIN)
    other = SoftAuthenticator()
    second = await me.complete(jwt, register_body(
        other.create(options=creation_options(ch.body), origin=ORIGIN), name="Key 2"))
    assert second.status == 200, second
    assert second.body["name"] == "Key 2" and "authenticatorModel" not in second.body

    ch = await fido_challenge(api, "FIDO", app, user_id)
    assert len(ch.body["fidoChallenge"]["allowCredentials"]) == 2
    ok = await answer(api, "FIDO", ch, other.get(
        options=request_options(ch.body["fidoChallenge"]), origin=ORIGIN))
    assert ok.status == 200, ok


# -- PASSKEY (discoverable) --------------------------------------------------

async def test_passkey_usernameless_and_with_user(api: Api, me: SelfApi, admin: Admin,
                                                  app: str, user_id: str) -> None:
    auth, _ = await enrolled(api, me, admin, app, user_id)
    ch = await fido_challenge(api, "PASSKEY", app, None)
    fc = ch.body["fidoChallenge"]
    assert fc.get("allowCredentials", []) == []
    ok = await answer(api, "PASSKEY", ch, auth.get(options=request_options(fc), origin=ORIGIN))
    assert ok.status == 200, ok
    validate(ok.body, "AuthenticatedResponse")
    assert ok.body["authenticationCompleted"] is True
    assert ok.body["userId"] == user_id and ok.body["firstName"] == "Ada"

    ch = await fido_challenge(api, "PASSKEY", app, user_id)
    assert len(ch.body["fidoChallenge"]["allowCredentials"]) == 1
    ok = await answer(api, "PASSKEY", ch, auth.get(
        options=request_options(ch.body["fidoChallenge"]), origin=ORIGIN))
    assert ok.status == 200, ok

    # Cancelling a usernameless challenge uses it up.
    ch = await fido_challenge(api, "PASSKEY", app, None)
    cancelled = await api.complete("PASSKEY", {"cancel": True}, ch.body["token"])
    assert cancelled.status == 200 and cancelled.body["authenticationCompleted"] is False
    late = await answer(api, "PASSKEY", ch, auth.get(
        options=request_options(ch.body["fidoChallenge"]), origin=ORIGIN))
    assert late.status == 401 and late.error_code == "invalid_token"


async def test_passkey_usernameless_refusals(api: Api, me: SelfApi, admin: Admin, app: str,
                                             user_id: str) -> None:
    auth, _ = await enrolled(api, me, admin, app, user_id)

    # A credential the server doesn't know.
    stranger = SoftAuthenticator()
    stranger.create(options={"rp": {"id": RP_ID}, "user": {"id": b64url(b"someone")},
                             "challenge": b64url(bytes(32))}, origin=ORIGIN)
    ch = await fido_challenge(api, "PASSKEY", app, None)
    bad = await answer(api, "PASSKEY", ch, stranger.get(
        options=request_options(ch.body["fidoChallenge"]), origin=ORIGIN))
    assert bad.status == 401 and bad.error_code == "credential_mismatch"

    # No userHandle: the user can't be established.
    ch = await fido_challenge(api, "PASSKEY", app, None)
    assertion = auth.get(options=request_options(ch.body["fidoChallenge"]), origin=ORIGIN)
    assertion["response"]["userHandle"] = None
    bad = await answer(api, "PASSKEY", ch, assertion)
    assert bad.status == 401 and bad.error_code == "credential_mismatch"

    # A userHandle of another user.
    ch = await fido_challenge(api, "PASSKEY", app, None)
    assertion = auth.get(options=request_options(ch.body["fidoChallenge"]), origin=ORIGIN)
    assertion["response"]["userHandle"] = b64url(b"00000000-0000-0000-0000-000000000000")
    bad = await answer(api, "PASSKEY", ch, assertion)
    assert bad.status == 401 and bad.error_code == "credential_mismatch"

    # Malformed input and no fidoResponse at all.
    ch = await fido_challenge(api, "PASSKEY", app, None)
    bad = await api.complete("PASSKEY", {"fidoResponse": {
        "authenticatorData": "%%%", "clientDataJSON": "e30", "credentialId": "!!",
        "signature": "AA"}}, ch.body["token"])
    assert bad.status == 401 and bad.error_code == "invalid_credential"
    ch = await fido_challenge(api, "PASSKEY", app, None)
    bad = await api.complete("PASSKEY", {"response": "x"}, ch.body["token"])
    assert bad.status == 401 and bad.error_code == "invalid_credential"

    # A wrong signature on a known credential counts against its user.
    ch = await fido_challenge(api, "PASSKEY", app, None)
    assertion = auth.get(options=request_options(ch.body["fidoChallenge"]), origin=ORIGIN)
    sig = bytearray(unb64url(assertion["response"]["signature"]))
    sig[-1] ^= 1
    assertion["response"]["signature"] = b64url(bytes(sig))
    bad = await answer(api, "PASSKEY", ch, assertion)
    assert bad.status == 401 and bad.error_code == "invalid_signature"
    q = await api.query({"applicationId": app, "userId": user_id})
    status = {s["type"]: s for s in q.body["authenticatorLockoutStatus"]}
    assert status["PASSKEY"]["remainingAuthenticationAttempts"] == 4


async def test_deprecated_passkey_endpoint(api: Api, me: SelfApi, admin: Admin,
                                           server: RunningServer, app: str,
                                           user_id: str) -> None:
    auth, _ = await enrolled(api, me, admin, app, user_id)
    if isinstance(api, RestApi):
        r = await api.http.post("/api/web/v1/authentication/passkey", json={"applicationId": app})
        assert r.status_code == 200, r.text
        body = r.json()
        bad_rp = await api.http.post("/api/web/v1/authentication/passkey",
                                     json={"applicationId": app, "rpId": "evil.example"})
        assert bad_rp.status_code == 400 and bad_rp.json()["errorCode"] == "rp_id_mismatch"
    else:
        body = message_to_json(await api.authn.RequestPasskeyChallenge(
            authn.RequestPasskeyChallengeRequest(application_id=app)))
    assert set(body) == {"fidoChallenge", "token"}
    validate(body["fidoChallenge"], "FIDOChallenge")
    assertion = auth.get(options=request_options(body["fidoChallenge"]), origin=ORIGIN)
    ok = await api.complete("PASSKEY", {"fidoResponse": fido_response(assertion)}, body["token"])
    assert ok.status == 200 and ok.body["userId"] == user_id, ok


async def test_passkey_must_be_allowed_by_the_application(api: Api, admin: Admin) -> None:
    created = await admin.req("POST", "/api/admin/v1/applications",
                              {"name": "no passkeys", "authenticators": ["PASSWORD"]})
    for kind in ("FIDO", "PASSKEY"):
        r = await api.challenge(kind, {"applicationId": created["applicationId"]})
        assert r.status == 403 and r.error_code == "authenticator_not_allowed"


# -- PASSWORD_AND_SECONDFACTOR with FIDO -------------------------------------

async def test_fido_as_second_factor(api: Api, me: SelfApi, admin: Admin, app: str,
                                     user_id: str) -> None:
    auth, _ = await enrolled(api, me, admin, app, user_id)
    base = {"applicationId": app, "userId": user_id}
    t1 = await api.challenge("PASSWORD_AND_SECONDFACTOR", base)
    t2 = await api.complete("PASSWORD_AND_SECONDFACTOR", {"response": "correct horse battery"},
                            t1.body["token"])
    assert t2.status == 200 and t2.body["authenticationCompleted"] is False, t2
    t3 = await api.challenge("PASSWORD_AND_SECONDFACTOR", {
        **base, "secondFactorAuthenticator": "FIDO", "authToken": t2.body["token"]})
    assert t3.status == 200, t3
    validate(t3.body, "AuthenticatedResponse")
    assertion = auth.get(options=request_options(t3.body["fidoChallenge"]), origin=ORIGIN)
    done = await api.complete("PASSWORD_AND_SECONDFACTOR", {
        "secondFactorAuthenticator": "FIDO", "fidoResponse": fido_response(assertion)},
        t3.body["token"])
    assert done.status == 200 and done.body["authenticationCompleted"] is True, done


# -- refusals ----------------------------------------------------------------

def tamper(value: str) -> str:
    raw = bytearray(unb64url(value))
    raw[len(raw) // 2] ^= 0x40
    return b64url(bytes(raw))


async def test_fido_refusals(api: Api, me: SelfApi, admin: Admin, app: str,
                             user_id: str) -> None:
    auth, _ = await enrolled(api, me, admin, app, user_id)

    async def attempt(**kwargs: Any) -> tuple[Reply, dict[str, Any]]:
        ch = await fido_challenge(api, "FIDO", app, user_id)
        assertion = auth.get(options=request_options(ch.body["fidoChallenge"]), **kwargs)
        return ch, assertion

    ch, a = await attempt(origin="https://evil.example")
    r = await answer(api, "FIDO", ch, a)
    assert r.status == 401 and r.error_code == "origin_mismatch"

    ch, a = await attempt(origin=ORIGIN, rp_id="evil.example")
    r = await answer(api, "FIDO", ch, a)
    assert r.status == 401 and r.error_code == "rp_id_mismatch"

    ch, a = await attempt(origin=ORIGIN)
    a["response"]["signature"] = tamper(a["response"]["signature"])
    r = await answer(api, "FIDO", ch, a)
    assert r.status == 401 and r.error_code == "invalid_signature"

    ch, a = await attempt(origin=ORIGIN)
    client_data = json.loads(unb64url(a["response"]["clientDataJSON"]))
    client_data["crossOrigin"] = True
    a["response"]["clientDataJSON"] = b64url(json.dumps(client_data).encode())
    r = await answer(api, "FIDO", ch, a)
    assert r.status == 401 and r.error_code == "invalid_signature"

    # An answer to another challenge.
    ch, _ = await attempt(origin=ORIGIN)
    _, a = await attempt(origin=ORIGIN)
    r = await answer(api, "FIDO", ch, a)
    assert r.status == 401 and r.error_code == "challenge_mismatch"

    # Those five failures locked FIDO, as for any authenticator.
    locked = await api.challenge("FIDO", {"applicationId": app, "userId": user_id})
    assert locked.status == 403 and locked.error_code == "authenticator_locked"
    await admin.req("POST", f"/api/admin/v1/users/{user_id}/unlock", {})

    # The application's rpId only (refused before anything counts).
    ch, a = await attempt(origin=ORIGIN)
    r = await answer(api, "FIDO", ch, a, rpId="evil.example")
    assert r.status == 400 and r.error_code == "rp_id_mismatch"
    bad = await api.challenge("FIDO", {"applicationId": app, "userId": user_id,
                                       "rpId": "evil.example"})
    assert bad.status == 400 and bad.error_code == "rp_id_mismatch"

    # Malformed base64 and CBOR.
    for broken in ({"authenticatorData": "not base64!"}, {"credentialId": ""},
                   {"authenticatorData": std(b64url(b"\xa1\xff" * 20))},
                   {"signature": "A"}):
        ch, a = await attempt(origin=ORIGIN)
        body = {**fido_response(a), **broken}
        r = await api.complete("FIDO", {"fidoResponse": body}, ch.body["token"])
        assert r.status in (400, 401) and r.error_code == "invalid_credential", (broken, r)
    ch, a = await attempt(origin=ORIGIN)
    r = await api.complete("FIDO", {"response": "123456"}, ch.body["token"])
    assert r.status == 401 and r.error_code == "invalid_credential"

    await admin.req("POST", f"/api/admin/v1/users/{user_id}/unlock", {})
    ch, a = await attempt(origin=ORIGIN)
    assert (await answer(api, "FIDO", ch, a)).status == 200


async def test_another_users_credential_is_refused(api: Api, me: SelfApi, admin: Admin,
                                                   app: str, user_id: str) -> None:
    await enrolled(api, me, admin, app, user_id)
    mallory_auth, _ = await enrolled(api, me, admin, app, "mallory-" + user_id)
    ch = await fido_challenge(api, "FIDO", app, user_id)
    # Mallory answers Ada's challenge with her own (valid) passkey.
    options = {**request_options(ch.body["fidoChallenge"]), "allowCredentials": []}
    r = await answer(api, "FIDO", ch, mallory_auth.get(options=options, origin=ORIGIN))
    assert r.status == 401 and r.error_code == "credential_mismatch"


async def test_sign_count_regression_flags_the_credential(
        api: Api, me: SelfApi, admin: Admin, app: str, user_id: str) -> None:
    auth, _ = await enrolled(api, me, admin, app, user_id)
    ch = await fido_challenge(api, "FIDO", app, user_id)
    ok = await answer(api, "FIDO", ch, auth.get(
        options=request_options(ch.body["fidoChallenge"]), origin=ORIGIN, sign_count=5))
    assert ok.status == 200
    ch = await fido_challenge(api, "FIDO", app, user_id)
    clone = await answer(api, "FIDO", ch, auth.get(
        options=request_options(ch.body["fidoChallenge"]), origin=ORIGIN, sign_count=5))
    assert clone.status == 401 and clone.error_code == "sign_count_regression"
    [passkey] = (await admin.req("GET", f"/api/admin/v1/users/{user_id}/passkeys"))["passkeys"]
    assert passkey["signCount"] == 5 and "flaggedAt" in passkey


# -- AAGUID blocklist --------------------------------------------------------

async def test_aaguid_blocklist(api: Api, me: SelfApi, admin: Admin, app: str,
                                user_id: str) -> None:
    await user_with_password(admin, user_id)
    jwt = await login(api, app, user_id)
    blocked = "EA9B8D66-4D01-1D21-3CE4-B6B48CB575D4"
    base = f"/api/admin/v1/applications/{app}/aaguid-blocklist"
    entry = await admin.req("POST", base, {"aaguid": blocked, "reg": True, "auth": False})
    assert entry["entry"]["aaguid"] == blocked.lower()
    auth = SoftAuthenticator(aaguid=AAGUID)
    refused = await register(me, jwt, auth)
    assert refused.status == 400 and refused.error_code == "aaguid_blocked", refused
    await admin.req("DELETE", f"{base}/{blocked.lower()}")
    done = await register(me, jwt, auth)
    assert done.status == 200, done

    await admin.req("POST", base, {"aaguid": blocked, "reg": False, "auth": True})
    ch = await fido_challenge(api, "FIDO", app, user_id)
    r = await answer(api, "FIDO", ch, auth.get(
        options=request_options(ch.body["fidoChallenge"]), origin=ORIGIN))
    assert r.status == 401 and r.error_code == "aaguid_blocked"
    await admin.req("DELETE", f"{base}/{blocked}")
    ch = await fido_challenge(api, "FIDO", app, user_id)
    r = await answer(api, "FIDO", ch, auth.get(
        options=request_options(ch.body["fidoChallenge"]), origin=ORIGIN))
    assert r.status == 200, r


# -- self-service ------------------------------------------------------------

async def test_self_service_get_rename_delete(api: Api, me: SelfApi, admin: Admin, app: str,
                                              user_id: str) -> None:
    auth, fidoid = await enrolled(api, me, admin, app, user_id)
    jwt = await login(api, app, user_id)
    got = await me.get(jwt, fidoid)
    assert got.status == 200 and got.body["name"] == "Laptop"
    validate(got.body, "FIDOToken")

    renamed = await me.update(jwt, fidoid, {"name": "Work laptop", "state": "ACTIVE"})
    assert renamed.status == 200, renamed
    if me.transport == "rest":
        assert renamed.body is None  # Entrust answers 200 with no body
    else:
        assert renamed.body["fidoToken"]["name"] == "Work laptop"
    assert (await me.get(jwt, fidoid)).body["name"] == "Work laptop"
    bad = await me.update(jwt, fidoid, {"name": "   "})
    assert bad.status == 400
    bad = await me.update(jwt, fidoid, {"state": "INACTIVE"})
    assert bad.status == 400 and bad.error_code == "unsupported_state"

    # Another user sees none of it.
    await user_with_password(admin, "other-" + user_id)
    other = await login(api, app, "other-" + user_id)
    for reply in (await me.get(other, fidoid), await me.update(other, fidoid, {"name": "x"}),
                  await me.delete(other, fidoid)):
        assert reply.status == 404 and reply.error_code == "fido_token_not_found"

    deleted = await me.delete(jwt, fidoid)
    assert deleted.status == 200 and deleted.body in (None, {})
    assert (await me.get(jwt, fidoid)).status == 404
    assert (await me.delete(jwt, fidoid)).status == 404
    q = await api.query({"applicationId": app, "userId": user_id})
    assert "FIDO" not in q.body["authenticationTypes"]
    ch = await api.challenge("FIDO", {"applicationId": app, "userId": user_id})
    assert ch.status == 400 and ch.error_code == "authenticator_not_enrolled"
    del auth


async def test_self_service_needs_a_live_session(api: Api, me: SelfApi, admin: Admin,
                                                 app: str, user_id: str) -> None:
    await user_with_password(admin, user_id)
    for jwt in (None, "garbage"):
        r = await me.start(jwt)
        assert r.status == 401 and r.error_code in ("missing_token", "invalid_token"), r
        r = await me.get(jwt, "x")
        assert r.status == 401
    jwt = await login(api, app, user_id)
    assert (await api.logout(jwt)).status == 200
    r = await me.start(jwt)
    assert r.status == 401 and r.error_code == "session_revoked"


async def test_registration_refusals(api: Api, me: SelfApi, admin: Admin, app: str,
                                     user_id: str) -> None:
    await user_with_password(admin, user_id)
    jwt = await login(api, app, user_id)
    auth = SoftAuthenticator()

    # Nothing started: no registration to complete.
    ch = await me.start(jwt)
    credential = auth.create(options=creation_options(ch.body), origin=ORIGIN)
    stale = {**creation_options(ch.body), "challenge": b64url(bytes(32))}
    r = await me.complete(jwt, register_body(auth.create(options=stale, origin=ORIGIN)))
    assert r.status == 400 and r.error_code == "registration_not_started", r

    # Another session of the same user can't complete it.
    other_session = await login(api, app, user_id)
    r = await me.complete(other_session, register_body(credential))
    assert r.status == 400 and r.error_code == "registration_not_started", r

    # Wrong origin, wrong RP ID: refused, and the registration is used up.
    ch = await me.start(jwt)
    evil = register_body(auth.create(options=creation_options(ch.body),
                                     origin="https://evil.example"))
    r = await me.complete(jwt, evil)
    assert r.status == 400 and r.error_code == "origin_mismatch", r
    r = await me.complete(jwt, evil)
    assert r.status == 400 and r.error_code == "registration_not_started", r
    ch = await me.start(jwt)
    good = auth.create(options=creation_options(ch.body), origin=ORIGIN)
    r = await me.complete(jwt, {**register_body(good), "rpId": "evil.example"})
    assert r.status == 400 and r.error_code == "rp_id_mismatch", r
    ch = await me.start(jwt)
    r = await me.complete(jwt, register_body(
        auth.create(options=creation_options(ch.body), origin=ORIGIN, rp_id="evil.example")))
    assert r.status == 400 and r.error_code == "rp_id_mismatch", r

    # Malformed bodies.
    ch = await me.start(jwt)
    good = register_body(auth.create(options=creation_options(ch.body), origin=ORIGIN))
    for broken in ({"attestationObject": "%%%"}, {"clientDataJSON": "%%%"},
                   {"clientDataJSON": std(b64url(b"[1, 2]"))},
                   {"attestationObject": std(b64url(b"\xff\x00 not cbor"))},
                   {"attestationObject": ""}, {"name": "x" * 300}):
        r = await me.complete(jwt, {**good, **broken})
        assert r.status == 400 and r.error_code, (broken, r)
    r = await me.complete(jwt, good)
    assert r.status == 200, r
    ch = await me.start(jwt)
    assert len(ch.body["registeredCredentials"]) == 1


# -- wire format ---------------------------------------------------------------

def test_self_service_messages_use_entrust_names() -> None:
    schemas = ENTRUST.document()["components"]["schemas"]
    pairs = [(selfsvc.FIDOToken.DESCRIPTOR, "FIDOToken"),
             (selfsvc.FIDORegisterChallenge.DESCRIPTOR, "FIDORegisterChallenge"),
             (selfsvc.CompleteFIDORegisterRequest.DESCRIPTOR, "FIDORegisterResponse"),
             (selfsvc.UpdateSelfFIDOTokenRequest.DESCRIPTOR, "FIDOTokenParms")]
    for message, schema in pairs:
        names = {f.json_name for f in message.fields if f.name not in ("authorization", "fidoid")}
        assert names <= set(schemas[schema]["properties"]), schema


def test_openapi_documents_the_self_service_paths(server: RunningServer) -> None:
    doc = httpx.get(server.http_url + "/openapi.json").json()
    paths = doc["paths"]
    assert set(paths["/api/web/v1/self/fidotokens"]) >= {"get", "post"}
    assert set(paths["/api/web/v1/self/fidotokens/{fidoid}"]) >= {"get", "put", "delete"}
