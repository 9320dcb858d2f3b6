"""EXTERNAL and PASSTHROUGH (Entrust's passthrough to an external
authenticator) against a real verifier on a loopback port
(authcore_testkit/external_verifier.py), and the refused FACE/SMART_LOGIN."""

from __future__ import annotations

import socket
import uuid
from typing import Any

import grpc
import httpx
import jwt
import pytest

from authcore.v1 import external_verifiers_pb2 as ev
from authcore.v1 import external_verifiers_pb2_grpc
from authcore_testkit.api import Admin, GrpcApi, RestApi
from authcore_testkit.external_verifier import ExternalVerifier
from authcore_testkit.schemas import validate
from authcore_testkit.server import RunningServer

Api = RestApi | GrpcApi
SECRET = "external-verifier-secret-0123456789"
CODE = "424242"
# The two names the application's verifier answers; the tests that
# matter run for each.
both = pytest.mark.parametrize("name", ["EXTERNAL", "PASSTHROUGH"])


def ph(**pairs: str) -> dict[str, Any]:
    return {"passthroughAuthenticatorPlaceholders": [{"name": k, "value": v}
                                                     for k, v in pairs.items()]}


async def external_app(admin: Admin, url: str, *, timeout_ms: int | None = None,
                       authenticators: tuple[str, ...] = ("PASSWORD", "EXTERNAL")) -> str:
    app = await admin.req("POST", "/api/admin/v1/applications", {
        "name": f"external {uuid.uuid4().hex[:6]}", "authenticators": list(authenticators)})
    body: dict[str, Any] = {"url": url, "secret": SECRET}
    if timeout_ms is not None:
        body["timeoutMs"] = timeout_ms
    await admin.req("PUT", f"/api/admin/v1/applications/{app['applicationId']}"
                           "/external-verifier", body)
    return str(app["applicationId"])


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/verify"


async def challenge(api: Api, app_id: str, user_id: str, name: str = "EXTERNAL",
                    **extra: Any) -> str:
    ch = await api.challenge(name, {"applicationId": app_id, "userId": user_id, **extra})
    assert ch.status == 200, ch
    validate(ch.body, "AuthenticatedResponse")
    assert ch.body["authenticationCompleted"] is False
    return str(ch.body["token"])


def expect_error(reply: Any, rest_status: int, grpc_status: int, reason: str,
                 transport: str) -> None:
    assert reply.status == (rest_status if transport == "rest" else grpc_status), reply
    assert reply.error_code == reason, reply
    if transport == "rest":
        validate(reply.body, "ErrorInfo")


async def remaining(api: Api, app_id: str, user_id: str, name: str = "EXTERNAL") -> int:
    q = await api.query({"applicationId": app_id, "userId": user_id})
    (status,) = [s for s in q.body["authenticatorLockoutStatus"] if s["type"] == name]
    return int(status["remainingAuthenticationAttempts"])


# -- login -------------------------------------------------------------------

@both
async def test_external_login(api: Api, admin: Admin, user_id: str, name: str) -> None:
    await admin.user(user_id, firstName="Ext")
    with ExternalVerifier(secret=SECRET, codes={user_id: CODE}) as verifier:
        app_id = await external_app(admin, verifier.url, authenticators=("PASSWORD", name))
        q = await api.query({"applicationId": app_id, "userId": user_id})
        assert q.status == 200
        validate(q.body, "UserAuthenticateQueryResponse")
        assert q.body["authenticationTypes"] == [name]  # no password set

        token = await challenge(api, app_id, user_id, name,
                                passthroughAuthenticatorParms=ph(device="phone-1"))
        done = await api.complete(name, {
            "response": CODE, "passthroughAuthenticatorParms": ph(channel="sms")}, token)
        assert done.status == 200, done
        validate(done.body, "AuthenticatedResponse")
        assert done.body["authenticationCompleted"] is True
        assert done.body["userId"] == user_id and done.body["firstName"] == "Ext"
        items = done.body["passthroughAuthenticationResponse"][
            "passthroughAuthenticationResultItems"]
        assert items == [{"name": "verifiedBy", "value": "test-verifier"},
                         {"name": "challenge.device", "value": "phone-1"}]
        claims = jwt.decode(done.body["token"], options={"verify_signature": False})
        assert claims["amr"] == [name] and claims["aud"] == app_id

        (sent,) = verifier.requests
        assert sent["applicationId"] == app_id and sent["userId"] == user_id
        assert sent["response"] == CODE and sent["authenticator"] == name
        assert sent["placeholders"] == [{"name": "channel", "value": "sms"}]
        assert sent["challengePlaceholders"] == [{"name": "device", "value": "phone-1"}]

        # Single-use: the same challenge again fails, without asking the verifier.
        again = await api.complete(name, {"response": CODE}, token)
        assert again.status == 401 and again.error_code == "invalid_token", again
        assert len(verifier.requests) == 1


