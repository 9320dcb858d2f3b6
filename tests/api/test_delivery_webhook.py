"""SMS and push through the signed webhooks, end to end: `authcore serve
--workers 2` (SQLite, and PostgreSQL + Redis when the suite has them) POSTs
to two real HTTP receivers on loopback (authcore_testkit/webhook_receiver.py)
that check `Authcore-Signature` as the README tells deployers to. The
consumer API's SMS enrollment and step-up take their codes from what the SMS
receiver was sent, and the push step-up is answered by a soft device from
what the push receiver was sent. Each message arrives exactly once; 5xx is
retried, 4xx and a wrong secret are not; nothing about delivery changes an
API's answer."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest

from authcore_testkit.consumer import PHONE, ConsumerClient, Setup, SoftPushDevice
from authcore_testkit.delivery import outbox_until
from authcore_testkit.server import (
    RunningServer,
    fresh_postgres_database,
    postgres_base_url,
    redis_base_url,
    redis_namespace,
    run_server,
)
from authcore_testkit.webhook_receiver import ReceivedWebhook, WebhookReceiver

BACKENDS = ["sqlite"] + (["postgres"] if postgres_base_url() and redis_base_url() else [])
SECRET = "whsec-" + "k" * 32
MAX_ATTEMPTS = 3


@dataclass
class Hooks:
    server: RunningServer
    sms: WebhookReceiver
    push: WebhookReceiver


@pytest.fixture(scope="module", params=BACKENDS)
def hooks(request: pytest.FixtureRequest) -> Iterator[Hooks]:
    with ExitStack() as stack:
        sms = stack.enter_context(WebhookReceiver(secret=SECRET, path="/sms"))
        push = stack.enter_context(WebhookReceiver(secret=SECRET, path="/push"))
        env = {
            "AUTHCORE_SMS_WEBHOOK_URL": sms.url,
            "AUTHCORE_PUSH_WEBHOOK_URL": push.url,
            "AUTHCORE_WEBHOOK_SECRET": SECRET,
            "AUTHCORE_WEBHOOK_TIMEOUT_SECONDS": "2",
            "AUTHCORE_DELIVERY_POLL_SECONDS": "0.2",
            "AUTHCORE_DELIVERY_RETRY_SECONDS": "0.5",
            "AUTHCORE_DELIVERY_RETRY_MAX_SECONDS": "1",
            "AUTHCORE_DELIVERY_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        }
        url = None
        if request.param == "postgres":
            url = stack.enter_context(fresh_postgres_database())
            env.update(stack.enter_context(redis_namespace()))
        server = stack.enter_context(run_server(backend=request.param, database_url=url,
                                                env=env, workers=2))
        yield Hooks(server, sms, push)


@pytest.fixture
async def setup(hooks: Hooks) -> AsyncIterator[Setup]:
    async with Setup(hooks.server) as s:
        yield s


@pytest.fixture(params=["rest", "grpc"])
async def consumer(request: pytest.FixtureRequest, hooks: Hooks
                   ) -> AsyncIterator[ConsumerClient]:
    async with ConsumerClient(hooks.server, request.param) as client:
        yield client


def phone() -> str:
    # A distinct number per test: the receivers are shared by the module.
    return f"+1555{uuid.uuid4().int % 10_000_000:07d}"


async def deliveries_to(hook: WebhookReceiver, to: str, count: int = 1,
                        timeout: float = 15.0) -> list[ReceivedWebhook]:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while True:
        got = [d for d in hook.received if d.body.get("to") == to]
        if len(got) >= count or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.05)


def code_of(delivery: ReceivedWebhook) -> str:
    body = delivery.body
    assert body["type"] == "sms" and body["kind"] == "otp", body
    code = str(body["values"]["code"])
    assert len(code) == 6 and code.isdigit() and code in body["text"], body
    return code


async def corporate_ok(consumer: ConsumerClient, token: str, group: str) -> bool:
    reply = await consumer.access_token(token, "CORPORATE", group)
    assert reply.status in (200, 403), str(reply)
    return reply.status == 200


async def signed_in(consumer: ConsumerClient, setup: Setup, sms: WebhookReceiver,
                    number: str) -> tuple[str, str, str]:
    """A user with `number` enrolled for SMS (its code read from the
    receiver), their auth token, and a group that needs a step-up."""
    user = await setup.user()
    group = await setup.group(f"Webhook corp {uuid.uuid4().hex[:8]}", [user.scim_id])
    token = await consumer.login_ok(user.email)
    assert (await consumer.enroll_otp(token, number)).status == 204
    (enrol,) = await deliveries_to(sms, number)
    assert (await consumer.verify_otp_factor(token, code_of(enrol))).status == 204
    return user.user_id, token, group


# -- delivered, once ------------------------------------------------------------

async def test_sms_step_up_codes_arrive_signed_and_once(consumer: ConsumerClient,
                                                        setup: Setup, hooks: Hooks) -> None:
    number = phone()
    user_id, token, group = await signed_in(consumer, setup, hooks.sms, number)
    assert not await corporate_ok(consumer, token, group)
    assert (await consumer.start_otp_stepup(token)).status == 204
    enrol, step = await deliveries_to(hooks.sms, number, 2)
    code = code_of(step)
    assert code != code_of(enrol)
    assert (await consumer.verify_otp_stepup(token, code)).status == 204
    assert await corporate_ok(consumer, token, group)

    body = step.body
    assert body["to"] == number and body["application"]["name"]
    assert body["expiresAt"] > body["createdAt"] >= int(time.time()) - 60
    assert step.headers["idempotency-key"] == body["idempotencyKey"]
    assert step.headers["authcore-delivery-id"] == str(body["id"])
    # Two workers poll one outbox: give them rounds to send anything twice.
    await asyncio.sleep(1.0)
    assert len(await deliveries_to(hooks.sms, number, timeout=0)) == 2
    assert len([a for a in hooks.sms.attempts if number.encode() in a.raw]) == 2
    rows = [m for m in await setup.outbox(user_id) if m["medium"] == "SMS"]
    assert [(r["status"], r["attempts"]) for r in rows] == [("sent", 1), ("sent", 1)]
    assert all("text" not in r for r in rows)


async def test_many_step_ups_at_once_are_each_delivered_once(hooks: Hooks,
                                                            setup: Setup) -> None:
    async with ConsumerClient(hooks.server, "rest") as consumer:
        numbers = [phone() for _ in range(6)]
        sessions = [await signed_in(consumer, setup, hooks.sms, n) for n in numbers]
        starts = await asyncio.gather(*(consumer.start_otp_stepup(token)
                                        for _, token, _ in sessions))
        assert all(s.status == 204 for s in starts), [str(s) for s in starts]
        for number, (_, token, group) in zip(numbers, sessions, strict=True):
            _, step = await deliveries_to(hooks.sms, number, 2)
            assert (await consumer.verify_otp_stepup(token, code_of(step))).status == 204
            assert await corporate_ok(consumer, token, group)
        await asyncio.sleep(1.0)
        for number in numbers:
            assert len(await deliveries_to(hooks.sms, number, timeout=0)) == 2
            assert len([a for a in hooks.sms.attempts if number.encode() in a.raw]) == 2
        # No retried delivery of an accepted message (same idempotency key).
        assert hooks.sms.duplicates == 0


async def test_push_step_up_payload_reaches_the_device(hooks: Hooks, setup: Setup) -> None:
    async with ConsumerClient(hooks.server, "rest") as consumer:
        user = await setup.user()
        token = await consumer.login_ok(user.email)
        device = SoftPushDevice()
        enrolled = await consumer.enroll_push(token, device.public_key())
        assert enrolled.status == 200, str(enrolled)
        started = await consumer.start_push_stepup(token)
        assert started.status == 200, str(started)
        sid = started.body["id"]
        deadline = time.monotonic() + 15
        while not (got := [d for d in hooks.push.received
                           if d.body.get("payload", {}).get("id") == sid]):
            assert time.monotonic() < deadline, hooks.push.attempts
            await asyncio.sleep(0.05)
        (delivery,) = got
        assert delivery.body["type"] == "push" and "text" not in delivery.body
        assert (await consumer.respond_push(
            *device.answer(delivery.body["payload"], "APPROVED"))).status == 204
        assert (await consumer.get_push(token, sid)).body["status"] == "APPROVED"
        row = await outbox_until(setup, user.user_id, "sent", medium="PUSH")
        assert row["attempts"] == 1


# -- retries and refusals --------------------------------------------------------

async def test_a_5xx_is_retried_until_accepted(hooks: Hooks, setup: Setup) -> None:
    async with ConsumerClient(hooks.server, "rest") as consumer:
        number = phone()
        user_id, token, _ = await signed_in(consumer, setup, hooks.sms, number)
        hooks.sms.respond_next(2, 503)
        # The API answers as always: the code is on its way.
        assert (await consumer.start_otp_stepup(token)).status == 204
        _, step = await deliveries_to(hooks.sms, number, 2)
        row = await outbox_until(setup, user_id, "sent", medium="SMS")
        assert row["attempts"] == 3
        assert (await consumer.verify_otp_stepup(token, code_of(step))).status == 204


async def test_a_4xx_fails_at_once_and_the_api_answer_does_not_change(
        hooks: Hooks, setup: Setup) -> None:
    async with ConsumerClient(hooks.server, "rest") as consumer:
        number = phone()
        user_id, token, _ = await signed_in(consumer, setup, hooks.sms, number)
        hooks.sms.respond_next(1, 400)
        assert (await consumer.start_otp_stepup(token)).status == 204
        row = await outbox_until(setup, user_id, "failed", medium="SMS")
        assert row["attempts"] == 1 and "answered 400" in row["lastError"]
        assert SECRET not in row["lastError"]
        assert len(await deliveries_to(hooks.sms, number, timeout=0)) == 1  # the enrolment


async def test_retries_give_up_after_max_attempts(hooks: Hooks, setup: Setup) -> None:
    async with ConsumerClient(hooks.server, "rest") as consumer:
        number = phone()
        user_id, token, _ = await signed_in(consumer, setup, hooks.sms, number)
        hooks.sms.respond_next(MAX_ATTEMPTS, 502)
        assert (await consumer.start_otp_stepup(token)).status == 204
        row = await outbox_until(setup, user_id, "failed", medium="SMS", timeout=20)
        assert row["attempts"] == MAX_ATTEMPTS
        assert f"after {MAX_ATTEMPTS} attempts" in row["lastError"]


def test_a_receiver_refuses_another_secret_and_authcore_does_not_retry() -> None:
    # A deployment whose secret differs from the receiver's: the receiver's
    # check answers 401 and the message fails without a retry.
    with WebhookReceiver(secret="another-secret-of-32-bytes-xxxxx", path="/sms") as sms, \
            run_server(env={"AUTHCORE_SMS_WEBHOOK_URL": sms.url,
                            "AUTHCORE_WEBHOOK_SECRET": SECRET,
                            "AUTHCORE_DELIVERY_POLL_SECONDS": "0.2"}) as server:
        async def run() -> None:
            async with Setup(server) as setup, ConsumerClient(server, "rest") as consumer:
                user = await setup.user()
                token = await consumer.login_ok(user.email)
                assert (await consumer.enroll_otp(token, PHONE)).status == 204
                row = await outbox_until(setup, user.user_id, "failed", medium="SMS")
                assert row["attempts"] == 1 and "answered 401" in row["lastError"]
        asyncio.run(run())
        assert [a.status for a in sms.attempts] == [401] and sms.received == []


def test_the_startup_line_names_the_webhooks_without_secrets(hooks: Hooks) -> None:
    output = "".join(hooks.server.output)
    lines = [line for line in output.splitlines() if line.startswith("delivery:")]
    assert len(lines) == 1, lines
    assert f"SMS, VOICE via sms webhook {hooks.sms.url}" in lines[0], lines
    assert f"PUSH via push webhook {hooks.push.url}" in lines[0], lines
    assert "EMAIL held in the outbox" in lines[0], lines
    assert SECRET not in output
