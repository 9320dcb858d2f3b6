"""The Redis backends of the production topology against a real Redis
(AUTHCORE_TEST_REDIS_URL; skipped when unset, failed when CI is set):

* RedisRateLimiter decides exactly as the in-memory GCRA limiter and holds a
  limit under concurrency from several clients (replicas);
* the lockout and challenge stores answer exactly as their SQL siblings (the
  same tests run against both) and stay atomic under concurrency: N
  concurrent failures count N, of N concurrent claims one wins.

Fail-closed behaviour against a Redis that goes away is in
test_redis_fail_closed.py.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authcore.errors import Unauthenticated
from authcore.flows.challenges import (
    GRACE_SECONDS,
    ChallengeStore,
    RedisChallengeStore,
    SqlChallengeStore,
    token_hash,
)
from authcore.flows.lockouts import Counted, LockoutStore, RedisLockoutStore, SqlLockoutStore
from authcore.limits.base import RateLimit
from authcore.limits.lockout import LockoutPolicy, LockoutState, after_failure, is_locked
from authcore.limits.memory import MemoryRateLimiter
from authcore.limits.redis import RedisRateLimiter
from authcore.store.db import create_engine, migrate, session_factory
from authcore.store.models import Application, User
from authcore.store.redis import RedisKeys, connect
from authcore_testkit.cluster import redis_url, require

T0 = 1_700_000_000.25


@pytest.fixture(scope="module")
def base_url() -> str:
    require(bool(redis_url()), "AUTHCORE_TEST_REDIS_URL is not set")
    url = redis_url()
    assert url
    return url


@pytest.fixture
async def keys(base_url: str) -> AsyncIterator[RedisKeys]:
    """A key prefix of this test's own, deleted afterwards."""
    keys = RedisKeys(f"authcore-test-{uuid.uuid4().hex[:10]}:")
    yield keys
    client = connect(base_url)
    try:
        found = [k async for k in client.scan_iter(match=keys.prefix + "*", count=1000)]
        if found:
            await client.delete(*found)
    finally:
        await client.aclose()


@pytest.fixture
async def redis(base_url: str) -> AsyncIterator[Redis]:
    client = connect(base_url)
    yield client
    await client.aclose()


@pytest.fixture
async def other_redis(base_url: str) -> AsyncIterator[Redis]:
    """A second connection pool: another replica."""
    client = connect(base_url)
    yield client
    await client.aclose()


# -- rate limiter ----------------------------------------------------------------

LIMIT = RateLimit(limit=5, period_seconds=60)


async def test_gcra_decides_as_the_memory_limiter(redis: Redis, keys: RedisKeys) -> None:
    memory = MemoryRateLimiter()
    shared = RedisRateLimiter(redis, keys=keys)
    awkward = RateLimit(limit=7, period_seconds=60)
    # Bursts, waits shorter and longer than the interval, a full refill.
    script = [0, 0, 0, 0, 0, 0, 0, 1, 11.9, 12, 12, 12.001, 30, 30, 30, 200, 200, 200, 200, 200,
              200, 200, 260.5]
    for limit in (LIMIT, awkward):
        key = f"k-{limit.limit}"
        for offset in script:
            want = await memory.hit(key, limit, now=T0 + offset)
            got = await shared.hit(key, limit, now=T0 + offset)
            assert got.allowed == want.allowed, (limit, offset)
            assert got.retry_after == pytest.approx(want.retry_after, abs=1e-5), (limit, offset)


async def test_waiting_retry_after_is_enough(redis: Redis, keys: RedisKeys) -> None:
    limiter = RedisRateLimiter(redis, keys=keys)
    limit = RateLimit(limit=7, period_seconds=60)
    now = T0 + 0.1
    for _ in range(7):
        assert (await limiter.hit("k", limit, now=now)).allowed
    for _ in range(20):
        decision = await limiter.hit("k", limit, now=now)
        assert not decision.allowed
        assert decision.retry_after == pytest.approx(60 / 7, abs=1e-5)
        now += decision.retry_after
        assert (await limiter.hit("k", limit, now=now)).allowed


async def test_redis_clock_ttl_and_reset(redis: Redis, keys: RedisKeys) -> None:
    limiter = RedisRateLimiter(redis, keys=keys)
    one = RateLimit(limit=1, period_seconds=30)
    assert (await limiter.hit("user:alice", one)).allowed
    denied = await limiter.hit("user:alice", one)
    assert not denied.allowed and 29 < denied.retry_after <= 30
    stored = keys.key("rl", "user:alice")
    # The key vanishes when it would be idle again: no idle keys pile up.
    assert 0 < await redis.pttl(stored) <= 30_001
    await limiter.reset("user:alice")
    assert await redis.exists(stored) == 0
    assert (await limiter.hit("user:alice", one)).allowed
    await limiter.reset("never-seen")


