"""SqliteWriteLock: the file lock other worker processes see, taken and
released around a write, and never lost or shared when a waiter is
cancelled. Another process is stood in for by a second open file
description of the lock file: flock treats it exactly as another process."""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from authcore.store.write_lock import SqliteWriteLock


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "authcore.db"


@pytest.fixture
def lock(database: Path) -> Iterator[SqliteWriteLock]:
    lock = SqliteWriteLock(database)
    yield lock
    lock.close()


@pytest.fixture
def other_process(database: Path, lock: SqliteWriteLock) -> Iterator[int]:
    fd = os.open(f"{database}-authcore-write.lock", os.O_RDWR)
    yield fd
    os.close(fd)


def held_elsewhere(fd: int) -> bool:
    """Whether a writer other than `fd`'s holder has the lock."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


async def test_holds_the_file_lock_only_inside(lock: SqliteWriteLock, other_process: int) -> None:
    assert not held_elsewhere(other_process)
    async with lock:
        assert held_elsewhere(other_process)
    assert not held_elsewhere(other_process)


async def test_waits_for_another_process(lock: SqliteWriteLock, other_process: int) -> None:
    fcntl.flock(other_process, fcntl.LOCK_EX)
    entered = asyncio.Event()

    async def write() -> None:
        async with lock:
            entered.set()

    task = asyncio.create_task(write())
    await asyncio.sleep(0.2)
    assert not entered.is_set()
    fcntl.flock(other_process, fcntl.LOCK_UN)
    await asyncio.wait_for(task, 5)
    assert entered.is_set()


async def test_writers_of_one_process_take_turns(lock: SqliteWriteLock) -> None:
    inside = 0
    most = 0

    async def write() -> None:
        nonlocal inside, most
        async with lock:
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.005)
            inside -= 1

    await asyncio.wait_for(asyncio.gather(*(write() for _ in range(20))), 10)
    assert most == 1


async def test_cancelled_waiter_neither_leaks_nor_shares_the_lock(
        lock: SqliteWriteLock, other_process: int) -> None:
    fcntl.flock(other_process, fcntl.LOCK_EX)
    waiter = asyncio.create_task(lock.__aenter__())
    await asyncio.sleep(0.1)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter

    entered = asyncio.Event()
    leave = asyncio.Event()

    async def next_writer() -> None:
        async with lock:
            entered.set()
            await leave.wait()

    task = asyncio.create_task(next_writer())
    await asyncio.sleep(0.1)
    assert not entered.is_set()  # the other process still holds it
    fcntl.flock(other_process, fcntl.LOCK_UN)
    await asyncio.wait_for(entered.wait(), 5)
    # The abandoned acquisition let go before the next writer got in, and
    # that let-go did not release the next writer's hold.
    await asyncio.sleep(0.05)
    assert held_elsewhere(other_process)
    leave.set()
    await asyncio.wait_for(task, 5)
    assert not held_elsewhere(other_process)


async def test_without_a_file_it_is_a_local_lock() -> None:
    lock = SqliteWriteLock(None)
    async with lock:
        assert lock._local.locked()
    assert not lock._local.locked()
    lock.close()

