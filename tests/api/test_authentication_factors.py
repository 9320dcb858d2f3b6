"""OTP, TOKEN (TOTP/HOTP), GRID, KBA and TEMP_ACCESS_CODE end to end, over
REST and gRPC, with responses checked against the Entrust schemas."""

from __future__ import annotations

import base64
import re
import time

import pyotp

from authcore_testkit.api import Admin, GrpcApi, RestApi
from authcore_testkit.schemas import validate

Api = RestApi | GrpcApi


async def run(api: Api, kind: str, app_id: str, user_id: str, answer: dict[str, object],
              extra: dict[str, object] | None = None):  # type: ignore[no-untyped-def]
    ch = await api.challenge(kind, {"applicationId": app_id, "userId": user_id, **(extra or {})})
    assert ch.status == 200, ch
    validate(ch.body, "AuthenticatedResponse")
    return ch, await api.complete(kind, answer, ch.body["token"])


# -- OTP ---------------------------------------------------------------------

async def test_otp_by_sms_email_and_voice(api: Api, admin: Admin, app_id: str,
                                          user_id: str) -> None:
    await admin.user(user_id, email="ada.lovelace@example.com", phone="+15551234567")
    q = await api.query({"applicationId": app_id, "userId": user_id})
    validate(q.body, "UserAuthenticateQueryResponse")
    info = q.body["otpDeliveryInfo"]
    assert info["availableOTPDelivery"] == ["EMAIL", "SMS", "VOICE"]
    values = {(v["type"], v["value"]) for v in info["otpContactValues"]}
    assert ("EMAIL", "a***********@example.com") in values
    assert ("SMS", "********4567") in values
    assert "+15551234567" not in str(q.body) and "ada.lovelace" not in str(q.body)

    for channel, address in (("SMS", "+15551234567"), ("EMAIL", "ada.lovelace@example.com"),
                             ("VOICE", "+15551234567")):
        ch = await api.challenge("OTP", {"applicationId": app_id, "userId": user_id,
                                         "otpDeliveryType": channel})
        assert ch.status == 200, ch
        validate(ch.body, "AuthenticatedResponse")
        assert ch.body["otpdeliveryType"] == channel
        last = (await admin.outbox(user_id))[-1]
        assert last["channel"] == channel and last["address"] == address
        code = re.search(r"\b(\d{6})\b", last["text"]).group(1)  # type: ignore[union-attr]
        wrong = "000000" if code != "000000" else "111111"
        bad = await api.complete("OTP", {"response": wrong}, ch.body["token"])
        assert bad.status == 401 and bad.error_code == "invalid_code"
        # A failed attempt uses the challenge up: the right code needs a new one.
        ch = await api.challenge("OTP", {"applicationId": app_id, "userId": user_id,
                                         "otpDeliveryType": channel})
        code = re.search(r"\b(\d{6})\b",  # type: ignore[union-attr]
                         (await admin.outbox(user_id))[-1]["text"]).group(1)
        ok = await api.complete("OTP", {"response": code}, ch.body["token"])
        assert ok.status == 200 and ok.body["authenticationCompleted"] is True
        replay = await api.complete("OTP", {"response": code}, ch.body["token"])
        assert replay.status == 401


async def test_otp_refuses_a_channel_the_user_lacks(api: Api, admin: Admin, app_id: str,
                                                   user_id: str) -> None:
    await admin.user(user_id, email="only-mail@example.com")
    ch = await api.challenge("OTP", {"applicationId": app_id, "userId": user_id,
                                     "otpDeliveryType": "SMS"})
    assert ch.status == 400 and ch.error_code == "otp_delivery_unavailable"
    assert await admin.outbox(user_id) == []


# -- TOKEN -------------------------------------------------------------------

async def test_totp_token_and_replay(api: Api, admin: Admin, app_id: str, user_id: str) -> None:
    await admin.user(user_id)
    tok = await admin.req("POST", f"/api/admin/v1/users/{user_id}/tokens",
                          {"type": "TOTP", "algorithm": "SHA256", "digits": 8})
    assert tok["otpauthUri"].startswith("otpauth://totp/")
    assert base64.b64decode(tok["qrCodePng"])[:8] == b"\x89PNG\r\n\x1a\n"
    totp = pyotp.TOTP(tok["secret"], digits=8, digest="sha256")

    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert "TOKEN" in q.body["authenticationTypes"]
    assert q.body["tokenDetails"] == [tok["serialNumber"]]

    code = totp.now()
    ch, ok = await run(api, "TOKEN", app_id, user_id, {"response": code})
    assert ch.body["tokenDetails"] == [tok["serialNumber"]]
    assert ch.body["tokenChallenge"]["token"][0]["serialNumber"] == tok["serialNumber"]
    assert ok.status == 200 and ok.body["authenticationCompleted"] is True
    _, replay = await run(api, "TOKEN", app_id, user_id, {"response": code})
    assert replay.status == 401 and replay.error_code == "replayed_code"
    _, wrong = await run(api, "TOKEN", app_id, user_id,
                         {"response": totp.at(time.time() + 600)})
    assert wrong.status == 401 and wrong.error_code == "invalid_code"


