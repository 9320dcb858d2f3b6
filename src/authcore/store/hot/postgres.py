"""The hot paths on PostgreSQL: asyncpg itself, no SQLAlchemy in between.

asyncpg prepares each statement once per connection (its statement cache,
keyed by the text, which never changes here). There is no pre-ping: a
connection that died (PostgreSQL restarted, a proxy dropped it) fails its
first statement; then every pooled connection is expired (they all
connected to the same server) and the statement runs once more on a fresh
connection, which is safe because nothing was written yet (a read, or the
BEGIN of a write transaction). A failure later in a transaction is not
retried: the caller gets 503 and nothing was committed. Connections come
back to the pool without asyncpg's reset query (one more round trip per
call): nothing here leaves session state behind.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]

from authcore.store.hot import HotDb, HotTx, Params, Row
from authcore.store.hot.statements import Stmt
from authcore.store.pg_urls import asyncpg_dsn

T = TypeVar("T")

# More than the hot statements, so none is ever re-prepared.
STATEMENT_CACHE = 256
# As SQLAlchemy's pool_timeout: a request that can't get a connection in
# this long is refused (503) rather than left waiting.
ACQUIRE_TIMEOUT_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 10.0
# Idle connections close sooner than asyncpg's default (300 s): every worker
# of every replica has its own pool, and PostgreSQL's max_connections is
# shared by all of them.
IDLE_SECONDS = 30.0

# A connection, not the server, is gone: worth one more try on a new one.
# A backend the server terminated (a restart, pg_terminate_backend) leaves
# its FATAL message unread on the idle socket; the next statement then finds
# the protocol mid-error (InternalClientError) or reads that message (57P).
STALE = (asyncpg.exceptions.ConnectionDoesNotExistError, asyncpg.PostgresConnectionError,
         asyncpg.exceptions.InternalClientError, asyncpg.exceptions.OperatorInterventionError,
         ConnectionError)


# A write on a server that is (now) a standby: every pooled connection
# points at a demoted primary. The call fails (503, the client retries) and
# the pool's connections are replaced, so the next ones look for the primary
# (target_session_attrs=read-write) instead of failing until a restart.
READ_ONLY = asyncpg.exceptions.ReadOnlySQLTransactionError


async def _no_reset(conn: Any) -> None:
    return None


_NUMBERED = re.compile(r"\$(\d+)")


@functools.lru_cache(maxsize=64)
def _as_one_statement(stmts: tuple[Stmt, ...]) -> str:
    """Several writes as one statement: each a data-modifying CTE of a
    SELECT, so they commit or fail together in one round trip. PostgreSQL
    runs every data-modifying CTE to completion whether or not the outer
    query reads it; they see one snapshot, which is fine for inserts that
    don't read each other's rows."""
    if len(stmts) == 1:
        return stmts[0].pg
    parts, offset = [], 0
    for i, stmt in enumerate(stmts):
        def shift(match: re.Match[str], by: int = offset) -> str:
            return f"${int(match.group(1)) + by}"
        parts.append(f"w{i} AS ({_NUMBERED.sub(shift, stmt.pg)})")
        offset += len(stmt.params)
    return f"WITH {', '.join(parts)} SELECT 1"


class _Tx(HotTx):
    """Begins on its first statement: a call whose transaction turns out to
    have nothing for PostgreSQL (its challenge lives in Redis) costs no
    connection and no round trip. Inserts are held (`insert`) and go out
    as one statement before the next other statement, or at the end; a
    transaction of held inserts only is that one statement, with no BEGIN
    and COMMIT (a single statement is atomic)."""

    def __init__(self, hot: PostgresHot) -> None:
        self._hot = hot
        self.conn: Any = None
        self.held: list[tuple[Stmt, Params]] = []

    async def _conn(self) -> Any:
        if self.conn is None:
            self.conn = await self._hot._begin()
        if self.held:
            await self.flush(self.conn)
        return self.conn

    async def insert(self, stmt: Stmt, params: Params) -> None:
        self.held.append((stmt, params))

    def held_statement(self) -> tuple[str, list[Any]]:
        sql = _as_one_statement(tuple(stmt for stmt, _ in self.held))
        args = [arg for stmt, params in self.held for arg in stmt.pg_args(params)]
        return sql, args

    async def flush(self, conn: Any) -> None:
        sql, args = self.held_statement()
        self.held = []
        with _lost_as_stale():
            await conn.execute(sql, *args)

    async def execute(self, stmt: Stmt, params: Params) -> int:
        conn = await self._conn()
        with _lost_as_stale():
            status = await conn.execute(stmt.pg, *stmt.pg_args(params))
        # "UPDATE 1", "INSERT 0 1", "DELETE 0"
        return int(status.rsplit(" ", 1)[-1])

    async def one(self, stmt: Stmt, params: Params) -> Row | None:
        conn = await self._conn()
        with _lost_as_stale():
            row: Row | None = await conn.fetchrow(stmt.pg, *stmt.pg_args(params))
        return row

    async def all(self, stmt: Stmt, params: Params) -> Sequence[Row]:
        conn = await self._conn()
        with _lost_as_stale():
            rows: list[Row] = await conn.fetch(stmt.pg, *stmt.pg_args(params))
        return rows


@contextlib.contextmanager
def _lost_as_stale() -> Iterator[None]:
    """asyncpg detaches a connection the server closed from its pool proxy,
    whose every method then raises InterfaceError ("released back to the
    pool"): for the caller that is a lost connection (503), not a bug."""
    try:
        yield
    except asyncpg.InterfaceError as exc:
        if "released back to the pool" not in str(exc):
            raise
        raise asyncpg.exceptions.ConnectionDoesNotExistError(
            "the connection to PostgreSQL was lost mid-transaction") from exc


# The transaction the current task has open: a read through the HotDb while
# it is open runs on the transaction's connection, not a second pooled one
# (calls that each hold one while waiting for another would deadlock the
# pool once as many are in flight as it has connections).
_CURRENT: contextvars.ContextVar[_Tx | None] = contextvars.ContextVar(
    "authcore_hot_pg_tx", default=None)


class PostgresHot(HotDb):
    def __init__(self, url: str, *, pool_size: int) -> None:
        self._dsn = asyncpg_dsn(url)
        self._pool_size = pool_size
        self._pool: Any = None

    async def _get_pool(self) -> Any:
        if self._pool is None:
            pool = asyncpg.create_pool(
                self._dsn, min_size=0, max_size=self._pool_size,
                statement_cache_size=STATEMENT_CACHE, reset=_no_reset,
                timeout=CONNECT_TIMEOUT_SECONDS, max_inactive_connection_lifetime=IDLE_SECONDS)
            await pool
            if self._pool is None:
                self._pool = pool
            else:
                await pool.close()
        return self._pool

    async def _run(self, fn: Callable[[Any], Awaitable[T]]) -> T:
        pool = await self._get_pool()
        try:
            try:
                async with pool.acquire(timeout=ACQUIRE_TIMEOUT_SECONDS) as conn:
                    return await fn(conn)
            except STALE:
                await pool.expire_connections()
            async with pool.acquire(timeout=ACQUIRE_TIMEOUT_SECONDS) as conn:
                return await fn(conn)
        except READ_ONLY:
            await pool.expire_connections()
            raise

    async def one(self, stmt: Stmt, params: Params) -> Row | None:
        tx = _CURRENT.get()
        if tx is not None:
            return await tx.one(stmt, params)
        args = stmt.pg_args(params)
        row: Row | None = await self._run(lambda conn: conn.fetchrow(stmt.pg, *args))
        return row

    async def all(self, stmt: Stmt, params: Params) -> Sequence[Row]:
        tx = _CURRENT.get()
        if tx is not None:
            return await tx.all(stmt, params)
        args = stmt.pg_args(params)
        rows: list[Row] = await self._run(lambda conn: conn.fetch(stmt.pg, *args))
        return rows

    async def _begin(self) -> Any:
        pool = await self._get_pool()
        for attempt in (1, 2):
            conn = await pool.acquire(timeout=ACQUIRE_TIMEOUT_SECONDS)
            try:
                await conn.execute("BEGIN")
                return conn
            except BaseException as exc:
                await pool.release(conn)
                if attempt == 2 or not isinstance(exc, STALE):
                    raise
                await pool.expire_connections()
        raise AssertionError("unreachable")

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[HotTx]:
        tx = _Tx(self)
        token = _CURRENT.set(tx)
        try:
            try:
                yield tx
            finally:
                _CURRENT.reset(token)
            if tx.conn is None:
                if tx.held:
                    # As a read, run once more on a fresh connection if the
                    # pooled one was stale: a dead connection fails before
                    # the statement reaches the server. (A connection lost
                    # after the server ran it, before its reply, is the
                    # lost-COMMIT-reply case any transaction has.)
                    sql, args = tx.held_statement()
                    tx.held = []
                    await self._run(lambda conn: conn.execute(sql, *args))
            else:
                if tx.held:
                    await tx.flush(tx.conn)
                await tx.conn.execute("COMMIT")
        except BaseException as exc:
            if isinstance(exc, READ_ONLY) and self._pool is not None:
                await self._pool.expire_connections()
            conn = tx.conn
            if conn is not None:
                try:
                    await conn.execute("ROLLBACK")
                except BaseException:
                    # Lost (asyncpg has then already detached it from the
                    # pool, and every method raises InterfaceError) or broken
                    # mid-protocol: never hand it back in an unknown state.
                    with contextlib.suppress(Exception):
                        conn.terminate()
            raise
        finally:
            if tx.conn is not None:
                await self._pool.release(tx.conn)
        for fn in tx.take_after_commit():
            fn()

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def connections_in_use(self) -> int | None:
        pool = self._pool
        if pool is None:
            return 0
        return int(pool.get_size() - pool.get_idle_size())
