"""Unknown users ("ghosts") answered as known ones are (issue 15, item 3).

Where an API may not tell an account from a stranger, a name that matches no
active user is treated as a user who has a password and nothing else: the
commonest account, and the only one whose answers need no made-up data (an
OTP would need a masked address, a token a serial number). Its password
never matches. What makes that indistinguishable:

* lockout: a ghost's failures are counted like an account's, per name
  (`username_key`, so the same folding as every lookup) and authenticator,
  with the directory's policy, so it locks after the same number of
  failures and answers the same 423/403 for as long;
* work: a dummy argon2 verification with the current parameters
  (`burn_password_time`) and the same kind of writes as a failure (the
  challenge, the audit row);
* passkeys: LoginID's auth/init lists one credential id for a name without
  passkeys, HMAC(server key, application, name), as long as real ids.

Ghost counters live beside the rate limits: in memory per process, or in
Redis when configured (the `lockouts` table can't hold them: its rows belong
to users). Unlike an account's, a ghost's counter is forgotten
GHOST_MEMORY_SECONDS after its last failure (or when its lockout ends, if
later), because strangers' names are unbounded; an attacker who waits that
long between failures can tell the two apart, at a cost of days per name and
a locked account for every real one found. Without Redis, `serve --workers
N` keeps one counter per worker (as it does for rate limits).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from redis.asyncio import Redis

from authcore import metrics
from authcore.flows.lockouts import _RECORD_FAILURE, Counted
from authcore.identifiers import username_key
from authcore.limits.lockout import LockoutPolicy, LockoutState, after_failure, is_locked
from authcore.store.hot.redis import float_text, parse_lockout
from authcore.store.redis import RedisKeys, redis_errors
from authcore.store.redis_ha import AckedScript
from authcore.verify.password import (
    Argon2Params,
    PasswordVerificationError,
    hash_password,
    verify_password,
)

if TYPE_CHECKING:
    from authcore.flows.context import Core

__all__ = [
    "GHOST_MEMORY_SECONDS",
    "GhostLockouts",
    "MemoryGhostLockouts",
    "RedisGhostLockouts",
    "burn_password_time",
    "ghost_authenticators",
    "ghost_credential_id",
    "ghost_id",
]

GHOST_MEMORY_SECONDS = 86400.0

# What a ghost has, of what the application allows.
GHOST_FACTORS = ("PASSWORD",)


def ghost_authenticators(allowed: tuple[str, ...] | list[str]) -> list[str]:
    return [name for name in GHOST_FACTORS if name in allowed]


def ghost_id(code_key: bytes, username: str) -> str:
    """The ghost's counter key: keyed, so neither memory nor Redis holds the
    names strangers tried."""
    return hmac.new(code_key, b"ghost\0" + username_key(username).encode(),
                    hashlib.sha256).hexdigest()[:32]


def ghost_credential_id(code_key: bytes, application_id: str, username: str) -> bytes:
    """A credential id for a name without passkeys: stable across calls and
    replicas (derived from the master key), 32 bytes like the ids common
    authenticators make, and different per application and name."""
    message = f"ghost-credential\0{application_id}\0{username_key(username)}".encode()
    return hmac.new(code_key, message, hashlib.sha256).digest()


_dummy_hashes: dict[Argon2Params, str] = {}


async def burn_password_time(core: Core, password: str) -> None:
    """Spend an argon2 verification, with the parameters real hashes are
    made with, on an answer that has no hash to check against."""
    params = core.settings.argon2
    encoded = _dummy_hashes.get(params)
    if encoded is None:
        encoded = await core.blocking(hash_password, password=secrets.token_urlsafe(16),
                                      params=params)
        _dummy_hashes[params] = encoded
    try:
        await core.blocking(verify_password, password=password or "-", encoded_hash=encoded,
                            params=params)
    except PasswordVerificationError:
        pass


class GhostLockouts(ABC):
    """Failure counters of names that are not accounts, with
    `LockoutStore.record_failure`'s answers."""

    @abstractmethod
    async def state(self, ghost: str, authenticator: str, *, now: float) -> LockoutState: ...

    @abstractmethod
    async def record_failure(self, ghost: str, authenticator: str, *, policy: LockoutPolicy,
                             now: float) -> Counted: ...


