"""The outbox channel: messages are written to a table the admin API can read.

It is the delivery used in development and tests, and the hand-off point for a
relay (SMTP, SMS gateway) that drains the table. The message text necessarily
holds the code, which is why the table is only readable with an admin key and
nothing here logs the text.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from authcore.store.hot import HotDb
from authcore.store.hot import statements as q
from authcore.store.models import OutboxMessage

# The longest any code in a message stays usable (an Entrust OTP's
# otp_ttl_seconds is at most 3600; LoginID and consumer codes 300): older
# messages lose their text and keep their metadata.
OUTBOX_TEXT_SECONDS = 3600.0


def deliver(
    db: AsyncSession, *, user_pk: str, channel: str, address: str, text: str, now: float
) -> None:
    db.add(OutboxMessage(user_pk=user_pk, channel=channel, address=address, text=text,
                         created_at=now))


async def prune(hot: HotDb, *, now: float) -> int:
    """Drop the text (and so the code) of every message older than
    OUTBOX_TEXT_SECONDS; returns how many lost it."""
    async with hot.transaction() as tx:
        return await tx.execute(q.PRUNE_OUTBOX_TEXT, {"before": now - OUTBOX_TEXT_SECONDS})


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
