"""The SQLite engine runs statements on the event loop's thread, so a write
transaction is not spread over dozens of thread hops while it holds the write
lock. Each test has a control on stock aiosqlite, where the same check fails,
so the assertions can tell the two apart."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from authcore.store.db import create_engine, session_factory
from authcore.store.models import AuditEvent, Base


async def _engine(url: str, *, inline: bool) -> AsyncEngine:
    engine = create_engine(url) if inline else create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    return engine


@pytest.fixture(params=[True, False], ids=["inline", "stock-aiosqlite"])
async def engine(request: pytest.FixtureRequest,
                 tmp_path: Path) -> AsyncIterator[tuple[AsyncEngine, bool]]:
    engine = await _engine(f"sqlite+aiosqlite:///{tmp_path / 'authcore.db'}",
                           inline=request.param)
    yield engine, request.param
    await engine.dispose()


async def test_statements_run_on_the_loop_thread(engine: tuple[AsyncEngine, bool]) -> None:
    engine, inline = engine
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        await raw.driver_connection.create_function(  # type: ignore[union-attr]
            "thread_id", 0, threading.get_ident)
        ran_on = (await conn.execute(text("SELECT thread_id()"))).scalar_one()
    assert (ran_on == threading.get_ident()) is inline


async def test_a_write_transaction_does_not_yield_to_the_loop(
        engine: tuple[AsyncEngine, bool]) -> None:
    engine, inline = engine
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    db = session_factory(engine)
    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    async with db() as session:
        async with session.begin():
            before = ticks
            for n in range(20):
                await session.execute(insert(AuditEvent), {
                    "ts": float(n), "event": "complete", "outcome": "success"})
        during = ticks - before
        count = (await session.execute(select(AuditEvent.id))).all()
    stop.set()
    await task
    assert len(count) == 20
    if inline:
        assert during == 0
    else:
        assert during > 20


async def test_dispose_closes_the_connections(tmp_path: Path) -> None:
    engine = await _engine(f"sqlite+aiosqlite:///{tmp_path / 'authcore.db'}", inline=True)
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        worker = raw.driver_connection._thread  # type: ignore[union-attr]
        assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
    await asyncio.wait_for(engine.dispose(), timeout=5)
    worker.join(timeout=5)
    assert not worker.is_alive()


async def test_sqlite_errors_keep_their_types(tmp_path: Path) -> None:
    from sqlalchemy.exc import IntegrityError

    engine = await _engine(f"sqlite+aiosqlite:///{tmp_path / 'authcore.db'}", inline=True)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t VALUES (1)"))
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 1
    finally:
        await engine.dispose()