def _forget_at(state: LockoutState, now: float) -> float:
    until = now + GHOST_MEMORY_SECONDS
    if state.lockout_expires_at is not None:
        until = max(until, state.lockout_expires_at)
    return until


class MemoryGhostLockouts(GhostLockouts):
    """One process's counters, bounded: expired ones go first, then the
    oldest (a flood of fresh names can only make old ghosts forget sooner)."""

    def __init__(self, *, max_keys: int = 100_000) -> None:
        self._max_keys = max_keys
        self._rows: dict[tuple[str, str], tuple[LockoutState, float]] = {}

    def __len__(self) -> int:
        return len(self._rows)

    async def state(self, ghost: str, authenticator: str, *, now: float) -> LockoutState:
        row = self._rows.get((ghost, authenticator))
        if row is None or row[1] <= now:
            return LockoutState.clear()
        return row[0]

    async def record_failure(self, ghost: str, authenticator: str, *, policy: LockoutPolicy,
                             now: float) -> Counted:
        current = await self.state(ghost, authenticator, now=now)
        if is_locked(state=current, now=now):
            return Counted(state=current, refused=True)
        new = after_failure(state=current, policy=policy, now=now)
        if new.locked_at == now:  # counted as an account's would be: no tell
            metrics.lockout(authenticator)
        key = (ghost, authenticator)
        self._rows.pop(key, None)  # re-inserted last: the dict is oldest-first
        if len(self._rows) >= self._max_keys:
            self._evict(now)
        self._rows[key] = (new, _forget_at(new, now))
        return Counted(state=new)

    def _evict(self, now: float) -> None:
        self._rows = {k: v for k, v in self._rows.items() if v[1] > now}
        excess = len(self._rows) - int(self._max_keys * 0.9)
        for key in list(self._rows)[:max(0, excess)]:
            del self._rows[key]


# The account counter's script (flows/lockouts.py), line by line, plus an
# expiry on the hash.
_SET_AND_RETURN = "return value\n"
assert _RECORD_FAILURE.count(_SET_AND_RETURN) == 1
_GHOST_FAILURE = _RECORD_FAILURE.replace(
    _SET_AND_RETURN, "redis.call('PEXPIRE', KEYS[1], ARGV[5])\n" + _SET_AND_RETURN)


class RedisGhostLockouts(GhostLockouts):
    """Shared counters: `ghost-lockout:<ghost id>`, a hash laid out like
    `lockout:<user_pk>`, expiring."""

    def __init__(self, client: Redis, *, keys: RedisKeys | None = None,
                 ack_replicas: int = 0) -> None:
        self._client = client
        self._keys = keys or RedisKeys()
        # As a real account's failures (flows/lockouts.py).
        self._record = AckedScript(client, _GHOST_FAILURE, replicas=ack_replicas)

    def _key(self, ghost: str) -> str:
        return self._keys.key("ghost-lockout", ghost)

    async def state(self, ghost: str, authenticator: str, *, now: float) -> LockoutState:
        with redis_errors("reading lockout counters"):
            raw = await self._client.hget(self._key(ghost), authenticator)
        return LockoutState.clear() if raw is None else parse_lockout(str(raw))

    async def record_failure(self, ghost: str, authenticator: str, *, policy: LockoutPolicy,
                             now: float) -> Counted:
        expires = now + policy.lockout_seconds if policy.lockout_seconds > 0 else None
        keep_ms = int(GHOST_MEMORY_SECONDS * 1000) + max(0, policy.lockout_seconds) * 1000
        with redis_errors("counting a failed attempt"):
            value = await self._record(
                keys=[self._key(ghost)],
                args=[authenticator, float_text(now), str(policy.max_failures),
                      float_text(expires), str(keep_ms)])
        text = str(value)
        if text.startswith("L"):
            return Counted(state=parse_lockout(text[1:]), refused=True)
        state = parse_lockout(text)
        if state.locked_at == now:  # counted as an account's would be: no tell
            metrics.lockout(authenticator)
        return Counted(state=state)
