"""LoginID's MFA flow (/fido2/v2/mfa) over REST and gRPC: sign-up with a
passkey and the address proof, sign-in with a passkey, a replayed session,
bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from authcore_testkit.loginid import LoginIdClient, assertion_result, creation_result, signed_up
from authcore_testkit.loginid_mfa import MfaClient, host_of, is_next, names, options_of
from authcore_testkit.server import RunningServer
from authcore_testkit.soft_webauthn import SoftAuthenticator


@pytest.fixture(params=["rest", "grpc"])
async def client(request: pytest.FixtureRequest, server: RunningServer
                 ) -> AsyncIterator[MfaClient]:
    c = MfaClient(server, request.param)
    yield c
    await c.close()


async def with_passkey(server: RunningServer, app_id: str, origin: str,
                       username: str) -> SoftAuthenticator:
    """A user signed up through the plain LoginID API, with one passkey."""
    loginid = LoginIdClient(server, "rest")
    try:
        authenticator, _ = await signed_up(loginid, app_id, origin, username)
    finally:
        await loginid.close()
    return authenticator


async def test_sign_up_then_sign_in(client: MfaClient, server: RunningServer, app_id: str,
                                    origin: str, username: str) -> None:
    host = host_of(app_id, server)
    user = {"username": username, "usernameType": "email"}
    begun = await client.call("begin", {"user": user}, host=host, origin=origin)
    assert begun.status == 200, begun
    assert begun.body["flow"] == "signUp" and names(begun.body)[0] == "passkey:reg"
    authenticator = SoftAuthenticator()
    created = authenticator.create(options=options_of(begun.body, "passkey:reg"), origin=origin)
    reg = await client.call("passkey_reg", {"creationResult": creation_result(created)},
                            session=begun.body["session"])
    # An email username proves its address next: 401 with the next step.
    assert is_next(reg), reg
    assert names(reg.body) == ["otp:email"]
    replay = await client.call("passkey_reg", {"creationResult": creation_result(created)},
                               session=begun.body["session"])
    assert replay.status == 401 and not is_next(replay)

    label = reg.body["next"][0]["options"][0]["label"]
    assert label != username and "***" in label
    sent = await client.call("otp_request", {"method": "email", "option": label},
                             session=reg.body["session"])
    assert sent.status == 200, sent
    from authcore_testkit.loginid import LoginIdClient

    mail = LoginIdClient(server, "rest")
    try:
        code = await mail.mailed_code(username)
    finally:
        await mail.close()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert (await client.call("otp_verify", {"otp": wrong},
                              session=sent.body["session"])).status == 401
    done = await client.call("otp_verify", {"otp": code}, session=sent.body["session"])
    assert done.status == 200, done
    assert done.body["flow"] == "signUp" and done.body["passkeyInfo"]["passkeyId"]
    # The code and the session are used up.
    assert (await client.call("otp_verify", {"otp": code},
                              session=sent.body["session"])).status == 401

    signin = await client.call("begin", {"user": user}, host=host, origin=origin)
    assert signin.status == 200 and signin.body["flow"] == "signIn", signin
    assert "passkey:auth" in names(signin.body)


async def test_bad_input(client: MfaClient, server: RunningServer, app_id: str) -> None:
    host = host_of(app_id, server)
    assert (await client.call("begin", {"user": {"username": "x@example.com"}})).status == 400
    assert (await client.call("begin", {"user": {}}, host=host)).status == 400
    for op in ("otp_request", "otp_verify", "passkey_auth", "passkey_reg", "passkey_tx",
               "payload", "third_party"):
        reply = await client.call(op, {}, session="nonsense")
        assert reply.status in (400, 401), (op, reply)
    assert (await client.call("discover", {"trustItems": {"wallet": "a.b.c"}},
                              host=host)).status == 400
    if client.transport == "rest":
        assert (await client.call("begin", raw=b"{not json", host=host)).status == 400


async def test_passkey_auth(client: MfaClient, server: RunningServer, app_id: str,
                            origin: str, username: str) -> None:
    authenticator = await with_passkey(server, app_id, origin, username)
    host = host_of(app_id, server)
    begun = await client.call("begin", {"user": {"username": username, "usernameType": "email"}},
                              host=host, origin=origin)
    assert begun.status == 200 and begun.body["flow"] == "signIn", begun
    asserted = authenticator.get(options=options_of(begun.body, "passkey:auth"), origin=origin)
    done = await client.call("passkey_auth", {"assertionResult": assertion_result(asserted)},
                             session=begun.body["session"])
    assert done.status == 200, done
    assert done.body["accessToken"] and done.body["idToken"] and done.body["payloadSignature"]
    again = await client.call("passkey_auth", {"assertionResult": assertion_result(asserted)},
                              session=begun.body["session"])
    assert again.status == 401


async def test_third_party_verify_takes_a_grant_token_once(
        client: MfaClient, server: RunningServer, origin: str) -> None:
    import uuid

    import httpx

    from authcore_testkit.api import Admin

    admin = Admin(server)
    mgmt = httpx.AsyncClient(base_url=server.http_url, timeout=30,
                             headers={"Authorization": f"Bearer {server.admin_key}"})
    try:
        app_id = str((await admin.req("POST", "/api/admin/v1/applications", {
            "name": "external", "authenticators": ["PASSKEY", "EXTERNAL"],
            "webauthn": {"rpId": "localhost", "origins": [origin]}}))["applicationId"])
        username = f"ext-{uuid.uuid4().hex[:10]}"
        await admin.user(username)

        async def token(grants: list[str]) -> str:
            r = await mgmt.post("/fido2/v2/mgmt/grant", json={
                "grants": grants, "username": username, "appId": app_id})
            assert r.status_code == 200, r.text
            return str(r.json()["token"])

        async def begin() -> str:
            begun = await client.call("begin", {"user": {"username": username}},
                                      host=host_of(app_id, server), origin=origin)
            assert begun.status == 200 and "external" in names(begun.body), begun
            return str(begun.body["session"])

        reader = await token(["passkey:read"])
        session = await begin()
        lacking = await client.call("third_party", {"token": reader}, session=session)
        assert lacking.status == 403
        granted = await token(["auth:write"])
        # The refusal used nothing up: the same session takes the right token.
        done = await client.call("third_party", {"token": granted}, session=session)
        assert done.status == 200, done
        listed = await mgmt.get("/fido2/v2/passkeys",
                                headers={"Authorization": done.body["accessToken"]})
        assert listed.status_code == 200
        # Once only: the token, and the session.
        again = await client.call("third_party", {"token": granted}, session=await begin())
        assert again.status == 401
        assert (await client.call("third_party", {"token": await token(["auth:write"])},
                                  session=session)).status == 401
        assert (await client.call("third_party", {"token": ""},
                                  session=await begin())).status == 400
    finally:
        await admin.close()
        await mgmt.aclose()


async def test_payload_is_confirmed_by_passkey_tx_and_signed(
        client: MfaClient, server: RunningServer, app_id: str, origin: str,
        username: str) -> None:
    import httpx
    import jwt as pyjwt

    authenticator = await with_passkey(server, app_id, origin, username)
    begun = await client.call("begin", {"user": {"username": username}, "payload": "pay 10 EUR"},
                              host=host_of(app_id, server), origin=origin)
    assert begun.status == 200, begun
    assert "passkey:tx" in names(begun.body), names(begun.body)
    old_options = options_of(begun.body, "passkey:tx")
    changed = await client.call("payload", {"payload": "pay 20 EUR"},
                                session=begun.body["session"])
    assert changed.status == 200, changed
    # The old session is used up by the change.
    assert (await client.call("payload", {"payload": "pay 30 EUR"},
                              session=begun.body["session"])).status == 401
    new_options = options_of(changed.body, "passkey:tx")
    assert new_options["challenge"] != old_options["challenge"]
    # An assertion over the old payload's challenge does not confirm the new one.
    stale = authenticator.get(options=old_options, origin=origin)
    refused = await client.call("passkey_tx", {"assertionResult": assertion_result(stale)},
                                session=changed.body["session"])
    assert refused.status in (400, 401), refused
    again = await client.call("begin", {"user": {"username": username}, "payload": "pay 20 EUR"},
                              host=host_of(app_id, server), origin=origin)
    asserted = authenticator.get(options=options_of(again.body, "passkey:tx"), origin=origin)
    done = await client.call("passkey_tx", {"assertionResult": assertion_result(asserted)},
                             session=again.body["session"])
    assert done.status == 200, done
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        jwks = (await http.get("/.well-known/jwks.json")).json()
    signature = done.body["payloadSignature"]
    kid = pyjwt.get_unverified_header(signature)["kid"]
    key = pyjwt.PyJWK({k: v for k, v in next(k for k in jwks["keys"] if k["kid"] == kid).items()})
    signed = pyjwt.decode(signature, key.key, algorithms=[key.algorithm_name], audience=app_id,
                          options={"verify_aud": True})
    assert signed["payload"] == "pay 20 EUR" and signed["tx"] is True
    assert signed["sub"] == username
    replay = await client.call("passkey_tx", {"assertionResult": assertion_result(asserted)},
                               session=again.body["session"])
    assert replay.status == 401
    too_big = await client.call("payload", {"payload": "x" * (65 * 1024)},
                                session=again.body["session"])
    assert too_big.status in (400, 401)


def _trust_id(key: object, trust_id: str, *, lifetime: int = 60) -> str:
    """A trust ID as the SDK's trust store makes it: a JWS {id, exp} signed
    ES256 by the browser's own key, its public JWK in the header."""
    import json
    import time

    import jwt as pyjwt

    public = json.loads(pyjwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))  # type: ignore[attr-defined]
    return pyjwt.encode({"id": trust_id, "exp": int(time.time()) + lifetime}, key,  # type: ignore[arg-type]
                        algorithm="ES256", headers={"jwk": public})


