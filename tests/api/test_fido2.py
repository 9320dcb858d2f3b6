"""LoginID's FIDO2 API (/fido2/v2): passkey registration, sign-in with and
without a username, adding passkeys, managing them, AAGUID lookup and
transaction confirmation, over REST and gRPC, with every 2xx body checked
against LoginID's published schemas."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt

from authcore_testkit.loginid import LoginIdClient, awaits_proof, tx_result
from authcore_testkit.server import RunningServer
from authcore_testkit.soft_webauthn import SoftAuthenticator, unb64url

RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
AAGUIDS = Path(__file__).resolve().parents[2] / "src" / "authcore" / "data" / "aaguids.json"








def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})  # type: ignore[no-any-return]


async def registered(loginid: LoginIdClient, app_id: str, origin: str, username: str,
                     **kwargs: Any) -> tuple[SoftAuthenticator, dict[str, Any]]:
    authenticator = SoftAuthenticator(**kwargs)
    done = await loginid.register(app_id=app_id, username=username,
                                  authenticator=authenticator, origin=origin)
    assert done.status == 200, done
    return authenticator, done.body


# ------------------------------------------------------------ registration

async def test_register_a_new_user(loginid: LoginIdClient, app_id: str, origin: str,
                                   username: str) -> None:
    init = await loginid.call("reg_init", {
        "app": {"id": app_id}, "deviceInfo": {"clientType": "browser", "deviceId": "dev-1"},
        "user": {"username": username, "usernameType": "email", "displayName": "Ada"},
    }, origin=origin)
    assert init.status == 200
    assert init.body["action"] == "proceed"
    options = init.body["registrationRequestOptions"]
    assert options["rp"]["id"] == "localhost"
    assert options["user"]["name"] == username and options["user"]["displayName"] == "Ada"
    assert options["excludeCredentials"] == []
    assert len(unb64url(options["challenge"])) >= 16
    assert {p["alg"] for p in options["pubKeyCredParams"]} >= {-7}

    authenticator = SoftAuthenticator()
    created = authenticator.create(options=options, origin=origin)
    done = await loginid.call("reg_complete", {
        "session": init.body["session"], "passkeyName": "My laptop",
        "creationResult": {"attestationObject": created["response"]["attestationObject"],
                           "clientDataJSON": created["response"]["clientDataJSON"],
                           "credentialId": created["id"], "transports": ["internal"]}})
    # An email username proves the address before the account is usable
    # (tests/api/test_signup.py); the mailed code finishes the sign-up.
    assert awaits_proof(done), done
    done = await loginid.prove_address(app_id=app_id, username=username)
    assert done.status == 200
    assert done.body["userId"] == username
    assert done.body["deviceId"] == "dev-1"
    token = claims(done.body["jwtAccess"])
    assert (token["sub"], token["aud"], token["amr"]) == (username, app_id, ["passkey"])
    # What LoginID's web SDK reads for getUser() and compares in addPasskey().
    assert token["username"] == username

    listed = await loginid.call("list_passkeys", authorization=done.body["jwtAccess"])
    assert [p["id"] for p in listed.body] == [done.body["passkeyId"]]
    assert listed.body[0]["name"] == "My laptop"
    # The registration session is used up.
    again = await loginid.call("reg_complete", {
        "session": init.body["session"],
        "creationResult": {"attestationObject": created["response"]["attestationObject"],
                           "clientDataJSON": created["response"]["clientDataJSON"],
                           "credentialId": created["id"]}})
    assert again.status == 401


async def test_reg_init_refusals(loginid: LoginIdClient, app_id: str, origin: str,
                                 username: str) -> None:
    def body(**user: Any) -> dict[str, Any]:
        return {"app": {"id": app_id}, "deviceInfo": {}, "user": user}

    assert (await loginid.call("reg_init", body(), origin=origin)).status == 400
    assert (await loginid.call("reg_init", {"deviceInfo": {}, "user": {"username": username}},
                               origin=origin)).status == 400
    unknown_app = {**body(username=username), "app": {"id": str(uuid.uuid4())}}
    assert (await loginid.call("reg_init", unknown_app, origin=origin)).status == 404
    foreign = await loginid.call("reg_init", body(username=username),
                                 origin="https://evil.example")
    assert foreign.status == 403
    too_long = await loginid.call("reg_init", body(username="x" * 256), origin=origin)
    assert too_long.status == 400


async def test_adding_a_passkey_needs_the_users_jwt(loginid: LoginIdClient, app_id: str,
                                                   origin: str, username: str) -> None:
    first, done = await registered(loginid, app_id, origin, username)
    _, other = await registered(loginid, app_id, origin, "other-" + username)
    init_body = {"app": {"id": app_id}, "deviceInfo": {}, "user": {"username": username}}

    for authorization in (None, "", "Bearer not-a-jwt", other["jwtAccess"],
                          "Bearer " + other["jwtAccess"]):
        refused = await loginid.call("reg_init", init_body, authorization=authorization,
                                     origin=origin)
        assert refused.status == 403, (authorization, refused)
        if loginid.transport == "grpc":
            assert refused.error_code == "forbidden"

    init = await loginid.call("reg_init", init_body, authorization="Bearer " + done["jwtAccess"],
                              origin=origin)
    assert init.status == 200
    options = init.body["registrationRequestOptions"]
    assert first.last_credential is not None
    assert [unb64url(c["id"]) for c in options["excludeCredentials"]] == [
        first.last_credential.credential_id]
    second = SoftAuthenticator()
    created = second.create(options=options, origin=origin)
    added = await loginid.call("reg_complete", {
        "session": init.body["session"],
        "creationResult": {"attestationObject": created["response"]["attestationObject"],
                           "clientDataJSON": created["response"]["clientDataJSON"],
                           "credentialId": created["id"]}})
    assert added.status == 200 and added.body["userId"] == username
    assert added.body["passkeyId"] != done["passkeyId"]

    listed = await loginid.call("list_passkeys", authorization=added.body["jwtAccess"])
    assert len(listed.body) == 2
    signed_in = await loginid.sign_in(app_id=app_id, authenticator=second, origin=origin,
                                      username=username)
    assert signed_in.status == 200 and signed_in.body["passkeyId"] == added.body["passkeyId"]


# ---------------------------------------------------------------- sign-in

async def test_sign_in_with_a_username(loginid: LoginIdClient, app_id: str, origin: str,
                                       username: str) -> None:
    authenticator, done = await registered(loginid, app_id, origin, username)
    init = await loginid.call("auth_init", {
        "app": {"id": app_id}, "deviceInfo": {"clientName": "Chrome", "deviceId": "dev-2"},
        "user": {"username": username}}, origin=origin)
    assert init.status == 200
    assert init.body["action"] == "proceed"
    assert init.body["crossAuthMethods"] == [] and init.body["fallbackMethods"] == []
    allowed = init.body["assertionOptions"]["allowCredentials"]
    assert [unb64url(c["id"]) for c in allowed] == [authenticator.last_credential.credential_id]
    assert init.body["assertionOptions"]["rpId"] == "localhost"

    asserted = authenticator.get(options=init.body["assertionOptions"], origin=origin)
    result = {"authenticatorData": asserted["response"]["authenticatorData"],
              "clientDataJSON": asserted["response"]["clientDataJSON"],
              "credentialId": asserted["id"], "signature": asserted["response"]["signature"],
              "userHandle": asserted["response"]["userHandle"]}
    ok = await loginid.call("auth_complete", {"session": init.body["session"],
                                              "assertionResult": result})
    assert ok.status == 200
    assert ok.body["userId"] == username and ok.body["passkeyId"] == done["passkeyId"]
    assert ok.body["deviceId"] == "dev-2"
    assert claims(ok.body["jwtAccess"])["sub"] == username
    assert claims(ok.body["jwtAccess"])["username"] == username

    listed = await loginid.call("list_passkeys", authorization=ok.body["jwtAccess"])
    used = listed.body[0]
    assert RFC3339.fullmatch(used["lastUsedAt"])
    assert used["lastUsedFromDevice"] == {"clientName": "Chrome", "deviceId": "dev-2"}


async def test_discoverable_sign_in(loginid: LoginIdClient, app_id: str, origin: str,
                                    username: str) -> None:
    authenticator, done = await registered(loginid, app_id, origin, username)
    init = await loginid.call("auth_init", {"app": {"id": app_id}, "deviceInfo": {}},
                              origin=origin)
    assert init.status == 200
    assert init.body["assertionOptions"]["allowCredentials"] == []
    ok = await loginid.sign_in(app_id=app_id, authenticator=authenticator, origin=origin)
    assert ok.status == 200
    assert ok.body["userId"] == username and ok.body["passkeyId"] == done["passkeyId"]


async def test_unknown_username_looks_like_discoverable_sign_in(
        loginid: LoginIdClient, app_id: str, origin: str, username: str) -> None:
    authenticator, _ = await registered(loginid, app_id, origin, username)
    unknown = await loginid.call("auth_init", {"app": {"id": app_id}, "deviceInfo": {},
                                               "user": {"username": "nobody-" + username}},
                                 origin=origin)
    assert unknown.status == 200
    assert unknown.body["action"] == "proceed"
    # One credential id, made up and stable (tests/api/test_enumeration.py).
    assert len(unknown.body["assertionOptions"]["allowCredentials"]) == 1
    assert set(unknown.body) == {"action", "assertionOptions", "crossAuthMethods",
                                 "fallbackMethods", "session"}
    # Somebody else's discoverable passkey can't answer a start for that name
    # (a browser would not offer it: the list names another credential).
    asserted = authenticator.get(options={**unknown.body["assertionOptions"],
                                          "allowCredentials": []}, origin=origin)
    refused = await loginid.call("auth_complete", {
        "session": unknown.body["session"],
        "assertionResult": {"authenticatorData": asserted["response"]["authenticatorData"],
                            "clientDataJSON": asserted["response"]["clientDataJSON"],
                            "credentialId": asserted["id"],
                            "signature": asserted["response"]["signature"],
                            "userHandle": asserted["response"]["userHandle"]}})
    assert refused.status == 400


async def test_auth_init_refusals(loginid: LoginIdClient, app_id: str, origin: str) -> None:
    assert (await loginid.call("auth_init", {"deviceInfo": {}}, origin=origin)).status == 400
    assert (await loginid.call("auth_init", {"app": {"id": str(uuid.uuid4())}},
                               origin=origin)).status == 404
    assert (await loginid.call("auth_init", {"app": {"id": app_id}},
                               origin="http://localhost:1")).status == 403


# ------------------------------------------------------- managing passkeys

async def test_list_rename_delete_passkeys(loginid: LoginIdClient, app_id: str, origin: str,
                                           username: str) -> None:
    _, mine = await registered(loginid, app_id, origin, username)
    _, theirs = await registered(loginid, app_id, origin, "theirs-" + username)
    me, them = mine["jwtAccess"], theirs["jwtAccess"]
    passkey_id = mine["passkeyId"]

    listed = await loginid.call("list_passkeys", authorization=me)
    assert len(listed.body) == 1
    entry = listed.body[0]
    assert entry["id"] == passkey_id and entry["credentialSynced"] is False
    assert RFC3339.fullmatch(entry["createdAt"]) and "lastUsedAt" not in entry
    assert (await loginid.call("list_passkeys")).status == 401
    assert (await loginid.call("list_passkeys", authorization="Bearer x.y.z")).status == 401

    path = {"id": passkey_id}
    renamed = await loginid.call("rename_passkey", {"name": "Work phone"}, path=path,
                                 authorization="Bearer " + me)
    assert renamed.status == 204
    assert (await loginid.call("list_passkeys", authorization=me)).body[0]["name"] == \
        "Work phone"
    for bad in ("", "   ", "x" * 256):
        assert (await loginid.call("rename_passkey", {"name": bad}, path=path,
                                   authorization=me)).status == 400
    assert (await loginid.call("rename_passkey", {"name": "x" * 255}, path=path,
                               authorization=me)).status == 204
    assert (await loginid.call("rename_passkey", {"name": "n"}, path=path)).status == 401

    # Another user's passkey id is simply not found.
    assert (await loginid.call("rename_passkey", {"name": "mine now"}, path=path,
                               authorization=them)).status == 404
    assert (await loginid.call("delete_passkey", path=path, authorization=them)).status == 404
    assert (await loginid.call("delete_passkey", path={"id": "no-such-id"},
                               authorization=me)).status == 404
    assert (await loginid.call("delete_passkey", path=path)).status == 401
    assert len((await loginid.call("list_passkeys", authorization=me)).body) == 1

    assert (await loginid.call("delete_passkey", path=path, authorization=me)).status == 204
    assert (await loginid.call("list_passkeys", authorization=me)).body == []
    assert (await loginid.call("delete_passkey", path=path, authorization=me)).status == 404
    assert len((await loginid.call("list_passkeys", authorization=them)).body) == 1


async def test_aaguid_lookup(loginid: LoginIdClient, app_id: str, origin: str,
                             username: str) -> None:
    table = json.loads(AAGUIDS.read_text())["entries"]
    aaguid, entry = next(iter(sorted(table.items())))
    _, done = await registered(loginid, app_id, origin, username,
                               aaguid=uuid.UUID(aaguid).bytes)
    me = done["jwtAccess"]

    found = await loginid.call("get_aaguid", path={"aaguid": aaguid}, authorization=me)
    assert found.status == 200
    assert found.body == {"id": aaguid, "name": entry["name"],
                          "iconLight": entry["icon_light"], "iconDark": entry["icon_dark"]}
    upper = await loginid.call("get_aaguid", path={"aaguid": aaguid.upper()}, authorization=me)
    assert upper.status == 200 and upper.body["id"] == aaguid
    listed = await loginid.call("list_passkeys", authorization=me)
    assert listed.body[0]["aaguid"] == aaguid
    assert listed.body[0]["providerName"] == entry["name"]

    unknown = await loginid.call("get_aaguid", path={"aaguid": str(uuid.uuid4())},
                                 authorization=me)
    assert unknown.status == 404
    malformed = await loginid.call("get_aaguid", path={"aaguid": "not-a-uuid"},
                                   authorization=me)
    assert malformed.status == 400
    assert (await loginid.call("get_aaguid", path={"aaguid": aaguid})).status == 401


# --------------------------------------------------------- transactions

async def test_transaction_confirmation(loginid: LoginIdClient, server: RunningServer,
                                        app_id: str, origin: str, username: str) -> None:
    authenticator, done = await registered(loginid, app_id, origin, username)
    payload = json.dumps({"to": "DE89 3704 0044 0532 0130 00", "amount": "125.00"})
    init = await loginid.call("tx_init", {"username": username, "txPayload": payload,
                                          "txType": "raw", "nonce": "nonce-" + uuid.uuid4().hex,
                                          "appId": app_id}, origin=origin)
    assert init.status == 200
    allowed = init.body["assertionOptions"]["allowCredentials"]
    assert [unb64url(c["id"]) for c in allowed] == [authenticator.last_credential.credential_id]
    asserted = authenticator.get(options=init.body["assertionOptions"], origin=origin)
    ok = await loginid.call("tx_complete", tx_result(init.body["session"], asserted))
    assert ok.status == 200
    assert ok.body["credentialId"] == asserted["id"]
    assert ok.body["authCred"]["id"] == done["passkeyId"]

    async with httpx.AsyncClient(base_url=server.http_url) as http:
        jwks = (await http.get("/.well-known/jwks.json")).json()
    header = jwt.get_unverified_header(ok.body["token"])
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    token = jwt.decode(ok.body["token"], jwt.PyJWK(key).key, algorithms=["ES256"],
                       audience=app_id)
    assert token["tx_hash"] == hashlib.sha256(payload.encode()).hexdigest()
    assert token["tx_id"] == init.body["txId"] and token["tx_type"] == "raw"
    assert token["sub"] == username and token["amr"] == ["passkey"]
    assert token["exp"] - token["iat"] == 300
    # A confirmation token is not an access token.
    assert (await loginid.call("list_passkeys", authorization=ok.body["token"])).status == 401
    # Single use.
    again = await loginid.call("tx_complete", tx_result(init.body["session"], asserted))
    assert again.status == 401


async def test_a_tampered_transaction_cannot_be_confirmed(
        loginid: LoginIdClient, app_id: str, origin: str, username: str) -> None:
    authenticator, _ = await registered(loginid, app_id, origin, username)
    nonce = "nonce-" + uuid.uuid4().hex

    async def start(payload: str) -> dict[str, Any]:
        init = await loginid.call("tx_init", {"username": username, "txPayload": payload,
                                              "txType": "raw", "nonce": nonce, "appId": app_id},
                                  origin=origin)
        assert init.status == 200
        return init.body  # type: ignore[no-any-return]

    shown, swapped, same = await start("pay 10 to Bob"), await start("pay 9999 to Eve"), \
        await start("pay 10 to Bob")
    # The challenge commits to the payload (and carries fresh randomness).
    challenges = {b["assertionOptions"]["challenge"] for b in (shown, swapped, same)}
    assert len(challenges) == 3
    # The user signs what they were shown; it can't confirm another payload's session.
    signed = authenticator.get(options=shown["assertionOptions"], origin=origin)
    refused = await loginid.call("tx_complete", tx_result(swapped["session"], signed))
    assert refused.status == 400
    if loginid.transport == "grpc":
        assert refused.error_code == "challenge_mismatch"
    else:
        assert "challenge_mismatch" in refused.body["msg"]


async def test_tx_init_refusals(loginid: LoginIdClient, app_id: str, origin: str,
                                username: str) -> None:
    await registered(loginid, app_id, origin, username)
    good = {"username": username, "txPayload": "p", "txType": "raw", "nonce": "12345678",
            "appId": app_id}
    assert (await loginid.call("tx_init", good, origin=origin)).status == 200
    for change in ({"nonce": "1234567"}, {"nonce": ""}, {"txPayload": ""}, {"txType": ""},
                   {"appId": ""}, {"username": ""}, {"txPayload": "x" * (64 * 1024 + 1)}):
        refused = await loginid.call("tx_init", {**good, **change}, origin=origin)
        assert refused.status == 400, change
    assert (await loginid.call("tx_init", {**good, "txPayload": "x" * (64 * 1024)},
                               origin=origin)).status == 200
    assert (await loginid.call("tx_init", {**good, "appId": str(uuid.uuid4())},
                               origin=origin)).status == 404
    # An unknown username answers like a known one: one (made-up) credential.
    unknown = await loginid.call("tx_init", {**good, "username": "nobody-" + username},
                                 origin=origin)
    assert unknown.status == 200
    assert len(unknown.body["assertionOptions"]["allowCredentials"]) == 1
