"""MACHINE: a machine registered on another factor's completion, then
authenticating with its machine nonce and rotating sequence nonce."""

from __future__ import annotations

import asyncio
import base64
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
import jwt
import pytest

from authcore_testkit.api import Admin, GrpcApi, Reply, RestApi, mgmt
from authcore_testkit.schemas import validate
from authcore_testkit.server import RunningServer, run_server

Api = RestApi | GrpcApi
P2F = "PASSWORD_AND_SECONDFACTOR"
PASSWORD = "machine-pass-Secret1"
FINGERPRINT = '{"platform":"web","version":"2.0.0","attributes":{"osName":"Mac OS"}}'
# The same attributes, serialised in another order: the same fingerprint.
FINGERPRINT_REORDERED = '{"attributes":{"osName":"Mac OS"},"version":"2.0.0","platform":"web"}'
OTHER_FINGERPRINT = '{"platform":"web","version":"2.0.0","attributes":{"osName":"Windows"}}'


async def machine_app(admin: Admin, **machine: Any) -> str:
    app = await admin.req("POST", "/api/admin/v1/applications", {
        "name": "machines",
        "authenticators": ["PASSWORD", "OTP", "MACHINE", P2F],
        "machine": machine,
    })
    assert app["application"]["machine"]["maxMachines"] == machine.get("maxMachines", 20)
    return str(app["applicationId"])


async def with_password(admin: Admin, user_id: str) -> None:
    await admin.user(user_id, email="machine@example.com")
    await admin.password(user_id, PASSWORD)


async def register(api: Api, app_id: str, user_id: str, *, label: str = "Laptop",
                   fingerprint: str | None = None) -> dict[str, str]:
    ch = await api.challenge("PASSWORD", {"applicationId": app_id, "userId": user_id})
    assert ch.status == 200, ch
    validate(ch.body, "AuthenticatedResponse")
    # The challenge tells the client it may register, and which labels exist.
    assert ch.body["userMachineSettings"]["machineAuthenticatorEnabled"] is True
    reg: dict[str, str] = {"label": label}
    if fingerprint is not None:
        reg["fingerprint"] = fingerprint
    done = await api.complete("PASSWORD", {"response": PASSWORD,
                                           "machineAuthenticatorRegistration": reg},
                              ch.body["token"])
    assert done.status == 200, done
    validate(done.body, "AuthenticatedResponse")
    assert done.body["authenticationCompleted"] is True
    machine: dict[str, str] = done.body["machineAuthenticator"]
    assert set(machine) == {"machineNonce", "sequenceNonce"}
    return machine


async def machine_login(api: Api, app_id: str, user_id: str, machine: dict[str, str]) -> Reply:
    ch = await api.challenge("MACHINE", {"applicationId": app_id, "userId": user_id})
    assert ch.status == 200, ch
    validate(ch.body, "AuthenticatedResponse")
    return await api.complete("MACHINE", {"machineAuthenticator": machine}, ch.body["token"])


def rotated(machine: dict[str, str], done: Reply) -> dict[str, str]:
    """The machine's values after a successful use."""
    assert done.status == 200, done
    validate(done.body, "AuthenticatedResponse")
    assert set(done.body["machineAuthenticator"]) == {"sequenceNonce"}
    return {**machine, "sequenceNonce": done.body["machineAuthenticator"]["sequenceNonce"]}


async def machine_status(api: Api, app_id: str, user_id: str) -> dict[str, Any] | None:
    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert q.status == 200, q
    for status in q.body["authenticatorLockoutStatus"]:
        if status["type"] == "MACHINE":
            return status  # type: ignore[no-any-return]
    return None


