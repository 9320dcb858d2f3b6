"""One lockout policy per user (issue 15, item 2): the directory's, whichever
application the failures come through. Before, each application set its
own threshold and application ids are public, so 30 wrong passwords through
an application allowing 1000 failures all answered 401 and the right
password still worked, while the user's home application (5) reported the
user as not locked."""

from __future__ import annotations

import uuid

from authcore_testkit.api import Admin, GrpcApi, RestApi
from authcore_testkit.server import run_server

Api = RestApi | GrpcApi
PASSWORD = "one-policy-pw-1"


async def test_an_application_cannot_set_its_own_lockout(admin: Admin) -> None:
    lenient = await admin.http.post("/api/admin/v1/applications", json={
        "name": "lenient", "lockoutPolicy": {"maxFailures": 1000}})
    assert lenient.status_code == 400, lenient.text
    assert lenient.json()["errorCode"] == "lockout_policy_is_directory_wide"
    app = await admin.req("POST", "/api/admin/v1/applications", {"name": "plain"})
    assert app["application"]["lockoutPolicy"] == {"maxFailures": 5, "lockoutSeconds": 1800}
    patched = await admin.http.patch(f"/api/admin/v1/applications/{app['applicationId']}",
                                     json={"lockoutPolicy": {"lockoutSeconds": 1}})
    assert patched.status_code == 400, patched.text
    got = await admin.req("GET", f"/api/admin/v1/applications/{app['applicationId']}")
    assert got["application"]["lockoutPolicy"] == {"maxFailures": 5, "lockoutSeconds": 1800}


async def test_failures_through_every_application_count_toward_one_lock(
        api: Api, admin: Admin) -> None:
    apps = [(await admin.req("POST", "/api/admin/v1/applications",
                             {"name": f"app {i}", "authenticators": ["PASSWORD"]}))
            ["applicationId"] for i in range(2)]
    user_id = f"lock-{uuid.uuid4().hex[:12]}"
    await admin.user(user_id)
    await admin.password(user_id, PASSWORD)
    for i in range(5):
        ch = await api.challenge("PASSWORD", {"applicationId": apps[i % 2], "userId": user_id})
        assert ch.status == 200, ch
        bad = await api.complete("PASSWORD", {"response": "wrong"}, ch.body["token"])
        assert bad.status == 401, bad
    for app_id in apps:
        q = await api.query({"applicationId": app_id, "userId": user_id})
        [status] = q.body["authenticatorLockoutStatus"]
        assert status["locked"] is True and status["remainingAuthenticationAttempts"] == 0
        locked = await api.challenge("PASSWORD", {"applicationId": app_id, "userId": user_id})
        assert locked.status == 403 and locked.error_code == "authenticator_locked", locked


async def test_the_directory_policy_is_a_setting() -> None:
    env = {"AUTHCORE_LOCKOUT_MAX_FAILURES": "2", "AUTHCORE_LOCKOUT_SECONDS": "60"}
    with run_server(env=env) as server:
        admin = Admin(server)
        api = RestApi(server)
        try:
            app = await admin.req("GET",
                                  f"/api/admin/v1/applications/{server.demo_application_id}")
            assert app["application"]["lockoutPolicy"] == {"maxFailures": 2,
                                                           "lockoutSeconds": 60}
            user_id = f"lock-{uuid.uuid4().hex[:12]}"
            await admin.user(user_id)
            await admin.password(user_id, PASSWORD)
            body = {"applicationId": server.demo_application_id, "userId": user_id}
            for _ in range(2):
                ch = await api.challenge("PASSWORD", body)
                assert (await api.complete("PASSWORD", {"response": "wrong"},
                                           ch.body["token"])).status == 401
            locked = await api.challenge("PASSWORD", body)
            assert locked.status == 403 and locked.error_code == "authenticator_locked"
        finally:
            await admin.close()
            await api.close()

