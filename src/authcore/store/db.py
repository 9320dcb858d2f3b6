"""Engine creation and schema migration."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession

from authcore.store import sqlite_inline
from authcore.store.pg_urls import sqlalchemy_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; busy_timeout makes a second
    # writer (another worker process) wait instead of failing at once.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """`pool_size` (PostgreSQL) is per process: every worker and replica has
    its own pool, plus up to twice as many overflow connections in bursts."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 10},
                                     module=sqlite_inline.dbapi())
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # A libpq host list (h1:5432,h2:5432) becomes SQLAlchemy's host= form.
    engine = create_async_engine(sqlalchemy_url(url), pool_size=pool_size,
                                 max_overflow=2 * pool_size, pool_pre_ping=True)
    event.listen(engine.sync_engine, "handle_error", _read_only_is_a_disconnect)
    return engine


# SQLSTATE read_only_sql_transaction: the server was a primary and is now a
# standby (a failover), or is read-only for maintenance.
READ_ONLY_SQLSTATE = "25006"


def _read_only_is_a_disconnect(context: Any) -> None:
    """A write refused as read-only means the pool's connections point at a
    demoted server: treated as a disconnect, SQLAlchemy invalidates the
    pool, so new connections look for the primary again (with
    target_session_attrs=read-write) instead of failing until a restart."""
    if getattr(context.original_exception, "sqlstate", None) == READ_ONLY_SQLSTATE:
        context.is_disconnect = True


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


_AFTER_COMMIT = "authcore.after_commit"


def after_commit(session: AsyncSession, fn: Callable[[], None]) -> None:
    """Call `fn` once the `Core.write()` transaction of `session` has
    committed (never after a rollback), as `HotTx.after_commit` does for
    the hot paths. `fn` must be quick and must not raise."""
    session.info.setdefault(_AFTER_COMMIT, []).append(fn)


def take_after_commit(session: AsyncSession) -> list[Callable[[], None]]:
    fns: list[Callable[[], None]] = session.info.pop(_AFTER_COMMIT, [])
    return fns


def alembic_config(url: str) -> Config:
    # Imported here: a serving worker never migrates, and Alembic's modules
    # are ~10 MB of every worker's RSS.
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation would choke on a "%" in a password.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Bring the schema to head. Blocking; call before the event loop starts."""
    try:
        sqlalchemy_url(url)  # the first use of the URL: refuse a bad host list clearly
    except ValueError as exc:
        raise SystemExit(f"AUTHCORE_DATABASE_URL: {exc}") from None
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    from alembic import command

    command.upgrade(alembic_config(url), "head")


def sync_pragmas_listener(engine: Engine) -> None:
    event.listen(engine, "connect", _sqlite_pragmas)