async def test_placeholders_alone_can_answer(api: Api, admin: Admin, user_id: str) -> None:
    await admin.user(user_id)
    with ExternalVerifier(secret=SECRET, codes={user_id: CODE}) as verifier:
        app_id = await external_app(admin, verifier.url)
        token = await challenge(api, app_id, user_id)
        done = await api.complete("EXTERNAL", {"passthroughAuthenticatorParms": ph(otp=CODE)},
                                  token)
        assert done.status == 200 and done.body["authenticationCompleted"] is True, done
        assert verifier.requests[0]["response"] is None


async def test_every_request_has_a_fresh_nonce(api: Api, admin: Admin, user_id: str) -> None:
    await admin.user(user_id)
    with ExternalVerifier(secret=SECRET, codes={user_id: CODE}) as verifier:
        app_id = await external_app(admin, verifier.url)
        for _ in range(2):
            token = await challenge(api, app_id, user_id)
            done = await api.complete("EXTERNAL", {"response": CODE}, token)
            assert done.status == 200, done
        nonces = [r["nonce"] for r in verifier.requests]
        assert len(set(nonces)) == 2 and verifier.refused == 0


@both
async def test_rejections_count_until_locked(api: Api, admin: Admin, user_id: str,
                                             name: str) -> None:
    await admin.user(user_id)
    with ExternalVerifier(secret=SECRET, codes={user_id: CODE}) as verifier:
        app_id = await external_app(admin, verifier.url, authenticators=("PASSWORD", name))
        assert await remaining(api, app_id, user_id, name) == 5
        for attempt in range(5):
            token = await challenge(api, app_id, user_id, name)
            bad = await api.complete(name, {"response": "000000"}, token)
            expect_error(bad, 401, 401, "external_rejected", api.transport)
            if attempt < 4:
                assert await remaining(api, app_id, user_id, name) == 4 - attempt
        q = await api.query({"applicationId": app_id, "userId": user_id})
        (status,) = q.body["authenticatorLockoutStatus"]
        assert status["locked"] is True
        locked = await api.challenge(name, {"applicationId": app_id, "userId": user_id})
        assert locked.status == 403 and locked.error_code == "authenticator_locked"
        assert len(verifier.requests) == 5


async def test_one_verifier_tells_the_two_names_apart(api: Api, admin: Admin,
                                                       user_id: str) -> None:
    """An application may allow both: each keeps its own lockout counter, and
    the signed request says which one the client asked for."""
    await admin.user(user_id)
    with ExternalVerifier(secret=SECRET, codes={user_id: CODE}) as verifier:
        app_id = await external_app(admin, verifier.url,
                                    authenticators=("EXTERNAL", "PASSTHROUGH"))
        q = await api.query({"applicationId": app_id, "userId": user_id})
        assert q.body["authenticationTypes"] == ["EXTERNAL", "PASSTHROUGH"], q
        token = await challenge(api, app_id, user_id, "PASSTHROUGH")
        bad = await api.complete("PASSTHROUGH", {"response": "000000"}, token)
        expect_error(bad, 401, 401, "external_rejected", api.transport)
        assert await remaining(api, app_id, user_id, "PASSTHROUGH") == 4
        assert await remaining(api, app_id, user_id, "EXTERNAL") == 5
        token = await challenge(api, app_id, user_id, "EXTERNAL")
        done = await api.complete("EXTERNAL", {"response": CODE}, token)
        assert done.status == 200, done
        assert [r["authenticator"] for r in verifier.requests] == ["PASSTHROUGH", "EXTERNAL"]


