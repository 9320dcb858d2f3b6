"""aiosqlite, with each call run on the event loop instead of a thread hop.

aiosqlite hands every call (cursor, execute, fetch, close, commit) to a
per-connection thread and wakes the loop when it is done. A TOTP complete
makes some sixty such calls; on a busy 2-core machine each hop costs far
more than the SQLite work it carries (an indexed lookup on a local WAL file
takes microseconds), and while a write transaction waits for its hops the
write lock stays held and every other writer queues behind it.

Running the calls inline removes both costs: a write transaction that does
no other await runs from BEGIN to COMMIT in one go. It is safe because
nothing in SQLite waits here in normal operation: WAL readers never block,
and authcore's writers queue on `SqliteWriteLock` (in-process and across
worker processes) before they begin, so SQLite's busy handler only sleeps
when a process outside the server writes (an `authcore` admin command). The
cost that remains on the loop is the occasional WAL checkpoint after a
commit (`synchronous=NORMAL` syncs there, not on every commit).

Connecting and closing still go through aiosqlite's thread; they happen once
per pooled connection.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
from aiosqlite import (
    DatabaseError,
    Error,
    IntegrityError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    sqlite_version,
    sqlite_version_info,
)
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi

T = TypeVar("T")


class Connection(aiosqlite.Connection):
    async def _execute(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


def connect(database: str | Path, *, iter_chunk_size: int = 64, **kwargs: Any) -> Connection:
    # The connection is opened on aiosqlite's thread and used on the loop's.
    kwargs["check_same_thread"] = False
    return Connection(partial(sqlite3.connect, str(database), **kwargs), iter_chunk_size)


def dbapi() -> AsyncAdapt_aiosqlite_dbapi:
    """SQLAlchemy's aiosqlite adapter over this module, for
    `create_async_engine(..., module=dbapi())`."""
    return AsyncAdapt_aiosqlite_dbapi(sys.modules[__name__], sqlite3)


__all__ = [
    "Connection",
    "DatabaseError",
    "Error",
    "IntegrityError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "connect",
    "dbapi",
    "sqlite_version",
    "sqlite_version_info",
]
