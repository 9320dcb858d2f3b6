"""What every flow needs, built once by the server and passed around."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authcore import metrics
from authcore.config import Settings
from authcore.crypto.seal import Sealer
from authcore.delivery.outbox import Outbox
from authcore.errors import ResourceExhausted
from authcore.flows.challenges import (
    ChallengeRecord,
    ChallengeStore,
    SqlChallengeStore,
    hot_from_redis_fields,
    invalid_token,
    missing_token,
    redis_fields,
    token_hash,
)
from authcore.flows.ghosts import GhostLockouts, MemoryGhostLockouts
from authcore.flows.lockouts import LockoutStore, SqlLockoutStore
from authcore.flows.revocation import CrlFile
from authcore.identifiers import email_key, username_key
from authcore.limits.base import Decision, RateLimit, RateLimiter
from authcore.limits.lockout import LockoutPolicy, LockoutState
from authcore.store.db import take_after_commit
from authcore.store.hot import HotDb, HotTx
from authcore.store.hot.queries import AppRow, UserRow
from authcore.store.hot.redis import RedisHot
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


def _check_decision(decision: Decision,
                    refused: Callable[[float], Exception] | None = None) -> None:
    if not decision.allowed:
        # Only throttle_delivery passes its own refusal.
        metrics.rate_limited("auth" if refused is None else "delivery")
        if refused is not None:
            raise refused(decision.retry_after)
        raise ResourceExhausted("Too many requests; retry later.",
                                retry_after=decision.retry_after)


_PHONE_CHANNELS = frozenset({"SMS", "VOICE"})


def delivery_address(channel: str, address: str) -> str:
    """The address a message reaches, as the delivery limits count it: a
    phone's digits (however it was written), an email folded as logins match
    it (identifiers.email_key), a push device's id as is."""
    if channel in _PHONE_CHANNELS:
        return "phone\0" + "".join(c for c in address if c.isdigit())
    if channel == "EMAIL":
        return "email\0" + (email_key(address.strip()) or "")
    return channel.lower() + "\0" + address


