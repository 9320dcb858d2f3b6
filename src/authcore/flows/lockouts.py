"""Failure counters per user and authenticator, shared by every replica: in
the database (`lockouts` table), or in Redis when AUTHCORE_REDIS_URL is set.
The arithmetic is limits.lockout's.

Flows reach the store as `core.lockouts`. Every method takes the flow's
database session; the Redis store ignores it, and its writes take effect at
once rather than at commit. That only ever errs on the closed side: a
failure counted in a transaction that then fails still counts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from authcore import metrics
from authcore.limits.lockout import (
    LockoutPolicy,
    LockoutState,
    after_failure,
    is_locked,
)
from authcore.store.hot import Fetcher, HotTx
from authcore.store.hot import queries as hq
from authcore.store.hot import statements as q
from authcore.store.hot.redis import float_text, parse_lockout
from authcore.store.models import Lockout
from authcore.store.redis import RedisKeys, redis_errors
from authcore.store.redis_ha import AckedScript

__all__ = ["Counted", "LockoutStore", "RedisLockoutStore", "SqlLockoutStore"]


@dataclass(frozen=True)
class Counted:
    """The outcome of recording a failure."""

    state: LockoutState
    # The authenticator was already locked when the failure came to be
    # recorded: nothing was counted, and the flow must answer "locked", not
    # the verdict. Checking the lock only before verifying is not enough:
    # attempts verified concurrently would each get a verdict, so an attacker
    # holding many challenges would get more guesses than the limit.
    refused: bool = False


class LockoutStore(ABC):
    @abstractmethod
    async def states(self, db: AsyncSession, *, user_pk: str) -> dict[str, LockoutState]:
        """The user's counters by authenticator; an absent one is clear."""

    @abstractmethod
    async def record_failure(self, db: AsyncSession, *, user_pk: str, authenticator: str,
                             policy: LockoutPolicy, now: float) -> Counted:
        """Count one failure atomically, unless the authenticator is locked
        at this moment (then `refused`). Of N concurrent failures on any
        replicas, exactly those before the lock count."""

    @abstractmethod
    async def record_success(self, db: AsyncSession, *, user_pk: str, authenticator: str,
                             now: float) -> LockoutState | None:
        """Reset the authenticator's counter, atomically unless it is locked
        at this moment; then nothing changes and the lock is returned (the
        flow must refuse: a lock taken meanwhile wins over a right answer)."""

    @abstractmethod
    async def clear_all(self, db: AsyncSession, *, user_pk: str) -> None:
        """Reset every counter of the user (admin unlock, user deleted)."""

    # The hot paths' variants: reads on the raw driver, writes in the call's
    # one write transaction (store/hot). Same answers as the methods above.

    @abstractmethod
    async def hot_states(self, hot: Fetcher, *, user_pk: str) -> dict[str, LockoutState]: ...

    @abstractmethod
    async def hot_record_failure(self, tx: HotTx, *, user_pk: str, authenticator: str,
                                 policy: LockoutPolicy, now: float) -> Counted: ...

    @abstractmethod
    async def hot_record_success(self, tx: HotTx, *, user_pk: str, authenticator: str,
                                 now: float) -> LockoutState | None: ...


# -- SQL ------------------------------------------------------------------------

def _state(row: Lockout | None) -> LockoutState:
    if row is None:
        return LockoutState.clear()
    return LockoutState(
        failures=row.failures, locked_at=row.locked_at, lockout_expires_at=row.lockout_expires_at
    )


