"""The webhook signature scheme, the JSON body, and the documented receiver check."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable

import pytest

from authcore.delivery.channels import EMAIL, PUSH, SMS, VOICE, DeliveryError, OutgoingMessage
from authcore.delivery.webhook import (
    WebhookChannel,
    body_for,
    idempotency_key,
    public_url,
    sign,
    signature_header,
    verify_signature,
)
from authcore_testkit.webhook_receiver import verify as documented_verify

# A fixed vector: the expected hex was computed once with hmac/hashlib and is
# written out, so a change of scheme (separator, encoding, digest) fails here.
SECRET = "whsec-authcore-test-vector-0001"
TIMESTAMP = 1767225600
BODY = b'{"id":42,"type":"sms","to":"+15550100","text":"Your code is 123456"}'
EXPECTED = "2d06ecc2239be173826b83d67eaca068f480f92abe1c7ab88673ccfdc1c69dcf"


def test_fixed_vector() -> None:
    independent = hmac.new(SECRET.encode(), b"1767225600." + BODY, hashlib.sha256).hexdigest()
    assert independent == EXPECTED
    assert sign(SECRET, TIMESTAMP, BODY) == EXPECTED
    assert sign(SECRET.encode(), TIMESTAMP, BODY) == EXPECTED
    assert signature_header(SECRET, TIMESTAMP, BODY) == f"t=1767225600,v1={EXPECTED}"


def _module_verify(secret: bytes, header: str, body: bytes, tolerance: int = 300) -> bool:
    return verify_signature(secret, header, body, tolerance=tolerance)


# The module's helper and the README snippet the test receiver runs must agree.
VERIFIERS: list[Callable[..., bool]] = [_module_verify, documented_verify]


@pytest.fixture(params=VERIFIERS, ids=["module", "documented"])
def verifier(request: pytest.FixtureRequest) -> Callable[..., bool]:
    return request.param  # type: ignore[no-any-return]


def test_fresh_signature_verifies(verifier: Callable[..., bool]) -> None:
    now = int(time.time())
    assert verifier(SECRET.encode(), signature_header(SECRET, now, BODY), BODY)


def test_fixed_vector_verifies_at_its_time() -> None:
    header = f"t={TIMESTAMP},v1={EXPECTED}"
    assert verify_signature(SECRET, header, BODY, now=TIMESTAMP + 299)
    assert not verify_signature(SECRET, header, BODY, now=TIMESTAMP + 301)
    assert not verify_signature(SECRET, header, BODY, now=TIMESTAMP - 301)


def test_tampered_body_fails(verifier: Callable[..., bool]) -> None:
    now = int(time.time())
    header = signature_header(SECRET, now, BODY)
    assert not verifier(SECRET.encode(), header, BODY.replace(b"123456", b"654321"))
    assert not verifier(SECRET.encode(), header, BODY + b" ")


def test_moved_timestamp_fails(verifier: Callable[..., bool]) -> None:
    # A replay under a fresh t with the old v1: t is in the signed bytes.
    now = int(time.time())
    v1 = sign(SECRET, now - 1000, BODY)
    assert not verifier(SECRET.encode(), f"t={now},v1={v1}", BODY)


def test_old_and_future_timestamps_are_refused(verifier: Callable[..., bool]) -> None:
    now = int(time.time())
    assert not verifier(SECRET.encode(), signature_header(SECRET, now - 301, BODY), BODY)
    assert not verifier(SECRET.encode(), signature_header(SECRET, now + 301, BODY), BODY)
    assert verifier(SECRET.encode(), signature_header(SECRET, now - 250, BODY), BODY)
    # A receiver may choose a tighter window.
    assert not verifier(SECRET.encode(), signature_header(SECRET, now - 60, BODY), BODY, 30)


def test_other_secret_fails(verifier: Callable[..., bool]) -> None:
    header = signature_header(SECRET, int(time.time()), BODY)
    assert not verifier(b"another-secret-of-enough-length", header, BODY)


@pytest.mark.parametrize("header", [
    "", "t=", "v1=abc", "t=abc,v1=00", "t=-5,v1=00", "t=1.5,v1=00",
    "garbage", "t=1767225600", f"t=1767225600,v1={EXPECTED[:-1]}",
    "t=1767225600,v1=\u00e9\u00e9", ",,,", "t=\u00b2,v1=00", "t=\u0661\u0662,v1=00",
])
def test_malformed_headers_fail_without_raising(verifier: Callable[..., bool],
                                                header: str) -> None:
    header = header.replace("1767225600", str(int(time.time())))
    assert verifier(SECRET.encode(), header, BODY) is False


def test_header_with_spaces_verifies(verifier: Callable[..., bool]) -> None:
    now = int(time.time())
    header = f"t={now}, v1={sign(SECRET, now, BODY)}"
    assert verifier(SECRET.encode(), header, BODY)


def _message(medium: str = SMS, **overrides: object) -> OutgoingMessage:
    fields: dict[str, object] = {
        "id": 7, "medium": medium, "kind": "otp", "address": "+15550100",
        "text": "Your Demo code is 123456", "application_id": "app-1",
        "application_name": "Demo", "created_at": 1767225600.25,
        "expires_at": 1767225900.9, "values": {"code": "123456"},
    }
    fields.update(overrides)
    return OutgoingMessage(**fields)  # type: ignore[arg-type]


def test_sms_and_voice_bodies() -> None:
    key = idempotency_key(SECRET, _message())
    assert body_for(_message(), key=key) == {
        "id": 7, "idempotencyKey": key, "type": "sms", "kind": "otp", "to": "+15550100",
        "text": "Your Demo code is 123456", "values": {"code": "123456"},
        "application": {"id": "app-1", "name": "Demo"},
        "createdAt": 1767225600, "expiresAt": 1767225900,
    }
    voice = body_for(_message(VOICE, expires_at=None, application_id=None), key=key)
    assert voice["type"] == "voice"
    assert voice["expiresAt"] is None
    assert voice["application"] == {"id": None, "name": "Demo"}


def test_push_body_carries_the_payload_as_an_object() -> None:
    payload = {"type": "stepup", "id": "s1", "challenge": "abc", "expiresAt": 1767225900,
               "pushToken": "fcm-token"}
    message = _message(PUSH, kind="push", address="device-1", text=json.dumps(payload),
                       values={})
    body = body_for(message, key="k")
    assert body["type"] == "push"
    assert body["to"] == "device-1"
    assert body["payload"] == payload
    assert "text" not in body and "values" not in body


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '"a string"', ""])
def test_push_text_that_is_no_object_is_a_permanent_failure(text: str) -> None:
    with pytest.raises(DeliveryError) as caught:
        body_for(_message(PUSH, text=text), key="k")
    assert caught.value.retryable is False


def test_email_is_not_carried() -> None:
    with pytest.raises(DeliveryError) as caught:
        body_for(_message(EMAIL, address="a@example.com"), key="k")
    assert caught.value.retryable is False
    assert "123456" not in str(caught.value)


def test_idempotency_key_is_stable_per_message_and_distinct_otherwise() -> None:
    key = idempotency_key(SECRET, _message())
    assert key == idempotency_key(SECRET, _message(text="another text"))
    assert len(key) == 32 and int(key, 16) >= 0
    assert key != idempotency_key(SECRET, _message(id=8))
    # Same id in a fresh database: another creation time.
    assert key != idempotency_key(SECRET, _message(created_at=1767225600.26))
    assert key != idempotency_key("another-deployment-secret", _message())


def test_public_url_drops_credentials_query_and_fragment() -> None:
    assert public_url("https://user:pw@sms.example:8443/hook?token=s3cr3t#f") == \
        "https://sms.example:8443/hook"
    assert public_url("http://[::1]:9000/x") == "http://[::1]:9000/x"


@pytest.mark.parametrize("url", ["ftp://sms.example/hook", "sms.example/hook", "https:///x",
                                 "file:///etc/passwd"])
def test_channel_refuses_urls_that_are_not_http(url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        WebhookChannel(url=url, secret=SECRET)


def test_channel_refuses_a_short_secret_without_echoing_it() -> None:
    with pytest.raises(ValueError) as caught:
        WebhookChannel(url="https://sms.example/hook", secret="short-s3cret")
    assert "short-s3cret" not in str(caught.value)


async def test_describe_has_no_secrets() -> None:
    channel = WebhookChannel(url="https://relay:pa55@sms.example/hook?key=t0ken",
                             secret=SECRET, label="sms")
    assert channel.describe() == "sms webhook https://sms.example/hook"
    await channel.close()


@pytest.mark.parametrize(("env", "message"), [
    ({"AUTHCORE_SMS_WEBHOOK_URL": "https://sms.example/hook",
      "AUTHCORE_WEBHOOK_SECRET": "short"}, "at least 16 bytes"),
    ({"AUTHCORE_PUSH_WEBHOOK_URL": "ftp://user:pa55@push.example/hook",
      "AUTHCORE_WEBHOOK_SECRET": SECRET}, "AUTHCORE_PUSH_WEBHOOK_URL must be an http"),
    ({"AUTHCORE_SMS_WEBHOOK_URL": "sms.example/hook",
      "AUTHCORE_WEBHOOK_SECRET": SECRET}, "AUTHCORE_SMS_WEBHOOK_URL must be an http"),
])
def test_settings_refuse_what_the_channel_would(env: dict[str, str], message: str) -> None:
    from authcore.config import Settings

    with pytest.raises(SystemExit) as caught:
        Settings.from_env(env).check()
    assert message in str(caught.value)
    assert "pa55" not in str(caught.value) and "short" not in str(caught.value)


def test_settings_accept_a_webhook_setup() -> None:
    from authcore.config import Settings

    Settings.from_env({"AUTHCORE_SMS_WEBHOOK_URL": "https://relay:pw@sms.example/hook?x=1",
                       "AUTHCORE_PUSH_WEBHOOK_URL": "http://127.0.0.1:9000/push",
                       "AUTHCORE_WEBHOOK_SECRET": SECRET}).check()