def _delivery_refused(retry_after: float) -> ResourceExhausted:
    # The same words whichever limit refused and whoever the address is: the
    # answer must not tell an account from a stranger.
    return ResourceExhausted("Too many codes sent; wait before asking for another.",
                             retry_after=retry_after, reason="delivery_rate_limited")


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
    # The hot paths' statements on the raw driver (store/hot); `db` is the
    # ORM for everything else.
    hot: HotDb
    # Where flows queue the messages they send (delivery/outbox.py).
    outbox: Outbox
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
    # With Redis: the hot paths' combined scripts (store/hot/redis.py), so a
    # complete costs two Redis round trips, not one per counter and check.
    redis_hot: RedisHot | None = None
    # Failure counters of names that are no account (flows/ghosts.py): in
    # memory, or in Redis beside the rate limits.
    ghosts: GhostLockouts = field(default_factory=MemoryGhostLockouts)
    # AUTHCORE_MTLS_CRL and AUTHCORE_SMART_CREDENTIAL_CRL (flows/revocation.py),
    # when configured.
    mtls_crls: CrlFile | None = None
    smart_credential_crls: CrlFile | None = None

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
            for fn in take_after_commit(session):
                fn()

    def _limits(self, client_ip: str, user_key: str) -> list[tuple[str, RateLimit]]:
        limits = self.settings.rate_limits
        checks = []
        if client_ip:
            checks.append((f"ip:{client_ip}", RateLimit(limits.per_ip_per_minute, 60.0)))
        if user_key:
            # Folded as logins match names: "JDOE" and "jdoe" share a budget.
            checks.append((f"user:{username_key(user_key)}",
                           RateLimit(limits.per_user_per_minute, 60.0)))
        return checks

    async def rate_limit(self, *, client_ip: str = "", user_key: str = "") -> None:
        """Per client IP and, when the user is known, per user; RESOURCE_EXHAUSTED
        (429 with Retry-After over REST) when either is spent."""
        await self._enforce(self._limits(client_ip, user_key))

    async def _enforce(self, checks: list[tuple[str, RateLimit]], *,
                       refused: Callable[[float], Exception] | None = None) -> None:
        # In order; a refusal leaves the later keys uncounted (Redis does the
        # same in one script).
        if not checks:
            return
        if self.redis_hot is not None:
            _check_decision(await self.redis_hot.hit_all(checks), refused)
            return
        for key, limit in checks:
            _check_decision(await self.limiter.hit(key, limit), refused)

    def _delivery_key(self, kind: str, value: str) -> str:
        # Keyed hash: the limiter's keys (in Redis, shared infrastructure)
        # must not hold addresses, and a plain SHA-256 of a phone number is
        # reversed by trying all ten billion of them.
        digest = hmac.new(self.code_key, f"delivery-limit\0{kind}\0{value}".encode(),
                          hashlib.sha256).hexdigest()
        return f"dl-{kind}:{digest[:32]}"

    async def throttle_delivery(self, channel: str, *, address: str = "", username: str = "",
                                client_ip: str = "") -> None:
        """Count one message about to be sent on `channel`; every flow that
        sends a code calls this before its write transaction. Against message
        bombing: `address` (normalised per channel, so SMS and VOICE share a
        phone's limits) and `username` (what a caller asked for, for sends
        that must not reveal whether it is an account) each get the resend
        interval and the hourly cap, `client_ip` its own hourly cap.
        RESOURCE_EXHAUSTED `delivery_rate_limited` with the wait when spent."""
        limits = self.settings.delivery_limits
        recipients = []
        if address:
            recipients.append(("to", delivery_address(channel, address)))
        if username:
            kind = "phone" if channel in _PHONE_CHANNELS else channel.lower()
            recipients.append(("user", f"{kind}\0{username_key(username)}"))
        checks: list[tuple[str, RateLimit]] = []
        # The interval first: a resend clicked too early then costs nothing
        # of the hourly caps.
        for kind, value in recipients:
            key = self._delivery_key(kind, value)
            if limits.resend_seconds:
                checks.append((key + ":gap", RateLimit(1, float(limits.resend_seconds))))
            if limits.per_address_per_hour:
                checks.append((key + ":hour", RateLimit(limits.per_address_per_hour, 3600.0)))
        if client_ip and limits.per_ip_per_hour:
            checks.append((self._delivery_key("ip", client_ip),
                           RateLimit(limits.per_ip_per_hour, 3600.0)))
        await self._enforce(checks, refused=_delivery_refused)

    async def open_challenge(
        self, *, token: str, client_ip: str, user_key: str, now: float,
    ) -> tuple[ChallengeRecord, UserRow | None, AppRow, dict[str, LockoutState] | None]:
        """The first step of a complete: the rate limits, then the challenge
        behind `token` with its application and user, and (with Redis) the
        user's lockout counters, all in one Redis script; None for the
        counters means "read them with `lockouts.hot_states`"."""
        if self.redis_hot is None:
            await self.rate_limit(client_ip=client_ip, user_key=user_key)
            ch, user, app = await self.challenges.hot_load(self.hot, token=token, now=now)
            return ch, user, app, None
        checks = self._limits(client_ip, user_key)
        if not token:
            await self.rate_limit(client_ip=client_ip, user_key=user_key)
            raise missing_token()
        opened = await self.redis_hot.open(checks, token_digest=token_hash(token))
        _check_decision(opened.decision)
        ch, user, app = await hot_from_redis_fields(self.hot, redis_fields(opened.challenge),
                                                    now=now)
        return ch, user, app, opened.lockouts

    async def close_challenge(
        self, tx: HotTx, *, challenge_id: str, now: float, user_pk: str | None = None,
        authenticator: str = "", outcome: str = "", policy: LockoutPolicy | None = None,
        had_failures: bool = True, state: dict[str, Any] | None = None,
    ) -> tuple[LockoutState | None, bool]:
        """Use the challenge up and record the outcome on the user's lockout
        counter ('S' success, 'F' failure, '' none), inside the call's write
        transaction; with Redis, one script. Returns (state, refused): for a
        failure the counter after it, refused when it was locked already
        (nothing counted); for a success the lock that refused the reset.
        invalid_token when a concurrent claim won."""
        if self.redis_hot is not None:
            closed = await self.redis_hot.close(
                challenge_id=challenge_id, now=now, user_pk=user_pk,
                authenticator=authenticator, outcome=outcome, policy=policy, state=state)
            if not closed.claimed:
                raise invalid_token()
            return closed.lockout, closed.refused
        await self.challenges.hot_claim(tx, challenge_id=challenge_id, now=now, state=state)
        if user_pk is None or not outcome:
            return None, False
        if outcome == "S":
            if not had_failures:
                return None, False
            lock = await self.lockouts.hot_record_success(
                tx, user_pk=user_pk, authenticator=authenticator, now=now)
            return lock, lock is not None
        assert policy is not None
        counted = await self.lockouts.hot_record_failure(
            tx, user_pk=user_pk, authenticator=authenticator, policy=policy, now=now)
        return counted.state, counted.refused

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
