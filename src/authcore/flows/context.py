"""What every flow needs, built once by the server and passed around."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authcore.config import Settings
from authcore.crypto.seal import Sealer
from authcore.limits.base import RateLimiter
from authcore.tokens.jwt import TokenSigner

P = ParamSpec("P")
T = TypeVar("T")


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
    # SQLite allows one writer. Queueing this process's write transactions on
    # an asyncio lock keeps them off SQLite's busy handler, which sleeps in
    # growing steps and turns contention into second-long stalls. None on
    # PostgreSQL, where row locks do the job.
    write_lock: asyncio.Lock | None = None

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A short write transaction, committed on exit. Keep slow work
        (argon2) out of it: on SQLite it holds the database's write lock."""
        guard = self.write_lock or contextlib.nullcontext()
        async with guard, self.db() as session, session.begin():
            yield session

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.db() as session:
            yield session

    async def blocking(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run CPU-bound work (argon2) off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: fn(*args, **kwargs))
