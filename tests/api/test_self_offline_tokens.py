"""Entrust protected offline OTP batches (POST /api/web/v1/self/tokens/offline)
over REST and gRPC: a batch is checked offline the way a laptop would, with
an independent verifier written here against hashlib (not the server's
verify/offline_otp.py), plus the useSecret chain, optimization and refusals.
Bodies are checked against the Entrust spec."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pyotp
import pytest

from authcore_testkit.api import Admin, GrpcApi, RestApi
from authcore_testkit.entrust_fido import login, user_with_password
from authcore_testkit.schemas import validate
from authcore_testkit.self_api import SelfApi
from authcore_testkit.server import RunningServer

Api = RestApi | GrpcApi
ITERATIONS = 5
SALT_DIGITS = 2


@pytest.fixture
async def me(api: Api, server: RunningServer) -> AsyncIterator[SelfApi]:
    client = SelfApi(server, api.transport)
    yield client
    await client.close()


async def offline_app(admin: Admin, **self_service: Any) -> str:
    settings = {"offlineTokensEnabled": True, "offlineIterations": ITERATIONS,
                "offlinePrivateSaltLength": SALT_DIGITS, "offlineMinorSize": 1,
                "offlineMaxSize": 2, **self_service}
    app = await admin.req("POST", "/api/admin/v1/applications", {
        "name": f"offline-{uuid.uuid4().hex[:8]}", "authenticators": ["PASSWORD", "TOKEN"],
        "selfService": settings})
    return str(app["applicationId"])


async def signed_in(api: Api, admin: Admin, app: str, kind: str = "TOTP"
                    ) -> tuple[str, dict[str, Any]]:
    user_id = f"off-{uuid.uuid4().hex[:10]}"
    await user_with_password(admin, user_id)
    body: dict[str, Any] = {"type": kind}
    if kind == "HOTP":
        body["secret"] = base64.b32encode(b"12345678901234567890").decode()
    tok = await admin.req("POST", f"/api/admin/v1/users/{user_id}/tokens", body)
    return await login(api, app, user_id), tok


def request(app: str, serial: str, get: str = "MINOR", **parms: Any) -> dict[str, Any]:
    return {"applicationId": app, "tokenSerialNumber": serial,
            "tokenProtectedOfflineParms": {"tokenProtectedOfflineOTPGet": get,
                                           "tokenProtectedOfflineOTPClientName": "laptop",
                                           **parms}}


# -- the independent offline verifier (what a client implements) -------------

def entries(otps: str) -> list[tuple[bytes, bytes]]:
    if not otps:
        return []
    return [(bytes.fromhex(p.split(":")[0]), bytes.fromhex(p.split(":")[1]))
            for p in otps.split(",")]


def offline_check(batch: dict[str, Any], code: str, factor: int) -> bool:
    """Does `code` match the entry of moving factor `factor`, for some
    private salt? PBKDF2-HMAC-SHA256(code, public || private || factor)."""
    index = factor - batch["firstMovingFactor"]
    rows = entries(batch["otps"])
    if not 0 <= index < len(rows):
        return False
    public, digest = rows[index]
    width = batch["privateSaltLength"]
    for guess in range(10 ** width):
        salt = public + str(guess).zfill(width).encode() + factor.to_bytes(8, "big")
        if hmac.compare_digest(hashlib.pbkdf2_hmac(
                "sha256", code.encode(), salt, batch["iterations"], 32), digest):
            return True
    return False


def check(reply: Any, status: int, schema: str = "OfflineTokenAuthenticateResponse") -> None:
    assert reply.status == status, reply
    if status == 200:
        validate(reply.body, schema)
    elif isinstance(reply.body, dict) and "errorCode" in reply.body:
        validate(reply.body, "ErrorInfo")


# -- tests ------------------------------------------------------------------

async def test_totp_batch_verifies_offline(api: Api, me: SelfApi, admin: Admin) -> None:
    app = await offline_app(admin)
    jwt, tok = await signed_in(api, admin, app)
    reply = await me.offline(jwt, request(app, tok["serialNumber"]))
    check(reply, 200)
    batch = reply.body
    assert batch["timeInterval"] == 30 and batch["tokenSerialNumber"] == tok["serialNumber"]
    assert batch["iterations"] == ITERATIONS and batch["privateSaltLength"] == SALT_DIGITS
    assert batch["minorSizeInUnits"] == 1 and batch["maxSizeInUnits"] == 2
    assert batch["resultOptimized"] is False
    assert len(entries(batch["otps"])) == 3600 // 30
    assert len(base64.b64decode(batch["useSecret"])) == 32

    totp = pyotp.TOTP(tok["secret"])
    step = int(time.time()) // 30
    assert batch["firstMovingFactor"] in (step, step - 1)
    # The laptop, ten minutes from now and offline: the code of that time
    # matches its step, and no other step in the drift window.
    later = step + 20
    code = totp.at(later * 30)
    assert offline_check(batch, code, later)
    assert not offline_check(batch, code, later + 1)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert not any(offline_check(batch, wrong, f)
                   for f in range(later - batch["maxTimeSteps"], later + batch["maxTimeSteps"] + 1))
    # An hour ahead is past the batch.
    assert not offline_check(batch, totp.at((step + 125) * 30), step + 125)


async def test_hotp_batch_starts_at_the_counter(api: Api, me: SelfApi, admin: Admin) -> None:
    app = await offline_app(admin)
    jwt, tok = await signed_in(api, admin, app, "HOTP")
    reply = await me.offline(jwt, request(app, tok["serialNumber"], "CUSTOM",
                                          tokenProtectedOfflineOTPSize=2))
    check(reply, 200)
    batch = reply.body
    assert batch["firstMovingFactor"] == 0 and batch.get("timeInterval", 0) == 0
    assert len(entries(batch["otps"])) == 2
    # RFC 4226 appendix D: counters 0 and 1.
    assert offline_check(batch, "755224", 0) and offline_check(batch, "287082", 1)
    assert not offline_check(batch, "287082", 0)


async def test_use_secret_chain_and_optimization(api: Api, me: SelfApi, admin: Admin) -> None:
    app = await offline_app(admin)
    jwt, tok = await signed_in(api, admin, app)
    serial = tok["serialNumber"]
    first = await me.offline(jwt, request(app, serial))
    check(first, 200)
    s1 = first.body["useSecret"]

    # The client already holds the hour: nothing new is sent.
    again = await me.offline(jwt, request(app, serial,
                                          tokenProtectedOfflineOTPClientSecret=s1))
    check(again, 200)
    assert again.body["resultOptimized"] is True and entries(again.body["otps"]) == []
    s2 = again.body["useSecret"]
    assert s2 != s1

    # MAJOR (two hours): only the second hour comes.
    more = await me.offline(jwt, request(app, serial, "MAJOR",
                                         tokenProtectedOfflineOTPClientSecret=s2))
    check(more, 200)
    end_of_first = first.body["firstMovingFactor"] + 3600 // 30 - 1
    assert more.body["resultOptimized"] is True
    assert more.body["firstMovingFactor"] == end_of_first + 1
    assert len(entries(more.body["otps"])) >= 3600 // 30 - 2
    s3 = more.body["useSecret"]

    # The whole batch again on request.
    full = await me.offline(jwt, request(app, serial, tokenProtectedOfflineOTPClientSecret=s3,
                                         tokenProtectedOfflineOTPDoNotOptimize=True))
    check(full, 200)
    assert full.body["resultOptimized"] is False and len(entries(full.body["otps"])) == 120
    s4 = full.body["useSecret"]

    # s3 was proved by the last request, so it still works (a lost answer);
    # older ones, a random one and none at all don't.
    for stale in (s1, s2):
        refused = await me.offline(jwt, request(app, serial,
                                                tokenProtectedOfflineOTPClientSecret=stale))
        check(refused, 403)
        assert refused.error_code == "invalid_offline_secret"
    random_secret = base64.b64encode(b"\x01" * 32).decode()
    refused = await me.offline(jwt, request(app, serial,
                                            tokenProtectedOfflineOTPClientSecret=random_secret))
    assert refused.status == 403 and refused.error_code == "invalid_offline_secret"
    none = await me.offline(jwt, request(app, serial))
    assert none.error_code == "offline_client_registered"
    if api.transport == "rest":
        check(none, 409)
    # Several concatenated secrets: one of them is this client's.
    both = base64.b64encode(b"\x02" * 32 + base64.b64decode(s4)).decode()
    ok = await me.offline(jwt, request(app, serial, "NONE",
                                       tokenProtectedOfflineOTPClientSecret=both))
    check(ok, 200)
    assert entries(ok.body["otps"]) == []
    # Another client name is another chain.
    other = await me.offline(jwt, request(app, serial,
                                          tokenProtectedOfflineOTPClientName="desktop"))
    check(other, 200)


async def test_offline_is_off_by_default(api: Api, me: SelfApi, admin: Admin) -> None:
    created = await admin.req("POST", "/api/admin/v1/applications", {
        "name": f"plain-{uuid.uuid4().hex[:8]}", "authenticators": ["PASSWORD", "TOKEN"]})
    app = created["applicationId"]
    assert created["application"]["selfService"]["offlineTokensEnabled"] is False
    jwt, tok = await signed_in(api, admin, app)
    reply = await me.offline(jwt, request(app, tok["serialNumber"]))
    check(reply, 403)
    assert reply.error_code == "offline_tokens_disabled"
    # Turned on through the admin API, it serves.
    await admin.req("PATCH", f"/api/admin/v1/applications/{app}",
                    {"selfService": {"offlineTokensEnabled": True, "offlineIterations": 2}})
    check(await me.offline(jwt, request(app, tok["serialNumber"])), 200)


@pytest.mark.parametrize("change,status,code", [
    ({"tokenSerialNumber": ""}, 400, "missing_field"),
    ({"applicationId": ""}, 400, "missing_field"),
    ({"tokenSerialNumber": "NOPE-123"}, 404, "token_not_found"),
    ({"tokenProtectedOfflineParms": {"tokenProtectedOfflineOTPGet": "CUSTOM"}}, 400,
     "missing_field"),
    ({"tokenProtectedOfflineParms": {"tokenProtectedOfflineOTPGet": "CUSTOM",
                                     "tokenProtectedOfflineOTPSize": 3}}, 400,
     "invalid_argument"),
    ({"tokenProtectedOfflineParms": {}}, 400, "missing_field"),
    ({"tokenProtectedOfflineParms": {"tokenProtectedOfflineOTPGet": "MINOR",
                                     "tokenProtectedOfflineOTPClientSecret": "AAAA"}}, 400,
     "invalid_secret"),
])
async def test_bad_input(api: Api, me: SelfApi, admin: Admin, change: dict[str, Any],
                         status: int, code: str) -> None:
    app = await offline_app(admin)
    jwt, tok = await signed_in(api, admin, app)
    body = {**request(app, tok["serialNumber"]), **change}
    reply = await me.offline(jwt, body)
    check(reply, status)
    assert reply.error_code == code


async def test_refusals(api: Api, me: SelfApi, admin: Admin) -> None:
    app = await offline_app(admin)
    jwt, tok = await signed_in(api, admin, app)
    other = await offline_app(admin)
    wrong_app = await me.offline(jwt, request(other, tok["serialNumber"]))
    check(wrong_app, 403)
    assert wrong_app.error_code == "application_mismatch"
    anonymous = await me.offline(None, request(app, tok["serialNumber"]))
    check(anonymous, 401)
    # Another user's token is not found.
    jwt2, _ = await signed_in(api, admin, app)
    theirs = await me.offline(jwt2, request(app, tok["serialNumber"]))
    check(theirs, 404)


async def test_rest_malformed_body(server: RunningServer) -> None:
    import httpx
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        r = await http.post("/api/web/v1/self/tokens/offline", content=b"{nope",
                            headers={"Content-Type": "application/json",
                                     "Authorization": "Bearer x"})
        assert r.status_code == 400
        validate(r.json(), "ErrorInfo")
        r = await http.post("/api/web/v1/self/tokens/offline", json={
            "applicationId": "a", "tokenSerialNumber": "s",
            "tokenProtectedOfflineParms": {"tokenProtectedOfflineOTPGet": "LOTS"}},
            headers={"Authorization": "Bearer x"})
        assert r.status_code == 400
        validate(r.json(), "ErrorInfo")



async def test_an_ocra_token_has_no_offline_otps(api: Api, me: SelfApi, admin: Admin) -> None:
    app = await offline_app(admin)
    user_id = f"off-{uuid.uuid4().hex[:10]}"
    await user_with_password(admin, user_id)
    tok = await admin.req("POST", f"/api/admin/v1/users/{user_id}/tokens",
                          {"ocraSuite": "OCRA-1:HOTP-SHA1-6:QN08"})
    jwt = await login(api, app, user_id)
    reply = await me.offline(jwt, request(app, tok["serialNumber"]))
    check(reply, 400)
    assert reply.error_code == "token_not_otp"
