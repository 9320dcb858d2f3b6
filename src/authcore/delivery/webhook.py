"""SMS, voice and push delivery over a signed HTTP webhook.

One `WebhookChannel` per URL: `AUTHCORE_SMS_WEBHOOK_URL` carries SMS and
VOICE, `AUTHCORE_PUSH_WEBHOOK_URL` carries PUSH. Each message is one POST of a
JSON object (the fields are in `body_for`), signed so the receiver knows it
came from this authcore and is fresh:

    Authcore-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>

The timestamp is inside the signed bytes, so a captured request can't be
replayed later with a new `t`; receivers refuse a `t` more than
`TOLERANCE_SECONDS` away from their clock. A retried delivery repeats the
same body (same `idempotencyKey`, also sent as the `Idempotency-Key` header)
under a new signature, so a receiver drops duplicates by that key.

What the gateway answers decides the outcome: 2xx delivered; 408, 429, 5xx,
a timeout or a network error are worth another try later (`retryable`);
anything else (400, 401 for a wrong secret, 404, a redirect, which is never
followed) is not. The dispatcher owns the retries; nothing here logs, and no
error message carries the text, the secret, or the gateway's answer body
(which might echo the text).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from authcore.delivery.channels import PUSH, SMS, VOICE, DeliveryError, OutgoingMessage

SIGNATURE_HEADER = "Authcore-Signature"
DELIVERY_ID_HEADER = "Authcore-Delivery-Id"
IDEMPOTENCY_HEADER = "Idempotency-Key"
# How far a signature's timestamp may be from the receiver's clock.
TOLERANCE_SECONDS = 300
# A shorter secret would make the signature guessable offline.
MIN_SECRET_BYTES = 16
USER_AGENT = "authcore-webhook/1"

_TYPES = {SMS: "sms", VOICE: "voice", PUSH: "push"}
_RETRYABLE_STATUSES = frozenset({408, 429})


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def sign(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `b"<timestamp>." + body` under the secret (its
    UTF-8 bytes when a str)."""
    signed = str(int(timestamp)).encode() + b"." + body
    return hmac.new(_key(secret), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str | bytes, timestamp: int, body: bytes) -> str:
    return f"t={int(timestamp)},v1={sign(secret, timestamp, body)}"


def verify_signature(secret: str | bytes, header: str, body: bytes, *,
                     now: float | None = None,
                     tolerance: int = TOLERANCE_SECONDS) -> bool:
    """The receiver's check, as documented (and as tests/authcore_testkit's
    webhook receiver does it): a fresh `t` and a matching `v1`, compared in
    constant time."""
    fields: dict[str, str] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        fields[key] = value
    t = fields.get("t", "")
    current = time.time() if now is None else now
    # isdigit alone lets "²" through, which int() refuses.
    if not (t.isascii() and t.isdigit()) or abs(current - int(t)) > tolerance:
        return False
    expected = sign(secret, int(t), body)
    return hmac.compare_digest(expected.encode(), fields.get("v1", "").encode())


def idempotency_key(secret: str | bytes, message: OutgoingMessage) -> str:
    """Stable across retries of one message, distinct across databases (the
    creation time is in it) and deployments (the secret is), and telling
    nothing about the message."""
    material = f"idempotency:{message.id}:{round(message.created_at * 1_000_000)}"
    return hmac.new(_key(secret), material.encode(), hashlib.sha256).hexdigest()[:32]


def body_for(message: OutgoingMessage, *, key: str) -> dict[str, Any]:
    """The JSON object POSTed for one message."""
    kind = _TYPES.get(message.medium)
    if kind is None:
        raise DeliveryError(f"the webhook channel does not carry {message.medium} messages",
                            retryable=False)
    body: dict[str, Any] = {
        "id": message.id,
        "idempotencyKey": key,
        "type": kind,
        "kind": message.kind,
        "to": message.address,
    }
    if kind == "push":
        # The flows write the device's payload as JSON text; the relay gets it
        # as an object, not a string to parse again.
        try:
            payload = json.loads(message.text)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise DeliveryError("the push message's text is not a JSON object",
                                retryable=False)
        body["payload"] = payload
    else:
        body["text"] = message.text
        body["values"] = dict(message.values)
    body["application"] = {"id": message.application_id, "name": message.application_name}
    body["createdAt"] = int(message.created_at)
    body["expiresAt"] = None if message.expires_at is None else int(message.expires_at)
    return body


def public_url(url: str) -> str:
    """The URL without userinfo, query or fragment (where tokens hide)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}"


class WebhookChannel:
    """A `Channel` POSTing signed JSON to one gateway URL.

    `label` names the channel in `describe()` and in error messages ("sms",
    "push"); `timeout` bounds a whole attempt (connect, send, answer)."""

    def __init__(self, *, url: str, secret: str, timeout: float = 10.0,
                 label: str = "webhook") -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{label} webhook URL must be an http(s) URL with a host, "
                             f"got {public_url(url)!r}")
        if len(_key(secret)) < MIN_SECRET_BYTES:
            raise ValueError(f"the webhook secret must be at least {MIN_SECRET_BYTES} bytes")
        if timeout <= 0:
            raise ValueError("the webhook timeout must be positive")
        self._url = url
        self._secret = _key(secret)
        self._timeout = timeout
        self._label = label
        self._where = public_url(url)
        # One client for the channel's life: connections to the gateway are
        # kept alive between messages. Redirects are not followed (a 3xx is a
        # misconfigured URL, and following it would sign for another host).
        # The environment's HTTPS_PROXY / NO_PROXY / SSL_CERT_FILE apply.
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout), follow_redirects=False,
            headers={"User-Agent": USER_AGENT})

    def describe(self) -> str:
        return f"{self._label} webhook {self._where}"

    async def close(self) -> None:
        await self._client.aclose()

    async def send(self, message: OutgoingMessage) -> None:
        key = idempotency_key(self._secret, message)
        body = json.dumps(body_for(message, key=key), separators=(",", ":"),
                          ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(self._secret, int(time.time()), body),
            DELIVERY_ID_HEADER: str(message.id),
            IDEMPOTENCY_HEADER: key,
        }
        request = self._client.build_request("POST", self._url, content=body,
                                             headers=headers)
        try:
            # httpx's timeout is per read/write; this bounds the whole attempt,
            # so a gateway that trickles its answer can't hold the dispatcher.
            async with asyncio.timeout(self._timeout):
                response = await self._client.send(request, stream=True)
                await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            raise DeliveryError(f"{self.describe()} timed out after {self._timeout:g} s",
                                retryable=True) from None
        except httpx.TransportError as exc:
            raise DeliveryError(f"{self.describe()} unreachable ({type(exc).__name__})",
                                retryable=True) from None
        status = response.status_code
        if 200 <= status < 300:
            return
        retryable = status >= 500 or status in _RETRYABLE_STATUSES
        raise DeliveryError(f"{self.describe()} answered {status}", retryable=retryable)