async def test_register_after_password_then_log_in_with_the_machine(
    api: Api, admin: Admin, user_id: str
) -> None:
    app_id = await machine_app(admin)
    await with_password(admin, user_id)
    before = await api.query({"applicationId": app_id, "userId": user_id})
    validate(before.body, "UserAuthenticateQueryResponse")
    assert "MACHINE" not in before.body["authenticationTypes"]
    settings = before.body["userMachineSettings"]
    assert settings["machineAuthenticatorEnabled"] is True
    assert settings["deviceFingerprintRequired"] is False
    assert settings.get("userMachineAuthenticators", []) == []

    machine = await register(api, app_id, user_id, label="Work laptop")
    again = await api.challenge("PASSWORD", {"applicationId": app_id, "userId": user_id})
    assert [m["label"] for m in again.body["userMachineSettings"]["userMachineAuthenticators"]
            ] == ["Work laptop"]
    after = await api.query({"applicationId": app_id, "userId": user_id})
    validate(after.body, "UserAuthenticateQueryResponse")
    assert "MACHINE" in after.body["authenticationTypes"]
    assert "MACHINE" in after.body["availableSecondFactor"]
    [listed] = after.body["userMachineSettings"]["userMachineAuthenticators"]
    assert listed["label"] == "Work laptop" and listed["id"]
    assert listed["registrationTime"] and listed["expiryTime"] and "lastUsedTime" not in listed

    done = await machine_login(api, app_id, user_id, machine)
    machine2 = rotated(machine, done)
    assert done.body["authenticationCompleted"] is True and done.body["userId"] == user_id
    claims = jwt.decode(done.body["token"], options={"verify_signature": False})
    assert claims["amr"] == ["MACHINE"] and claims["aud"] == app_id
    assert machine2["sequenceNonce"] != machine["sequenceNonce"]
    used = await api.query({"applicationId": app_id, "userId": user_id})
    assert used.body["userMachineSettings"]["userMachineAuthenticators"][0]["lastUsedTime"]


async def test_the_sequence_nonce_rotates_on_every_use(
    api: Api, admin: Admin, user_id: str
) -> None:
    app_id = await machine_app(admin)
    await with_password(admin, user_id)
    machine = await register(api, app_id, user_id)
    seen = {machine["sequenceNonce"]}
    for _ in range(3):
        machine = rotated(machine, await machine_login(api, app_id, user_id, machine))
        assert machine["sequenceNonce"] not in seen
        seen.add(machine["sequenceNonce"])


async def test_a_replayed_sequence_nonce_fails_counts_and_revokes_the_machine(
    api: Api, admin: Admin, user_id: str
) -> None:
    app_id = await machine_app(admin)
    await with_password(admin, user_id)
    stolen = await register(api, app_id, user_id, label="A")
    other = await register(api, app_id, user_id, label="B")
    current = rotated(stolen, await machine_login(api, app_id, user_id, stolen))

    replay = await machine_login(api, app_id, user_id, stolen)
    assert replay.status == 401 and replay.error_code == "stale_sequence_nonce"
    status = await machine_status(api, app_id, user_id)
    assert status is not None and status["remainingAuthenticationAttempts"] == 4
    # The legitimate holder's current values no longer work either.
    revoked = await machine_login(api, app_id, user_id, current)
    assert revoked.status == 401 and revoked.error_code == "machine_revoked"
    status = await machine_status(api, app_id, user_id)
    assert status is not None and status["remainingAuthenticationAttempts"] == 3
    listed = await admin.req("GET", f"/api/admin/v1/users/{user_id}/machines")
    assert [m["label"] for m in listed["machines"]] == ["B"]
    # The user's other machine is untouched, and its success clears the count.
    rotated(other, await machine_login(api, app_id, user_id, other))
    status = await machine_status(api, app_id, user_id)
    assert status is not None and status["remainingAuthenticationAttempts"] == 5


async def test_failures_lock_machine_authentication(
    api: Api, admin: Admin, user_id: str
) -> None:
    app_id = await machine_app(admin)
    await with_password(admin, user_id)
    keep = await register(api, app_id, user_id, label="keep")
    machine = await register(api, app_id, user_id, label="probe")
    for _ in range(5):
        wrong = {**machine, "machineNonce": random_nonce()}
        r = await machine_login(api, app_id, user_id, wrong)
        assert r.status == 401 and r.error_code == "invalid_machine", r
    # Even a right machine is refused now, from the challenge on.
    locked = await api.challenge("MACHINE", {"applicationId": app_id, "userId": user_id})
    assert locked.status == 403 and locked.error_code == "authenticator_locked"
    del keep


