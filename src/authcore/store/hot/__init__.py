"""The hot paths' storage: prebuilt statements on the raw driver, no ORM.

`HotDb` is what flows hold as `core.hot`: reads run one statement each
(no connection is held between them, so a login waiting for argon2 holds
none), and `transaction()` is the one short write transaction of a call.
The statements are in `statements.py`, the typed reads in `queries.py`;
`sqlite.py` and `postgres.py` run them. SQLAlchemy stays for the schema,
the migrations, the admin API and SCIM writes, where its cost doesn't
matter.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from authcore.store.hot.statements import Stmt

Params = Mapping[str, Any]


class Row(Protocol):
    """A result row: sqlite3.Row and asyncpg.Record both index by column name."""

    def __getitem__(self, key: str) -> Any: ...

    def keys(self) -> Any: ...


class Fetcher(Protocol):
    async def one(self, stmt: Stmt, params: Params) -> Row | None: ...

    async def all(self, stmt: Stmt, params: Params) -> Sequence[Row]: ...


class HotTx(ABC):
    """A write transaction: statements run in order and commit together."""

    @abstractmethod
    async def execute(self, stmt: Stmt, params: Params) -> int:
        """Run a write; returns the number of rows it changed."""

    async def insert(self, stmt: Stmt, params: Params) -> None:
        """Run a write whose row count nobody reads (a session, an audit
        row). The driver may hold it and send it with the next statement
        or the commit: on PostgreSQL the writes held run as one statement,
        and a transaction of nothing else needs no BEGIN and COMMIT."""
        await self.execute(stmt, params)

    @abstractmethod
    async def one(self, stmt: Stmt, params: Params) -> Row | None: ...

    @abstractmethod
    async def all(self, stmt: Stmt, params: Params) -> Sequence[Row]: ...

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Call `fn` once the transaction has committed (never after a
        rollback): e.g. wake the delivery dispatcher for a message it can
        only see then. `fn` must be quick and must not raise."""
        self.__dict__.setdefault("_after_commit", []).append(fn)

    def take_after_commit(self) -> list[Callable[[], None]]:
        """The drivers' side: what `after_commit` collected, now forgotten."""
        fns: list[Callable[[], None]] = self.__dict__.pop("_after_commit", [])
        return fns


class HotDb(ABC):
    @abstractmethod
    async def one(self, stmt: Stmt, params: Params) -> Row | None:
        """One row of a read (autocommit: no transaction held)."""

    @abstractmethod
    async def all(self, stmt: Stmt, params: Params) -> Sequence[Row]: ...

    @abstractmethod
    def transaction(self) -> contextlib.AbstractAsyncContextManager[HotTx]:
        """The call's write transaction: committed on exit, rolled back on
        an exception. Nothing slow may run inside it: on SQLite it holds the
        database's write lock (and runs from BEGIN to COMMIT without
        yielding to the loop, as long as nothing inside awaits I/O)."""

    async def close(self) -> None:
        return None

    def connections_in_use(self) -> int | None:
        """Pooled connections checked out now, for the metrics; None where
        the driver has no pool (SQLite's two fixed connections)."""
        return None


__all__ = ["Fetcher", "HotDb", "HotTx", "Params", "Row", "Stmt"]
