"""Why a password storm doesn't stall other logins: argon2 runs on threads
at the lowest CPU priority, and a login waiting for one has handed its
database connection back to the pool first."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy.exc
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from authcore.config import Settings
from authcore.flows.context import HASHING_NICENESS, Core, hashing_executor
from authcore.server import build_runtime
from authcore.store.db import migrate, session_factory


def niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_hashing_threads_run_at_the_lowest_priority() -> None:
    executor = hashing_executor(1)
    try:
        base = niceness()
        assert executor.submit(niceness).result(5) == min(19, base + HASHING_NICENESS)
        assert niceness() == base  # only the hashing thread is lowered
    finally:
        executor.shutdown()


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("hashing")
    settings = Settings(data_dir=data_dir)
    migrate(settings.effective_database_url)  # runs its own event loop
    return settings


@pytest.fixture(scope="module")
async def core(settings: Settings) -> AsyncIterator[Core]:
    rt = await build_runtime(settings)
    # A pool of one connection: a second session gets one only if the first
    # gave its connection back.
    engine = create_async_engine(settings.effective_database_url, pool_size=1,
                                 max_overflow=0, pool_timeout=1)
    rt.core.db = session_factory(engine)
    yield rt.core
    await engine.dispose()
    await rt.engine.dispose()
    if rt.core.executor is not None:
        rt.core.executor.shutdown(wait=False)


async def test_waiting_for_a_hash_frees_the_connection(core: Core) -> None:
    done = threading.Event()
    async with core.read() as db:
        await db.execute(select(1))  # holds the pool's only connection
        hashing = asyncio.create_task(core.blocking_after(db, done.wait, 10))
        await asyncio.sleep(0.05)
        async with core.read() as other:
            assert (await other.execute(select(2))).scalar_one() == 2
        done.set()
        assert await hashing is True
        # The first session is still usable: it takes a connection again.
        assert (await db.execute(select(3))).scalar_one() == 3


async def test_control_plain_blocking_keeps_the_connection(core: Core) -> None:
    """What the test above guards against: without the hand-back, the
    second session times out waiting for the pool."""
    done = threading.Event()
    async with core.read() as db:
        await db.execute(select(1))
        hashing = asyncio.create_task(core.blocking(done.wait, 10))
        try:
            with pytest.raises(sqlalchemy.exc.TimeoutError):
                async with core.read() as other:
                    await other.execute(select(2))
        finally:
            done.set()
            await hashing