async def test_attacker_sized_keys_are_hashed(redis: Redis, keys: RedisKeys) -> None:
    limiter = RedisRateLimiter(redis, keys=keys)
    huge = "user:" + "x" * 100_000
    assert (await limiter.hit(huge, LIMIT)).allowed
    stored = [k async for k in redis.scan_iter(match=keys.prefix + "*")]
    assert len(stored) == 1 and len(stored[0]) < len(keys.prefix) + 80
    # Different long keys stay different; a key can't pose as another's hash.
    assert (await limiter.hit(huge + "y", LIMIT)).allowed
    assert len([k async for k in redis.scan_iter(match=keys.prefix + "*")]) == 2


async def test_exactly_the_limit_under_concurrency(redis: Redis, other_redis: Redis,
                                                   keys: RedisKeys) -> None:
    replicas = [RedisRateLimiter(redis, keys=keys), RedisRateLimiter(other_redis, keys=keys)]
    limit = RateLimit(limit=50, period_seconds=3600)
    decisions = await asyncio.gather(*(replicas[i % 2].hit("ip:203.0.113.9", limit)
                                       for i in range(200)))
    assert sum(d.allowed for d in decisions) == 50


# -- the stores, SQL and Redis ------------------------------------------------------

@dataclass
class Stores:
    kind: str
    db: async_sessionmaker[AsyncSession]
    lockouts: LockoutStore
    challenges: ChallengeStore

    async def user(self) -> str:
        pk = str(uuid.uuid4())
        async with self.db() as db, db.begin():
            db.add(User(pk=pk, user_id=f"u-{pk}", active=True, created_at=T0))
        return pk

    async def app(self) -> str:
        app_id = str(uuid.uuid4())
        async with self.db() as db, db.begin():
            db.add(Application(id=app_id, name="t", authenticators=[], settings={},
                               created_at=T0))
        return app_id


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("redis-stores") / "authcore.db"
    url = f"sqlite+aiosqlite:///{path}"
    migrate(url)
    return url


@pytest.fixture(params=["sql", "redis"])
async def stores(request: pytest.FixtureRequest, sqlite_url: str, base_url: str,
                 keys: RedisKeys) -> AsyncIterator[Stores]:
    """Users and applications are rows either way; the Redis stores keep
    only the counters and challenges."""
    engine = create_engine(sqlite_url)
    client = connect(base_url) if request.param == "redis" else None
    try:
        if client is None:
            yield Stores("sql", session_factory(engine), SqlLockoutStore(), SqlChallengeStore())
        else:
            yield Stores("redis", session_factory(engine), RedisLockoutStore(client, keys=keys),
                         RedisChallengeStore(client, keys=keys))
    finally:
        if client is not None:
            await client.aclose()
        await engine.dispose()


# -- lockouts --

POLICY = LockoutPolicy(max_failures=3, lockout_seconds=60)


async def fail(stores: Stores, user: str, authenticator: str, now: float,
               policy: LockoutPolicy = POLICY) -> Counted:
    async with stores.db() as db, db.begin():
        return await stores.lockouts.record_failure(db, user_pk=user, authenticator=authenticator,
                                                    policy=policy, now=now)


async def succeed(stores: Stores, user: str, authenticator: str,
                  now: float = T0) -> LockoutState | None:
    async with stores.db() as db, db.begin():
        return await stores.lockouts.record_success(db, user_pk=user,
                                                    authenticator=authenticator, now=now)


async def states(stores: Stores, user: str) -> dict[str, LockoutState]:
    async with stores.db() as db:
        return await stores.lockouts.states(db, user_pk=user)


async def test_lockout_arithmetic_is_after_failure(stores: Stores) -> None:
    """Failures before a lockout, during it, past its expiry and again,
    compared step by step with limits.lockout.after_failure; a failure
    while locked is refused and counts nothing."""
    user = await stores.user()
    expected = LockoutState.clear()
    for offset in [0, 1, 2, 3, 30, 59.999, 62, 62.5, 63, 63.25, 200, 1000.125]:
        now = T0 + offset
        got = await fail(stores, user, "PASSWORD", now)
        if is_locked(state=expected, now=now):
            assert got == Counted(state=expected, refused=True), offset
        else:
            expected = after_failure(state=expected, policy=POLICY, now=now)
            assert got == Counted(state=expected), offset
        assert (await states(stores, user))["PASSWORD"] == expected, offset


