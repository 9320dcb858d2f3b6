"""Old outbox messages lose their text (the code) and keep their metadata
(delivery/outbox.prune, run by every worker every few minutes)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from authcore.delivery.outbox import OUTBOX_TEXT_SECONDS, prune
from authcore.store.hot.queries import insert_outbox_message
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


async def test_messages_older_than_any_code_lose_their_text(hot: SqliteHot) -> None:
    async with hot.transaction() as tx:
        for age, text in ((OUTBOX_TEXT_SECONDS + 1, "old 111111"),
                          (OUTBOX_TEXT_SECONDS - 60, "recent 222222")):
            await insert_outbox_message(tx, user_pk="u1", channel="EMAIL",
                                        address="a@example.com", text=text, now=NOW - age)
    assert await prune(hot, now=NOW) == 1
    assert await prune(hot, now=NOW) == 0  # idempotent: every worker runs it
    rows = await hot.all(_stmt("outbox_rows", "SELECT address, text FROM outbox ORDER BY id"),
                         {})
    assert [(r["address"], r["text"]) for r in rows] == [
        ("a@example.com", ""), ("a@example.com", "recent 222222")]
