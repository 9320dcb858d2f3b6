"""TOKENCR (OCRA challenge-response, RFC 6287) end to end, over REST and gRPC
(and on PostgreSQL + Redis when the suite runs with them): enrolment with an
OCRASuite, the query, the challenge the user types into the token, the
complete with the token's answer, counters, time steps, replays, lockout,
PASSWORD_AND_SECONDFACTOR and bad input."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import jwt
import pyotp

from authcore.verify.ocra import compute
from authcore_testkit.api import Admin, GrpcApi, RestApi
from authcore_testkit.schemas import validate

Api = RestApi | GrpcApi
SUITE = "OCRA-1:HOTP-SHA1-6:QN08"
P2F = "PASSWORD_AND_SECONDFACTOR"


def key_of(token: dict[str, Any]) -> bytes:
    secret = token["secret"]
    return base64.b32decode(secret + "=" * (-len(secret) % 8))


async def enroll(admin: Admin, user_id: str, suite: str = SUITE, **extra: Any
                 ) -> dict[str, Any]:
    tok: dict[str, Any] = await admin.req("POST", f"/api/admin/v1/users/{user_id}/tokens",
                                          {"ocraSuite": suite, **extra})
    assert tok["ocraSuite"] == suite and tok["serialNumber"]
    assert not tok.get("otpauthUri") and not tok.get("qrCodePng")
    return tok


async def challenge(api: Api, app_id: str, user_id: str) -> dict[str, Any]:
    ch = await api.challenge("TOKENCR", {"applicationId": app_id, "userId": user_id})
    assert ch.status == 200, ch
    validate(ch.body, "AuthenticatedResponse")
    return ch.body  # type: ignore[no-any-return]


async def test_login_and_replay(api: Api, admin: Admin, app_id: str, user_id: str) -> None:
    await admin.user(user_id, firstName="Ada")
    tok = await enroll(admin, user_id, label="desk token")
    got = await admin.req("GET", f"/api/admin/v1/users/{user_id}")
    assert got["user"]["authenticators"] == ["TOKENCR"]

    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert q.status == 200, q
    validate(q.body, "UserAuthenticateQueryResponse")
    assert q.body["authenticationTypes"] == ["TOKENCR"]
    assert q.body["tokenDetails"] == [tok["serialNumber"]]
    status = q.body["authenticatorLockoutStatus"][0]
    assert status["type"] == "TOKENCR" and status["remainingAuthenticationAttempts"] == 5

    ch = await challenge(api, app_id, user_id)
    question = ch["tokenChallenge"]["challenge"]
    assert len(question) == 8 and question.isdigit()
    assert ch["tokenChallenge"]["token"] == [{"serialNumber": tok["serialNumber"],
                                             "label": "desk token"}]
    assert ch["tokenDetails"] == [tok["serialNumber"]]
    answer = compute(secret=key_of(tok), suite=SUITE, challenge=question)
    done = await api.complete("TOKENCR", {"response": answer}, ch["token"])
    assert done.status == 200, done
    validate(done.body, "AuthenticatedResponse")
    assert done.body["authenticationCompleted"] is True and done.body["userId"] == user_id
    assert done.body["firstName"] == "Ada"
    assert jwt.decode(done.body["token"], options={"verify_signature": False})["amr"] == [
        "TOKENCR"]
    # The same answer again: the challenge is used up.
    replay = await api.complete("TOKENCR", {"response": answer}, ch["token"])
    assert replay.status == 401, replay
    # A new challenge is another question: the old answer doesn't fit it.
    ch2 = await challenge(api, app_id, user_id)
    if ch2["tokenChallenge"]["challenge"] != question:  # 1 in 10**8 it is the same
        old = await api.complete("TOKENCR", {"response": answer}, ch2["token"])
        assert old.status == 401 and old.error_code == "invalid_code"


async def test_counter_suite_moves_forward(api: Api, admin: Admin, app_id: str,
                                           user_id: str) -> None:
    suite = "OCRA-1:HOTP-SHA256-8:C-QN08"
    await admin.user(user_id)
    tok = await enroll(admin, user_id, suite)
    key = key_of(tok)
    assert len(key) == 32  # a key as long as the suite's hash

    ch = await challenge(api, app_id, user_id)
    q0 = ch["tokenChallenge"]["challenge"]
    ok = await api.complete("TOKENCR", {"response": compute(
        secret=key, suite=suite, challenge=q0, counter=0)}, ch["token"])
    assert ok.status == 200, ok
    # Counter 0 is spent: its answer to a new challenge is refused.
    ch = await challenge(api, app_id, user_id)
    q1 = ch["tokenChallenge"]["challenge"]
    stale = await api.complete("TOKENCR", {"response": compute(
        secret=key, suite=suite, challenge=q1, counter=0)}, ch["token"])
    assert stale.status == 401 and stale.error_code == "invalid_code"
    # The token was pressed a few times without signing in: within the window.
    ch = await challenge(api, app_id, user_id)
    ahead = await api.complete("TOKENCR", {"response": compute(
        secret=key, suite=suite, challenge=ch["tokenChallenge"]["challenge"], counter=4)},
        ch["token"])
    assert ahead.status == 200, ahead
    ch = await challenge(api, app_id, user_id)
    behind = await api.complete("TOKENCR", {"response": compute(
        secret=key, suite=suite, challenge=ch["tokenChallenge"]["challenge"], counter=4)},
        ch["token"])
    assert behind.status == 401


async def test_time_suite_refuses_a_used_step(api: Api, admin: Admin, app_id: str,
                                              user_id: str) -> None:
    suite = "OCRA-1:HOTP-SHA512-8:QN08-T1M"
    await admin.user(user_id)
    tok = await enroll(admin, user_id, suite)
    key = key_of(tok)
    step = int(time.time() // 60)

    ch = await challenge(api, app_id, user_id)
    ok = await api.complete("TOKENCR", {"response": compute(
        secret=key, suite=suite, challenge=ch["tokenChallenge"]["challenge"], timestamp=step)},
        ch["token"])
    assert ok.status == 200, ok
    # One sign-in per token and time step, as for TOTP.
    ch = await challenge(api, app_id, user_id)
    again = await api.complete("TOKENCR", {"response": compute(
        secret=key, suite=suite, challenge=ch["tokenChallenge"]["challenge"], timestamp=step)},
        ch["token"])
    assert again.status == 401 and again.error_code == "replayed_code"
    # A token whose clock is a step ahead is within the drift window.
    ch = await challenge(api, app_id, user_id)
    later = await api.complete("TOKENCR", {"response": compute(
        secret=key, suite=suite, challenge=ch["tokenChallenge"]["challenge"],
        timestamp=step + 1)}, ch["token"])
    assert later.status == 200, later


async def test_wrong_answers_lock_tokencr_only(api: Api, admin: Admin, app_id: str,
                                               user_id: str) -> None:
    await admin.user(user_id)
    tok = await enroll(admin, user_id)
    totp_tok = await admin.req("POST", f"/api/admin/v1/users/{user_id}/tokens",
                               {"type": "TOTP"})
    totp = pyotp.TOTP(totp_tok["secret"])
    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert q.body["authenticationTypes"] == ["TOKEN", "TOKENCR"]
    assert q.body["tokenDetails"] == [totp_tok["serialNumber"], tok["serialNumber"]]

    # Each token answers only its own type.
    ch = await challenge(api, app_id, user_id)
    assert [t["serialNumber"] for t in ch["tokenChallenge"]["token"]] == [tok["serialNumber"]]
    wrong = await api.complete("TOKENCR", {"response": totp.now()}, ch["token"])
    assert wrong.status == 401 and wrong.error_code == "invalid_code"
    token_ch = await api.challenge("TOKEN", {"applicationId": app_id, "userId": user_id})
    assert "challenge" not in token_ch.body["tokenChallenge"]
    assert [t["serialNumber"] for t in token_ch.body["tokenChallenge"]["token"]] == [
        totp_tok["serialNumber"]]

    q = await api.query({"applicationId": app_id, "userId": user_id})
    states = {s["type"]: s for s in q.body["authenticatorLockoutStatus"]}
    assert states["TOKENCR"]["remainingAuthenticationAttempts"] == 4
    assert states["TOKEN"]["remainingAuthenticationAttempts"] == 5
    for _ in range(4):
        ch = await challenge(api, app_id, user_id)
        bad = await api.complete("TOKENCR", {"response": "000000"}, ch["token"])
        assert bad.status == 401, bad
    locked = await api.challenge("TOKENCR", {"applicationId": app_id, "userId": user_id})
    assert locked.status == 403 and locked.error_code == "authenticator_locked"
    q = await api.query({"applicationId": app_id, "userId": user_id})
    validate(q.body, "UserAuthenticateQueryResponse")
    states = {s["type"]: s for s in q.body["authenticatorLockoutStatus"]}
    assert states["TOKENCR"]["locked"] is True and states["TOKEN"]["locked"] is False
    # TOKEN still works.
    ok = await api.complete("TOKEN", {"response": totp.now()}, token_ch.body["token"])
    assert ok.status == 200, ok


async def test_bad_input(api: Api, admin: Admin, app_id: str, user_id: str) -> None:
    await admin.user(user_id)
    # Not enrolled yet.
    none = await api.challenge("TOKENCR", {"applicationId": app_id, "userId": user_id})
    assert none.status == 400 and none.error_code == "authenticator_not_enrolled"
    tok = await enroll(admin, user_id)
    ch = await challenge(api, app_id, user_id)
    missing = await api.complete("TOKENCR", {}, ch["token"])
    assert missing.status == 400 and missing.error_code == "missing_field", missing
    # Nothing was counted and the challenge is still good.
    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert q.body["authenticatorLockoutStatus"][0]["remainingAuthenticationAttempts"] == 5
    malformed = await api.complete("TOKENCR", {"response": "12ab"}, ch["token"])
    assert malformed.status == 401 and malformed.error_code == "invalid_code"
    # That one was counted and used the challenge up.
    ch = await challenge(api, app_id, user_id)
    answer = compute(secret=key_of(tok), suite=SUITE, challenge=ch["tokenChallenge"]["challenge"])
    other = await api.complete("TOKEN", {"response": answer}, ch["token"])
    assert other.status == 401 and other.error_code == "challenge_mismatch"
    ok = await api.complete("TOKENCR", {"response": answer}, ch["token"])
    assert ok.status == 200, ok
    if api.transport == "rest":
        http = api.http  # type: ignore[union-attr]
        r = await http.post("/api/web/v1/authentication/users/authenticate/TOKENCR/complete",
                            json={"response": ["123456"]}, headers={"Authorization": "x"})
        assert r.status_code == 400
        validate(r.json(), "ErrorInfo")


async def test_default_challenge_in_the_query(api: Api, admin: Admin, app_id: str,
                                              user_id: str) -> None:
    await admin.user(user_id)
    tok = await enroll(admin, user_id, "OCRA-1:HOTP-SHA1-8:QA10")
    q = await api.query({"applicationId": app_id, "userId": user_id,
                         "returnDefaultChallenge": True})
    assert q.status == 200, q
    validate(q.body, "UserAuthenticateQueryResponse")
    question = q.body["tokenChallenge"]["challenge"]
    assert len(question) == 10 and question.isalnum() and question == question.upper()
    answer = compute(secret=key_of(tok), suite="OCRA-1:HOTP-SHA1-8:QA10", challenge=question)
    done = await api.complete("TOKENCR", {"response": answer}, q.body["token"])
    assert done.status == 200 and done.body["authenticationCompleted"] is True


async def test_password_then_tokencr(api: Api, admin: Admin, app_id: str, user_id: str
                                     ) -> None:
    await admin.user(user_id)
    await admin.password(user_id, "s3cond-factor-pass")
    tok = await enroll(admin, user_id)
    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert P2F in q.body["authenticationTypes"]
    assert q.body["availableSecondFactor"] == ["TOKENCR"]
    t1 = await api.challenge(P2F, {"applicationId": app_id, "userId": user_id})
    t2 = await api.complete(P2F, {"response": "s3cond-factor-pass"}, t1.body["token"])
    assert t2.status == 200, t2
    t3 = await api.challenge(P2F, {"applicationId": app_id, "secondFactorAuthenticator": "TOKENCR",
                                   "authToken": t2.body["token"]})
    assert t3.status == 200, t3
    validate(t3.body, "AuthenticatedResponse")
    question = t3.body["tokenChallenge"]["challenge"]
    answer = compute(secret=key_of(tok), suite=SUITE, challenge=question)
    done = await api.complete(P2F, {"secondFactorAuthenticator": "TOKENCR", "response": answer},
                              t3.body["token"])
    assert done.status == 200, done
    validate(done.body, "AuthenticatedResponse")
    claims = jwt.decode(done.body["token"], options={"verify_signature": False})
    assert claims["amr"] == ["PASSWORD", "TOKENCR"]


async def test_application_must_allow_it(api: Api, admin: Admin, user_id: str) -> None:
    app = await admin.req("POST", "/api/admin/v1/applications",
                          {"name": "token only", "authenticators": ["TOKEN"]})
    await admin.user(user_id)
    await enroll(admin, user_id)
    q = await api.query({"applicationId": app["applicationId"], "userId": user_id})
    assert q.body["authenticationTypes"] == [] and not q.body.get("tokenDetails")
    refused = await api.challenge("TOKENCR", {"applicationId": app["applicationId"],
                                              "userId": user_id})
    assert refused.status == 403 and refused.error_code == "authenticator_not_allowed"
    both = await admin.req("POST", "/api/admin/v1/applications",
                           {"name": "cr", "authenticators": ["TOKENCR", "TOKEN"]})
    assert both["application"]["authenticators"] == ["TOKEN", "TOKENCR"]
    q = await api.query({"applicationId": both["applicationId"], "userId": user_id})
    assert q.body["authenticationTypes"] == ["TOKENCR"]


async def test_enrolment_refuses_bad_suites(admin: Admin, user_id: str) -> None:
    await admin.user(user_id)
    path = f"/api/admin/v1/users/{user_id}/tokens"
    for body, code in [
        ({"ocraSuite": "OCRA-1:HOTP-SHA1-6"}, "invalid_ocra_suite"),
        ({"ocraSuite": "OCRA-1:HOTP-MD5-6:QN08"}, "invalid_ocra_suite"),
        ({"ocraSuite": "ocra-1:hotp-sha1-6:qn08"}, "invalid_ocra_suite"),
        ({"ocraSuite": ""}, "invalid_ocra_suite"),
        ({"ocraSuite": "OCRA-1:HOTP-SHA1-6:QN08-PSHA1"}, "unsupported_ocra_suite"),
        ({"ocraSuite": "OCRA-1:HOTP-SHA1-6:QN08-S064"}, "unsupported_ocra_suite"),
        ({"ocraSuite": "OCRA-1:HOTP-SHA1-0:QN08"}, "unsupported_ocra_suite"),
        ({"ocraSuite": SUITE, "type": "TOTP"}, None),
        ({"ocraSuite": SUITE, "digits": 8}, None),
        ({"ocraSuite": SUITE, "secret": "not base32 !!"}, None),
    ]:
        r = await admin.http.post(path, json=body)
        assert r.status_code == 400, (body, r.text)
        validate(r.json(), "ErrorInfo")
        if code:
            assert r.json()["errorCode"] == code, r.text
            assert r.json()["parameters"][0]["field"] == "ocraSuite", r.text
    user = await admin.req("GET", f"/api/admin/v1/users/{user_id}")
    assert user["user"]["authenticators"] == []
    # An imported seed is used as given.
    tok = await enroll(admin, user_id, secret=base64.b32encode(b"12345678901234567890").decode())
    assert key_of(tok) == b"12345678901234567890"
    # An OCRA token has no HOTP resync and no offline OTPs.
    r = await admin.http.post(f"{path}/{tok['serialNumber']}/resync",
                              json={"code1": "123456", "code2": "123456"})
    assert r.status_code == 400 and r.json()["errorCode"] == "not_hotp"


async def test_concurrent_answers_spend_a_counter_once(api: Api, admin: Admin, app_id: str,
                                                       user_id: str) -> None:
    suite = "OCRA-1:HOTP-SHA1-6:C-QN08"
    await admin.user(user_id)
    key = key_of(await enroll(admin, user_id, suite))
    chs = [await challenge(api, app_id, user_id) for _ in range(4)]
    # Four challenges answered with the same counter value at once: the
    # counter's compare-and-set lets one through.
    replies = await asyncio.gather(*[
        api.complete("TOKENCR", {"response": compute(
            secret=key, suite=suite, challenge=ch["tokenChallenge"]["challenge"], counter=0)},
            ch["token"]) for ch in chs])
    assert sorted(r.status for r in replies) == [200, 401, 401, 401], replies
    assert {r.error_code for r in replies if r.status == 401} <= {"replayed_code",
                                                                  "invalid_code"}