async def test_lockout_without_expiry(stores: Stores) -> None:
    forever = LockoutPolicy(max_failures=2, lockout_seconds=0)
    user = await stores.user()
    await fail(stores, user, "OTP", T0, forever)
    locked = LockoutState(failures=2, locked_at=T0 + 1, lockout_expires_at=None)
    assert await fail(stores, user, "OTP", T0 + 1, forever) == Counted(state=locked)
    assert await fail(stores, user, "OTP", T0 + 10**9, forever) == Counted(state=locked,
                                                                          refused=True)
    assert await succeed(stores, user, "OTP", T0 + 10**9) == locked


async def test_success_and_clear_all_reset(stores: Stores) -> None:
    user = await stores.user()
    assert await states(stores, user) == {}
    for name in ("PASSWORD", "OTP", "TOKEN"):
        await fail(stores, user, name, T0)
    assert set(await states(stores, user)) == {"PASSWORD", "OTP", "TOKEN"}
    assert await succeed(stores, user, "OTP") is None
    assert await succeed(stores, user, "GRID") is None
    assert set(await states(stores, user)) == {"PASSWORD", "TOKEN"}
    other = await stores.user()
    await fail(stores, other, "PASSWORD", T0)
    async with stores.db() as db, db.begin():
        await stores.lockouts.clear_all(db, user_pk=user)
    assert await states(stores, user) == {}
    assert set(await states(stores, other)) == {"PASSWORD"}


async def test_success_while_locked_changes_nothing(stores: Stores) -> None:
    user = await stores.user()
    for i in range(3):
        await fail(stores, user, "PASSWORD", T0 + i)
    lock = (await states(stores, user))["PASSWORD"]
    assert lock.locked_at is not None
    assert await succeed(stores, user, "PASSWORD", T0 + 10) == lock
    assert (await states(stores, user))["PASSWORD"] == lock
    # Once the lock has expired, a success resets the counter.
    assert await succeed(stores, user, "PASSWORD", T0 + 1000) is None
    assert await states(stores, user) == {}


async def test_concurrent_failures_stop_counting_at_the_lock(base_url: str,
                                                             keys: RedisKeys) -> None:
    """100 failures at once from two replicas: exactly 10 count (the 10th
    locks), each with its own count, and the other 90 are refused."""
    clients = [connect(base_url), connect(base_url)]
    try:
        replicas = [RedisLockoutStore(c, keys=keys) for c in clients]
        policy = LockoutPolicy(max_failures=10, lockout_seconds=600)
        user = str(uuid.uuid4())
        results = await asyncio.gather(*(
            replicas[i % 2].record_failure(None, user_pk=user,
                                           authenticator="PASSWORD", policy=policy, now=T0)
            for i in range(100)))
        counted = [r for r in results if not r.refused]
        assert sorted(r.state.failures for r in counted) == list(range(1, 11))
        assert all(r.state.failures == 10 for r in results if r.refused)
        assert len(results) - len(counted) == 90
        final = (await replicas[0].states(None, user_pk=user))["PASSWORD"]
        assert final == LockoutState(failures=10, locked_at=T0, lockout_expires_at=T0 + 600)
    finally:
        for c in clients:
            await c.aclose()


# -- challenges --

STATE: dict[str, Any] = {
    # What cjson would mangle if the state were decoded in Lua: an empty
    # list, 17-digit floats, integers past 2**53, unicode.
    "factor_state": {"serials": [], "grid": [[1, 2], [3]], "x": 0.1 + 0.2, "big": 2**60},
    "name": "Zoë ✓",
    "nothing": None,
}


async def create(stores: Stores, app: str, user: str | None, *, ttl: float = 60, now: float = T0,
                 authenticator: str = "TOKEN", token: str | None = None,
                 state: dict[str, Any] | None = None) -> tuple[str, float]:
    async with stores.db() as db, db.begin():
        return await stores.challenges.create(
            db, application_id=app, user_pk=user, authenticator=authenticator, stage="single",
            state=STATE if state is None else state, ttl_seconds=ttl, now=now, token=token)


async def load(stores: Stores, token: str, now: float = T0 + 1) -> Any:
    async with stores.db() as db:
        return await stores.challenges.load(db, token=token, now=now)


