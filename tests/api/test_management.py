"""The management API: application policy is honoured by the flows, users can
be deleted, and bad settings are refused."""

from __future__ import annotations

from authcore_testkit.api import Admin, GrpcApi, RestApi

Api = RestApi | GrpcApi


async def test_application_policy_limits_authenticators_and_lockout(
    api: Api, admin: Admin, user_id: str
) -> None:
    # The lockout policy is the directory's (tests/api/test_lockout_policy.py);
    # repeating it is accepted.
    app = await admin.req("POST", "/api/admin/v1/applications", {
        "name": "password only", "authenticators": ["PASSWORD"],
        "lockoutPolicy": {"maxFailures": 5, "lockoutSeconds": 1800},
        "tokenLifetimes": {"sessionSeconds": 120},
    })
    app_id = app["applicationId"]
    assert app["application"]["authenticators"] == ["PASSWORD"]
    await admin.user(user_id, email="policy@example.com")
    await admin.password(user_id, "policy-password-1")

    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert q.body["authenticationTypes"] == ["PASSWORD"]
    assert q.body["authenticatorLockoutStatus"][0]["remainingAuthenticationAttempts"] == 5
    otp = await api.challenge("OTP", {"applicationId": app_id, "userId": user_id})
    assert otp.status == 403 and otp.error_code == "authenticator_not_allowed"

    for _ in range(5):
        ch = await api.challenge("PASSWORD", {"applicationId": app_id, "userId": user_id})
        bad = await api.complete("PASSWORD", {"response": "wrong-one"}, ch.body["token"])
        assert bad.status == 401
    locked = await api.challenge("PASSWORD", {"applicationId": app_id, "userId": user_id})
    assert locked.status == 403 and locked.error_code == "authenticator_locked"


async def test_session_lifetime_follows_the_application(api: Api, admin: Admin,
                                                        user_id: str) -> None:
    app = await admin.req("POST", "/api/admin/v1/applications",
                          {"name": "short sessions", "tokenLifetimes": {"sessionSeconds": 120}})
    await admin.user(user_id)
    await admin.password(user_id, "lifetime-pass-1")
    ch = await api.challenge("PASSWORD", {"applicationId": app["applicationId"],
                                          "userId": user_id})
    done = await api.complete("PASSWORD", {"response": "lifetime-pass-1"}, ch.body["token"])
    import jwt

    claims = jwt.decode(done.body["token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 120


async def test_delete_user(admin: Admin, user_id: str, app_id: str) -> None:
    await admin.user(user_id)
    await admin.password(user_id, "to-be-deleted-1")
    r = await admin.http.delete(f"/api/admin/v1/users/{user_id}")
    assert r.status_code == 204 and r.content == b""
    gone = await admin.http.get(f"/api/admin/v1/users/{user_id}")
    assert gone.status_code == 404 and gone.json()["errorCode"] == "user_not_found"
    again = await admin.http.delete(f"/api/admin/v1/users/{user_id}")
    assert again.status_code == 404
    # The demo application hides user existence: the name is answered like
    # any unknown one, whose password never matches.
    ch = await admin.http.post("/api/web/v2/authentication/users/authenticate/PASSWORD",
                               json={"applicationId": app_id, "userId": user_id})
    assert ch.status_code == 200
    done = await admin.http.post(
        "/api/web/v1/authentication/users/authenticate/PASSWORD/complete",
        json={"response": "to-be-deleted-1"},
        headers={"Authorization": f"Bearer {ch.json()['token']}"})
    assert done.status_code == 401


async def test_invalid_application_settings_are_refused(admin: Admin) -> None:
    r = await admin.http.post("/api/admin/v1/applications", json={
        "name": "bad", "factorSettings": {"totpDriftSteps": 50, "otpDigits": 4}})
    assert r.status_code == 400
    fields = {p["field"] for p in r.json()["parameters"] if "field" in p}
    assert fields == {"factorSettings.totpDriftSteps", "factorSettings.otpDigits"}
    r = await admin.http.post("/api/admin/v1/applications",
                              json={"name": "x", "authenticators": ["NOPE"]})
    assert r.status_code == 400
    r = await admin.http.post("/api/admin/v1/applications", json={"name": ""})
    assert r.status_code == 400
