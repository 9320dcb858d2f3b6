"""SQLite's one writer, queued instead of retried.

SQLite lets one connection write at a time; the others get SQLITE_BUSY and
its busy handler retries them after sleeps of 1, 2, 5 ... up to 100 ms. Under
load that turns contention into second-long stalls. Writers here queue
instead: on an asyncio lock within the process, then on an exclusive
``flock`` of a file next to the database across the processes of
``authcore serve --workers N``. The kernel hands the file lock over the moment
it is released, so a write waits only for the writes ahead of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType


class SqliteWriteLock:
    """An async context manager held around every write transaction."""

    def __init__(self, database: Path | None) -> None:
        self._local = asyncio.Lock()
        # Strong references: the loop keeps only weak ones to its tasks.
        self._abandoned: set[asyncio.Task[None]] = set()
        self._fd: int | None = None
        self._thread: ThreadPoolExecutor | None = None
        if database is not None:
            # Not the database file itself: SQLite's own locks live there.
            self._fd = os.open(f"{database}-authcore-write.lock", os.O_RDWR | os.O_CREAT, 0o600)
            # One thread, because only the holder of the local lock ever waits
            # on the file lock; a blocking flock wakes at once when released.
            self._thread = ThreadPoolExecutor(max_workers=1,
                                              thread_name_prefix="authcore-sqlite-lock")

    async def __aenter__(self) -> None:
        await self._local.acquire()
        if self._fd is None or self._thread is None:
            return
        fd = self._fd
        try:
            try:
                # Uncontended (the common case): no thread hop at all.
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            waiting = asyncio.get_running_loop().run_in_executor(
                self._thread, fcntl.flock, fd, fcntl.LOCK_EX)
            await asyncio.shield(waiting)
        except asyncio.CancelledError:
            # Only the await is cancellable. The thread goes on waiting for
            # the file lock: keep the local lock until it has it and has let
            # go again, or the next writer of this process would share the
            # same (already held) lock.
            task = asyncio.get_running_loop().create_task(self._abandon(waiting))
            self._abandoned.add(task)
            task.add_done_callback(self._abandoned.discard)
            raise
        except BaseException:
            self._local.release()
            raise

    async def _abandon(self, waiting: asyncio.Future[None]) -> None:
        try:
            with contextlib.suppress(OSError):
                await waiting
                self._unlock_file()
        finally:
            self._local.release()

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            self._unlock_file()
        finally:
            self._local.release()

    def _unlock_file(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._thread is not None:
            self._thread.shutdown(wait=False, cancel_futures=True)
            self._thread = None