async def claim(stores: Stores, challenge_id: str, now: float = T0 + 1,
                state: dict[str, Any] | None = None) -> None:
    async with stores.db() as db, db.begin():
        await stores.challenges.claim(db, challenge_id=challenge_id, now=now, state=state)


def reason_of(exc: pytest.ExceptionInfo[Unauthenticated]) -> str:
    return exc.value.reason


async def test_challenge_round_trip(stores: Stores) -> None:
    app, user = await stores.app(), await stores.user()
    token, expires = await create(stores, app, user, ttl=90)
    assert expires == T0 + 90
    record = await load(stores, token)
    assert (record.application_id, record.user_pk, record.authenticator, record.stage) == (
        app, user, "TOKEN", "single")
    assert record.state == STATE and record.expires_at == T0 + 90
    assert isinstance(record.state["factor_state"]["serials"], list)


async def test_challenge_is_single_use(stores: Stores) -> None:
    app, user = await stores.app(), await stores.user()
    token, _ = await create(stores, app, user)
    record = await load(stores, token)
    await claim(stores, record.id)
    with pytest.raises(Unauthenticated) as used:
        await load(stores, token)
    assert reason_of(used) == "invalid_token"
    with pytest.raises(Unauthenticated) as again:
        await claim(stores, record.id)
    assert reason_of(again) == "invalid_token"


async def test_challenge_expiry(stores: Stores) -> None:
    app, user = await stores.app(), await stores.user()
    token, _ = await create(stores, app, user, ttl=5)
    record = await load(stores, token, now=T0 + 4.999)
    with pytest.raises(Unauthenticated) as late:
        await load(stores, token, now=T0 + 5)
    assert reason_of(late) == "expired_token"
    with pytest.raises(Unauthenticated) as late_claim:
        await claim(stores, record.id, now=T0 + 5)
    assert reason_of(late_claim) == "invalid_token"
    async with stores.db() as db:
        with pytest.raises(Unauthenticated) as late_app:
            await stores.challenges.load_with_app(db, token=token, now=T0 + 5)
    assert reason_of(late_app) == "expired_token"


async def test_unknown_and_missing_tokens(stores: Stores) -> None:
    with pytest.raises(Unauthenticated) as unknown:
        await load(stores, "no-such-token")
    assert reason_of(unknown) == "invalid_token"
    with pytest.raises(Unauthenticated) as missing:
        await load(stores, "")
    assert reason_of(missing) == "missing_token"
    with pytest.raises(Unauthenticated) as unknown_id:
        await claim(stores, str(uuid.uuid4()))
    assert reason_of(unknown_id) == "invalid_token"


async def test_load_with_app(stores: Stores) -> None:
    app, user = await stores.app(), await stores.user()
    bound, _ = await create(stores, app, user)
    anonymous, _ = await create(stores, app, None, authenticator="PASSKEY")
    async with stores.db() as db:
        record, found_user, found_app = await stores.challenges.load_with_app(
            db, token=bound, now=T0 + 1)
        assert found_user is not None and found_user.pk == user and found_app.id == app
        record, nobody, found_app = await stores.challenges.load_with_app(
            db, token=anonymous, now=T0 + 1)
        assert nobody is None and record.user_pk is None and found_app.id == app
        with pytest.raises(Unauthenticated):
            await stores.challenges.load_bound(db, token=anonymous, now=T0 + 1)
    # A deleted user takes its challenges along.
    async with stores.db() as db, db.begin():
        await db.execute(delete(User).where(User.pk == user))
    async with stores.db() as db:
        with pytest.raises(Unauthenticated) as gone:
            await stores.challenges.load_with_app(db, token=bound, now=T0 + 1)
    assert reason_of(gone) == "invalid_token"


async def test_claim_and_update_state(stores: Stores) -> None:
    app, user = await stores.app(), await stores.user()
    token, _ = await create(stores, app, user, state={"data": "sealed", "mode": "m"})
    record = await load(stores, token)
    async with stores.db() as db, db.begin():
        await stores.challenges.update_state(db, challenge_id=record.id,
                                             state={"data": "newer", "mode": "m"}, now=T0 + 1)
    assert (await load(stores, token)).state == {"data": "newer", "mode": "m"}
    await claim(stores, record.id, state={"mode": "m"})
    async with stores.db() as db, db.begin():
        with pytest.raises(Unauthenticated):
            await stores.challenges.update_state(db, challenge_id=record.id,
                                                 state={"data": "late"}, now=T0 + 2)


