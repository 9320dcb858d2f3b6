"""TOKENPUSH end to end, over REST and gRPC: the relying party's challenge
and polled complete, the device simulated with a real P-256 key reading its
push from the outbox (held: no push webhook on this server; the webhook
delivery is in test_authentication_smart_credential_push.py) and answering
at the device endpoint over the same transport."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pyotp
import pytest

from authcore.v1 import authenticators_pb2 as common
from authcore.v1 import push_devices_pb2 as pb
from authcore.v1 import push_devices_pb2_grpc
from authcore_testkit.api import Admin, GrpcApi, RestApi
from authcore_testkit.push_device import Device, DeviceEndpoint, pushes_in_outbox, register
from authcore_testkit.schemas import validate
from authcore_testkit.server import RunningServer

Api = RestApi | GrpcApi
TOKENPUSH = common.AUTHENTICATOR_TYPE_TOKENPUSH

DETAILS = [{"detail": "Amount", "value": "$10,001"}, {"detail": "Payee", "value": "ACME"}]


@pytest.fixture
async def endpoint(api: Api, server: RunningServer) -> AsyncIterator[DeviceEndpoint]:
    client = DeviceEndpoint(server, api.transport)
    yield client
    await client.close()


async def start(api: Api, admin: Admin, app_id: str, user_id: str, **extra: Any
                ) -> tuple[dict[str, Any], dict[str, Any]]:
    """A TOKENPUSH challenge and the push the device got for it."""
    ch = await api.challenge("TOKENPUSH", {"applicationId": app_id, "userId": user_id,
                                           "summary": "Pay ACME", "transactionDetails": DETAILS,
                                           **extra})
    assert ch.status == 200, ch
    validate(ch.body, "AuthenticatedResponse")
    push = (await pushes_in_outbox(admin, user_id))[-1]
    return ch.body, push


async def test_confirm_signs_in_after_polling(api: Api, admin: Admin, app_id: str,
                                              user_id: str, endpoint: DeviceEndpoint) -> None:
    await admin.user(user_id, firstName="Ada")
    device = Device()
    await register(admin, user_id, device)
    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert q.status == 200, q
    validate(q.body, "UserAuthenticateQueryResponse")
    assert q.body["authenticationTypes"] == ["TOKENPUSH"]
    assert q.body["tokenDetails"] == [device.serial_number]
    got = await admin.req("GET", f"/api/admin/v1/users/{user_id}")
    assert got["user"]["authenticators"] == ["TOKENPUSH"]

    ch, push = await start(api, admin, app_id, user_id)
    assert ch["tokenDetails"] == [device.serial_number]
    assert "tokenPushMutualChallenge" not in ch and "pushMutualChallenge" not in ch
    assert push["type"] == "tokenpush" and push["serialNumber"] == device.serial_number
    assert push["summary"] == "Pay ACME" and push["transactionDetails"] == DETAILS
    assert "mutualChallengeOptions" not in push

    # Polling before the device answers: NO_RESPONSE, and the token stays good.
    for _ in range(2):
        poll = await api.complete("TOKENPUSH", {}, ch["token"])
        assert poll.status == 200, poll
        validate(poll.body, "AuthenticatedResponse")
        assert poll.body["status"] == "NO_RESPONSE"
        assert poll.body["authenticationCompleted"] is False

    answered = await endpoint.respond(push["id"], device.answer(push, "CONFIRM"))
    assert answered.status == 204, answered
    done = await api.complete("TOKENPUSH", {}, ch["token"])
    assert done.status == 200, done
    validate(done.body, "AuthenticatedResponse")
    assert done.body["authenticationCompleted"] is True and done.body["userId"] == user_id
    assert done.body["status"] == "CONFIRM"
    assert done.body["firstName"] == "Ada"
    q = await api.query({"applicationId": app_id, "userId": user_id,
                         "authToken": done.body["token"]})
    assert q.status == 200 and q.body["authenticationCompleted"] is True
    # One challenge, one sign-in.
    again = await api.complete("TOKENPUSH", {}, ch["token"])
    assert again.status == 401


async def test_concern_is_refused_and_counted(api: Api, admin: Admin, app_id: str,
                                              user_id: str, endpoint: DeviceEndpoint) -> None:
    await admin.user(user_id)
    device = Device()
    await register(admin, user_id, device)
    ch, push = await start(api, admin, app_id, user_id)
    assert (await endpoint.respond(push["id"], device.answer(push, "CONCERN"))).status == 204
    refused = await api.complete("TOKENPUSH", {}, ch["token"])
    assert refused.status == 401 and refused.error_code == "push_concern"
    q = await api.query({"applicationId": app_id, "userId": user_id})
    status = q.body["authenticatorLockoutStatus"][0]
    assert status["type"] == "TOKENPUSH" and status["remainingAuthenticationAttempts"] == 4
    # The challenge was used up.
    assert (await api.complete("TOKENPUSH", {}, ch["token"])).status == 401
    # Five concerns lock TOKENPUSH: then even a confirmation is refused.
    for _ in range(4):
        ch, push = await start(api, admin, app_id, user_id)
        assert (await endpoint.respond(push["id"], device.answer(push, "CONCERN"))).ok
        assert (await api.complete("TOKENPUSH", {}, ch["token"])).status == 401
    locked = await api.challenge("TOKENPUSH", {"applicationId": app_id, "userId": user_id})
    assert locked.status == 403 and locked.error_code == "authenticator_locked"


async def test_cancel_is_refused_without_counting(api: Api, admin: Admin, app_id: str,
                                                  user_id: str, endpoint: DeviceEndpoint
                                                  ) -> None:
    await admin.user(user_id)
    device = Device()
    await register(admin, user_id, device)
    ch, push = await start(api, admin, app_id, user_id)
    assert (await endpoint.respond(push["id"], device.answer(push, "CANCEL"))).status == 204
    refused = await api.complete("TOKENPUSH", {}, ch["token"])
    assert refused.status == 401 and refused.error_code == "push_cancelled"
    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert q.body["authenticatorLockoutStatus"][0]["remainingAuthenticationAttempts"] == 5
    assert (await api.complete("TOKENPUSH", {}, ch["token"])).status == 401


async def test_replayed_and_forged_answers_are_refused(
    api: Api, admin: Admin, app_id: str, user_id: str, endpoint: DeviceEndpoint
) -> None:
    await admin.user(user_id)
    device = Device()
    await register(admin, user_id, device)
    ch, push = await start(api, admin, app_id, user_id)
    # Signed by another key: nothing changes.
    forged = device.answer(push, "CONFIRM", key=Device().key)
    r = await endpoint.respond(push["id"], forged)
    assert r.status == 401 and r.error_code == "invalid_signature"
    # A signature over another status doesn't carry over.
    body = device.answer(push, "CONCERN")
    r = await endpoint.respond(push["id"], {**body, "status": "CONFIRM"})
    assert r.status == 401 and r.error_code == "invalid_signature"
    poll = await api.complete("TOKENPUSH", {}, ch["token"])
    assert poll.status == 200 and poll.body["status"] == "NO_RESPONSE"

    first = device.answer(push, "CONFIRM")
    assert (await endpoint.respond(push["id"], first)).status == 204
    # One push answers once: the same answer again, or a newer one, is refused.
    again = await endpoint.respond(push["id"], first)
    assert again.status in {400, 409} and again.error_code == "push_already_answered"
    later = await endpoint.respond(push["id"], device.answer(push, "CONCERN"))
    assert later.error_code == "push_already_answered"
    assert (await api.complete("TOKENPUSH", {}, ch["token"])).body["authenticationCompleted"]

    # A new push answered with an old counter is a replay.
    ch, push = await start(api, admin, app_id, user_id)
    old = device.answer(push, "CONFIRM", counter=1)
    r = await endpoint.respond(push["id"], old)
    assert r.status == 401 and r.error_code == "replayed_response"
    # Another push's signed answer doesn't fit this one.
    _, other = await start(api, admin, app_id, user_id)
    moved = device.answer(other, "CONFIRM")
    r = await endpoint.respond(push["id"], moved)
    assert r.status == 401 and r.error_code == "invalid_signature"
    poll = await api.complete("TOKENPUSH", {}, ch["token"])
    assert poll.body["status"] == "NO_RESPONSE"


async def test_mutual_challenge(api: Api, admin: Admin, app_id: str, user_id: str,
                                endpoint: DeviceEndpoint) -> None:
    await admin.user(user_id)
    device = Device()
    await register(admin, user_id, device)
    ch, push = await start(api, admin, app_id, user_id, tokenPushMutualChallengeEnabled=True)
    shown = ch["tokenPushMutualChallenge"]
    assert ch["pushMutualChallenge"] == shown and shown.isdigit() and len(shown) == 2
    options = push["mutualChallengeOptions"]
    assert shown in options and len(options) == 3 and len(set(options)) == 3
    # Confirming needs the number picked.
    r = await endpoint.respond(push["id"], device.answer(push, "CONFIRM"))
    assert r.status == 400 and r.error_code == "missing_field"
    wrong = next(o for o in options if o != shown)
    r = await endpoint.respond(push["id"], device.answer(push, "CONFIRM", mutual=wrong))
    assert r.status == 400 and r.error_code == "mutual_challenge_mismatch"
    refused = await api.complete("TOKENPUSH", {}, ch["token"])
    assert refused.status == 401 and refused.error_code == "push_concern"

    ch, push = await start(api, admin, app_id, user_id, pushMutualChallengeEnabled=True)
    r = await endpoint.respond(push["id"], device.answer(
        push, "CONFIRM", mutual=ch["pushMutualChallenge"]))
    assert r.status == 204, r
    done = await api.complete("TOKENPUSH", {}, ch["token"])
    assert done.status == 200 and done.body["authenticationCompleted"] is True

    # returnDefaultChallenge carries it in the query response too.
    q = await api.query({"applicationId": app_id, "userId": user_id,
                         "returnDefaultChallenge": True, "pushMutualChallengeEnabled": True})
    assert q.status == 200, q
    validate(q.body, "UserAuthenticateQueryResponse")
    assert q.body["pushMutualChallenge"] == q.body["tokenPushMutualChallenge"]
    assert q.body["token"]


async def test_token_otp_answers_the_push(api: Api, admin: Admin, app_id: str,
                                          user_id: str) -> None:
    await admin.user(user_id)
    device = Device()
    await register(admin, user_id, device)
    tok = await admin.req("POST", f"/api/admin/v1/users/{user_id}/tokens", {"type": "TOTP"})
    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert q.body["authenticationTypes"] == ["TOKEN", "TOKENPUSH"]
    assert set(q.body["tokenDetails"]) == {tok["serialNumber"], device.serial_number}
    ch, _ = await start(api, admin, app_id, user_id)
    secret = tok["secret"]
    wrong = await api.complete("TOKENPUSH", {"response": "00000000"}, ch["token"])
    assert wrong.status == 401 and wrong.error_code == "invalid_code"
    ch, _ = await start(api, admin, app_id, user_id)
    done = await api.complete("TOKENPUSH", {"response": pyotp.TOTP(secret).now()},
                              ch["token"])
    assert done.status == 200 and done.body["authenticationCompleted"] is True
    assert "status" not in done.body


async def test_push_as_second_factor(api: Api, admin: Admin, app_id: str, user_id: str,
                                     endpoint: DeviceEndpoint) -> None:
    await admin.user(user_id)
    await admin.password(user_id, "Correct-Horse-9")
    device = Device()
    await register(admin, user_id, device)
    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert "TOKENPUSH" in q.body["availableSecondFactor"]
    first = await api.challenge("PASSWORD_AND_SECONDFACTOR",
                                {"applicationId": app_id, "userId": user_id})
    step = await api.complete("PASSWORD_AND_SECONDFACTOR", {"response": "Correct-Horse-9"},
                              first.body["token"])
    assert step.status == 200 and step.body["authenticationCompleted"] is False
    second = await api.challenge("PASSWORD_AND_SECONDFACTOR", {
        "applicationId": app_id, "userId": user_id, "secondFactorAuthenticator": "TOKENPUSH",
        "authToken": step.body["token"], "summary": "Sign in"})
    assert second.status == 200, second
    push = (await pushes_in_outbox(admin, user_id))[-1]
    poll = await api.complete("PASSWORD_AND_SECONDFACTOR", {}, second.body["token"])
    assert poll.status == 200 and poll.body["status"] == "NO_RESPONSE"
    assert (await endpoint.respond(push["id"], device.answer(push, "CONFIRM"))).ok
    done = await api.complete("PASSWORD_AND_SECONDFACTOR", {}, second.body["token"])
    assert done.status == 200 and done.body["authenticationCompleted"] is True


async def test_expired_push(api: Api, admin: Admin, user_id: str,
                            endpoint: DeviceEndpoint) -> None:
    app = await admin.req("POST", "/api/admin/v1/applications",
                          {"name": "short", "tokenLifetimes": {"challengeSeconds": 1}})
    await admin.user(user_id)
    device = Device()
    await register(admin, user_id, device)
    ch, push = await start(api, admin, app["applicationId"], user_id)
    assert push["expiresAt"] <= ch["expires"] // 1000 + 1
    await asyncio.sleep(1.3)
    r = await endpoint.respond(push["id"], device.answer(push, "CONFIRM"))
    assert r.status in {400, 409} and r.error_code == "push_expired"
    late = await api.complete("TOKENPUSH", {}, ch["token"])
    assert late.status == 401 and late.error_code in {"expired_token", "invalid_token"}


async def test_activation_code_registers_a_device(api: Api, admin: Admin, app_id: str,
                                                  user_id: str, endpoint: DeviceEndpoint
                                                  ) -> None:
    await admin.user(user_id)
    made = await admin.req("POST", f"/api/admin/v1/users/{user_id}/push-activations",
                           {"label": "work phone"})
    code = made["activationCode"]
    device = Device()
    r = await endpoint.activate({"activationCode": code.lower(),
                                 "publicKey": device.public_key_b64()})
    assert r.status == 200, r
    device.serial_number = r.body["device"]["serialNumber"]
    assert r.body["device"]["type"] == "TOKENPUSH"
    assert r.body["device"]["label"] == "work phone"
    # Single use.
    again = await endpoint.activate({"activationCode": code,
                                     "publicKey": Device().public_key_b64()})
    assert again.status == 401 and again.error_code == "invalid_activation_code"
    listed = await admin.req("GET", f"/api/admin/v1/users/{user_id}/push-devices")
    assert [d["serialNumber"] for d in listed["devices"]] == [device.serial_number]
    ch, push = await start(api, admin, app_id, user_id)
    assert (await endpoint.respond(push["id"], device.answer(push, "CONFIRM"))).ok
    assert (await api.complete("TOKENPUSH", {}, ch["token"])).body["authenticationCompleted"]

    # Confirmed, then the device is deleted before the relying party polls.
    ch, push = await start(api, admin, app_id, user_id)
    assert (await endpoint.respond(push["id"], device.answer(push, "CONFIRM"))).ok
    await admin.req("DELETE", f"/api/admin/v1/users/{user_id}/push-devices/"
                              f"{device.serial_number}")
    gone = await api.complete("TOKENPUSH", {}, ch["token"])
    assert gone.status == 401 and gone.error_code == "push_device_removed"
    r = await admin.http.delete(f"/api/admin/v1/users/{user_id}/push-devices/"
                                f"{device.serial_number}")
    assert r.status_code == 404
    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert "TOKENPUSH" not in q.body.get("authenticationTypes", [])


async def test_bad_input(api: Api, admin: Admin, app_id: str, user_id: str,
                         endpoint: DeviceEndpoint, server: RunningServer) -> None:
    await admin.user(user_id)
    base = f"/api/admin/v1/users/{user_id}/push-devices"
    for body, field in (({"type": "TOKENPUSH"}, "publicKey"),
                        ({"type": "TOKENPUSH", "publicKey": "not base64!"}, "publicKey"),
                        ({"type": "TOKENPUSH", "publicKey": base64.b64encode(b"x" * 65)
                          .decode()}, "publicKey"),
                        ({"type": "TOKEN", "publicKey": Device().public_key_b64()}, "type"),
                        ({"type": "SMARTCREDENTIALPUSH", "certificate": "nope"}, None)):
        r = await admin.http.post(base, json=body)
        assert r.status_code == 400, (body, r.text)
        if field:
            assert r.json()["parameters"][0]["field"] == field
    missing = await admin.http.post("/api/admin/v1/users/nobody-here/push-devices",
                                    json={"type": "TOKENPUSH",
                                          "publicKey": Device().public_key_b64()})
    assert missing.status_code == 404

    # No device: the challenge is refused as for any authenticator not enrolled.
    r = await api.challenge("TOKENPUSH", {"applicationId": app_id, "userId": user_id})
    assert r.status == 400 and r.error_code == "authenticator_not_enrolled"
    device = Device()
    await register(admin, user_id, device)
    r = await api.challenge("TOKENPUSH", {"applicationId": app_id, "userId": user_id,
                                          "transactionDetails": [{"value": "x"}]})
    assert r.status == 400
    r = await api.challenge("TOKENPUSH", {"applicationId": app_id, "userId": user_id,
                                          "transactionDetails": DETAILS * 11})
    assert r.status == 400
    ch, push = await start(api, admin, app_id, user_id)
    ok = device.answer(push, "CONFIRM")
    for bad in ({**ok, "status": "MAYBE"} if api.transport == "rest" else {**ok, "status": 0},
                {**ok, "counter": 0}, {**ok, "signature": ""}, {**ok, "serialNumber": ""}):
        r = await endpoint.respond(push["id"], bad)
        assert r.status == 400, (bad, r)
    r = await endpoint.respond("not-a-push", ok)
    assert r.status == 400
    r = await endpoint.respond("00000000-0000-4000-8000-000000000000", ok)
    assert r.status == 404 and r.error_code == "push_not_found"
    r = await endpoint.respond(push["id"], {**ok, "serialNumber": "000000000000"})
    assert r.status == 404
    if api.transport == "rest":
        raw = await endpoint.http.post(f"/api/web/v1/push/{push['id']}/response",
                                       content=b"{not json", headers={
                                           "Content-Type": "application/json"})
        assert raw.status_code == 400
    # A response where none is accepted (no TOKEN): 400, and the push still waits.
    r = await api.complete("TOKENPUSH", {"response": "123456"}, ch["token"])
    assert r.status == 400 and r.error_code == "invalid_response"
    poll = await api.complete("TOKENPUSH", {}, ch["token"])
    assert poll.status == 200 and poll.body["status"] == "NO_RESPONSE"


async def test_admin_methods_over_grpc(server: RunningServer, admin: Admin,
                                       user_id: str) -> None:
    await admin.user(user_id)
    device = Device()
    auth = (("authorization", f"Bearer {server.admin_key}"),)
    async with grpc.aio.insecure_channel(server.grpc_target) as channel:
        stub = push_devices_pb2_grpc.PushDeviceServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await stub.CreatePushDevice(pb.CreatePushDeviceRequest(
                user_id=user_id, public_key=device.public_key_b64()))
        assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED
        made = await stub.CreatePushDevice(pb.CreatePushDeviceRequest(
            user_id=user_id, type=TOKENPUSH, public_key=device.public_key_b64()), metadata=auth)
        assert made.device.type == TOKENPUSH and len(made.device.serial_number) == 12
        listed = await stub.ListPushDevices(pb.ListPushDevicesRequest(user_id=user_id),
                                            metadata=auth)
        assert [d.serial_number for d in listed.devices] == [made.device.serial_number]
        code = await stub.CreatePushActivation(pb.CreatePushActivationRequest(
            user_id=user_id), metadata=auth)
        assert len(code.activation_code) == 12
        await stub.DeletePushDevice(pb.DeletePushDeviceRequest(
            user_id=user_id, serial_number=made.device.serial_number), metadata=auth)
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await stub.DeletePushDevice(pb.DeletePushDeviceRequest(
                user_id=user_id, serial_number=made.device.serial_number), metadata=auth)
        assert exc.value.code() == grpc.StatusCode.NOT_FOUND


async def test_concurrent_answers_one_wins(api: Api, admin: Admin, app_id: str, user_id: str,
                                           endpoint: DeviceEndpoint) -> None:
    await admin.user(user_id)
    device = Device()
    await register(admin, user_id, device)
    ch, push = await start(api, admin, app_id, user_id)
    answers = [device.answer(push, "CONFIRM" if i % 2 else "CONCERN") for i in range(8)]
    replies = await asyncio.gather(*(endpoint.respond(push["id"], a) for a in answers))
    assert sum(r.status == 204 for r in replies) == 1, replies
    assert all(r.error_code in {"push_already_answered", "replayed_response"}
               for r in replies if r.status != 204)
    winner = answers[next(i for i, r in enumerate(replies) if r.status == 204)]
    done = await api.complete("TOKENPUSH", {}, ch["token"])
    if winner["status"] == "CONFIRM":
        assert done.status == 200 and done.body["authenticationCompleted"] is True
    else:
        assert done.status == 401 and done.error_code == "push_concern"
