"""The hot paths on SQLite: `sqlite3` itself, on the event loop.

Two connections per process, both in autocommit mode: one for reads (each
statement its own WAL snapshot, never blocked by the writer) and one for
write transactions. A write transaction first queues on `SqliteWriteLock`
(this process's writers, then the other workers' through the file lock),
then runs BEGIN IMMEDIATE .. COMMIT. Nothing inside awaits I/O, so it runs
in one go and holds the lock for microseconds; see store/sqlite_inline.py
for why running SQLite on the loop is safe here. sqlite3 keeps each
statement prepared in its per-connection cache.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from authcore.store.hot import HotDb, HotTx, Params, Row
from authcore.store.hot.statements import Stmt
from authcore.store.write_lock import SqliteWriteLock

# More than the hot statements, so none is ever re-prepared.
STATEMENT_CACHE = 256


def _connect(path: Path | str) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=10, isolation_level=None,
                           check_same_thread=False, cached_statements=STATEMENT_CACHE)
    conn.row_factory = sqlite3.Row
    # As store/db.py's pragmas for the SQLAlchemy engine.
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class _Tx(HotTx):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def execute(self, stmt: Stmt, params: Params) -> int:
        return self._conn.execute(stmt.sql, params).rowcount

    async def one(self, stmt: Stmt, params: Params) -> Row | None:
        row: Row | None = self._conn.execute(stmt.sql, params).fetchone()
        return row

    async def all(self, stmt: Stmt, params: Params) -> Sequence[Row]:
        rows: list[Row] = self._conn.execute(stmt.sql, params).fetchall()
        return rows


class SqliteHot(HotDb):
    def __init__(self, path: Path | str, write_lock: SqliteWriteLock) -> None:
        self._read = _connect(path)
        self._write = _connect(path)
        self._tx = _Tx(self._write)
        self._lock = write_lock

    async def one(self, stmt: Stmt, params: Params) -> Row | None:
        row: Row | None = self._read.execute(stmt.sql, params).fetchone()
        return row

    async def all(self, stmt: Stmt, params: Params) -> Sequence[Row]:
        rows: list[Row] = self._read.execute(stmt.sql, params).fetchall()
        return rows

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[HotTx]:
        async with self._lock:
            conn = self._write
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._tx
            except BaseException:
                self._tx.take_after_commit()
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            callbacks = self._tx.take_after_commit()
            try:
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        for fn in callbacks:
            fn()

    async def close(self) -> None:
        self._read.close()
        self._write.close()
