"""Consumer API step-up factors and step-ups over REST and gRPC: SMS phone
enrollment, push device enrollment, SMS step-up, push step-up answered by a
soft device (signatures, forgeries, one answer, expiry), and the sandbox's
fixed code."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from authcore_testkit.consumer import (
    PHONE,
    SANDBOX_CODE,
    ConsumerClient,
    ConsumerUser,
    SandboxClock,
    Setup,
    SoftPushDevice,
    b64url,
    expect_error,
    sandbox_server,
)
from authcore_testkit.server import RunningServer

OTHER_PHONE = "+447700900456"


@pytest.fixture(params=["rest", "grpc"])
async def consumer(request: pytest.FixtureRequest, server: RunningServer
                   ) -> AsyncIterator[ConsumerClient]:
    async with ConsumerClient(server, request.param) as client:
        yield client


@pytest.fixture
async def setup(server: RunningServer) -> AsyncIterator[Setup]:
    async with Setup(server) as s:
        yield s


@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[RunningServer, SandboxClock]]:
    with sandbox_server() as sb:
        yield sb


@pytest.fixture
def clock(sandbox: tuple[RunningServer, SandboxClock]) -> Iterator[SandboxClock]:
    sandbox[1].reset()
    yield sandbox[1]
    sandbox[1].reset()


@pytest.fixture(params=["rest", "grpc"])
async def sb_consumer(request: pytest.FixtureRequest, sandbox: tuple[RunningServer, SandboxClock]
                      ) -> AsyncIterator[ConsumerClient]:
    async with ConsumerClient(sandbox[0], request.param) as client:
        yield client


@pytest.fixture
async def sb_setup(sandbox: tuple[RunningServer, SandboxClock]) -> AsyncIterator[Setup]:
    async with Setup(sandbox[0]) as s:
        yield s


async def session(consumer: ConsumerClient, setup: Setup, **attrs: str
                  ) -> tuple[ConsumerUser, str, str]:
    """A user, an auth token of theirs and a CORPORATE identity (a group of
    theirs) that needs a step-up."""
    user = await setup.user(**attrs)
    group = await setup.group(f"Step-up corp {uuid.uuid4().hex[:8]}", [user.scim_id])
    return user, await consumer.login_ok(user.email), group


async def with_phone(consumer: ConsumerClient, setup: Setup, token: str, user_id: str,
                     phone: str = PHONE) -> None:
    assert (await consumer.enroll_otp(token, phone)).status == 204
    code = await setup.last_sms_code(user_id)
    done = await consumer.verify_otp_factor(token, code)
    assert done.status == 204, str(done)


async def with_device(consumer: ConsumerClient, token: str) -> SoftPushDevice:
    device = SoftPushDevice()
    reply = await consumer.enroll_push(token, device.public_key())
    assert reply.status == 200, str(reply)
    return device


async def corporate_ok(consumer: ConsumerClient, token: str, group: str) -> bool:
    reply = await consumer.access_token(token, "CORPORATE", group)
    assert reply.status in (200, 403), str(reply)
    return reply.status == 200


# ------------------------------------------------------------ the soft device

def test_soft_push_device_signatures_verify_against_its_exported_key() -> None:
    """The device helper itself: what it signs and exports is what a server
    must verify, so forgery tests refuse for the right reason."""
    device = SoftPushDevice()
    der = base64.urlsafe_b64decode(device.public_key() + "==")
    assert der == device.public_key_der()
    key = serialization.load_der_public_key(der)
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    point = base64.urlsafe_b64decode(device.public_key("point") + "==")
    assert len(point) == 65 and point[0] == 4
    message = b"authcore-push-v1\nsid\nchal\nAPPROVED"
    assert SoftPushDevice.message("sid", "chal", "APPROVED") == message
    signature = device.sign("sid", "chal", "APPROVED")
    assert "=" not in signature
    key.verify(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)), message,
               ec.ECDSA(hashes.SHA256()))
    raw = base64.urlsafe_b64decode(device.sign("sid", "chal", "APPROVED", raw=True) + "==")
    assert len(raw) == 64
    key.verify(encode_dss_signature(int.from_bytes(raw[:32], "big"),
                                    int.from_bytes(raw[32:], "big")),
               message, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        key.verify(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
                   message.replace(b"APPROVED", b"DENIED"), ec.ECDSA(hashes.SHA256()))


# ------------------------------------------------------------ SMS enrollment

async def test_sms_enrollment_sends_a_code_and_verifying_activates_it(
        consumer: ConsumerClient, setup: Setup) -> None:
    user, token, _ = await session(consumer, setup)
    # No phone yet: no SMS step-up.
    expect_error(await consumer.start_otp_stepup(token), 409,
                 error_code="CHANNEL_NOT_REGISTERED")
    assert (await consumer.enroll_otp(token, PHONE)).status == 204
    [sms] = await setup.sms(user.user_id)
    assert sms["address"] == PHONE
    code = await setup.last_sms_code(user.user_id)
    # Pending until verified.
    expect_error(await consumer.start_otp_stepup(token), 409,
                 error_code="CHANNEL_NOT_REGISTERED")
    assert (await consumer.verify_otp_factor(token, code)).status == 204
    assert (await consumer.start_otp_stepup(token)).status == 204
    sms_list = await setup.sms(user.user_id)
    assert len(sms_list) == 2 and sms_list[-1]["address"] == PHONE


async def test_sms_enrollment_wrong_code_uses_the_code_up(
        consumer: ConsumerClient, setup: Setup) -> None:
    user, token, _ = await session(consumer, setup)
    assert (await consumer.enroll_otp(token, PHONE)).status == 204
    code = await setup.last_sms_code(user.user_id)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    expect_error(await consumer.verify_otp_factor(token, wrong), 409,
                 error_code="VERIFICATION_CODE_INVALID")
    late = await consumer.verify_otp_factor(token, code)
    expect_error(late, 409)
    expect_error(await consumer.start_otp_stepup(token), 409,
                 error_code="CHANNEL_NOT_REGISTERED")
    # Enrolling again sends a new code that works.
    assert (await consumer.enroll_otp(token, PHONE)).status == 204
    assert (await consumer.verify_otp_factor(
        token, await setup.last_sms_code(user.user_id))).status == 204
    assert (await consumer.start_otp_stepup(token)).status == 204


async def test_sms_enrollment_uses_the_directory_phone_when_none_is_given(
        consumer: ConsumerClient, setup: Setup) -> None:
    user, token, _ = await session(consumer, setup, phone=OTHER_PHONE)
    assert (await consumer.enroll_otp(token, None)).status == 204
    [sms] = await setup.sms(user.user_id)
    assert sms["address"] == OTHER_PHONE


async def test_sms_enrollment_bad_input(consumer: ConsumerClient, setup: Setup) -> None:
    _, token, _ = await session(consumer, setup)
    expect_error(await consumer.enroll_otp(token, PHONE, channel="EMAIL"), 400,
                 fields={"channel": "IN"})
    for number in ("07700900123", "+44 7700 900123", "447700900123", "+0447700900123",
                   "+12345678901234567", "phone"):
        reply = await consumer.enroll_otp(token, number)
        expect_error(reply, 400, fields={"mobileNumber": "REGEX"})
    expect_error(await consumer.verify_otp_factor(token, "123456", channel="VOICE"), 400,
                 fields={"channel": "IN"})
    expect_error(await consumer.enroll_otp(None, PHONE), 401)


async def test_verifying_an_enrollment_that_was_never_started(
        consumer: ConsumerClient, setup: Setup) -> None:
    _, token, _ = await session(consumer, setup)
    expect_error(await consumer.verify_otp_factor(token, "123456"), 409)


async def test_replacing_an_active_phone_needs_a_step_up(
        consumer: ConsumerClient, setup: Setup) -> None:
    user, token, _ = await session(consumer, setup)
    await with_phone(consumer, setup, token, user.user_id)
    expect_error(await consumer.enroll_otp(token, OTHER_PHONE), 403)
    # Another session without step-up can't either.
    other = await consumer.login_ok(user.email)
    expect_error(await consumer.enroll_otp(other, OTHER_PHONE), 403)
    # After a step-up the phone can be replaced.
    assert (await consumer.start_otp_stepup(token)).status == 204
    assert (await consumer.verify_otp_stepup(
        token, await setup.last_sms_code(user.user_id))).status == 204
    assert (await consumer.enroll_otp(token, OTHER_PHONE)).status == 204
    assert (await setup.sms(user.user_id))[-1]["address"] == OTHER_PHONE
    assert (await consumer.verify_otp_factor(
        token, await setup.last_sms_code(user.user_id))).status == 204
    assert (await consumer.start_otp_stepup(token)).status == 204
    assert (await setup.sms(user.user_id))[-1]["address"] == OTHER_PHONE


# ----------------------------------------------------------- push enrollment

@pytest.mark.parametrize("form", ["spki", "spki-std", "point"])
async def test_push_enrollment_accepts_p256_keys(consumer: ConsumerClient, setup: Setup,
                                                 form: str) -> None:
    _, token, _ = await session(consumer, setup)
    device = SoftPushDevice()
    reply = await consumer.enroll_push(token, device.public_key(form), "Ada's phone")
    assert reply.status == 200, str(reply)
    assert isinstance(reply.body["id"], str) and reply.body["id"]


async def test_push_enrollment_bad_input(consumer: ConsumerClient, setup: Setup) -> None:
    _, token, _ = await session(consumer, setup)
    key = SoftPushDevice().public_key()
    expect_error(await consumer.enroll_push(token, key, channel="AUTHY"), 409,
                 error_code="CHANNEL_NOT_SUPPORTED")
    expect_error(await consumer.enroll_push(token, key, channel="SMS"), 400,
                 fields={"channel": "IN"})
    missing = await consumer.call("enroll_push", {"deviceName": "x"},
                                  path={"channel": "BIOMETRIC"}, token=token)
    expect_error(missing, 400, fields={"publicKey": "REQUIRED"})
    p384 = SoftPushDevice(ec.SECP384R1()).public_key()
    for bad in (p384, "not a key!", b64url(b"\x04" + b"\x01" * 64), b64url(b"\x30\x00")):
        expect_error(await consumer.enroll_push(token, bad), 400, fields={"publicKey": "REGEX"})
    expect_error(await consumer.enroll_push(None, key), 401)


async def test_replacing_an_active_device_needs_a_step_up(
        consumer: ConsumerClient, setup: Setup) -> None:
    user, token, _ = await session(consumer, setup)
    first = await with_device(consumer, token)
    expect_error(await consumer.enroll_push(token, SoftPushDevice().public_key()), 403)
    # Step up with the first device, then replace it.
    started = await consumer.start_push_stepup(token)
    assert started.status == 200, str(started)
    push = await setup.last_push(user.user_id)
    assert (await consumer.respond_push(*first.answer(push, "APPROVED"))).status == 204
    second = SoftPushDevice()
    assert (await consumer.enroll_push(token, second.public_key())).status == 200
    # The new device answers from now on; the old one can't.
    sid = (await consumer.start_push_stepup(token)).body["id"]
    push = await setup.last_push(user.user_id)
    assert push["id"] == sid
    expect_error(await consumer.respond_push(*first.answer(push, "APPROVED")), 401)
    assert (await consumer.respond_push(*second.answer(push, "APPROVED"))).status == 204


# ------------------------------------------------------------- SMS step-up

async def test_sms_step_up_unlocks_corporate_identities(
        consumer: ConsumerClient, setup: Setup) -> None:
    user, token, group = await session(consumer, setup)
    await with_phone(consumer, setup, token, user.user_id)
    assert not await corporate_ok(consumer, token, group)
    assert (await consumer.start_otp_stepup(token)).status == 204
    code = await setup.last_sms_code(user.user_id)
    assert not await corporate_ok(consumer, token, group)   # started is not done
    assert (await consumer.verify_otp_stepup(token, code)).status == 204
    assert await corporate_ok(consumer, token, group)
    # The code is single use.
    expect_error(await consumer.verify_otp_stepup(token, code), 409, error_code="STATE_INVALID")


async def test_sms_step_up_wrong_code_uses_the_step_up_up(
        consumer: ConsumerClient, setup: Setup) -> None:
    user, token, group = await session(consumer, setup)
    await with_phone(consumer, setup, token, user.user_id)
    assert (await consumer.start_otp_stepup(token)).status == 204
    code = await setup.last_sms_code(user.user_id)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    expect_error(await consumer.verify_otp_stepup(token, wrong), 409,
                 error_code="VERIFICATION_CODE_INVALID")
    expect_error(await consumer.verify_otp_stepup(token, code), 409,
                 error_code="STATE_INVALID")
    assert not await corporate_ok(consumer, token, group)
    # A new step-up works.
    assert (await consumer.start_otp_stepup(token)).status == 204
    assert (await consumer.verify_otp_stepup(
        token, await setup.last_sms_code(user.user_id))).status == 204
    assert await corporate_ok(consumer, token, group)


async def test_sms_step_up_code_verifies_once_under_concurrency(
        consumer: ConsumerClient, setup: Setup) -> None:
    user, token, group = await session(consumer, setup)
    await with_phone(consumer, setup, token, user.user_id)
    assert (await consumer.start_otp_stepup(token)).status == 204
    code = await setup.last_sms_code(user.user_id)
    replies = await asyncio.gather(*[consumer.verify_otp_stepup(token, code)
                                     for _ in range(6)])
    assert sorted(r.status for r in replies) == [204] + [409] * 5, [str(r) for r in replies]
    for r in replies:
        if r.status == 409:
            expect_error(r, 409, error_code="STATE_INVALID")
    assert await corporate_ok(consumer, token, group)


async def test_sms_step_up_verify_without_start(consumer: ConsumerClient, setup: Setup) -> None:
    user, token, _ = await session(consumer, setup)
    await with_phone(consumer, setup, token, user.user_id)
    expect_error(await consumer.verify_otp_stepup(token, "123456"), 409,
                 error_code="STATE_INVALID")


async def test_sms_step_up_belongs_to_the_session_that_started_it(
        consumer: ConsumerClient, setup: Setup) -> None:
    user, token, group = await session(consumer, setup)
    await with_phone(consumer, setup, token, user.user_id)
    assert (await consumer.start_otp_stepup(token)).status == 204
    code = await setup.last_sms_code(user.user_id)
    other = await consumer.login_ok(user.email)
    expect_error(await consumer.verify_otp_stepup(other, code), 409, error_code="STATE_INVALID")
    assert not await corporate_ok(consumer, other, group)


async def test_sms_step_up_code_format(consumer: ConsumerClient, setup: Setup) -> None:
    user, token, _ = await session(consumer, setup)
    await with_phone(consumer, setup, token, user.user_id)
    assert (await consumer.start_otp_stepup(token)).status == 204
    missing = await consumer.call("verify_otp_stepup", {}, token=token)
    expect_error(missing, 400, fields={"verificationCode": "REQUIRED"})
    for bad in ("12345", "1234567", "abcdef", "12 456", "١٢٣٤٥٦"):
        expect_error(await consumer.verify_otp_stepup(token, bad), 400,
                     fields={"verificationCode": "REGEX"})
    # Bad formats are refused before they use the step-up up.
    assert (await consumer.verify_otp_stepup(
        token, await setup.last_sms_code(user.user_id))).status == 204
    expect_error(await consumer.call("verify_otp_factor", {}, path={"channel": "SMS"},
                                     token=token), 400, fields={"verificationCode": "REQUIRED"})
    expect_error(await consumer.verify_otp_factor(token, "12345"), 400,
                 fields={"verificationCode": "REGEX"})


async def test_sms_step_up_needs_an_auth_token(consumer: ConsumerClient) -> None:
    expect_error(await consumer.start_otp_stepup(None), 401)
    expect_error(await consumer.verify_otp_stepup("garbage", "123456"), 401)


# ------------------------------------------------------------ push step-up

async def test_push_step_up_approved(consumer: ConsumerClient, setup: Setup) -> None:
    user, token, group = await session(consumer, setup)
    expect_error(await consumer.start_push_stepup(token), 409,
                 error_code="CHANNEL_NOT_REGISTERED")
    device = await with_device(consumer, token)
    started = await consumer.start_push_stepup(token)
    assert started.status == 200, str(started)
    sid = started.body["id"]
    push = await setup.last_push(user.user_id)
    assert push["type"] == "stepup" and push["id"] == sid
    assert isinstance(push["challenge"], str) and len(push["challenge"]) >= 16
    state = await consumer.get_push(token, sid)
    assert state.body == {"id": sid, "status": "PENDING", "channel": "BIOMETRIC"}, str(state)
    assert not await corporate_ok(consumer, token, group)

    assert (await consumer.respond_push(*device.answer(push, "APPROVED"))).status == 204
    state = await consumer.get_push(token, sid)
    assert state.body == {"id": sid, "status": "APPROVED", "channel": "BIOMETRIC"}, str(state)
    assert await corporate_ok(consumer, token, group)
    # One answer only.
    expect_error(await consumer.respond_push(*device.answer(push, "APPROVED")), 409,
                 error_code="STATE_INVALID")
    expect_error(await consumer.respond_push(*device.answer(push, "DENIED")), 409,
                 error_code="STATE_INVALID")
    assert (await consumer.get_push(token, sid)).body["status"] == "APPROVED"


async def test_push_message_goes_to_the_outbox_on_channel_push(
        server: RunningServer, setup: Setup) -> None:
    async with ConsumerClient(server, "rest") as rest:
        user, token, _ = await session(rest, setup)
        assert (await rest.enroll_push(token, SoftPushDevice().public_key())).status == 200
        sid = (await rest.start_push_stepup(token)).body["id"]
    [message] = await setup.outbox(user.user_id)
    assert message.get("medium") == "PUSH", message
    assert "channel" not in message  # Entrust's OTP delivery enum has no PUSH
    assert json.loads(message["text"])["id"] == sid


async def test_push_step_up_denied(consumer: ConsumerClient, setup: Setup) -> None:
    user, token, group = await session(consumer, setup)
    device = await with_device(consumer, token)
    sid = (await consumer.start_push_stepup(token)).body["id"]
    push = await setup.last_push(user.user_id)
    assert (await consumer.respond_push(*device.answer(push, "DENIED"))).status == 204
    assert (await consumer.get_push(token, sid)).body["status"] == "DENIED"
    assert not await corporate_ok(consumer, token, group)
    expect_error(await consumer.respond_push(*device.answer(push, "APPROVED")), 409,
                 error_code="STATE_INVALID")
    assert not await corporate_ok(consumer, token, group)
    # No longer in flight: a new push step-up may start.
    again = await consumer.start_push_stepup(token)
    assert again.status == 200 and again.body["id"] != sid, str(again)


async def test_push_step_up_only_one_in_flight(consumer: ConsumerClient, setup: Setup) -> None:
    user, token, _ = await session(consumer, setup)
    device = await with_device(consumer, token)
    sid = (await consumer.start_push_stepup(token)).body["id"]
    expect_error(await consumer.start_push_stepup(token), 409, error_code="STATE_INVALID")
    push = await setup.last_push(user.user_id)
    assert push["id"] == sid and len(await setup.pushes(user.user_id)) == 1
    assert (await consumer.respond_push(*device.answer(push, "APPROVED"))).status == 204
    assert (await consumer.start_push_stepup(token)).status == 200


async def test_push_step_up_takes_one_answer_under_concurrency(
        consumer: ConsumerClient, setup: Setup) -> None:
    user, token, group = await session(consumer, setup)
    device = await with_device(consumer, token)
    sid = (await consumer.start_push_stepup(token)).body["id"]
    push = await setup.last_push(user.user_id)
    answers = [device.answer(push, "APPROVED" if i % 2 else "DENIED") for i in range(6)]
    replies = await asyncio.gather(*[consumer.respond_push(*a) for a in answers])
    assert sorted(r.status for r in replies) == [204] + [409] * 5, [str(r) for r in replies]
    [winner] = [a for a, r in zip(answers, replies, strict=True) if r.status == 204]
    status = (await consumer.get_push(token, sid)).body["status"]
    assert status == winner[1]
    assert await corporate_ok(consumer, token, group) == (status == "APPROVED")


async def test_push_step_up_forged_answers_change_nothing(
        consumer: ConsumerClient, setup: Setup) -> None:
    user, token, group = await session(consumer, setup)
    device = await with_device(consumer, token)
    sid = (await consumer.start_push_stepup(token)).body["id"]
    push = await setup.last_push(user.user_id)
    intruder = SoftPushDevice()
    forgeries = [
        intruder.answer(push, "APPROVED"),                           # another key
        device.answer(push, "APPROVED", signed_outcome="DENIED"),    # another outcome
        (sid, "APPROVED", device.sign(sid, "other-challenge", "APPROVED")),
        (sid, "APPROVED", "not-a-signature"),
        (sid, "APPROVED", b64url(b"\x00" * 64)),
    ]
    for forged in forgeries:
        expect_error(await consumer.respond_push(*forged), 401)
        assert (await consumer.get_push(token, sid)).body["status"] == "PENDING"
    assert not await corporate_ok(consumer, token, group)
    # The genuine answer still works (raw r||s this time).
    assert (await consumer.respond_push(*device.answer(push, "APPROVED", raw=True))).status == 204
    assert (await consumer.get_push(token, sid)).body["status"] == "APPROVED"
    assert await corporate_ok(consumer, token, group)


async def test_push_step_up_unknown_ids(consumer: ConsumerClient, setup: Setup) -> None:
    _, token, _ = await session(consumer, setup)
    device = await with_device(consumer, token)
    unknown = str(uuid.uuid4())
    expect_error(await consumer.get_push(token, unknown), 404)
    answer = device.answer({"id": unknown, "challenge": "x"}, "APPROVED")
    expect_error(await consumer.respond_push(*answer), 404)


async def test_push_step_up_is_visible_to_its_session_only(
        consumer: ConsumerClient, setup: Setup) -> None:
    user, token, _ = await session(consumer, setup)
    await with_device(consumer, token)
    sid = (await consumer.start_push_stepup(token)).body["id"]
    stranger = await setup.user()
    stranger_token = await consumer.login_ok(stranger.email)
    expect_error(await consumer.get_push(stranger_token, sid), 404)
    own_other_session = await consumer.login_ok(user.email)
    expect_error(await consumer.get_push(own_other_session, sid), 404)
    expect_error(await consumer.get_push(None, sid), 401)
    assert (await consumer.get_push(token, sid)).body["status"] == "PENDING"


async def test_push_step_up_channel(consumer: ConsumerClient, setup: Setup) -> None:
    _, token, _ = await session(consumer, setup)
    await with_device(consumer, token)
    # AUTHY is a push channel the API names but doesn't support.
    expect_error(await consumer.start_push_stepup(token, channel="AUTHY"), 409)
    expect_error(await consumer.start_push_stepup(token, channel="SMS"), 400,
                 fields={"channel": "IN"})
    expect_error(await consumer.start_push_stepup(None), 401)


async def test_push_respond_bad_input(consumer: ConsumerClient, setup: Setup) -> None:
    user, token, _ = await session(consumer, setup)
    device = await with_device(consumer, token)
    sid = (await consumer.start_push_stepup(token)).body["id"]
    push = await setup.last_push(user.user_id)
    _, _, sig = device.answer(push, "APPROVED")
    no_outcome = await consumer.call("respond_push", {"signature": sig}, path={"id": sid})
    expect_error(no_outcome, 400)
    assert "outcome" in no_outcome.invalid_fields, str(no_outcome)
    no_signature = await consumer.call("respond_push", {"outcome": "APPROVED"},
                                       path={"id": sid})
    expect_error(no_signature, 400, fields={"signature": "REQUIRED"})
    assert (await consumer.get_push(token, sid)).body["status"] == "PENDING"
    assert (await consumer.respond_push(sid, "APPROVED", sig)).status == 204


# ----------------------------------------------------------------- sandbox

async def test_sandbox_codes_are_123456_and_no_sms_is_sent(
        sb_consumer: ConsumerClient, sb_setup: Setup, clock: SandboxClock) -> None:
    user, token, group = await session(sb_consumer, sb_setup)
    assert (await sb_consumer.enroll_otp(token)).status == 204
    expect_error(await sb_consumer.verify_otp_factor(token, "654321"), 409,
                 error_code="VERIFICATION_CODE_INVALID")
    assert (await sb_consumer.enroll_otp(token)).status == 204
    assert (await sb_consumer.verify_otp_factor(token, SANDBOX_CODE)).status == 204
    assert (await sb_consumer.start_otp_stepup(token)).status == 204
    assert (await sb_consumer.verify_otp_stepup(token, SANDBOX_CODE)).status == 204
    assert await corporate_ok(sb_consumer, token, group)
    assert await sb_setup.sms(user.user_id) == []


async def test_sms_step_up_code_expires_after_five_minutes(
        sb_consumer: ConsumerClient, sb_setup: Setup, clock: SandboxClock) -> None:
    _, token, group = await session(sb_consumer, sb_setup)
    assert (await sb_consumer.enroll_otp(token)).status == 204
    assert (await sb_consumer.verify_otp_factor(token, SANDBOX_CODE)).status == 204
    assert (await sb_consumer.start_otp_stepup(token)).status == 204
    clock.set(150)   # keeps the session alive
    assert (await sb_consumer.identities(token)).status == 200
    clock.set(301)
    expect_error(await sb_consumer.verify_otp_stepup(token, SANDBOX_CODE), 409,
                 error_code="VERIFICATION_CODE_EXPIRED")
    assert not await corporate_ok(sb_consumer, token, group)
    assert (await sb_consumer.start_otp_stepup(token)).status == 204
    assert (await sb_consumer.verify_otp_stepup(token, SANDBOX_CODE)).status == 204


async def test_sms_step_up_code_is_good_just_before_five_minutes(
        sb_consumer: ConsumerClient, sb_setup: Setup, clock: SandboxClock) -> None:
    _, token, group = await session(sb_consumer, sb_setup)
    assert (await sb_consumer.enroll_otp(token)).status == 204
    assert (await sb_consumer.verify_otp_factor(token, SANDBOX_CODE)).status == 204
    assert (await sb_consumer.start_otp_stepup(token)).status == 204
    clock.set(150)
    assert (await sb_consumer.identities(token)).status == 200
    clock.set(290)
    assert (await sb_consumer.verify_otp_stepup(token, SANDBOX_CODE)).status == 204
    assert await corporate_ok(sb_consumer, token, group)


async def test_push_step_up_expires(sb_consumer: ConsumerClient, sb_setup: Setup,
                                    clock: SandboxClock) -> None:
    user, token, group = await session(sb_consumer, sb_setup)
    device = await with_device(sb_consumer, token)
    sid = (await sb_consumer.start_push_stepup(token)).body["id"]
    push = await sb_setup.last_push(user.user_id)
    clock.set(150)
    assert (await sb_consumer.get_push(token, sid)).body["status"] == "PENDING"
    clock.set(301)
    assert (await sb_consumer.get_push(token, sid)).body["status"] == "EXPIRED"
    expect_error(await sb_consumer.respond_push(*device.answer(push, "APPROVED")), 409)
    assert (await sb_consumer.get_push(token, sid)).body["status"] == "EXPIRED"
    assert not await corporate_ok(sb_consumer, token, group)
    # An expired step-up is not in flight.
    assert (await sb_consumer.start_push_stepup(token)).status == 200


async def test_push_answer_after_logout_is_refused(consumer: ConsumerClient,
                                                   setup: Setup) -> None:
    user, token, _ = await session(consumer, setup)
    device = await with_device(consumer, token)
    await consumer.start_push_stepup(token)
    push = await setup.last_push(user.user_id)
    assert (await consumer.logout(token)).status == 200
    expect_error(await consumer.respond_push(*device.answer(push, "APPROVED")), 409,
                 error_code="STATE_INVALID")
