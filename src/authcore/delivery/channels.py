"""What the dispatcher hands a delivery channel, and how a channel fails.

A channel (SMTP in `delivery/smtp.py`, the signed HTTP webhooks in
`delivery/webhook.py`) gets one `OutgoingMessage` at a time and either
returns (delivered: the server or gateway accepted it) or raises
`DeliveryError`. `retryable` says whether trying again later can help: a
timeout, a refused connection, SMTP 4xx or HTTP 5xx can; a rejected
address, SMTP 5xx or HTTP 4xx cannot. The dispatcher
(`delivery/dispatcher.py`) owns the retries, the backoff and the row's
status; a channel never retries on its own and never logs the text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

# Message media as stored in outbox.channel.
EMAIL = "EMAIL"
SMS = "SMS"
VOICE = "VOICE"
PUSH = "PUSH"

# Message kinds as stored in outbox.kind: which template renders it.
KIND_OTP = "otp"
KIND_EMAIL_VERIFICATION = "email_verification"
KIND_MAGIC_LINK = "magic_link"
KIND_PUSH = "push"


@dataclass(frozen=True, slots=True, kw_only=True)
class OutgoingMessage:
    id: int
    medium: str
    kind: str
    address: str
    # The unsealed text (for EMAIL, the plain-text body's variables are in
    # `values`); never logged.
    text: str = field(repr=False)
    application_id: str | None
    application_name: str
    created_at: float
    expires_at: float | None
    # Template variables (code, link, ...); never logged.
    values: dict[str, str] = field(default_factory=dict, repr=False)


class DeliveryError(Exception):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Channel(Protocol):
    """One medium's way out. `describe()` is the one line the startup log
    prints (no password, no secret)."""

    async def send(self, message: OutgoingMessage) -> None: ...

    def describe(self) -> str: ...

    async def close(self) -> None: ...
