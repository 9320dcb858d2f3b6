"""Server-side challenge state: created with a random token, single-use, expiring.

The client only ever holds the token; the state is keyed by its SHA-256, so
reading the store does not reveal live tokens. Flows reach it as
`core.challenges`: the `challenges` table (SqlChallengeStore), or Redis when
AUTHCORE_REDIS_URL is set (RedisChallengeStore). Both give the same
answers: a token is good for exactly one claim, even when many arrive at
once on one replica or several, and not at all once expired.

Every method takes the flow's database session. The SQL store writes in it
(so a claim commits with the outcome it belongs to); the Redis store writes
at once and uses the session only to read applications and users. Flows
claim as the first step of the outcome's write transaction: with Redis, if
that transaction then fails, the challenge stays used (fail closed).
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import uuid
from abc import ABC, abstractmethod
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authcore.errors import AuthcoreError, Unauthenticated
from authcore.store.hot import Fetcher, HotTx
from authcore.store.hot import queries as hq
from authcore.store.hot import statements as q
from authcore.store.hot.queries import AppRow, ChallengeRecord, UserRow
from authcore.store.models import Application, Challenge, User
from authcore.store.redis import RedisKeys, redis_errors
from authcore.store.redis_ha import AckedScript

__all__ = [
    "ChallengeRecord",
    "ChallengeStore",
    "KeepChallenge",
    "RedisChallengeStore",
    "SqlChallengeStore",
    "bare_token",
    "token_hash",
]


class KeepChallenge(Exception):
    """Raised by a factor when the attempt must not use up the challenge, such as
    a correct but expired password awaiting `newPassword`."""

    def __init__(self, error: AuthcoreError) -> None:
        super().__init__(error.message)
        self.error = error


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bare_token(authorization: str) -> str:
    """Accept the token raw or as `Bearer <token>`, as Entrust's clients send it."""
    value = authorization.strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    return value


def _invalid() -> Unauthenticated:
    return Unauthenticated("The challenge token is invalid or was already used.",
                           reason="invalid_token")


def _missing() -> Unauthenticated:
    return Unauthenticated("A challenge token is required.", reason="missing_token")


def _check_usable(*, consumed: bool, expires_at: float, now: float) -> None:
    if consumed:
        raise _invalid()
    if expires_at <= now:
        raise Unauthenticated("The challenge has expired.", reason="expired_token")


class ChallengeStore(ABC):
    @abstractmethod
    async def create(
        self, db: AsyncSession, *, application_id: str, user_pk: str | None,
        authenticator: str, stage: str, state: dict[str, Any], ttl_seconds: float,
        now: float, token: str | None = None,
    ) -> tuple[str, float]:
        """A new challenge; returns its token (random unless given, as
        Axidian's GUIDs are) and expiry."""

    @abstractmethod
    async def load(self, db: AsyncSession, *, token: str, now: float) -> ChallengeRecord:
        """The open challenge behind the token (401 invalid_token when
        unknown or used, expired_token when expired)."""

    @abstractmethod
    async def load_with_app(
        self, db: AsyncSession, *, token: str, now: float
    ) -> tuple[ChallengeRecord, User | None, Application]:
        """Like `load`, with its application and user; a challenge issued
        before its user was known (a discoverable passkey sign-in) comes
        back with user None. A deleted user or application makes the token
        invalid."""

    async def load_bound(
        self, db: AsyncSession, *, token: str, now: float
    ) -> tuple[ChallengeRecord, User, Application]:
        """`load_with_app` for a challenge that must have a user."""
        record, user, app = await self.load_with_app(db, token=token, now=now)
        if user is None:
            raise _invalid()
        return record, user, app

    @abstractmethod
    async def claim(self, db: AsyncSession, *, challenge_id: str, now: float,
                    state: dict[str, Any] | None = None) -> None:
        """Use the challenge up (and replace its state, when given); of
        concurrent claims only one wins, the others get invalid_token."""

    @abstractmethod
    async def update_state(self, db: AsyncSession, *, challenge_id: str,
                           state: dict[str, Any], now: float) -> None:
        """Replace the state of a challenge that is still open (invalid_token
        otherwise: a concurrent claim wins)."""

    @abstractmethod
    async def rekey(self, db: AsyncSession, *, token: str, new_token: str, stage: str) -> None:
        """Move a challenge to another token (and stage): the old token no
        longer finds it."""

    @abstractmethod
    async def find_open(self, db: AsyncSession, *, application_id: str, user_pk: str,
                        authenticator: str, now: float, limit: int) -> list[ChallengeRecord]:
        """The user's open (unused, unexpired) challenges of one
        authenticator and application, newest first, at most `limit`."""

    # The hot paths' variants: reads on the raw driver, writes in the call's
    # one write transaction (store/hot). Same answers as the methods above.

    @abstractmethod
    async def hot_create(
        self, tx: HotTx, *, application_id: str, user_pk: str | None, authenticator: str,
        stage: str, state: dict[str, Any], ttl_seconds: float, now: float,
        token: str | None = None,
    ) -> tuple[str, float]: ...

    @abstractmethod
    async def hot_load(self, hot: Fetcher, *, token: str, now: float
                       ) -> tuple[ChallengeRecord, UserRow | None, AppRow]:
        """`load_with_app` on the raw driver."""

    @abstractmethod
    async def hot_claim(self, tx: HotTx, *, challenge_id: str, now: float,
                        state: dict[str, Any] | None = None) -> None: ...