def random_nonce() -> str:
    """A well-formed machine nonce (base64 of 32 bytes, as authcore's) that
    is no machine of the user."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


async def test_concurrent_uses_of_one_sequence_nonce_one_wins(
    api: Api, admin: Admin, user_id: str
) -> None:
    app_id = await machine_app(admin)
    await with_password(admin, user_id)
    await register(api, app_id, user_id, label="other")  # keeps MACHINE available
    machine = await register(api, app_id, user_id)
    tokens = []
    # Four: the three failures stay below the lockout (five).
    for _ in range(4):
        ch = await api.challenge("MACHINE", {"applicationId": app_id, "userId": user_id})
        tokens.append(ch.body["token"])
    replies = await asyncio.gather(*(
        api.complete("MACHINE", {"machineAuthenticator": machine}, t) for t in tokens))
    wins = [r for r in replies if r.status == 200]
    assert len(wins) == 1, [(r.status, r.error_code) for r in replies]
    # A loser that read the machine after the first loser revoked it is
    # told so.
    assert all(r.status == 401 and r.error_code in ("stale_sequence_nonce", "machine_revoked")
               for r in replies if r.status != 200), [(r.status, r.error_code) for r in replies]
    assert any(r.error_code == "stale_sequence_nonce" for r in replies)
    # Two holders of one sequence nonce: the machine is revoked, as for a
    # replay, so even the winner's next sequence nonce is refused.
    after = await machine_login(api, app_id, user_id, rotated(machine, wins[0]))
    assert after.status == 401 and after.error_code == "machine_revoked"


async def test_the_fingerprint_must_match(api: Api, admin: Admin, user_id: str) -> None:
    app_id = await machine_app(admin, deviceFingerprintRequired=True)
    await with_password(admin, user_id)
    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert q.body["userMachineSettings"]["deviceFingerprintRequired"] is True
    machine = await register(api, app_id, user_id, fingerprint=FINGERPRINT)

    wrong = await machine_login(api, app_id, user_id, {**machine, "fingerprint": OTHER_FINGERPRINT})
    assert wrong.status == 401 and wrong.error_code == "invalid_fingerprint"
    missing = await machine_login(api, app_id, user_id, machine)
    assert missing.status == 401 and missing.error_code == "invalid_fingerprint"
    status = await machine_status(api, app_id, user_id)
    assert status is not None and status["remainingAuthenticationAttempts"] == 3
    # A wrong fingerprint doesn't revoke: the right one still works, in any
    # key order.
    rotated(machine, await machine_login(api, app_id, user_id,
                                         {**machine, "fingerprint": FINGERPRINT_REORDERED}))


async def test_registration_needs_the_fingerprint_where_required(
    api: Api, admin: Admin, user_id: str
) -> None:
    app_id = await machine_app(admin, deviceFingerprintRequired=True)
    await with_password(admin, user_id)
    ch = await api.challenge("PASSWORD", {"applicationId": app_id, "userId": user_id})
    r = await api.complete("PASSWORD", {"response": PASSWORD,
                                        "machineAuthenticatorRegistration": {"label": "x"}},
                           ch.body["token"])
    assert r.status == 400 and r.error_code == "missing_field"
    # Refused before verifying: the challenge is still usable.
    ok = await api.complete("PASSWORD", {"response": PASSWORD}, ch.body["token"])
    assert ok.status == 200 and "machineAuthenticator" not in ok.body


async def test_machine_as_the_second_factor(api: Api, admin: Admin, user_id: str) -> None:
    app_id = await machine_app(admin)
    await with_password(admin, user_id)
    machine = await register(api, app_id, user_id)
    t1 = await api.challenge(P2F, {"applicationId": app_id, "userId": user_id})
    t2 = await api.complete(P2F, {"response": PASSWORD}, t1.body["token"])
    assert t2.status == 200 and t2.body["authenticationCompleted"] is False
    t3 = await api.challenge(P2F, {"applicationId": app_id, "secondFactorAuthenticator": "MACHINE",
                                   "authToken": t2.body["token"]})
    assert t3.status == 200, t3
    validate(t3.body, "AuthenticatedResponse")
    assert len(t3.body["userMachineSettings"]["userMachineAuthenticators"]) == 1
    done = await api.complete(P2F, {"secondFactorAuthenticator": "MACHINE",
                                    "machineAuthenticator": machine}, t3.body["token"])
    machine = rotated(machine, done)
    claims = jwt.decode(done.body["token"], options={"verify_signature": False})
    assert claims["amr"] == ["PASSWORD", "MACHINE"]
    rotated(machine, await machine_login(api, app_id, user_id, machine))


async def test_long_second_factor_names_are_audited_on_every_backend(
    api: Api, admin: Admin, app_id: str, user_id: str
) -> None:
    """Regression: the audit row of a second-factor challenge names
    `PASSWORD_AND_SECONDFACTOR:<factor>` (42 characters for
    TEMP_ACCESS_CODE), which overflowed PostgreSQL's String(32) column;
    migration 0012 widens it."""
    await with_password(admin, user_id)
    issued = await admin.req("POST", f"/api/admin/v1/users/{user_id}/tempaccesscodes", {})
    t1 = await api.challenge(P2F, {"applicationId": app_id, "userId": user_id})
    t2 = await api.complete(P2F, {"response": PASSWORD}, t1.body["token"])
    t3 = await api.challenge(P2F, {"applicationId": app_id,
                                   "secondFactorAuthenticator": "TEMP_ACCESS_CODE",
                                   "authToken": t2.body["token"]})
    assert t3.status == 200, t3
    done = await api.complete(P2F, {"secondFactorAuthenticator": "TEMP_ACCESS_CODE",
                                    "response": issued["code"]}, t3.body["token"])
    assert done.status == 200 and done.body["authenticationCompleted"] is True, done


async def test_registration_on_the_second_factor_of_p2f(
    api: Api, admin: Admin, user_id: str
) -> None:
    app_id = await machine_app(admin)
    await with_password(admin, user_id)
    first = await register(api, app_id, user_id)
    t1 = await api.challenge(P2F, {"applicationId": app_id, "userId": user_id})
    early = await api.complete(P2F, {"response": PASSWORD,
                                     "machineAuthenticatorRegistration": {"label": "early"}},
                               t1.body["token"])
    assert early.status == 400 and early.error_code == "invalid_value"
    t2 = await api.complete(P2F, {"response": PASSWORD}, t1.body["token"])
    t3 = await api.challenge(P2F, {"applicationId": app_id, "secondFactorAuthenticator": "MACHINE",
                                   "authToken": t2.body["token"]})
    # MACHINE can't register a machine (it would prove nothing new).
    same = await api.complete(P2F, {"secondFactorAuthenticator": "MACHINE",
                                    "machineAuthenticator": first,
                                    "machineAuthenticatorRegistration": {"label": "again"}},
                              t3.body["token"])
    assert same.status == 400 and same.error_code == "invalid_value"


async def test_admin_lists_and_revokes_machines(api: Api, admin: Admin, user_id: str) -> None:
    app_id = await machine_app(admin)
    await with_password(admin, user_id)
    machine = await register(api, app_id, user_id, label="Phone", fingerprint=FINGERPRINT)
    listed = await admin.req("GET", f"/api/admin/v1/users/{user_id}/machines")
    [entry] = listed["machines"]
    assert entry["label"] == "Phone" and entry["hasFingerprint"] is True
    assert entry["createdAt"] and entry["expiresAt"]
    assert "Nonce" not in str(entry) and "hash" not in str(entry).lower()

    gone = await admin.http.delete(
        f"/api/admin/v1/users/{user_id}/machines/{entry['machineId']}")
    assert gone.status_code == 204, gone.text
    del machine
    # No usable machine is left: MACHINE is no longer available at all.
    refused = await api.challenge("MACHINE", {"applicationId": app_id, "userId": user_id})
    assert refused.status == 400 and refused.error_code == "authenticator_not_enrolled"
    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert "MACHINE" not in q.body["authenticationTypes"]
    again = await admin.http.delete(
        f"/api/admin/v1/users/{user_id}/machines/{entry['machineId']}")
    assert again.status_code == 404 and again.json()["errorCode"] == "machine_not_found"
    empty = await admin.req("GET", f"/api/admin/v1/users/{user_id}/machines")
    assert empty.get("machines", []) == []
    unknown = await admin.http.get("/api/admin/v1/users/no-such-user/machines")
    assert unknown.status_code == 404


async def test_admin_machines_over_grpc(server: RunningServer, admin: Admin,
                                        user_id: str) -> None:
    app_id = await machine_app(admin)
    await with_password(admin, user_id)
    grpc_api = GrpcApi(server)
    try:
        machine = await register(grpc_api, app_id, user_id, label="gRPC box")
        md = (("authorization", f"Bearer {server.admin_key}"),)
        listed = await grpc_api.mgmt.ListUserMachines(
            mgmt.ListUserMachinesRequest(user_id=user_id), metadata=md)
        [entry] = listed.machines
        assert entry.label == "gRPC box" and not entry.has_fingerprint
        await grpc_api.mgmt.DeleteUserMachine(
            mgmt.DeleteUserMachineRequest(user_id=user_id, machine_id=entry.machine_id),
            metadata=md)
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await grpc_api.mgmt.DeleteUserMachine(
                mgmt.DeleteUserMachineRequest(user_id=user_id, machine_id=entry.machine_id),
                metadata=md)
        assert exc.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await grpc_api.mgmt.ListUserMachines(mgmt.ListUserMachinesRequest(user_id=user_id))
        assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED
        q = await grpc_api.query({"applicationId": app_id, "userId": user_id})
        assert "MACHINE" not in q.body["authenticationTypes"]
        del machine
    finally:
        await grpc_api.close()


async def test_a_revoked_machine_cannot_log_in(api: Api, admin: Admin, user_id: str) -> None:
    app_id = await machine_app(admin)
    await with_password(admin, user_id)
    kept = await register(api, app_id, user_id, label="kept")
    machine = await register(api, app_id, user_id, label="revoked")
    listed = await admin.req("GET", f"/api/admin/v1/users/{user_id}/machines")
    [target] = [m for m in listed["machines"] if m["label"] == "revoked"]
    gone = await admin.http.delete(
        f"/api/admin/v1/users/{user_id}/machines/{target['machineId']}")
    assert gone.status_code == 204
    r = await machine_login(api, app_id, user_id, machine)
    assert r.status == 401 and r.error_code == "machine_revoked"
    rotated(kept, await machine_login(api, app_id, user_id, kept))


async def test_one_machine_too_many_revokes_the_least_recently_used(
    api: Api, admin: Admin, user_id: str
) -> None:
    app_id = await machine_app(admin, maxMachines=2)
    await with_password(admin, user_id)
    oldest = await register(api, app_id, user_id, label="one")
    used = await register(api, app_id, user_id, label="two")
    used = rotated(used, await machine_login(api, app_id, user_id, used))
    await register(api, app_id, user_id, label="three")
    listed = await admin.req("GET", f"/api/admin/v1/users/{user_id}/machines")
    assert sorted(m["label"] for m in listed["machines"]) == ["three", "two"]
    r = await machine_login(api, app_id, user_id, oldest)
    assert r.status == 401 and r.error_code == "machine_revoked"


async def test_machine_settings_are_application_settings(admin: Admin,
                                                         server: RunningServer) -> None:
    app_id = await machine_app(admin)
    patched = await admin.req("PATCH", f"/api/admin/v1/applications/{app_id}",
                              {"machine": {"deviceFingerprintRequired": True,
                                           "maxMachines": 3}})
    assert patched["application"]["machine"] == {
        "deviceFingerprintRequired": True, "machineSeconds": 90 * 86400, "maxMachines": 3}
    got = await admin.req("GET", f"/api/admin/v1/applications/{app_id}")
    assert got["application"]["machine"]["maxMachines"] == 3
    for bad in ({"maxMachines": 0}, {"maxMachines": 101}, {"machineSeconds": 60}):
        r = await admin.http.patch(f"/api/admin/v1/applications/{app_id}",
                                   json={"machine": bad})
        assert r.status_code == 400, r.text
        assert r.json()["parameters"][0]["field"].startswith("machine."), r.text
    # The machine admin calls need the admin key, as the others do.
    async with httpx.AsyncClient(base_url=server.http_url) as anonymous:
        r = await anonymous.get("/api/admin/v1/users/someone/machines")
        assert r.status_code == 401, r.text


async def test_only_applications_listing_machine_accept_machines(
    api: Api, admin: Admin, user_id: str
) -> None:
    app_id = await machine_app(admin)
    await with_password(admin, user_id)
    machine = await register(api, app_id, user_id)
    await admin.req("POST", f"/api/admin/v1/users/{user_id}/tokens", {"type": "TOTP"})
    no_machines = await admin.req("POST", "/api/admin/v1/applications",
                                  {"name": "no machines", "authenticators": [P2F, "TOKEN"]})
    other = no_machines["applicationId"]
    q = await api.query({"applicationId": other, "userId": user_id})
    assert q.body["availableSecondFactor"] == ["TOKEN"] and "userMachineSettings" not in q.body
    t1 = await api.challenge(P2F, {"applicationId": other, "userId": user_id})
    t2 = await api.complete(P2F, {"response": PASSWORD}, t1.body["token"])
    t3 = await api.challenge(P2F, {"applicationId": other, "secondFactorAuthenticator": "MACHINE",
                                   "authToken": t2.body["token"]})
    assert t3.status == 400 and t3.error_code == "authenticator_not_enrolled"
    del machine


async def test_an_unknown_user_looks_like_one_without_machines(
    api: Api, admin: Admin, user_id: str
) -> None:
    app_id = await machine_app(admin)
    await with_password(admin, user_id)
    known = await api.query({"applicationId": app_id, "userId": user_id})
    ghost = await api.query({"applicationId": app_id, "userId": "nobody-" + user_id})
    assert ghost.status == 200, ghost
    validate(ghost.body, "UserAuthenticateQueryResponse")
    assert ghost.body["userMachineSettings"] == known.body["userMachineSettings"]
    known_ch = await api.challenge("PASSWORD", {"applicationId": app_id, "userId": user_id})
    ghost_ch = await api.challenge("PASSWORD", {"applicationId": app_id,
                                                "userId": "nobody-" + user_id})
    assert ghost_ch.status == 200, ghost_ch
    validate(ghost_ch.body, "AuthenticatedResponse")
    assert ghost_ch.body["userMachineSettings"] == known_ch.body["userMachineSettings"]
    for who in (user_id, "nobody-" + user_id):
        r = await api.challenge("MACHINE", {"applicationId": app_id, "userId": who})
        assert r.status == 400 and r.error_code == "authenticator_not_enrolled", (who, r)


async def test_an_application_without_machine_refuses_registration(
    api: Api, admin: Admin, app_id: str, user_id: str
) -> None:
    await with_password(admin, user_id)
    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert "userMachineSettings" not in q.body
    ch = await api.challenge("PASSWORD", {"applicationId": app_id, "userId": user_id})
    assert "userMachineSettings" not in ch.body
    r = await api.complete("PASSWORD", {"response": PASSWORD,
                                        "machineAuthenticatorRegistration": {"label": "x"}},
                           ch.body["token"])
    assert r.status == 403 and r.error_code == "authenticator_not_allowed"
    m = await api.challenge("MACHINE", {"applicationId": app_id, "userId": user_id})
    assert m.status == 403 and m.error_code == "authenticator_not_allowed"


async def test_malformed_machine_input_is_a_clear_400(
    api: Api, admin: Admin, user_id: str
) -> None:
    app_id = await machine_app(admin)
    await with_password(admin, user_id)
    machine = await register(api, app_id, user_id)
    ch = await api.challenge("MACHINE", {"applicationId": app_id, "userId": user_id})
    token = ch.body["token"]
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "missing_field"),
        ({"machineAuthenticator": {"machineNonce": machine["machineNonce"]}}, "missing_field"),
        ({"machineAuthenticator": {**machine, "machineNonce": "not base64!"}}, "invalid_value"),
        ({"machineAuthenticator": {**machine, "sequenceNonce": "c2hvcnQ="}}, "invalid_value"),
        ({"machineAuthenticator": {**machine, "fingerprint": "not json"}}, "invalid_value"),
        ({"machineAuthenticator": {**machine, "fingerprint": "[1, 2]"}}, "invalid_value"),
    ]
    for body, code in cases:
        r = await api.complete("MACHINE", body, token)
        assert r.status == 400 and r.error_code == code, (body, r)
    # None of that used the challenge up or counted.
    status = await machine_status(api, app_id, user_id)
    assert status is not None and status["remainingAuthenticationAttempts"] == 5
    rotated(machine, await api.complete("MACHINE", {"machineAuthenticator": machine}, token))

    # Other factors ignore a machineAuthenticator (an SDK may send one).
    ch = await api.challenge("PASSWORD", {"applicationId": app_id, "userId": user_id})
    ok = await api.complete("PASSWORD", {"response": PASSWORD,
                                         "machineAuthenticator": {"machineNonce": "junk"}},
                            ch.body["token"])
    assert ok.status == 200 and ok.body["authenticationCompleted"] is True

    ch = await api.challenge("PASSWORD", {"applicationId": app_id, "userId": user_id})
    for reg in ({"label": ""}, {"label": "   "}, {"label": "x" * 101}, {"label": "a\nb"},
                {"label": "ok", "fingerprint": "{}"}):
        r = await api.complete("PASSWORD", {"response": PASSWORD,
                                            "machineAuthenticatorRegistration": reg},
                               ch.body["token"])
        assert r.status == 400 and r.error_code in ("invalid_value", "missing_field"), (reg, r)


def test_wrong_json_types_are_400(server: RunningServer) -> None:
    with httpx.Client(base_url=server.http_url, timeout=30) as http:
        path = "/api/web/v1/authentication/users/authenticate/MACHINE/complete"
        for body in ({"machineAuthenticator": "abc"},
                     {"machineAuthenticator": {"machineNonce": 12}},
                     {"machineAuthenticator": {"sequenceNonce": ["a"]}},
                     {"machineAuthenticatorRegistration": {"label": 5}},
                     {"machineAuthenticatorRegistration": []}):
            r = http.post(path, json=body, headers={"Authorization": "x"})
            assert r.status_code == 400, (body, r.text)
            assert r.json()["errorCode"]


# -- expiry and logs (a sandbox server of its own, with a movable clock) -----------

@dataclass
class ClockServer:
    server: RunningServer
    offset: Path
    # Machine values handed out; none may appear in the server's output.
    secrets: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def clock_server() -> Iterator[ClockServer]:
    offset = Path(tempfile.mkdtemp(prefix="machine-clock-")) / "offset"
    offset.write_text("0")
    with run_server(env={"AUTHCORE_SANDBOX": "1", "AUTHCORE_CLOCK_OFFSET_FILE": str(offset),
                         "AUTHCORE_LOG_LEVEL": "DEBUG"}) as srv:
        running = ClockServer(srv, offset)
        yield running
    log = "".join(srv.output)
    assert "MACHINE" in log, log[-2000:]
    for value in running.secrets:
        assert value not in log, "a machine value reached the server's log"


async def test_a_machine_expires_after_its_lifetime(clock_server: ClockServer,
                                                   user_id: str) -> None:
    srv, offset = clock_server.server, clock_server.offset
    admin, api = Admin(srv), RestApi(srv)
    try:
        app_id = await machine_app(admin, machineSeconds=3600)
        await with_password(admin, user_id)
        machine = await register(api, app_id, user_id)
        clock_server.secrets.extend(machine.values())
        machine = rotated(machine, await machine_login(api, app_id, user_id, machine))
        clock_server.secrets.append(machine["sequenceNonce"])
        offset.write_text("3500")
        ch = await api.challenge("MACHINE", {"applicationId": app_id, "userId": user_id})
        assert ch.status == 200, ch
        offset.write_text("3700")
        late = await api.complete("MACHINE", {"machineAuthenticator": machine}, ch.body["token"])
        assert late.status == 401 and late.error_code == "machine_expired", late
        gone = await api.challenge("MACHINE", {"applicationId": app_id, "userId": user_id})
        assert gone.status == 400 and gone.error_code == "authenticator_not_enrolled"
        listed = await admin.req("GET", f"/api/admin/v1/users/{user_id}/machines")
        assert listed.get("machines", []) == []
    finally:
        offset.write_text("0")
        await admin.close()
        await api.close()
