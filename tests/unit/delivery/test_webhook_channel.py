"""WebhookChannel against a real local HTTP receiver that checks signatures."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from authcore.delivery.channels import PUSH, SMS, VOICE, DeliveryError, OutgoingMessage
from authcore.delivery.webhook import USER_AGENT, WebhookChannel
from authcore_testkit.webhook_receiver import WebhookReceiver

SECRET = "test-webhook-secret-" + "k" * 24
CODE = "428913"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(secret=SECRET) as hook:
        yield hook


@pytest.fixture
async def channel(receiver: WebhookReceiver) -> AsyncIterator[WebhookChannel]:
    chan = WebhookChannel(url=receiver.url, secret=SECRET, timeout=2.0, label="sms")
    yield chan
    await chan.close()


def _message(medium: str = SMS, *, id: int = 1, text: str = f"Your Demo code is {CODE}",
             address: str = "+15550100") -> OutgoingMessage:
    now = time.time()
    return OutgoingMessage(
        id=id, medium=medium, kind="otp" if medium != PUSH else "push", address=address,
        text=text, application_id="app-1", application_name="Demo", created_at=now,
        expires_at=now + 300, values={"code": CODE} if medium != PUSH else {})


def _assert_clean(error: DeliveryError) -> None:
    # Neither the code nor the secret may reach the dispatcher's log line.
    assert CODE not in str(error) and SECRET not in str(error)
    assert error.__cause__ is None


async def test_delivered_and_verified(receiver: WebhookReceiver,
                                      channel: WebhookChannel) -> None:
    message = _message(id=41)
    await channel.send(message)
    (delivery,) = await receiver.wait_for_async(1, timeout=5)
    assert delivery.body["id"] == 41
    assert delivery.body["type"] == "sms"
    assert delivery.body["to"] == "+15550100"
    assert delivery.body["text"] == f"Your Demo code is {CODE}"
    assert delivery.body["values"] == {"code": CODE}
    assert delivery.body["application"] == {"id": "app-1", "name": "Demo"}
    assert delivery.body["expiresAt"] == int(message.expires_at or 0)
    assert abs(delivery.signed_at - time.time()) < 5
    assert delivery.headers["authcore-delivery-id"] == "41"
    assert delivery.headers["idempotency-key"] == delivery.body["idempotencyKey"]
    assert delivery.headers["content-type"] == "application/json"
    assert delivery.headers["user-agent"] == USER_AGENT
    assert [a.status for a in receiver.attempts] == [200]


async def test_voice_and_push(receiver: WebhookReceiver, channel: WebhookChannel) -> None:
    payload = {"type": "stepup", "id": "step-1", "challenge": "c2lnbg", "pushToken": "tok"}
    await channel.send(_message(VOICE, id=2))
    await channel.send(_message(PUSH, id=3, text=json.dumps(payload), address="device-9"))
    voice, push = await receiver.wait_for_async(2, timeout=5)
    assert voice.body["type"] == "voice"
    assert push.body["type"] == "push"
    assert push.body["to"] == "device-9"
    assert push.body["payload"] == payload


async def test_retried_delivery_is_dropped_by_the_receiver(
        receiver: WebhookReceiver, channel: WebhookChannel) -> None:
    message = _message(id=5)
    await channel.send(message)
    await channel.send(message)  # e.g. the answer was lost and the row retried
    await receiver.wait_for_async(1, timeout=5)
    assert len(receiver.received) == 1
    assert receiver.duplicates == 1
    first, second = receiver.attempts
    # Each attempt is signed afresh; the body (and its key) is the same.
    assert first.raw == second.raw
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408])
async def test_server_errors_are_retryable(receiver: WebhookReceiver, channel: WebhookChannel,
                                           status: int) -> None:
    receiver.respond_next(1, status)
    with pytest.raises(DeliveryError) as caught:
        await channel.send(_message(id=6))
    assert caught.value.retryable is True
    assert str(status) in str(caught.value)
    _assert_clean(caught.value)
    assert receiver.received == []
    # The retry goes through.
    await channel.send(_message(id=6))
    assert len(await receiver.wait_for_async(1, timeout=5)) == 1


@pytest.mark.parametrize("status", [400, 404, 410, 422, 301])
async def test_other_answers_are_permanent(receiver: WebhookReceiver, channel: WebhookChannel,
                                           status: int) -> None:
    receiver.respond_next(1, status)
    with pytest.raises(DeliveryError) as caught:
        await channel.send(_message(id=7))
    assert caught.value.retryable is False
    assert str(status) in str(caught.value)
    _assert_clean(caught.value)


async def test_timeout_is_retryable(receiver: WebhookReceiver) -> None:
    channel = WebhookChannel(url=receiver.url, secret=SECRET, timeout=0.5, label="sms")
    receiver.stall_next(1, 2.0)
    started = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        await channel.send(_message(id=8))
    elapsed = time.monotonic() - started
    await channel.close()
    assert caught.value.retryable is True
    assert "timed out" in str(caught.value)
    _assert_clean(caught.value)
    assert elapsed < 1.5
    assert receiver.received == []


async def test_wrong_secret_is_refused_and_permanent(receiver: WebhookReceiver) -> None:
    channel = WebhookChannel(url=receiver.url, secret="a-different-secret-of-some-length",
                             timeout=2.0)
    with pytest.raises(DeliveryError) as caught:
        await channel.send(_message(id=9))
    await channel.close()
    assert caught.value.retryable is False
    assert "401" in str(caught.value)
    assert [a.status for a in receiver.attempts] == [401]
    assert receiver.received == []


async def test_unreachable_gateway_is_retryable() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    channel = WebhookChannel(url=f"http://127.0.0.1:{port}/hook", secret=SECRET, timeout=2.0)
    with pytest.raises(DeliveryError) as caught:
        await channel.send(_message(id=10))
    await channel.close()
    assert caught.value.retryable is True
    assert "unreachable" in str(caught.value)
    _assert_clean(caught.value)


async def test_credentials_in_the_url_stay_out_of_errors(receiver: WebhookReceiver) -> None:
    url = receiver.url.replace("http://", "http://relay:pa55word@") + "?token=t0ken"
    channel = WebhookChannel(url=url, secret=SECRET, timeout=2.0, label="sms")
    receiver.respond_next(1, 503)
    with pytest.raises(DeliveryError) as caught:
        await channel.send(_message(id=11))
    await channel.close()
    assert "pa55word" not in str(caught.value) and "t0ken" not in str(caught.value)
    assert str(caught.value) == f"sms webhook {receiver.url} answered 503"
    # The gateway still got what the URL asked for: basic auth and the query.
    (attempt,) = receiver.attempts
    assert attempt.path == "/hook?token=t0ken"
    assert attempt.headers["authorization"].startswith("Basic ")