async def test_discover_knows_a_trust_id_after_a_completed_flow(
        client: MfaClient, server: RunningServer, app_id: str, origin: str,
        username: str) -> None:
    import uuid

    from cryptography.hazmat.primitives.asymmetric import ec

    authenticator = await with_passkey(server, app_id, origin, username)
    host = host_of(app_id, server)
    browser_key = ec.generate_private_key(ec.SECP256R1())
    trust = str(uuid.uuid4())
    unknown = await client.call("discover", {"trustItems": {"auth": _trust_id(browser_key, trust)}},
                                host=host)
    assert unknown.status == 404
    begun = await client.call("begin", {"user": {"username": username},
                                        "trustItems": {"auth": _trust_id(browser_key, trust)}},
                              host=host, origin=origin)
    assert begun.status == 200, begun
    # Not before the flow completes.
    assert (await client.call("discover", {"trustItems": {"auth": _trust_id(browser_key, trust)}},
                              host=host)).status == 404
    asserted = authenticator.get(options=options_of(begun.body, "passkey:auth"), origin=origin)
    done = await client.call("passkey_auth", {"assertionResult": assertion_result(asserted)},
                             session=begun.body["session"])
    assert done.status == 200, done
    known = await client.call("discover", {"trustItems": {"auth": _trust_id(browser_key, trust)}},
                              host=host)
    assert known.status == 204
    # The same id under another browser's key is somebody else's.
    thief = ec.generate_private_key(ec.SECP256R1())
    assert (await client.call("discover", {"trustItems": {"auth": _trust_id(thief, trust)}},
                              host=host)).status == 404
    # Expired, or good for too long, or not signed by its own key: 400.
    for bad in (_trust_id(browser_key, trust, lifetime=-120),
                _trust_id(browser_key, trust, lifetime=86400 * 365),
                _trust_id(browser_key, trust)[:-6] + "AAAAAA"):
        assert (await client.call("discover", {"trustItems": {"auth": bad}},
                                  host=host)).status == 400