# -- availability ------------------------------------------------------------

async def test_needs_a_verifier_and_the_application_allowing_it(
    api: Api, admin: Admin, user_id: str
) -> None:
    await admin.user(user_id)
    await admin.password(user_id, "external-pass-1")
    app = await admin.req("POST", "/api/admin/v1/applications", {
        "name": "no verifier", "authenticators": ["PASSWORD", "EXTERNAL"]})
    q = await api.query({"applicationId": app["applicationId"], "userId": user_id})
    assert q.body["authenticationTypes"] == ["PASSWORD"]
    ch = await api.challenge("EXTERNAL", {"applicationId": app["applicationId"],
                                          "userId": user_id})
    assert ch.status == 400 and ch.error_code == "authenticator_not_enrolled"

    with ExternalVerifier(secret=SECRET) as verifier:
        app_id = await external_app(admin, verifier.url, authenticators=("PASSWORD",))
        q = await api.query({"applicationId": app_id, "userId": user_id})
        assert q.body["authenticationTypes"] == ["PASSWORD"]
        ch = await api.challenge("EXTERNAL", {"applicationId": app_id, "userId": user_id})
        assert ch.status == 403 and ch.error_code == "authenticator_not_allowed"


# -- unknown users (hideUserExistence, on for new applications) --------------

def scrub(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: "<t>" if k in ("token", "expires") else scrub(v) for k, v in body.items()}
    return [scrub(v) for v in body] if isinstance(body, list) else body


@both
async def test_unknown_user_looks_like_a_user(api: Api, admin: Admin, user_id: str,
                                              name: str) -> None:
    await admin.user(user_id)
    await admin.password(user_id, "external-pass-1")
    ghost = f"ghost-{uuid.uuid4().hex[:12]}@example.com"
    with ExternalVerifier(secret=SECRET, codes={user_id: CODE}) as verifier:
        app_id = await external_app(admin, verifier.url, authenticators=("PASSWORD", name))
        known = await api.query({"applicationId": app_id, "userId": user_id})
        unknown = await api.query({"applicationId": app_id, "userId": ghost})
        assert known.body["authenticationTypes"] == ["PASSWORD", name], known
        assert scrub(unknown.body) == scrub(known.body)
        for attempt in range(2):
            replies = []
            for who in (user_id, ghost):
                token = await challenge(api, app_id, who, name,
                                        passthroughAuthenticatorParms=ph(device="d"))
                replies.append(await api.complete(name, {"response": "999999"}, token))
            k, u = replies
            assert (k.status, k.error_code) == (u.status, u.error_code) == (
                401, "external_rejected")
            assert scrub(k.body) == scrub(u.body)
        # The verifier was asked about the unknown name as about the user.
        assert [r["userId"] for r in verifier.requests] == [user_id, ghost] * 2
        assert verifier.requests[1]["challengePlaceholders"] == [{"name": "device",
                                                                  "value": "d"}]
        known = await api.query({"applicationId": app_id, "userId": user_id})
        unknown = await api.query({"applicationId": app_id, "userId": ghost})
        assert scrub(unknown.body) == scrub(known.body)
        assert await remaining(api, app_id, ghost, name) == 3


# -- bad input ---------------------------------------------------------------