# -- SQL ------------------------------------------------------------------------

def _state_json(state: dict[str, Any]) -> str:
    return json.dumps(state, separators=(",", ":"))


def _record(row: Challenge) -> ChallengeRecord:
    return ChallengeRecord(
        id=row.id,
        application_id=row.application_id,
        user_pk=row.user_pk,
        authenticator=row.authenticator,
        stage=row.stage,
        state=dict(row.state),
        expires_at=row.expires_at,
    )


def _usable_row(row: Challenge | None, now: float) -> ChallengeRecord:
    if row is None:
        raise _invalid()
    _check_usable(consumed=row.consumed_at is not None, expires_at=row.expires_at, now=now)
    return _record(row)


class SqlChallengeStore(ChallengeStore):
    """Rows of `challenges`; consuming is a conditional UPDATE
    (`consumed_at IS NULL`), committed with the outcome."""

    async def create(
        self, db: AsyncSession, *, application_id: str, user_pk: str | None,
        authenticator: str, stage: str, state: dict[str, Any], ttl_seconds: float,
        now: float, token: str | None = None,
    ) -> tuple[str, float]:
        token = token or secrets.token_urlsafe(32)
        expires_at = now + ttl_seconds
        db.add(
            Challenge(
                id=str(uuid.uuid4()),
                token_hash=token_hash(token),
                application_id=application_id,
                user_pk=user_pk,
                authenticator=authenticator,
                stage=stage,
                state=state,
                expires_at=expires_at,
                consumed_at=None,
                created_at=now,
            )
        )
        return token, expires_at

    async def load(self, db: AsyncSession, *, token: str, now: float) -> ChallengeRecord:
        if not token:
            raise _missing()
        row = (
            await db.execute(select(Challenge).where(Challenge.token_hash == token_hash(token)))
        ).scalar_one_or_none()
        return _usable_row(row, now)

    async def load_with_app(
        self, db: AsyncSession, *, token: str, now: float
    ) -> tuple[ChallengeRecord, User | None, Application]:
        # One query: this is on every complete.
        if not token:
            raise _missing()
        found = (
            await db.execute(
                select(Challenge, User, Application)
                .outerjoin(User, User.pk == Challenge.user_pk)
                .join(Application, Application.id == Challenge.application_id)
                .where(Challenge.token_hash == token_hash(token))
            )
        ).first()
        if found is None:
            raise _invalid()
        row, user, app = found
        return _usable_row(row, now), user, app

    async def claim(self, db: AsyncSession, *, challenge_id: str, now: float,
                    state: dict[str, Any] | None = None) -> None:
        values: dict[str, Any] = {"consumed_at": now}
        if state is not None:
            values["state"] = state
        result = await db.execute(
            update(Challenge)
            .where(
                Challenge.id == challenge_id,
                Challenge.consumed_at.is_(None),
                Challenge.expires_at > now,
            )
            .values(**values)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise _invalid()

    async def update_state(self, db: AsyncSession, *, challenge_id: str,
                           state: dict[str, Any], now: float) -> None:
        result = await db.execute(
            update(Challenge)
            .where(Challenge.id == challenge_id, Challenge.consumed_at.is_(None),
                   Challenge.expires_at > now)
            .values(state=state)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise _invalid()

    async def rekey(self, db: AsyncSession, *, token: str, new_token: str, stage: str) -> None:
        await db.flush()  # a row created in this session must exist to be found
        result = await db.execute(
            update(Challenge).where(Challenge.token_hash == token_hash(token))
            .values(token_hash=token_hash(new_token), stage=stage))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise _invalid()

    async def hot_create(
        self, tx: HotTx, *, application_id: str, user_pk: str | None, authenticator: str,
        stage: str, state: dict[str, Any], ttl_seconds: float, now: float,
        token: str | None = None,
    ) -> tuple[str, float]:
        token = token or secrets.token_urlsafe(32)
        expires_at = now + ttl_seconds
        await tx.execute(q.INSERT_CHALLENGE, {
            "id": str(uuid.uuid4()), "token_hash": token_hash(token),
            "application_id": application_id, "user_pk": user_pk,
            "authenticator": authenticator, "stage": stage, "state": _state_json(state),
            "expires_at": expires_at, "now": now})
        return token, expires_at

    async def hot_load(self, hot: Fetcher, *, token: str, now: float
                       ) -> tuple[ChallengeRecord, UserRow | None, AppRow]:
        if not token:
            raise _missing()
        found = await hq.load_challenge(hot, token_hash=token_hash(token))
        if found is None:
            raise _invalid()
        _check_usable(consumed=found.consumed, expires_at=found.record.expires_at, now=now)
        return found.record, found.user, found.app

    async def hot_claim(self, tx: HotTx, *, challenge_id: str, now: float,
                        state: dict[str, Any] | None = None) -> None:
        if state is None:
            done = await tx.execute(q.CLAIM_CHALLENGE, {"id": challenge_id, "now": now})
        else:
            done = await tx.execute(q.CLAIM_CHALLENGE_WITH_STATE, {
                "id": challenge_id, "now": now, "state": _state_json(state)})
        if done != 1:
            raise _invalid()

    async def find_open(self, db: AsyncSession, *, application_id: str, user_pk: str,
                        authenticator: str, now: float, limit: int) -> list[ChallengeRecord]:
        rows = (await db.execute(
            select(Challenge)
            .where(Challenge.user_pk == user_pk, Challenge.application_id == application_id,
                   Challenge.authenticator == authenticator, Challenge.consumed_at.is_(None),
                   Challenge.expires_at > now)
            .order_by(Challenge.created_at.desc()).limit(limit))).scalars()
        return [_record(row) for row in rows]


# -- Redis ----------------------------------------------------------------------
#
# Key layout (under the configured prefix, default "authcore:"):
#   challenge:<token hash>  hash: id, application_id, user_pk (absent when
#                           None), authenticator, stage, state (JSON),
#                           expires_at, created_at, consumed_at (absent
#                           while open); TTL = lifetime + GRACE_SECONDS
#   challenge-id:<id>       the token hash (claims and updates go by id);
#                           same TTL
#   challenge-open:<h>      sorted set of ids by created_at, h = SHA-256 of
#                           (application, user, authenticator): find_open's
#                           index; TTL = the longest member's
# Times are Python's repr of the float (exact round trip); Lua compares them
# with tonumber. The JSON state is never decoded in Lua (cjson would turn
# [] into {} and round numbers to 14 digits).

# Kept past expiry so a late use is told "expired", not "invalid" (which the
# SQL store, keeping rows, always says). Also covers an application clock
# ahead of Redis' (the sandbox's offset clock).
GRACE_SECONDS = 120.0

# KEYS: challenge, challenge-id, [challenge-open]. ARGV: ttl ms, token hash,
# id, created_at, then field/value pairs. 0 when the token is taken (by
# another challenge: a run repeated by the client's retry finds its own).
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('HGET', KEYS[1], 'id') == ARGV[3] then
    return 1
  end
  return 0
end
local ttl = tonumber(ARGV[1])
local fields = {}
for i = 5, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('SET', KEYS[2], ARGV[2], 'PX', ttl)
if KEYS[3] then
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
  if redis.call('PTTL', KEYS[3]) < ttl then
    redis.call('PEXPIRE', KEYS[3], ttl)
  end
end
return 1
"""

# Compare-and-set by id. KEYS[1]: challenge-id. ARGV: now, the challenge key
# prefix, mark used (1/0), new state ('' = keep). 1 when open and done.
_CLAIM = """
local h = redis.call('GET', KEYS[1])
if not h then
  return 0
end
local key = ARGV[2] .. h
local expires = redis.call('HGET', key, 'expires_at')
if not expires or redis.call('HEXISTS', key, 'consumed_at') == 1 then
  return 0
end
if tonumber(expires) <= tonumber(ARGV[1]) then
  return 0
end
if ARGV[3] == '1' then
  redis.call('HSET', key, 'consumed_at', ARGV[1])
end
if ARGV[4] ~= '' then
  redis.call('HSET', key, 'state', ARGV[4])
end
return 1
"""

# KEYS: old challenge, new challenge. ARGV: stage, challenge-id key prefix,
# new token hash.
_REKEY = """
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
local id = redis.call('HGET', KEYS[1], 'id')
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[2], 'stage', ARGV[1])
redis.call('SET', ARGV[2] .. id, ARGV[3], 'KEEPTTL')
return 1
"""

# KEYS[1]: challenge-open. ARGV: challenge key prefix, challenge-id key
# prefix. Every indexed challenge still open or not yet expired, newest
# first, each as its HGETALL; ids of used or vanished ones leave the index.
_FIND_OPEN = """
local out = {}
for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, -1)) do
  local h = redis.call('GET', ARGV[2] .. id)
  local fields = {}
  if h then
    fields = redis.call('HGETALL', ARGV[1] .. h)
  end
  local used = false
  for i = 1, #fields, 2 do
    if fields[i] == 'consumed_at' then
      used = true
    end
  end
  if #fields == 0 or used then
    redis.call('ZREM', KEYS[1], id)
  else
    out[#out + 1] = fields
  end
end
return out
"""


def _redis_fields(fields: dict[str, str]) -> tuple[ChallengeRecord, bool] | None:
    """The record and whether it is used, from a challenge hash."""
    if "id" not in fields or "expires_at" not in fields:
        return None
    record = ChallengeRecord(
        id=fields["id"],
        application_id=fields["application_id"],
        user_pk=fields.get("user_pk"),
        authenticator=fields["authenticator"],
        stage=fields["stage"],
        state=json.loads(fields["state"]),
        expires_at=float(fields["expires_at"]),
    )
    return record, "consumed_at" in fields


async def hot_from_redis_fields(
    hot: Fetcher, found: tuple[ChallengeRecord, bool] | None, *, now: float
) -> tuple[ChallengeRecord, UserRow | None, AppRow]:
    """A challenge read from Redis, with its application and user from the
    database (one statement), checked as `load_with_app` checks it."""
    if found is None or found[1]:
        raise _invalid()
    record = found[0]
    loaded = await hq.load_application_and_user_pk(hot, app_id=record.application_id,
                                                   pk=record.user_pk)
    if loaded is None:
        raise _invalid()
    app, user = loaded
    if record.user_pk is not None and user is None:
        raise _invalid()  # the table's rows go with their user (cascade)
    _check_usable(consumed=False, expires_at=record.expires_at, now=now)
    return record, user, app


def redis_fields(fields: dict[str, str]) -> tuple[ChallengeRecord, bool] | None:
    return _redis_fields(fields)


def invalid_token() -> Unauthenticated:
    return _invalid()


def missing_token() -> Unauthenticated:
    return _missing()


class RedisChallengeStore(ChallengeStore):
    def __init__(self, client: Redis, *, keys: RedisKeys | None = None,
                 ack_replicas: int = 0) -> None:
        self._client = client
        self._keys = keys or RedisKeys()
        self._create = client.register_script(_CREATE)
        # A claim lost by a failover would let the challenge be used again.
        self._claim = AckedScript(client, _CLAIM, replicas=ack_replicas)
        self._rekey = client.register_script(_REKEY)
        self._find_open = client.register_script(_FIND_OPEN)

    def _challenge_key(self, digest: str) -> str:
        return self._keys.kind_prefix("challenge") + digest

    def _id_key(self, challenge_id: str) -> str:
        # Ids are our own UUIDs; the scripts build this key from them too.
        return self._keys.kind_prefix("challenge-id") + challenge_id

    def _index_key(self, application_id: str, user_pk: str, authenticator: str) -> str:
        combined = json.dumps([application_id, user_pk, authenticator])
        return self._keys.kind_prefix("challenge-open") + hashlib.sha256(
            combined.encode()).hexdigest()

    async def create(
        self, db: AsyncSession, *, application_id: str, user_pk: str | None,
        authenticator: str, stage: str, state: dict[str, Any], ttl_seconds: float,
        now: float, token: str | None = None,
    ) -> tuple[str, float]:
        return await self._store(application_id=application_id, user_pk=user_pk,
                                 authenticator=authenticator, stage=stage, state=state,
                                 ttl_seconds=ttl_seconds, now=now, token=token)

    async def hot_create(
        self, tx: HotTx, *, application_id: str, user_pk: str | None, authenticator: str,
        stage: str, state: dict[str, Any], ttl_seconds: float, now: float,
        token: str | None = None,
    ) -> tuple[str, float]:
        return await self._store(application_id=application_id, user_pk=user_pk,
                                 authenticator=authenticator, stage=stage, state=state,
                                 ttl_seconds=ttl_seconds, now=now, token=token)

    async def _store(
        self, *, application_id: str, user_pk: str | None, authenticator: str, stage: str,
        state: dict[str, Any], ttl_seconds: float, now: float, token: str | None,
    ) -> tuple[str, float]:
        token = token or secrets.token_urlsafe(32)
        digest = token_hash(token)
        challenge_id = str(uuid.uuid4())
        expires_at = now + ttl_seconds
        ttl_ms = max(1, math.ceil((ttl_seconds + GRACE_SECONDS) * 1000))
        fields = {
            "id": challenge_id, "application_id": application_id,
            "authenticator": authenticator, "stage": stage,
            "state": json.dumps(state, separators=(",", ":")),
            "expires_at": repr(float(expires_at)), "created_at": repr(float(now)),
        }
        keys = [self._challenge_key(digest), self._id_key(challenge_id)]
        if user_pk is not None:
            fields["user_pk"] = user_pk
            keys.append(self._index_key(application_id, user_pk, authenticator))
        with redis_errors("storing a challenge"):
            created = await self._create(
                keys=keys,
                args=[str(ttl_ms), digest, challenge_id, repr(float(now)),
                      *(x for pair in fields.items() for x in pair)],
            )
        if int(created) != 1:
            # Only a caller-given token can collide (the table's unique
            # index would refuse it the same way).
            raise RuntimeError("a challenge with this token exists already")
        return token, expires_at

    async def _fields(self, token: str) -> tuple[ChallengeRecord, bool] | None:
        with redis_errors("reading a challenge"):
            raw = await self._client.hgetall(
                self._challenge_key(token_hash(token)))
        return _redis_fields({str(k): str(v) for k, v in raw.items()})

    async def load(self, db: AsyncSession, *, token: str, now: float) -> ChallengeRecord:
        if not token:
            raise _missing()
        found = await self._fields(token)
        if found is None:
            raise _invalid()
        record, consumed = found
        _check_usable(consumed=consumed, expires_at=record.expires_at, now=now)
        return record

    async def load_with_app(
        self, db: AsyncSession, *, token: str, now: float
    ) -> tuple[ChallengeRecord, User | None, Application]:
        if not token:
            raise _missing()
        found = await self._fields(token)
        if found is None or found[1]:
            raise _invalid()
        record = found[0]
        user: User | None = None
        if record.user_pk is not None:
            row = (await db.execute(
                select(User, Application)
                .join(Application, Application.id == record.application_id)
                .where(User.pk == record.user_pk))).first()
            if row is None:
                raise _invalid()  # the table's rows go with their user (cascade)
            user, app = row
        else:
            found_app = await db.get(Application, record.application_id)
            if found_app is None:
                raise _invalid()
            app = found_app
        _check_usable(consumed=False, expires_at=record.expires_at, now=now)
        return record, user, app

    async def _compare_and_set(self, challenge_id: str, now: float, *, use: bool,
                               state: dict[str, Any] | None) -> None:
        with redis_errors("claiming a challenge"):
            done = await self._claim(
                keys=[self._id_key(challenge_id)],
                args=[repr(float(now)), self._keys.kind_prefix("challenge"),
                      "1" if use else "0",
                      "" if state is None else json.dumps(state, separators=(",", ":"))],
            )
        if int(done) != 1:
            raise _invalid()

    async def claim(self, db: AsyncSession, *, challenge_id: str, now: float,
                    state: dict[str, Any] | None = None) -> None:
        await self._compare_and_set(challenge_id, now, use=True, state=state)

    async def hot_claim(self, tx: HotTx, *, challenge_id: str, now: float,
                        state: dict[str, Any] | None = None) -> None:
        await self._compare_and_set(challenge_id, now, use=True, state=state)

    async def hot_load(self, hot: Fetcher, *, token: str, now: float
                       ) -> tuple[ChallengeRecord, UserRow | None, AppRow]:
        if not token:
            raise _missing()
        return await hot_from_redis_fields(hot, await self._fields(token), now=now)

    async def update_state(self, db: AsyncSession, *, challenge_id: str,
                           state: dict[str, Any], now: float) -> None:
        await self._compare_and_set(challenge_id, now, use=False, state=state)

    async def rekey(self, db: AsyncSession, *, token: str, new_token: str, stage: str) -> None:
        new_digest = token_hash(new_token)
        with redis_errors("re-keying a challenge"):
            done = await self._rekey(
                keys=[self._challenge_key(token_hash(token)), self._challenge_key(new_digest)],
                args=[stage, self._keys.kind_prefix("challenge-id"), new_digest],
            )
        if int(done) != 1:
            raise _invalid()

    async def find_open(self, db: AsyncSession, *, application_id: str, user_pk: str,
                        authenticator: str, now: float, limit: int) -> list[ChallengeRecord]:
        with redis_errors("reading challenges"):
            found = await self._find_open(
                keys=[self._index_key(application_id, user_pk, authenticator)],
                args=[self._keys.kind_prefix("challenge"),
                      self._keys.kind_prefix("challenge-id")],
            )
        out: list[ChallengeRecord] = []
        for flat in found:
            parsed = _redis_fields(dict(zip(flat[::2], flat[1::2], strict=True)))
            if parsed is None or parsed[1] or parsed[0].expires_at <= now:
                continue
            out.append(parsed[0])
            if len(out) >= limit:
                break
        return out
