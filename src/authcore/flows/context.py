"""What every flow needs, built once by the server and passed around."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
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

    async def blocking(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run CPU-bound work (argon2) off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: fn(*args, **kwargs))
