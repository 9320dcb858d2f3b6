"""Old outbox messages lose their text (the code) and keep their metadata
(delivery/outbox.prune, run by every worker every few minutes); a pending
one among them will never go and expires."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from authcore.crypto.seal import Sealer
from authcore.delivery.outbox import OUTBOX_TEXT_SECONDS, Message, Outbox, prune
from authcore.store.hot.sqlite import SqliteHot
from authcore.store.hot.statements import _stmt

NOW = 1_700_000_000.0


@pytest.fixture
def database(database: Path) -> Path:
    """The migrated database (tests/unit/conftest.py) with the messages' user."""
    with sqlite3.connect(database) as conn:
        conn.execute("INSERT INTO users (pk, user_id, active, created_at, version) "
                     "VALUES ('u1', 'alice', 1, 0, 1)")
    return database


def _message(medium: str, text: str) -> Message:
    return Message(user_pk="u1", medium=medium, address="a@example.com", kind="otp",
                   text=text, values={"code": text[-6:]}, application_id=None,
                   expires_at=None)


async def test_messages_older_than_any_code_lose_their_text(hot: SqliteHot) -> None:
    outbox = Outbox(Sealer(b"k" * 32), media=["SMS"])
    async with hot.transaction() as tx:
        for age, medium, text in ((OUTBOX_TEXT_SECONDS + 1, "EMAIL", "old 111111"),
                                  (OUTBOX_TEXT_SECONDS + 1, "SMS", "old 333333"),
                                  (OUTBOX_TEXT_SECONDS - 60, "EMAIL", "recent 222222")):
            await outbox.queue(tx, _message(medium, text), now=NOW - age)
    assert await prune(hot, now=NOW) == 2
    assert await prune(hot, now=NOW) == 0  # idempotent: every worker runs it
    rows = await hot.all(_stmt("outbox_rows", "SELECT channel, status, sealed_text IS NULL "
                                              "AS gone FROM outbox ORDER BY id"), {})
    assert [(r["channel"], r["status"], r["gone"]) for r in rows] == [
        ("EMAIL", "held", 1), ("SMS", "expired", 1), ("EMAIL", "held", 0)]