async def test_caller_given_token_and_rekey(stores: Stores) -> None:
    app, user = await stores.app(), await stores.user()
    guid = str(uuid.uuid4())
    token, _ = await create(stores, app, user, token=guid)
    assert token == guid
    record = await load(stores, guid)
    async with stores.db() as db, db.begin():
        await stores.challenges.rekey(db, token=guid, new_token="derived-token",
                                      stage="entrust_self")
    with pytest.raises(Unauthenticated):
        await load(stores, guid)
    moved = await load(stores, "derived-token")
    assert moved.id == record.id and moved.stage == "entrust_self" and moved.state == STATE
    await claim(stores, record.id)  # claims go by id: still the same challenge
    with pytest.raises(Unauthenticated):
        await load(stores, "derived-token")


async def test_rekey_in_the_creating_transaction(stores: Stores) -> None:
    """As self-service registration does: create and re-key before commit."""
    app, user = await stores.app(), await stores.user()
    async with stores.db() as db, db.begin():
        token, _ = await stores.challenges.create(
            db, application_id=app, user_pk=user, authenticator="PASSKEY_REG", stage="reg",
            state={}, ttl_seconds=60, now=T0)
        await stores.challenges.rekey(db, token=token, new_token=token + "-2",
                                      stage="entrust_self")
    assert (await load(stores, token + "-2")).stage == "entrust_self"


async def test_find_open(stores: Stores) -> None:
    app, other_app, user = await stores.app(), await stores.app(), await stores.user()
    made = [await create(stores, app, user, authenticator="AUTH_CODE", now=T0 + i,
                         state={"n": i}) for i in range(4)]
    await create(stores, app, user, authenticator="TOKEN", now=T0 + 5)
    await create(stores, other_app, user, authenticator="AUTH_CODE", now=T0 + 5)
    short, _ = await create(stores, app, user, authenticator="AUTH_CODE", now=T0 + 6, ttl=1,
                            state={"n": "short"})
    used = await load(stores, made[2][0], now=T0 + 6.5)
    await claim(stores, used.id, now=T0 + 6.5)

    async def find(limit: int) -> list[Any]:
        async with stores.db() as db:
            return await stores.challenges.find_open(
                db, application_id=app, user_pk=user, authenticator="AUTH_CODE",
                now=T0 + 7.5, limit=limit)

    assert [r.state["n"] for r in await find(10)] == [3, 1, 0]  # newest first
    assert [r.state["n"] for r in await find(2)] == [3, 1]
    async with stores.db() as db:
        assert await stores.challenges.find_open(
            db, application_id=app, user_pk=str(uuid.uuid4()), authenticator="AUTH_CODE",
            now=T0, limit=5) == []
    del short


# -- Redis only: atomicity and expiry ------------------------------------------------

async def test_one_of_fifty_concurrent_claims_wins(base_url: str, keys: RedisKeys) -> None:
    clients = [connect(base_url), connect(base_url)]
    try:
        replicas = [RedisChallengeStore(c, keys=keys) for c in clients]
        token, _ = await replicas[0].create(
            None, application_id="app", user_pk=None,
            authenticator="TOKEN", stage="single", state={}, ttl_seconds=60, now=T0)
        record = await replicas[1].load(None, token=token, now=T0)

        async def attempt(i: int) -> bool:
            try:
                await replicas[i % 2].claim(None, challenge_id=record.id,
                                            now=T0 + 1)
            except Unauthenticated:
                return False
            return True

        outcomes = await asyncio.gather(*(attempt(i) for i in range(50)))
        assert sum(outcomes) == 1
    finally:
        for c in clients:
            await c.aclose()


async def test_challenge_keys_expire(redis: Redis, keys: RedisKeys) -> None:
    store = RedisChallengeStore(redis, keys=keys)
    token, _ = await store.create(None, application_id="app", user_pk="u",
                                  authenticator="AUTH_CODE", stage="code", state={},
                                  ttl_seconds=30, now=T0)
    record = await store.load(None, token=token, now=T0)
    stored = [k async for k in redis.scan_iter(match=keys.prefix + "*")]
    assert len(stored) == 3  # the challenge, its id, the user's index
    limit_ms = math.ceil((30 + GRACE_SECONDS) * 1000)
    for key in stored:
        assert 0 < await redis.pttl(key) <= limit_ms, key
    # Only the token's hash is stored, never the token.
    assert keys.kind_prefix("challenge") + token_hash(token) in stored
    assert not any(token in k for k in stored)
    assert await redis.get(keys.kind_prefix("challenge-id") + record.id) == token_hash(token)
