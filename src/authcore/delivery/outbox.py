"""The outbox channel: messages are written to a table the admin API can read.

It is the delivery used in development and tests, and the hand-off point for a
relay (SMTP, SMS gateway) that drains the table. The message text necessarily
holds the code, which is why the table is only readable with an admin key and
nothing here logs the text.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from authcore.store.models import OutboxMessage


def deliver(
    db: AsyncSession, *, user_pk: str, channel: str, address: str, text: str, now: float
) -> None:
    db.add(OutboxMessage(user_pk=user_pk, channel=channel, address=address, text=text,
                         created_at=now))


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    if not domain:
        return _mask(address)
    return f"{_mask(local)}@{domain}"


def mask_phone(number: str) -> str:
    digits = [c for c in number if c.isdigit()]
    if len(digits) <= 4:
        return "*" * len(number)
    return "*" * (len(number) - 4) + number[-4:]


def _mask(text: str) -> str:
    # Only the first character survives: enough for a user to recognise their
    # own address, too little to learn someone else's.
    return text[:1] + "*" * max(1, len(text) - 1)
