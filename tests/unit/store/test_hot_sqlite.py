"""SqliteHot: the hot paths' raw sqlite3 store, on the event loop."""

from __future__ import annotations

import asyncio

import pytest

from authcore.store.hot import statements as q
from authcore.store.hot.queries import insert_audit_event
from authcore.store.hot.sqlite import SqliteHot

COUNT = q._stmt("count_audit", "SELECT count(*) AS n FROM audit_events WHERE event = :event")


async def _count(hot: SqliteHot, event: str) -> int:
    row = await hot.one(COUNT, {"event": event})
    assert row is not None
    return int(row["n"])


async def test_a_transaction_commits_on_exit(hot: SqliteHot) -> None:
    async with hot.transaction() as tx:
        await insert_audit_event(tx, event="e1", outcome="ok", now=1.0)
        await insert_audit_event(tx, event="e1", outcome="ok", now=2.0)
        # Reads go through another connection: nothing is visible before COMMIT.
        assert await _count(hot, "e1") == 0
    assert await _count(hot, "e1") == 2


async def test_an_exception_rolls_everything_back(hot: SqliteHot) -> None:
    with pytest.raises(RuntimeError):
        async with hot.transaction() as tx:
            await insert_audit_event(tx, event="e2", outcome="ok", now=1.0)
            raise RuntimeError("the outcome was refused")
    assert await _count(hot, "e2") == 0
    # The connection is usable again.
    async with hot.transaction() as tx:
        await insert_audit_event(tx, event="e2", outcome="ok", now=1.0)
    assert await _count(hot, "e2") == 1


async def test_the_loop_does_not_tick_inside_a_transaction(hot: SqliteHot) -> None:
    """BEGIN..COMMIT runs in one go: the write lock is held for the
    statements' own time only. A control shows the probe does tick when the
    body awaits real I/O."""
    ticks = 0
    stop = False

    async def probe() -> None:
        nonlocal ticks
        while not stop:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(probe())
    await asyncio.sleep(0)
    async with hot.transaction() as tx:
        before = ticks
        for i in range(50):
            await insert_audit_event(tx, event="e3", outcome="ok", now=float(i))
        inside = ticks - before
    async with hot.transaction() as tx:
        before = ticks
        await asyncio.sleep(0.01)
        control = ticks - before
        await insert_audit_event(tx, event="e3", outcome="ok", now=0.0)
    stop = True
    await task
    assert inside == 0
    assert control > 0


async def test_writers_queue_on_the_write_lock(hot: SqliteHot) -> None:
    """Concurrent transactions of one process never overlap (one writer)."""
    active = 0
    seen = 0

    async def write(i: int) -> None:
        nonlocal active, seen
        async with hot.transaction() as tx:
            active += 1
            seen = max(seen, active)
            await insert_audit_event(tx, event="e4", outcome="ok", now=float(i))
            active -= 1

    await asyncio.gather(*(write(i) for i in range(20)))
    assert seen == 1
    assert await _count(hot, "e4") == 20
