"""PASSWORD over REST and gRPC: query → challenge → complete, lockout, replay,
expiry, and the session JWT."""

from __future__ import annotations

import asyncio

import httpx
import jwt

from authcore_testkit.api import Admin, GrpcApi, RestApi
from authcore_testkit.schemas import validate
from authcore_testkit.server import RunningServer

Api = RestApi | GrpcApi
PASSWORD = "correct horse battery staple"


async def login(api: Api, app_id: str, user_id: str, password: str) -> tuple[str, object]:
    ch = await api.challenge("PASSWORD", {"applicationId": app_id, "userId": user_id})
    assert ch.status == 200, ch
    done = await api.complete("PASSWORD", {"response": password}, ch.body["token"])
    return ch.body["token"], done


async def test_password_login_issues_verifiable_jwt(
    api: Api, admin: Admin, app_id: str, user_id: str, server: RunningServer
) -> None:
    await admin.user(user_id, firstName="Ada", lastName="Lovelace")
    await admin.password(user_id, PASSWORD)

    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert q.status == 200
    validate(q.body, "UserAuthenticateQueryResponse")
    assert q.body["authenticationTypes"] == ["PASSWORD"]
    assert q.body["authenticationCompleted"] is False
    [status] = q.body["authenticatorLockoutStatus"]
    assert status["type"] == "PASSWORD" and status["remainingAuthenticationAttempts"] == 5

    ch = await api.challenge("PASSWORD", {"applicationId": app_id, "userId": user_id})
    assert ch.status == 200
    validate(ch.body, "AuthenticatedResponse")
    assert ch.body["authenticationCompleted"] is False and ch.body["token"]

    done = await api.complete("PASSWORD", {"response": PASSWORD}, f"Bearer {ch.body['token']}")
    assert done.status == 200, done
    validate(done.body, "AuthenticatedResponse")
    assert done.body["authenticationCompleted"] is True
    assert done.body["userId"] == user_id and done.body["firstName"] == "Ada"

    async with httpx.AsyncClient() as http:
        jwks = (await http.get(server.http_url + "/.well-known/jwks.json")).json()
    header = jwt.get_unverified_header(done.body["token"])
    assert header["alg"] == "ES256"
    [key] = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    claims = jwt.decode(done.body["token"], jwt.PyJWK(key).key, algorithms=["ES256"],
                        audience=app_id)
    assert claims["sub"] == user_id and claims["amr"] == ["PASSWORD"]
    assert done.body["expires"] == claims["exp"] * 1000


async def test_challenge_is_single_use(api: Api, admin: Admin, app_id: str, user_id: str) -> None:
    await admin.user(user_id)
    await admin.password(user_id, PASSWORD)
    token, done = await login(api, app_id, user_id, PASSWORD)
    assert done.status == 200  # type: ignore[attr-defined]
    again = await api.complete("PASSWORD", {"response": PASSWORD}, token)
    assert again.status == 401 and again.error_code == "invalid_token"


async def test_concurrent_completes_of_one_challenge_succeed_once(
    api: Api, admin: Admin, app_id: str, user_id: str
) -> None:
    await admin.user(user_id)
    await admin.password(user_id, PASSWORD)
    ch = await api.challenge("PASSWORD", {"applicationId": app_id, "userId": user_id})
    results = await asyncio.gather(*[
        api.complete("PASSWORD", {"response": PASSWORD}, ch.body["token"]) for _ in range(10)
    ])
    assert sorted(r.status for r in results) == [200] + [401] * 9


async def test_wrong_passwords_lock_then_correct_one_is_refused(
    api: Api, admin: Admin, app_id: str, user_id: str
) -> None:
    await admin.user(user_id)
    await admin.password(user_id, PASSWORD)
    for attempt in range(5):
        _, bad = await login(api, app_id, user_id, "wrong password")
        assert bad.status == 401 and bad.error_code == "invalid_password"  # type: ignore[attr-defined]
        q = await api.query({"applicationId": app_id, "userId": user_id})
        status = q.body["authenticatorLockoutStatus"][0]
        assert status["remainingAuthenticationAttempts"] == 4 - attempt
    q = await api.query({"applicationId": app_id, "userId": user_id})
    validate(q.body, "UserAuthenticateQueryResponse")
    status = q.body["authenticatorLockoutStatus"][0]
    assert status["locked"] is True and status["lockoutDate"] and status["lockoutExpiryDate"]
    ch = await api.challenge("PASSWORD", {"applicationId": app_id, "userId": user_id})
    assert ch.status == 403 and ch.error_code == "authenticator_locked"

    await admin.req("POST", f"/api/admin/v1/users/{user_id}/unlock", {})
    _, ok = await login(api, app_id, user_id, PASSWORD)
    assert ok.status == 200  # type: ignore[attr-defined]