async def test_hotp_look_ahead_and_resync(api: Api, admin: Admin, app_id: str,
                                          user_id: str) -> None:
    await admin.user(user_id)
    secret = base64.b32encode(b"12345678901234567890").decode()
    tok = await admin.req("POST", f"/api/admin/v1/users/{user_id}/tokens",
                          {"type": "HOTP", "secret": secret})
    hotp = pyotp.HOTP(secret)
    _, ok = await run(api, "TOKEN", app_id, user_id, {"response": hotp.at(0)})
    assert ok.status == 200
    _, again = await run(api, "TOKEN", app_id, user_id, {"response": hotp.at(0)})
    assert again.status == 401
    _, ahead = await run(api, "TOKEN", app_id, user_id, {"response": hotp.at(5)})
    assert ahead.status == 200  # within the default look-ahead of 10
    _, far = await run(api, "TOKEN", app_id, user_id, {"response": hotp.at(50)})
    assert far.status == 401
    await admin.req("POST", f"/api/admin/v1/users/{user_id}/tokens/{tok['serialNumber']}/resync",
                    {"code1": hotp.at(50), "code2": hotp.at(51)})
    _, synced = await run(api, "TOKEN", app_id, user_id, {"response": hotp.at(52)})
    assert synced.status == 200


# -- GRID --------------------------------------------------------------------

async def test_grid_card(api: Api, admin: Admin, app_id: str, user_id: str) -> None:
    await admin.user(user_id)
    card = await admin.req("POST", f"/api/admin/v1/users/{user_id}/grids",
                           {"rows": 5, "columns": 10, "charsPerCell": 2})
    grid = [row["cells"] for row in card["grid"]]
    assert len(grid) == 5 and all(len(r) == 10 and all(len(c) == 2 for c in r) for r in grid)

    ch = await api.challenge("GRID", {"applicationId": app_id, "userId": user_id})
    validate(ch.body, "AuthenticatedResponse")
    gc = ch.body["gridChallenge"]
    assert gc["numCharsPerCell"] == 2 and len(gc["challenge"]) == 3
    assert gc["gridInfo"][0]["serialNumber"] == card["serialNumber"]
    answer = " ".join(grid[c["row"]][c["column"]] for c in gc["challenge"]).lower()
    ok = await api.complete("GRID", {"response": answer}, ch.body["token"])
    assert ok.status == 200 and ok.body["authenticationCompleted"] is True

    ch = await api.challenge("GRID", {"applicationId": app_id, "userId": user_id})
    cells = ch.body["gridChallenge"]["challenge"]
    concatenated = "".join(grid[c["row"]][c["column"]] for c in cells)
    ok = await api.complete("GRID", {"response": concatenated}, ch.body["token"])
    assert ok.status == 200

    ch = await api.challenge("GRID", {"applicationId": app_id, "userId": user_id})
    bad = await api.complete("GRID", {"response": "ZZZZZZ"}, ch.body["token"])
    assert bad.status == 401 and bad.error_code == "invalid_response"


# -- KBA ---------------------------------------------------------------------

QUESTIONS = [
    {"question": "First pet?", "answer": "Rex the Dog"},
    {"question": "Favourite band?", "answer": "The Beatles"},
    {"question": "Birth city?", "answer": "London"},
]


async def test_kba(api: Api, admin: Admin, app_id: str, user_id: str) -> None:
    await admin.user(user_id)
    await admin.req("PUT", f"/api/admin/v1/users/{user_id}/kba", {"questions": QUESTIONS})
    answers = {q["question"]: q["answer"] for q in QUESTIONS}

    ch = await api.challenge("KBA", {"applicationId": app_id, "userId": user_id})
    validate(ch.body, "AuthenticatedResponse")
    asked = ch.body["kbaChallenge"]["userQuestions"]
    assert len(asked) == 2 and all("answer" not in q for q in asked)
    reply = {"kbaChallenge": {"userQuestions": [
        {"id": q["id"], "answer": "  " + answers[q["question"]].upper().replace(" ", "   ")}
        for q in asked]}}
    ok = await api.complete("KBA", reply, ch.body["token"])
    assert ok.status == 200 and ok.body["authenticationCompleted"] is True

    ch = await api.challenge("KBA", {"applicationId": app_id, "userId": user_id})
    asked = ch.body["kbaChallenge"]["userQuestions"]
    reply = {"kbaChallenge": {"userQuestions": [
        {"id": asked[0]["id"], "answer": answers[asked[0]["question"]]},
        {"id": asked[1]["id"], "answer": "wrong"}]}}
    bad = await api.complete("KBA", reply, ch.body["token"])
    assert bad.status == 401 and bad.error_code == "invalid_answer"


# -- TEMP_ACCESS_CODE --------------------------------------------------------

async def test_temp_access_code_max_uses(api: Api, admin: Admin, app_id: str,
                                         user_id: str) -> None:
    await admin.user(user_id)
    issued = await admin.req("POST", f"/api/admin/v1/users/{user_id}/tempaccesscodes",
                             {"expiresInSeconds": 600, "maxUses": 2})
    ch, ok = await run(api, "TEMP_ACCESS_CODE", app_id, user_id, {"response": issued["code"]})
    assert ch.body["tempAccessCodeChallenge"] == {"enableAdminContact": False}
    assert ok.status == 200
    _, ok2 = await run(api, "TEMP_ACCESS_CODE", app_id, user_id,
                       {"response": issued["code"].lower()})
    assert ok2.status == 200
    ch = await api.challenge("TEMP_ACCESS_CODE", {"applicationId": app_id, "userId": user_id})
    assert ch.status == 400 and ch.error_code == "authenticator_not_enrolled"
