"""PASSWORD_AND_SECONDFACTOR, following the four calls Entrust's browser SDK makes."""

from __future__ import annotations

import jwt
import pyotp

from authcore_testkit.api import Admin, GrpcApi, RestApi
from authcore_testkit.schemas import validate

Api = RestApi | GrpcApi
P2F = "PASSWORD_AND_SECONDFACTOR"
PASSWORD = "s3cond-factor-pass"


async def enroll(admin: Admin, user_id: str) -> pyotp.TOTP:
    await admin.user(user_id, email="p2f@example.com")
    await admin.password(user_id, PASSWORD)
    tok = await admin.req("POST", f"/api/admin/v1/users/{user_id}/tokens", {"type": "TOTP"})
    await admin.req("PUT", f"/api/admin/v1/users/{user_id}/kba",
                    {"questions": [{"question": "Q1?", "answer": "a1"},
                                   {"question": "Q2?", "answer": "a2"}]})
    return pyotp.TOTP(tok["secret"])


async def test_password_then_token(api: Api, admin: Admin, app_id: str, user_id: str) -> None:
    totp = await enroll(admin, user_id)
    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert P2F in q.body["authenticationTypes"]
    assert q.body["availableSecondFactor"] == ["KBA", "OTP", "TOKEN"]

    t1 = await api.challenge(P2F, {"applicationId": app_id, "userId": user_id})
    assert t1.status == 200
    validate(t1.body, "AuthenticatedResponse")
    t2 = await api.complete(P2F, {"response": PASSWORD}, t1.body["token"])
    assert t2.status == 200, t2
    validate(t2.body, "AuthenticatedResponse")
    assert t2.body["authenticationCompleted"] is False and t2.body["token"]

    # Completing the second-factor token before choosing a factor is refused.
    early = await api.complete(P2F, {"response": totp.now()}, t2.body["token"])
    assert early.status == 400 and early.error_code == "second_factor_required"

    t3 = await api.challenge(P2F, {"applicationId": app_id, "secondFactorAuthenticator": "TOKEN",
                                   "authToken": t2.body["token"]})
    assert t3.status == 200, t3
    validate(t3.body, "AuthenticatedResponse")
    assert t3.body["tokenChallenge"]["token"]
    # T2 is single-use too.
    reuse = await api.challenge(P2F, {"applicationId": app_id,
                                      "secondFactorAuthenticator": "TOKEN",
                                      "authToken": t2.body["token"]})
    assert reuse.status == 401

    done = await api.complete(P2F, {"secondFactorAuthenticator": "TOKEN",
                                    "response": totp.now()}, t3.body["token"])
    assert done.status == 200, done
    validate(done.body, "AuthenticatedResponse")
    assert done.body["authenticationCompleted"] is True
    claims = jwt.decode(done.body["token"], options={"verify_signature": False})
    assert claims["amr"] == ["PASSWORD", "TOKEN"]


async def test_password_then_kba(api: Api, admin: Admin, app_id: str, user_id: str) -> None:
    await enroll(admin, user_id)
    t1 = await api.challenge(P2F, {"applicationId": app_id, "userId": user_id})
    t2 = await api.complete(P2F, {"response": PASSWORD}, t1.body["token"])
    t3 = await api.challenge(P2F, {"applicationId": app_id, "userId": user_id,
                                   "secondFactorAuthenticator": "KBA",
                                   "authToken": t2.body["token"]})
    questions = t3.body["kbaChallenge"]["userQuestions"]
    answers = {"Q1?": "A1", "Q2?": "A2"}
    done = await api.complete(P2F, {
        "secondFactorAuthenticator": "KBA",
        "kbaChallenge": {"userQuestions": [{"id": q["id"], "answer": answers[q["question"]]}
                                           for q in questions]},
    }, t3.body["token"])
    assert done.status == 200 and done.body["authenticationCompleted"] is True


async def test_wrong_password_stops_at_step_two(api: Api, admin: Admin, app_id: str,
                                                user_id: str) -> None:
    await enroll(admin, user_id)
    t1 = await api.challenge(P2F, {"applicationId": app_id, "userId": user_id})
    bad = await api.complete(P2F, {"response": "not it"}, t1.body["token"])
    assert bad.status == 401 and bad.error_code == "invalid_password"


async def test_cancel_ends_the_challenge(api: Api, admin: Admin, app_id: str,
                                         user_id: str) -> None:
    totp = await enroll(admin, user_id)
    t1 = await api.challenge(P2F, {"applicationId": app_id, "userId": user_id})
    t2 = await api.complete(P2F, {"response": PASSWORD}, t1.body["token"])
    t3 = await api.challenge(P2F, {"applicationId": app_id, "secondFactorAuthenticator": "TOKEN",
                                   "authToken": t2.body["token"]})
    cancelled = await api.complete(P2F, {"cancel": True}, t3.body["token"])
    assert cancelled.status == 200 and cancelled.body["authenticationCompleted"] is False
    assert "token" not in cancelled.body
    after = await api.complete(P2F, {"secondFactorAuthenticator": "TOKEN",
                                     "response": totp.now()}, t3.body["token"])
    assert after.status == 401


async def test_second_factor_must_match_the_challenge(api: Api, admin: Admin, app_id: str,
                                                      user_id: str) -> None:
    totp = await enroll(admin, user_id)
    t1 = await api.challenge(P2F, {"applicationId": app_id, "userId": user_id})
    t2 = await api.complete(P2F, {"response": PASSWORD}, t1.body["token"])
    t3 = await api.challenge(P2F, {"applicationId": app_id, "secondFactorAuthenticator": "KBA",
                                   "authToken": t2.body["token"]})
    mismatch = await api.complete(P2F, {"secondFactorAuthenticator": "TOKEN",
                                        "response": totp.now()}, t3.body["token"])
    assert mismatch.status == 401 and mismatch.error_code == "challenge_mismatch"