async def test_success_resets_the_failure_count(
    api: Api, admin: Admin, app_id: str, user_id: str
) -> None:
    await admin.user(user_id)
    await admin.password(user_id, PASSWORD)
    for _ in range(3):
        await login(api, app_id, user_id, "nope nope")
    _, ok = await login(api, app_id, user_id, PASSWORD)
    assert ok.status == 200  # type: ignore[attr-defined]
    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert q.body["authenticatorLockoutStatus"][0]["remainingAuthenticationAttempts"] == 5


async def test_expired_password_requires_new_password_on_same_challenge(
    api: Api, admin: Admin, app_id: str, user_id: str
) -> None:
    await admin.user(user_id)
    await admin.password(user_id, PASSWORD, expires_at="2020-01-01T00:00:00Z")
    ch = await api.challenge("PASSWORD", {"applicationId": app_id, "userId": user_id})
    token = ch.body["token"]
    first = await api.complete("PASSWORD", {"response": PASSWORD}, token)
    assert first.status == 400 and first.error_code == "password_expired"
    wrong = await api.complete("PASSWORD", {"response": "bad", "newPassword": "n3w-passw0rd!"},
                               token)
    assert wrong.status == 401
    ch = await api.challenge("PASSWORD", {"applicationId": app_id, "userId": user_id})
    changed = await api.complete(
        "PASSWORD", {"response": PASSWORD, "newPassword": "n3w-passw0rd!"}, ch.body["token"])
    assert changed.status == 200 and changed.body["authenticationCompleted"] is True
    _, old = await login(api, app_id, user_id, PASSWORD)
    assert old.status == 401  # type: ignore[attr-defined]
    _, new = await login(api, app_id, user_id, "n3w-passw0rd!")
    assert new.status == 200  # type: ignore[attr-defined]


async def test_challenge_token_of_another_user_is_refused(
    api: Api, admin: Admin, app_id: str, user_id: str
) -> None:
    other = "other-" + user_id
    for uid in (user_id, other):
        await admin.user(uid)
        await admin.password(uid, PASSWORD)
    ch = await api.challenge("PASSWORD", {"applicationId": app_id, "userId": other})
    stolen = await api.complete("PASSWORD", {"userId": user_id, "response": PASSWORD},
                                ch.body["token"])
    assert stolen.status == 401 and stolen.error_code == "challenge_mismatch"
    wrong_type = await api.complete("OTP", {"response": "123456"}, ch.body["token"])
    assert wrong_type.status == 401 and wrong_type.error_code == "challenge_mismatch"


async def test_expired_challenge_is_refused(api: Api, admin: Admin, user_id: str) -> None:
    app = await admin.req("POST", "/api/admin/v1/applications",
                          {"name": "short", "tokenLifetimes": {"challengeSeconds": 1}})
    await admin.user(user_id)
    await admin.password(user_id, PASSWORD)
    ch = await api.challenge("PASSWORD", {"applicationId": app["applicationId"],
                                          "userId": user_id})
    await asyncio.sleep(1.2)
    late = await api.complete("PASSWORD", {"response": PASSWORD}, ch.body["token"])
    assert late.status == 401 and late.error_code in {"expired_token", "invalid_token"}


async def test_logout_revokes_the_session(
    api: Api, admin: Admin, app_id: str, user_id: str
) -> None:
    await admin.user(user_id)
    await admin.password(user_id, PASSWORD)
    _, done = await login(api, app_id, user_id, PASSWORD)
    jwt_token = done.body["token"]  # type: ignore[attr-defined]
    q = await api.query({"applicationId": app_id, "userId": user_id, "authToken": jwt_token})
    assert q.status == 200 and q.body["authenticationCompleted"] is True
    out = await api.logout(jwt_token)
    assert out.status == 200
    if api.transport == "rest":
        assert out.body is None  # Entrust: empty body
    again = await api.logout(jwt_token)
    assert again.status == 401 and again.error_code == "session_revoked"
    q = await api.query({"applicationId": app_id, "userId": user_id, "authToken": jwt_token})
    assert q.status == 401
    info = await admin.req("POST", "/api/admin/v1/tokens/introspect", {"token": jwt_token})
    assert info == {"active": False}
