"""Fixtures for the unit tests of the hot paths' SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from authcore.store.db import migrate
from authcore.store.hot.sqlite import SqliteHot
from authcore.store.write_lock import SqliteWriteLock


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A migrated SQLite database file."""
    path = tmp_path / "authcore.db"
    migrate(f"sqlite+aiosqlite:///{path}")  # runs its own event loop
    return path


@pytest.fixture
async def hot(database: Path) -> AsyncIterator[SqliteHot]:
    """store/hot's SqliteHot on `database`, with its write lock."""
    lock = SqliteWriteLock(database)
    store = SqliteHot(database, lock)
    yield store
    await store.close()
    lock.close()