class SqlLockoutStore(LockoutStore):
    async def states(self, db: AsyncSession, *, user_pk: str) -> dict[str, LockoutState]:
        rows = (await db.execute(select(Lockout).where(Lockout.user_pk == user_pk))).scalars()
        return {row.authenticator: _state(row) for row in rows}

    @staticmethod
    async def _locked_row(db: AsyncSession, user_pk: str, authenticator: str,
                          *, create: bool) -> Lockout | None:
        """The counter row, locked for the rest of the transaction. The
        insert comes first because it takes the write lock (SQLite) before
        the read; on PostgreSQL SELECT ... FOR UPDATE serialises concurrent
        writers so none is lost."""
        dialect = db.get_bind().dialect.name
        if create:
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            await db.execute(
                insert(Lockout)
                .values(user_pk=user_pk, authenticator=authenticator, failures=0)
                .on_conflict_do_nothing()
            )
        stmt = select(Lockout).where(
            Lockout.user_pk == user_pk, Lockout.authenticator == authenticator
        )
        if dialect == "postgresql":
            stmt = stmt.with_for_update()
        return (await db.execute(stmt)).scalar_one_or_none()

    async def record_failure(self, db: AsyncSession, *, user_pk: str, authenticator: str,
                             policy: LockoutPolicy, now: float) -> Counted:
        row = await self._locked_row(db, user_pk, authenticator, create=True)
        current = _state(row)
        if is_locked(state=current, now=now):
            return Counted(state=current, refused=True)
        new = after_failure(state=current, policy=policy, now=now)
        if new.locked_at == now:  # this failure locked it
            metrics.lockout(authenticator)
        await db.execute(
            update(Lockout)
            .where(Lockout.user_pk == user_pk, Lockout.authenticator == authenticator)
            .values(
                failures=new.failures,
                locked_at=new.locked_at,
                lockout_expires_at=new.lockout_expires_at,
            )
        )
        return Counted(state=new)

    async def record_success(self, db: AsyncSession, *, user_pk: str, authenticator: str,
                             now: float) -> LockoutState | None:
        current = _state(await self._locked_row(db, user_pk, authenticator, create=False))
        if is_locked(state=current, now=now):
            return current
        await db.execute(
            delete(Lockout).where(Lockout.user_pk == user_pk,
                                  Lockout.authenticator == authenticator)
        )

        return None

    async def clear_all(self, db: AsyncSession, *, user_pk: str) -> None:
        await db.execute(delete(Lockout).where(Lockout.user_pk == user_pk))

    async def hot_states(self, hot: Fetcher, *, user_pk: str) -> dict[str, LockoutState]:
        return await hq.lockout_states(hot, user_pk)

    async def hot_record_failure(self, tx: HotTx, *, user_pk: str, authenticator: str,
                                 policy: LockoutPolicy, now: float) -> Counted:
        key = {"user_pk": user_pk, "authenticator": authenticator}
        # The insert first: on PostgreSQL the row must exist to be locked.
        await tx.execute(q.CREATE_LOCKOUT, key)
        current = hq.lockout_state(await tx.one(q.LOCK_LOCKOUT, key))
        if is_locked(state=current, now=now):
            return Counted(state=current, refused=True)
        new = after_failure(state=current, policy=policy, now=now)
        if new.locked_at == now:  # this failure locked it
            metrics.lockout(authenticator)
        await tx.execute(q.RECORD_FAILURES, {
            **key, "failures": new.failures, "locked_at": new.locked_at,
            "lockout_expires_at": new.lockout_expires_at})
        return Counted(state=new)

    async def hot_record_success(self, tx: HotTx, *, user_pk: str, authenticator: str,
                                 now: float) -> LockoutState | None:
        key = {"user_pk": user_pk, "authenticator": authenticator}
        row = await tx.one(q.LOCK_LOCKOUT, key)
        if row is None:
            return None
        current = hq.lockout_state(row)
        if is_locked(state=current, now=now):
            return current
        await tx.execute(q.RESET_LOCKOUT, key)
        return None


# -- Redis ----------------------------------------------------------------------

# One hash per user, one field per authenticator, the value
# "failures|locked_at|lockout_expires_at" (times as Python's repr of the
# float, '' for None), so the numbers round-trip exactly.
#
# KEYS[1]: the user's hash. ARGV: authenticator, now, max_failures, the
# expiry a lockout starting now gets ('' = never). This is
# limits.lockout.after_failure, line by line (tests/integration compare
# the two).
_RECORD_FAILURE = """
local now = tonumber(ARGV[2])
local failures, locked_at, expires = 0, '', ''
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if raw then
  local f, l, e = string.match(raw, '^(%d+)|([^|]*)|([^|]*)$')
  if f then
    failures, locked_at, expires = tonumber(f), l, e
  end
end
local expired = locked_at ~= '' and expires ~= '' and now >= tonumber(expires)
if locked_at ~= '' and not expired then
  -- Locked now: nothing is counted and the caller gives no verdict.
  return 'L' .. (raw or '')
end
if expired then
  failures, locked_at, expires = 0, '', ''
end
failures = failures + 1
if failures >= tonumber(ARGV[3]) then
  locked_at, expires = ARGV[2], ARGV[4]
end
local value = string.format('%d', failures) .. '|' .. locked_at .. '|' .. expires
redis.call('HSET', KEYS[1], ARGV[1], value)
return value
"""

