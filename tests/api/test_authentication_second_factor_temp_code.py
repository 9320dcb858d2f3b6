"""PASSWORD_AND_SECONDFACTOR with TEMP_ACCESS_CODE: the audit row of its
second-factor challenge names both (`PASSWORD_AND_SECONDFACTOR:TEMP_ACCESS_CODE`,
42 characters), which PostgreSQL refused while `audit_events.authenticator`
was VARCHAR(32) (migration 0011). SQLite never enforced the length; the
PostgreSQL run of this test is the regression test."""

from __future__ import annotations

import jwt

from authcore_testkit.api import Admin, GrpcApi, RestApi
from authcore_testkit.schemas import validate

Api = RestApi | GrpcApi
P2F = "PASSWORD_AND_SECONDFACTOR"
PASSWORD = "temp-code-second-pass"


async def test_password_then_temp_access_code(api: Api, admin: Admin, app_id: str,
                                              user_id: str) -> None:
    await admin.user(user_id)
    await admin.password(user_id, PASSWORD)
    issued = await admin.req("POST", f"/api/admin/v1/users/{user_id}/tempaccesscodes",
                             {"maxUses": 1})
    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert "TEMP_ACCESS_CODE" in q.body["availableSecondFactor"]

    t1 = await api.challenge(P2F, {"applicationId": app_id, "userId": user_id})
    t2 = await api.complete(P2F, {"response": PASSWORD}, t1.body["token"])
    assert t2.status == 200 and t2.body["authenticationCompleted"] is False, t2
    t3 = await api.challenge(P2F, {"applicationId": app_id,
                                   "secondFactorAuthenticator": "TEMP_ACCESS_CODE",
                                   "authToken": t2.body["token"]})
    assert t3.status == 200, t3
    validate(t3.body, "AuthenticatedResponse")
    assert t3.body["tempAccessCodeChallenge"] == {"enableAdminContact": False}
    done = await api.complete(P2F, {"secondFactorAuthenticator": "TEMP_ACCESS_CODE",
                                    "response": issued["code"]}, t3.body["token"])
    assert done.status == 200 and done.body["authenticationCompleted"] is True, done
    validate(done.body, "AuthenticatedResponse")
    claims = jwt.decode(done.body["token"], options={"verify_signature": False})
    assert claims["amr"] == ["PASSWORD", "TEMP_ACCESS_CODE"]