@both
async def test_bad_input_is_4xx(api: Api, admin: Admin, user_id: str, name: str) -> None:
    await admin.user(user_id)
    with ExternalVerifier(secret=SECRET, codes={user_id: CODE}) as verifier:
        app_id = await external_app(admin, verifier.url, authenticators=("PASSWORD", name))
        nameless = await api.challenge(name, {
            "applicationId": app_id, "userId": user_id,
            "passthroughAuthenticatorParms": {"passthroughAuthenticatorPlaceholders": [
                {"name": "", "value": "x"}]}})
        expect_error(nameless, 400, 400, "invalid_field", api.transport)
        too_many = await api.challenge(name, {
            "applicationId": app_id, "userId": user_id,
            "passthroughAuthenticatorParms": ph(**{f"p{i}": "v" for i in range(33)})})
        expect_error(too_many, 400, 400, "invalid_field", api.transport)
        token = await challenge(api, app_id, user_id, name)
        empty = await api.complete(name, {}, token)
        expect_error(empty, 400, 400, "missing_field", api.transport)
        long_value = await api.complete(name, {
            "passthroughAuthenticatorParms": ph(otp="x" * 5000)}, token)
        expect_error(long_value, 400, 400, "invalid_field", api.transport)
        assert verifier.requests == []
        # Malformed input used nothing up.
        done = await api.complete(name, {"response": CODE}, token)
        assert done.status == 200, done
    if isinstance(api, RestApi):
        r = await api.http.post(
            f"/api/web/v2/authentication/users/authenticate/{name}",
            json={"applicationId": app_id, "userId": user_id,
                  "passthroughAuthenticatorParms": {"passthroughAuthenticatorPlaceholders": 7}})
        assert r.status_code == 400, r.text


# -- a failing verifier ------------------------------------------------------

async def test_verifier_down_is_503_and_uses_nothing_up(
    api: Api, admin: Admin, user_id: str
) -> None:
    await admin.user(user_id)
    app_id = await external_app(admin, closed_port_url())
    token = await challenge(api, app_id, user_id)
    down = await api.complete("EXTERNAL", {"response": CODE}, token)
    expect_error(down, 503, 503, "external_verifier_unavailable", api.transport)
    assert await remaining(api, app_id, user_id) == 5
    # The challenge is still good once the verifier is back (secret kept).
    with ExternalVerifier(secret=SECRET, codes={user_id: CODE}) as verifier:
        await admin.req("PUT", f"/api/admin/v1/applications/{app_id}/external-verifier",
                        {"url": verifier.url})
        done = await api.complete("EXTERNAL", {"response": CODE}, token)
        assert done.status == 200, done


@pytest.mark.parametrize("mode", ["forge", "wrong_nonce", "http500"])
async def test_bad_verifier_answer_is_502(api: Api, admin: Admin, user_id: str,
                                          mode: str) -> None:
    await admin.user(user_id)
    with ExternalVerifier(secret=SECRET, codes={user_id: CODE}, mode=mode) as verifier:
        app_id = await external_app(admin, verifier.url)
        token = await challenge(api, app_id, user_id)
        # The right code: a forged ACCEPT must not sign anyone in.
        bad = await api.complete("EXTERNAL", {"response": CODE}, token)
        expect_error(bad, 502, 503, "external_verifier_bad_answer", api.transport)
        assert "token" not in (bad.body or {})
        assert await remaining(api, app_id, user_id) == 5


async def test_slow_verifier_is_504(api: Api, admin: Admin, user_id: str) -> None:
    await admin.user(user_id)
    with ExternalVerifier(secret=SECRET, codes={user_id: CODE}, mode="slow",
                          delay=1.5) as verifier:
        app_id = await external_app(admin, verifier.url, timeout_ms=300)
        token = await challenge(api, app_id, user_id)
        slow = await api.complete("EXTERNAL", {"response": CODE}, token)
        expect_error(slow, 504, 504, "external_verifier_timeout", api.transport)
        assert await remaining(api, app_id, user_id) == 5


# -- admin API -----------------------------------------------------------------

