"""What every flow needs, built once by the server and passed around."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authcore.config import Settings
from authcore.crypto.seal import Sealer
from authcore.errors import ResourceExhausted
from authcore.flows.challenges import ChallengeStore, SqlChallengeStore
from authcore.flows.lockouts import LockoutStore, SqlLockoutStore
from authcore.limits.base import RateLimit, RateLimiter
from authcore.store.write_lock import SqliteWriteLock
from authcore.tokens.jwt import TokenSigner

P = ParamSpec("P")
T = TypeVar("T")


class FileOffsetClock:
    """time.time() plus the seconds written in a file: the sandbox's
    controllable clock, so tokens and lockouts can be made to expire without
    waiting. Read on every call (sandbox only, so the cost doesn't matter and
    no write is ever missed)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self) -> float:
        try:
            offset = float(self.path.read_text().strip() or 0)
        except (OSError, ValueError):
            offset = 0.0
        return time.time() + offset


# How much less CPU share a hashing thread gets than an event loop when both
# want a core: at nice 19 the kernel's weight is 15 against 1024, so argon2
# soaks up idle CPU and seldom delays a request that only needs the loop.
HASHING_NICENESS = 19


def _lower_thread_priority() -> None:
    # Linux applies setpriority to the single thread named by its TID. Raising
    # niceness needs no privilege; where it isn't supported, hashing simply
    # competes on equal terms.
    with contextlib.suppress(OSError, AttributeError):
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid)
                       + HASHING_NICENESS)


def hashing_executor(threads: int) -> ThreadPoolExecutor:
    """Threads for argon2 (and other CPU-bound calls) at the lowest priority:
    a storm of password logins then takes only the CPU the event loop leaves,
    and TOTP, passkey and SCIM requests keep their latency."""
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="authcore-hash",
                              initializer=_lower_thread_priority)


@dataclass
class Core:
    settings: Settings
    db: async_sessionmaker[AsyncSession]
    sealer: Sealer
    # HMAC key for one-time and temporary codes, derived from the master key
    # so a database dump alone can't brute-force 6-digit codes offline.
    code_key: bytes
    signer: TokenSigner
    limiter: RateLimiter
    executor: Executor | None = None
    clock: Callable[[], float] = field(default=time.time)
    # SQLite allows one writer: write transactions queue on this lock (see
    # store/write_lock.py) instead of SQLite's sleeping busy handler. None on
    # PostgreSQL, where row locks do the job.
    write_lock: SqliteWriteLock | None = None
    # Lockout counters and challenge state: in the database, or in Redis in
    # the production topology (server.build_runtime chooses).
    lockouts: LockoutStore = field(default_factory=SqlLockoutStore)
    challenges: ChallengeStore = field(default_factory=SqlChallengeStore)

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A short write transaction, committed on exit. Keep slow work
        (argon2) out of it: on SQLite it holds the database's write lock."""
        guard = self.write_lock or contextlib.nullcontext()
        # The lock is let go once the commit is done: closing the session
        # then hands the connection back to the pool, whose reset-on-return
        # is one more round trip that other writers need not wait for.
        async with self.db() as session:
            async with guard, session.begin():
                yield session

    async def rate_limit(self, *, client_ip: str = "", user_key: str = "") -> None:
        """Per client IP and, when the user is known, per user; RESOURCE_EXHAUSTED
        (429 with Retry-After over REST) when either is spent."""
        limits = self.settings.rate_limits
        checks = []
        if client_ip:
            checks.append((f"ip:{client_ip}", RateLimit(limits.per_ip_per_minute, 60.0)))
        if user_key:
            checks.append((f"user:{user_key}", RateLimit(limits.per_user_per_minute, 60.0)))
        for key, limit in checks:
            decision = await self.limiter.hit(key, limit)
            if not decision.allowed:
                raise ResourceExhausted("Too many requests; retry later.",
                                        retry_after=decision.retry_after)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.db() as session:
            yield session

    async def blocking(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run CPU-bound work (argon2) off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: fn(*args, **kwargs))

    async def blocking_after(self, db: AsyncSession, fn: Callable[P, T], *args: P.args,
                             **kwargs: P.kwargs) -> T:
        """`blocking`, after handing `db`'s connection back to the pool.

        In a login storm most logins wait for a hashing thread; if each held
        a pooled connection meanwhile, the pool would run dry and every
        other request (a TOTP complete needs one for a few milliseconds)
        would queue behind argon2. Closing keeps the loaded objects usable
        (detached, not expired); `db` starts a new transaction if used again.
        """
        await db.close()
        return await self.blocking(fn, *args, **kwargs)