# KEYS[1]: the user's hash. ARGV: authenticator, now. Resets the counter
# unless it is locked now; then returns the stored value and changes nothing.
_RECORD_SUCCESS = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if raw then
  local f, l, e = string.match(raw, '^(%d+)|([^|]*)|([^|]*)$')
  if f and l ~= '' and (e == '' or tonumber(ARGV[2]) < tonumber(e)) then
    return raw
  end
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return false
"""


class RedisLockoutStore(LockoutStore):
    """Counters in Redis. Hashes have no TTL, like the table's rows: a
    failure count below the limit never decays by itself (only a success,
    an unlock or an expired lockout resets it). A hash whose last field is
    reset disappears."""

    def __init__(self, client: Redis, *, keys: RedisKeys | None = None,
                 ack_replicas: int = 0) -> None:
        self._client = client
        self._keys = keys or RedisKeys()
        # A failure lost by a failover would be a free extra guess.
        self._record_failure = AckedScript(client, _RECORD_FAILURE, replicas=ack_replicas)
        self._record_success = client.register_script(_RECORD_SUCCESS)

    def _key(self, user_pk: str) -> str:
        return self._keys.key("lockout", user_pk)

    async def states(self, db: AsyncSession, *, user_pk: str) -> dict[str, LockoutState]:
        return await self._states(user_pk)

    async def hot_states(self, hot: Fetcher, *, user_pk: str) -> dict[str, LockoutState]:
        return await self._states(user_pk)

    async def _states(self, user_pk: str) -> dict[str, LockoutState]:
        with redis_errors("reading lockout counters"):
            raw = await self._client.hgetall(self._key(user_pk))
        return {str(name): parse_lockout(str(value)) for name, value in raw.items()}

    async def record_failure(self, db: AsyncSession, *, user_pk: str, authenticator: str,
                             policy: LockoutPolicy, now: float) -> Counted:
        return await self._record_failure_now(user_pk, authenticator, policy, now)

    async def hot_record_failure(self, tx: HotTx, *, user_pk: str, authenticator: str,
                                 policy: LockoutPolicy, now: float) -> Counted:
        return await self._record_failure_now(user_pk, authenticator, policy, now)

    async def _record_failure_now(self, user_pk: str, authenticator: str,
                                  policy: LockoutPolicy, now: float) -> Counted:
        expires = now + policy.lockout_seconds if policy.lockout_seconds > 0 else None
        with redis_errors("counting a failed attempt"):
            value = await self._record_failure(
                keys=[self._key(user_pk)],
                args=[authenticator, float_text(now), str(policy.max_failures),
                      float_text(expires)],
            )
        text = str(value)
        if text.startswith("L"):
            return Counted(state=parse_lockout(text[1:]), refused=True)
        state = parse_lockout(text)
        if state.locked_at == now:  # this failure locked it (the script wrote `now`)
            metrics.lockout(authenticator)
        return Counted(state=state)

    async def record_success(self, db: AsyncSession, *, user_pk: str, authenticator: str,
                             now: float) -> LockoutState | None:
        return await self._record_success_now(user_pk, authenticator, now)

    async def hot_record_success(self, tx: HotTx, *, user_pk: str, authenticator: str,
                                 now: float) -> LockoutState | None:
        return await self._record_success_now(user_pk, authenticator, now)

    async def _record_success_now(self, user_pk: str, authenticator: str,
                                  now: float) -> LockoutState | None:
        with redis_errors("resetting a lockout counter"):
            value = await self._record_success(keys=[self._key(user_pk)],
                                               args=[authenticator, float_text(now)])
        return None if value is None else parse_lockout(str(value))

    async def clear_all(self, db: AsyncSession, *, user_pk: str) -> None:
        with redis_errors("resetting lockout counters"):
            await self._client.delete(self._key(user_pk))