async def test_admin_put_get_delete(admin: Admin, server: RunningServer) -> None:
    app = await admin.req("POST", "/api/admin/v1/applications", {"name": "verifier admin"})
    path = f"/api/admin/v1/applications/{app['applicationId']}/external-verifier"
    missing = await admin.http.get(path)
    assert missing.status_code == 404
    assert missing.json()["errorCode"] == "external_verifier_not_found"

    no_secret = await admin.http.put(path, json={"url": "https://verifier.example/v"})
    assert no_secret.status_code == 400 and no_secret.json()["errorCode"] == "invalid_field"
    put = await admin.req("PUT", path, {"url": "https://verifier.example/v", "secret": SECRET})
    assert put["verifier"]["url"] == "https://verifier.example/v"
    assert put["verifier"]["timeoutMs"] == 5000
    assert SECRET not in str(put)
    got = await admin.req("GET", path)
    assert got["verifier"]["url"] == "https://verifier.example/v"
    assert "secret" not in got["verifier"]
    changed = await admin.req("PUT", path, {"url": "https://verifier.example/w",
                                            "timeoutMs": 800})
    assert changed["verifier"]["timeoutMs"] == 800

    for body in ({"url": "http://verifier.example/v", "secret": SECRET},
                 {"url": "ftp://x/y", "secret": SECRET},
                 {"url": "https://verifier.example/v", "secret": "short"},
                 {"url": "https://verifier.example/v", "timeoutMs": 50},
                 {"url": "https://verifier.example/v", "timeoutMs": 60000},
                 {"url": ""}):
        r = await admin.http.put(path, json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["errorCode"] == "invalid_field"

    async with httpx.AsyncClient(base_url=server.http_url) as anon:
        assert (await anon.get(path)).status_code == 401
        assert (await anon.put(path, json={"url": "https://a.example/"})).status_code == 401

    deleted = await admin.http.delete(path)
    assert deleted.status_code == 204
    assert (await admin.http.delete(path)).status_code == 404
    unknown = await admin.http.get(
        "/api/admin/v1/applications/00000000-0000-0000-0000-000000000000/external-verifier")
    assert unknown.status_code == 404


async def test_admin_over_grpc(admin: Admin, server: RunningServer) -> None:
    app = await admin.req("POST", "/api/admin/v1/applications", {"name": "verifier grpc"})
    app_id = app["applicationId"]
    async with grpc.aio.insecure_channel(server.grpc_target) as channel:
        stub = external_verifiers_pb2_grpc.ExternalVerifierServiceStub(channel)
        key = (("authorization", f"Bearer {server.admin_key}"),)
        put = await stub.PutExternalVerifier(ev.PutExternalVerifierRequest(
            application_id=app_id, url="https://verifier.example/g", secret=SECRET,
            timeout_ms=1000), metadata=key)
        assert put.verifier.url == "https://verifier.example/g"
        got = await stub.GetExternalVerifier(ev.GetExternalVerifierRequest(
            application_id=app_id), metadata=key)
        assert got.verifier.timeout_ms == 1000
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stub.GetExternalVerifier(ev.GetExternalVerifierRequest(application_id=app_id))
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
        await stub.DeleteExternalVerifier(ev.DeleteExternalVerifierRequest(
            application_id=app_id), metadata=key)
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stub.GetExternalVerifier(ev.GetExternalVerifierRequest(
                application_id=app_id), metadata=key)
        assert e.value.code() == grpc.StatusCode.NOT_FOUND


# -- FACE and SMART_LOGIN ------------------------------------------------------

@pytest.mark.parametrize("name,why", [("FACE", "Onfido"), ("SMART_LOGIN", "mobile app")])
async def test_refused_authenticators(api: Api, admin: Admin, app_id: str, user_id: str,
                                      name: str, why: str) -> None:
    await admin.user(user_id)
    await admin.password(user_id, "refused-pass-1")
    ch = await api.challenge(name, {"applicationId": app_id, "userId": user_id})
    expect_error(ch, 501, 501, "authenticator_unavailable", api.transport)
    assert why in ch.body["message"] if api.transport == "grpc" else why in ch.body["errorMessage"]
    done = await api.complete(name, {"response": "x"}, "some-token")
    expect_error(done, 501, 501, "authenticator_unavailable", api.transport)
    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert name not in q.body["authenticationTypes"]
    assert name not in q.body.get("availableSecondFactor", [])


@pytest.mark.parametrize("name", ["FACE", "SMART_LOGIN"])
async def test_admin_refuses_enabling_them(admin: Admin, name: str) -> None:
    created = await admin.http.post("/api/admin/v1/applications", json={
        "name": "refused", "authenticators": ["PASSWORD", name]})
    assert created.status_code == 400 and created.json()["errorCode"] == \
        "authenticator_unavailable"
    app = await admin.req("POST", "/api/admin/v1/applications", {"name": "refused later"})
    updated = await admin.http.patch(f"/api/admin/v1/applications/{app['applicationId']}",
                                     json={"authenticators": [name]})
    assert updated.status_code == 400 and updated.json()["errorCode"] == \
        "authenticator_unavailable"
