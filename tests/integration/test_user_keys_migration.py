"""Migration 0006 backfills users.user_key / email_key for the rows already
there, with the application's own folding, and refuses a database holding
two ids that fold to the same key."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from authcore.identifiers import email_key, username_key
from authcore.store.db import alembic_config, create_engine
from authcore_testkit.server import fresh_postgres_database, postgres_base_url

BACKENDS = ["sqlite"] + (["postgres"] if postgres_base_url() else [])


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"
    else:
        with fresh_postgres_database() as url:
            yield url


def _run(url: str, *statements: str) -> list[tuple[object, ...]]:
    async def go() -> list[tuple[object, ...]]:
        engine = create_engine(url)
        rows: list[tuple[object, ...]] = []
        async with engine.begin() as conn:
            for sql in statements:
                result = await conn.execute(text(sql))
                if result.returns_rows:
                    rows = [tuple(r) for r in result]
        await engine.dispose()
        return rows
    return asyncio.run(go())


def _insert(pk: str, user_id: str, email: str | None) -> str:
    quoted = "NULL" if email is None else f"'{email}'"
    return ("INSERT INTO users (pk, user_id, email, active, created_at, version) "
            f"VALUES ('{pk}', '{user_id}', {quoted}, true, 0, 1)")


def test_existing_users_get_their_keys(database_url: str) -> None:
    cfg = alembic_config(database_url)
    command.upgrade(cfg, "0005")
    people = [("u1", "J\u00d6E.M\u00fcller@Example.com", "J\u00f6e@Ex\u00e4mple.COM"),
              ("u2", "plain", None)]
    _run(database_url, *(_insert(*p) for p in people))
    command.upgrade(cfg, "head")
    rows = _run(database_url, "SELECT pk, user_key, email_key FROM users ORDER BY pk")
    assert rows == [(pk, username_key(uid), email_key(mail)) for pk, uid, mail in people]
    assert rows[0][1] == "j\u00f6e.m\u00fcller@example.com"
    # And back down: the lower() indexes return, the keys go.
    command.downgrade(cfg, "0005")
    command.upgrade(cfg, "head")


def test_ids_that_fold_together_stop_the_migration(database_url: str) -> None:
    cfg = alembic_config(database_url)
    command.upgrade(cfg, "0005")
    # Different to lower() (ß stays ß), the same once case-folded.
    _run(database_url, _insert("u1", "stra\u00dfe", None), _insert("u2", "STRASSE", None))
    with pytest.raises(RuntimeError, match="STRASSE"):
        command.upgrade(cfg, "head")
