"""Refused WebAuthn responses and bad requests on LoginID's FIDO2 API: a
400 bad_request naming the problem (never a 500), a used-up session, and
LoginID's {msg, msgCode} body for every error."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from typing import Any

import cbor2
import httpx
import pytest

from authcore_testkit.loginid import (
    OPS,
    LoginIdClient,
    assertion_result,
    check_error_body,
    creation_result,
    tx_result,
)
from authcore_testkit.server import RunningServer
from authcore_testkit.soft_webauthn import SoftAuthenticator, b64url, unb64url


def assert_refused(reply: Any, status: int, reason: str | None = None) -> None:
    assert reply.status == status, reply
    if reason is None:
        return
    if "msgCode" in reply.body:
        assert reason in reply.body["msg"], reply  # REST: the reason is in msg
    else:
        assert reply.error_code == reason, reply  # gRPC: ErrorInfo.reason


def flip(value: str, index: int = -5) -> str:
    raw = bytearray(unb64url(value))
    raw[index] ^= 0x01
    return b64url(bytes(raw))


def edit_client_data(value: str, **changes: Any) -> str:
    data = json.loads(unb64url(value))
    data.update(changes)
    return b64url(json.dumps(data, separators=(",", ":")).encode())


# ----------------------------------------------------------- registration

RegTamper = Callable[[dict[str, Any], str], dict[str, Any]]


def _reg_wrong_origin(options: dict[str, Any], origin: str) -> dict[str, Any]:
    return creation_result(SoftAuthenticator().create(options=options,
                                                      origin="https://evil.example"))


def _reg_wrong_rp_id(options: dict[str, Any], origin: str) -> dict[str, Any]:
    return creation_result(SoftAuthenticator().create(options=options, origin=origin,
                                                      rp_id="evil.example"))


def _reg_other_challenge(options: dict[str, Any], origin: str) -> dict[str, Any]:
    result = creation_result(SoftAuthenticator().create(options=options, origin=origin))
    result["clientDataJSON"] = edit_client_data(result["clientDataJSON"],
                                                challenge=b64url(b"\x00" * 32))
    return result


def _reg_bad_base64(options: dict[str, Any], origin: str) -> dict[str, Any]:
    result = creation_result(SoftAuthenticator().create(options=options, origin=origin))
    result["attestationObject"] = "!!not*base64!!"
    return result


def _reg_bad_cbor(options: dict[str, Any], origin: str) -> dict[str, Any]:
    result = creation_result(SoftAuthenticator().create(options=options, origin=origin))
    result["attestationObject"] = b64url(b"\xff\x00\x13 not cbor")
    return result


def _reg_cbor_without_auth_data(options: dict[str, Any], origin: str) -> dict[str, Any]:
    result = creation_result(SoftAuthenticator().create(options=options, origin=origin))
    result["attestationObject"] = b64url(cbor2.dumps({"fmt": "none", "attStmt": {}}))
    return result


def _reg_bad_client_data(options: dict[str, Any], origin: str) -> dict[str, Any]:
    result = creation_result(SoftAuthenticator().create(options=options, origin=origin))
    result["clientDataJSON"] = b64url(b"{not json")
    return result


def _reg_bad_credential_id(options: dict[str, Any], origin: str) -> dict[str, Any]:
    result = creation_result(SoftAuthenticator().create(options=options, origin=origin))
    result["credentialId"] = "@@@"
    return result


@pytest.mark.parametrize(("tamper", "reason"), [
    (_reg_wrong_origin, "origin_mismatch"),
    (_reg_wrong_rp_id, "rp_id_mismatch"),
    (_reg_other_challenge, "challenge_mismatch"),
    (_reg_bad_base64, "invalid_credential"),
    (_reg_bad_cbor, "invalid_credential"),
    (_reg_cbor_without_auth_data, "invalid_credential"),
    (_reg_bad_client_data, "invalid_credential"),
    (_reg_bad_credential_id, "invalid_credential"),
])
async def test_registration_refusals(loginid: LoginIdClient, app_id: str, origin: str,
                                     username: str, tamper: RegTamper, reason: str) -> None:
    init = await loginid.call("reg_init", {"app": {"id": app_id}, "deviceInfo": {},
                                           "user": {"username": username}}, origin=origin)
    options = init.body["registrationRequestOptions"]
    refused = await loginid.call("reg_complete", {"session": init.body["session"],
                                                  "creationResult": tamper(options, origin)})
    assert_refused(refused, 400, reason)
    # The session is used up, and no user was created.
    good = creation_result(SoftAuthenticator().create(options=options, origin=origin))
    again = await loginid.call("reg_complete", {"session": init.body["session"],
                                                "creationResult": good})
    assert_refused(again, 401)
    fresh = await loginid.call("reg_init", {"app": {"id": app_id}, "deviceInfo": {},
                                            "user": {"username": username}}, origin=origin)
    assert fresh.status == 200  # still a new username: nothing was left behind


# ------------------------------------------------------------------ sign-in

AuthTamper = Callable[[SoftAuthenticator, dict[str, Any], str], dict[str, Any]]


def _auth_wrong_origin(a: SoftAuthenticator, options: dict[str, Any], origin: str
                       ) -> dict[str, Any]:
    return assertion_result(a.get(options=options, origin="https://evil.example"))


def _auth_wrong_rp_id(a: SoftAuthenticator, options: dict[str, Any], origin: str
                      ) -> dict[str, Any]:
    return assertion_result(a.get(options=options, origin=origin, rp_id="evil.example"))


def _auth_bad_signature(a: SoftAuthenticator, options: dict[str, Any], origin: str
                        ) -> dict[str, Any]:
    result = assertion_result(a.get(options=options, origin=origin))
    result["signature"] = flip(result["signature"])
    return result


def _auth_edited_client_data(a: SoftAuthenticator, options: dict[str, Any], origin: str
                             ) -> dict[str, Any]:
    result = assertion_result(a.get(options=options, origin=origin))
    result["clientDataJSON"] = edit_client_data(result["clientDataJSON"], crossOrigin=True)
    return result


def _auth_bad_authenticator_data(a: SoftAuthenticator, options: dict[str, Any], origin: str
                                 ) -> dict[str, Any]:
    result = assertion_result(a.get(options=options, origin=origin))
    result["authenticatorData"] = b64url(b"\x01\x02")
    return result


def _auth_bad_base64(a: SoftAuthenticator, options: dict[str, Any], origin: str
                     ) -> dict[str, Any]:
    result = assertion_result(a.get(options=options, origin=origin))
    result["signature"] = "%%%"
    return result


def _auth_sign_count_regression(a: SoftAuthenticator, options: dict[str, Any], origin: str
                                ) -> dict[str, Any]:
    # The stored counter is 1 after the warm-up sign-in; report it again.
    return assertion_result(a.get(options=options, origin=origin, sign_count=1))


def _auth_unknown_credential(a: SoftAuthenticator, options: dict[str, Any], origin: str
                             ) -> dict[str, Any]:
    result = assertion_result(a.get(options=options, origin=origin))
    result["credentialId"] = b64url(b"unknown credential id")
    return result


@pytest.mark.parametrize(("tamper", "reason"), [
    (_auth_wrong_origin, "origin_mismatch"),
    (_auth_wrong_rp_id, "rp_id_mismatch"),
    (_auth_bad_signature, "invalid_signature"),
    (_auth_edited_client_data, "invalid_signature"),
    (_auth_bad_authenticator_data, "invalid_credential"),
    (_auth_bad_base64, "invalid_credential"),
    (_auth_sign_count_regression, "sign_count_regression"),
    (_auth_unknown_credential, "credential_mismatch"),
])
async def test_sign_in_refusals(loginid: LoginIdClient, app_id: str, origin: str,
                                username: str, tamper: AuthTamper, reason: str) -> None:
    authenticator = SoftAuthenticator()
    assert (await loginid.register(app_id=app_id, username=username,
                                   authenticator=authenticator, origin=origin)).status == 200
    warm_up = await loginid.sign_in(app_id=app_id, authenticator=authenticator, origin=origin,
                                    username=username)
    assert warm_up.status == 200
    init = await loginid.call("auth_init", {"app": {"id": app_id}, "deviceInfo": {},
                                            "user": {"username": username}}, origin=origin)
    options = init.body["assertionOptions"]
    refused = await loginid.call("auth_complete", {
        "session": init.body["session"],
        "assertionResult": tamper(authenticator, options, origin)})
    assert_refused(refused, 400, reason)
    # The session is used up even by a refused response.
    good = assertion_result(authenticator.get(options=options, origin=origin))
    again = await loginid.call("auth_complete", {"session": init.body["session"],
                                                 "assertionResult": good})
    assert_refused(again, 401)


async def test_replayed_sign_in(loginid: LoginIdClient, app_id: str, origin: str,
                                username: str) -> None:
    authenticator = SoftAuthenticator()
    await loginid.register(app_id=app_id, username=username, authenticator=authenticator,
                           origin=origin)
    init = await loginid.call("auth_init", {"app": {"id": app_id}, "deviceInfo": {}},
                              origin=origin)
    body = {"session": init.body["session"], "assertionResult": assertion_result(
        authenticator.get(options=init.body["assertionOptions"], origin=origin))}
    assert (await loginid.call("auth_complete", body)).status == 200
    assert_refused(await loginid.call("auth_complete", body), 401)
    # Nor does it answer a new session (the challenge differs).
    fresh = await loginid.call("auth_init", {"app": {"id": app_id}, "deviceInfo": {}},
                               origin=origin)
    replayed = {**body, "session": fresh.body["session"]}
    assert_refused(await loginid.call("auth_complete", replayed), 400)
    # A registration session isn't a sign-in session, and the reverse.
    reg = await loginid.call("reg_init", {"app": {"id": app_id}, "deviceInfo": {},
                                          "user": {"username": "x-" + username}}, origin=origin)
    assert_refused(await loginid.call("auth_complete", {**body, "session": reg.body["session"]}),
                   401)


async def test_another_users_passkey_is_refused(loginid: LoginIdClient, app_id: str,
                                                origin: str, username: str) -> None:
    alice, mallory = SoftAuthenticator(), SoftAuthenticator()
    await loginid.register(app_id=app_id, username=username, authenticator=alice, origin=origin)
    await loginid.register(app_id=app_id, username="m-" + username, authenticator=mallory,
                           origin=origin)
    # Alice's sign-in session answered with Mallory's passkey.
    init = await loginid.call("auth_init", {"app": {"id": app_id}, "deviceInfo": {},
                                            "user": {"username": username}}, origin=origin)
    options = {**init.body["assertionOptions"], "allowCredentials": []}
    answer = assertion_result(mallory.get(options=options, origin=origin))
    refused = await loginid.call("auth_complete", {"session": init.body["session"],
                                                   "assertionResult": answer})
    assert_refused(refused, 400, "credential_mismatch")
    # Mallory's credential id with Alice's user handle.
    init = await loginid.call("auth_init", {"app": {"id": app_id}, "deviceInfo": {}},
                              origin=origin)
    options = {**init.body["assertionOptions"], "allowCredentials": []}
    answer = assertion_result(mallory.get(options=options, origin=origin))
    assert alice.last_credential is not None
    answer["userHandle"] = b64url(alice.last_credential.user_handle)
    refused = await loginid.call("auth_complete", {"session": init.body["session"],
                                                   "assertionResult": answer})
    assert_refused(refused, 400, "credential_mismatch")
    # And a transaction for Alice can't be confirmed by Mallory.
    tx = await loginid.call("tx_init", {"username": username, "txPayload": "p", "txType": "raw",
                                        "nonce": "n-" + uuid.uuid4().hex, "appId": app_id},
                            origin=origin)
    options = {**tx.body["assertionOptions"], "allowCredentials": []}
    signed = mallory.get(options=options, origin=origin)
    assert_refused(await loginid.call("tx_complete", tx_result(tx.body["session"], signed)),
                   400, "credential_mismatch")


async def test_missing_fields(loginid: LoginIdClient) -> None:
    session = "s" * 43
    for op, body in (
        ("reg_complete", {}),
        ("reg_complete", {"session": session}),
        ("auth_complete", {"creationResult": {}}),
        ("auth_complete", {"session": session}),
        ("tx_complete", {"session": session, "keyHandle": "a", "clientData": "b",
                         "authenticatorData": "c"}),
        ("tx_init", {}),
        ("verify_code", {}),
        ("client_event", {}),
    ):
        reply = await loginid.call(op, body)
        assert_refused(reply, 400)
    # A well-formed but unknown session.
    assert_refused(await loginid.call("auth_complete", {
        "session": session, "assertionResult": {"authenticatorData": "AA", "clientDataJSON": "AA",
                                                "credentialId": "AA", "signature": "AA"}}), 401)


# ------------------------------------------------- malformed HTTP requests

POST_PATHS = [op.path for op in OPS.values() if op.http_method == "POST"]


@pytest.fixture
def http(server: RunningServer) -> httpx.Client:
    with httpx.Client(base_url=server.http_url, timeout=30) as client:
        yield client  # type: ignore[misc]


@pytest.mark.parametrize("path", POST_PATHS)
def test_malformed_json(http: httpx.Client, path: str) -> None:
    r = http.post(path, content=b'{"app": ', headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    check_error_body(400, r.json())


@pytest.mark.parametrize("body", [
    [1, 2], "text", {"app": "not an object"}, {"app": {"id": ["x"]}},
    {"user": {"username": 5}}, {"deviceInfo": {"screenHeight": "tall"}},
    {"deviceInfo": {"hasBluetooth": "maybe"}},
])
def test_wrong_types(http: httpx.Client, body: Any) -> None:
    for path in ("/fido2/v2/reg/init", "/fido2/v2/auth/init"):
        r = http.post(path, json=body)
        assert r.status_code == 400, (path, body, r.text)
        check_error_body(400, r.json())


def test_body_too_large(http: httpx.Client) -> None:
    r = http.post("/fido2/v2/tx/init", content=b'{"txPayload": "' + b"x" * (2 << 20) + b'"}',
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    check_error_body(413, r.json())


def test_rename_wrong_types(http: httpx.Client) -> None:
    r = http.put("/fido2/v2/passkeys/some-id", json={"name": {"x": 1}},
                 headers={"Authorization": "Bearer x"})
    assert r.status_code == 400
    check_error_body(400, r.json())


async def test_standard_base64_is_accepted(loginid: LoginIdClient, app_id: str, origin: str,
                                           username: str) -> None:
    """LoginID's own examples carry standard base64 (with + / and padding)."""
    authenticator = SoftAuthenticator()
    await loginid.register(app_id=app_id, username=username, authenticator=authenticator,
                           origin=origin)
    init = await loginid.call("auth_init", {"app": {"id": app_id}, "deviceInfo": {}},
                              origin=origin)
    answer = assertion_result(authenticator.get(options=init.body["assertionOptions"],
                                                origin=origin))
    standard = {k: base64.b64encode(unb64url(v)).decode() for k, v in answer.items()}
    ok = await loginid.call("auth_complete", {"session": init.body["session"],
                                              "assertionResult": standard})
    assert ok.status == 200 and ok.body["userId"] == username
