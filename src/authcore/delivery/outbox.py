"""The outbox: every message authcore sends, written in the transaction that
needs it, and delivered afterwards by the dispatcher (delivery/dispatcher.py).

A flow queues a message with the challenge it carries a code for: on the hot
paths `Outbox.queue` inside the call's `core.hot.transaction()`, elsewhere
`Outbox.add` inside `core.write()`. The row is `pending` when this process has
a channel for the message's medium (the dispatcher is then woken as soon as the
transaction commits), else `held`: nothing sends it, and the admin API shows
its text, as the development outbox always did.

The text (and the template variables the email templates need, such as the
code) is sealed with AES-GCM under the master key; the AAD names the user,
medium and address, so a sealed text copied into another row does not open
there. It is dropped once the message is sent, has failed for good or has
expired, and from every message older than OUTBOX_TEXT_SECONDS (`prune`).
Nothing here logs a text.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from authcore.crypto.seal import Sealer, SealError
from authcore.store.db import after_commit
from authcore.store.hot import HotDb, HotTx
from authcore.store.hot import statements as q
from authcore.store.hot.queries import insert_outbox_message
from authcore.store.models import OutboxMessage, User

# The longest any code in a message stays usable (an Entrust OTP's
# otp_ttl_seconds is at most 3600; LoginID and consumer codes 300): older
# messages lose their text and keep their metadata.
OUTBOX_TEXT_SECONDS = 3600.0

PENDING = "pending"
SENT = "sent"
FAILED = "failed"
EXPIRED = "expired"
HELD = "held"
STATUSES = (PENDING, SENT, FAILED, EXPIRED, HELD)

# The most messages one listing returns (the newest ones).
LIST_LIMIT = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One message to queue. `text` is what an SMS, a voice call, a push
    relay or a held message carries, exactly as the flows word it; `values`
    are the template variables (code, minutes, link) the email templates
    render it from."""

    user_pk: str
    medium: str
    address: str
    kind: str
    text: str = field(repr=False)
    application_id: str | None
    # When the challenge the message is for expires: not sent after that.
    expires_at: float | None
    values: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class Content:
    text: str = field(repr=False)
    values: dict[str, str] = field(repr=False)


def _aad(user_pk: str, medium: str, address: str) -> bytes:
    # The id isn't known before the insert; these are, and never change.
    return b"outbox:" + "\0".join((user_pk, medium, address)).encode()


class Outbox:
    """What flows need to queue messages (`core.outbox`): the sealer, the
    media this process delivers, and the dispatcher's wake-up call."""

    def __init__(self, sealer: Sealer, media: Iterable[str] = ()) -> None:
        self._sealer = sealer
        self.media = frozenset(media)
        # Set when this process commits a pending message; the dispatcher
        # waits on it (and polls for other processes' messages).
        self.queued = asyncio.Event()

    def status_for(self, medium: str) -> str:
        return PENDING if medium in self.media else HELD

    def wake(self) -> None:
        self.queued.set()

    def seal(self, message: Message) -> bytes:
        # Compact JSON of a few short strings: a few microseconds with the
        # AES-GCM, cheap enough for the hot paths.
        plain = json.dumps({"t": message.text, "v": dict(message.values)},
                           separators=(",", ":"), ensure_ascii=False).encode()
        return self._sealer.seal(plain, aad=_aad(message.user_pk, message.medium,
                                                 message.address))

    def open(self, sealed: bytes, *, user_pk: str, medium: str, address: str) -> Content:
        """The sealed text and values; SealError when they don't open (a
        different master key, a row tampered with)."""
        plain = self._sealer.open(sealed, aad=_aad(user_pk, medium, address))
        try:
            data = json.loads(plain)
            return Content(text=str(data["t"]),
                           values={str(k): str(v) for k, v in dict(data["v"]).items()})
        except (ValueError, KeyError, TypeError, AttributeError):
            raise SealError("sealed outbox text is malformed") from None

    async def queue(self, tx: HotTx, message: Message, *, now: float) -> None:
        """On a hot path: in the call's one write transaction."""
        status = self.status_for(message.medium)
        await insert_outbox_message(
            tx, user_pk=message.user_pk, channel=message.medium, address=message.address,
            kind=message.kind, application_id=message.application_id, status=status,
            expires_at=message.expires_at, sealed_text=self.seal(message), now=now)
        if status == PENDING:
            tx.after_commit(self.wake)

    def add(self, db: AsyncSession, message: Message, *, now: float) -> None:
        """Elsewhere: in the flow's `core.write()` session."""
        status = self.status_for(message.medium)
        db.add(OutboxMessage(
            user_pk=message.user_pk, channel=message.medium, address=message.address,
            created_at=now, kind=message.kind, application_id=message.application_id,
            status=status, attempts=0, next_attempt_at=now, expires_at=message.expires_at,
            sealed_text=self.seal(message)))
        if status == PENDING:
            after_commit(db, self.wake)


async def prune(hot: HotDb, *, now: float) -> int:
    """Drop the text (and so the code) of every message older than
    OUTBOX_TEXT_SECONDS (a pending one among them expires); returns how many
    lost it."""
    async with hot.transaction() as tx:
        return await tx.execute(q.PRUNE_OUTBOX_TEXT, {"before": now - OUTBOX_TEXT_SECONDS})


@dataclass(frozen=True, slots=True)
class Listed:
    """One message as the admin API and `authcore outbox` show it. `text` is
    set only for a held message that still has it: a message meant for a
    real channel never shows its code to anyone but its recipient."""

    id: int
    user_id: str
    medium: str
    address: str
    kind: str
    application_id: str | None
    status: str
    attempts: int
    last_error: str | None
    created_at: float
    sent_at: float | None
    expires_at: float | None
    text: str | None = field(default=None, repr=False)


async def list_messages(db: AsyncSession, outbox: Outbox | None, *,
                        user_pk: str | None = None, status: str | None = None,
                        limit: int = LIST_LIMIT) -> list[Listed]:
    """The newest `limit` messages matching the filters, oldest first. With
    `outbox` None no text is opened (the CLI's listing)."""
    query = (select(OutboxMessage, User.user_id)
             .join(User, User.pk == OutboxMessage.user_pk)
             .order_by(OutboxMessage.id.desc()).limit(limit))
    if user_pk is not None:
        query = query.where(OutboxMessage.user_pk == user_pk)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    rows: Sequence[tuple[OutboxMessage, str]] = [
        (m, uid) for m, uid in (await db.execute(query)).tuples()]
    out = []
    for m, user_id in reversed(rows):
        text = None
        if outbox is not None and m.status == HELD and m.sealed_text is not None:
            try:
                text = outbox.open(m.sealed_text, user_pk=m.user_pk, medium=m.channel,
                                   address=m.address).text
            except SealError:
                text = None
        out.append(Listed(
            id=m.id, user_id=user_id, medium=m.channel, address=m.address, kind=m.kind,
            application_id=m.application_id, status=m.status, attempts=m.attempts,
            last_error=m.last_error, created_at=m.created_at, sent_at=m.sent_at,
            expires_at=m.expires_at, text=text))
    return out


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
