"""The hot paths' raw-driver stores against real servers: PostgreSQL through
asyncpg (store/hot/postgres.py) and the combined Redis scripts
(store/hot/redis.py). Skipped without AUTHCORE_TEST_POSTGRES_URL /
AUTHCORE_TEST_REDIS_URL; failed instead when CI is set."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis

from authcore.flows.challenges import RedisChallengeStore, token_hash
from authcore.flows.lockouts import RedisLockoutStore
from authcore.limits.base import RateLimit
from authcore.limits.lockout import LockoutPolicy, LockoutState, after_failure, is_locked
from authcore.store.db import migrate
from authcore.store.hot import statements
from authcore.store.hot.postgres import STALE, PostgresHot, _as_one_statement, asyncpg_dsn
from authcore.store.hot.queries import insert_audit_event
from authcore.store.hot.redis import RedisHot
from authcore.store.hot.statements import Stmt
from authcore.store.redis import RedisKeys, connect
from authcore_testkit.cluster import postgres_url, redis_url, require
from authcore_testkit.server import fresh_postgres_database

ALL = [value for value in vars(statements).values() if isinstance(value, Stmt)]
COUNT = statements._stmt("count_audit",
                         "SELECT count(*) AS n FROM audit_events WHERE event = :event")
T0 = 1_700_000_000.25


# -- PostgreSQL ------------------------------------------------------------------

@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    require(bool(postgres_url()), "AUTHCORE_TEST_POSTGRES_URL is not set")
    with fresh_postgres_database() as url:
        migrate(url)
        yield url


@pytest.fixture
async def hot(database: str) -> AsyncIterator[PostgresHot]:
    store = PostgresHot(database, pool_size=4)
    yield store
    await store.close()


async def _admin(database: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(asyncpg_dsn(database))
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def test_every_statement_prepares_on_postgresql(database: str) -> None:
    """Each statement's $n text is valid against the migrated schema, with
    types PostgreSQL can infer for every parameter."""
    conn = await asyncpg.connect(asyncpg_dsn(database))
    try:
        for stmt in ALL:
            prepared = await conn.prepare(stmt.pg)
            assert len(prepared.get_parameters()) == len(stmt.params), stmt.name
    finally:
        await conn.close()


async def test_commit_and_rollback(hot: PostgresHot) -> None:
    event = f"pg-{uuid.uuid4().hex[:8]}"
    async with hot.transaction() as tx:
        await insert_audit_event(tx, event=event, outcome="ok", now=1.0)
    with pytest.raises(RuntimeError):
        async with hot.transaction() as tx:
            await insert_audit_event(tx, event=event, outcome="ok", now=2.0)
            raise RuntimeError("refused")
    row = await hot.one(COUNT, {"event": event})
    assert row is not None and row["n"] == 1


async def test_dropped_connections_are_replaced_without_a_failed_call(
        hot: PostgresHot, database: str) -> None:
    """No pre-ping: when the server drops every pooled connection (as a
    restart does), the next read and the next transaction still succeed,
    each retried once on a fresh connection, and nothing is half-written."""
    event = f"drop-{uuid.uuid4().hex[:8]}"
    await asyncio.gather(*(hot.one(COUNT, {"event": event}) for _ in range(4)))
    name = database.rsplit("/", 1)[-1]
    killed = await _admin(database, """
        SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = $1 AND pid <> pg_backend_pid()""", name)
    assert len(killed) >= 1
    # No pause: the next call may find a socket the client hasn't seen close.
    row = await hot.one(COUNT, {"event": event})
    assert row is not None and row["n"] == 0
    await _admin(database, """
        SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = $1 AND pid <> pg_backend_pid()""", name)
    async with hot.transaction() as tx:
        await insert_audit_event(tx, event=event, outcome="ok", now=1.0)
    row = await hot.one(COUNT, {"event": event})
    assert row is not None and row["n"] == 1


async def test_a_connection_lost_mid_transaction_raises_its_own_error(
        hot: PostgresHot, database: str) -> None:
    """The server drops the connection between two statements: the caller
    sees the connection error (which the interceptor maps to 503), not the
    InterfaceError of a rollback on a connection asyncpg already detached,
    and nothing of the transaction is committed."""
    event = f"lost-{uuid.uuid4().hex[:8]}"
    name = database.rsplit("/", 1)[-1]
    with pytest.raises(STALE):
        async with hot.transaction() as tx:
            # execute, not the held insert: this statement must be sent
            # (and the transaction begun) before the connection goes.
            await tx.execute(statements.INSERT_AUDIT_EVENT, _audit(event, 1.0))
            await _admin(database, """
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = $1 AND pid <> pg_backend_pid()""", name)
            await asyncio.sleep(0.05)
            await insert_audit_event(tx, event=event, outcome="ok", now=2.0)
    row = await hot.one(COUNT, {"event": event})
    assert row is not None and row["n"] == 0


def _audit(event: str, now: float) -> dict[str, Any]:
    return {"now": now, "event": event, "outcome": "ok", "reason": None,
            "application_id": None, "user_id": None, "authenticator": None,
            "client_ip": None, "request_id": None}


async def test_held_inserts_go_out_as_one_atomic_statement(
        hot: PostgresHot, database: str) -> None:
    """Inserts whose row count nobody reads (a session, the audit row) are
    held and sent as one statement of data-modifying CTEs: one round trip,
    and without a BEGIN when nothing else ran. It commits or fails whole."""
    combined = _as_one_statement((statements.INSERT_SESSION, statements.INSERT_AUDIT_EVENT))
    conn = await asyncpg.connect(asyncpg_dsn(database))
    try:
        prepared = await conn.prepare(combined)
        assert len(prepared.get_parameters()) == (
            len(statements.INSERT_SESSION.params) + len(statements.INSERT_AUDIT_EVENT.params))
    finally:
        await conn.close()
    event = f"held-{uuid.uuid4().hex[:8]}"
    async with hot.transaction() as tx:
        await tx.insert(statements.INSERT_AUDIT_EVENT, _audit(event, 1.0))
        await tx.insert(statements.INSERT_AUDIT_EVENT, _audit(event, 2.0))
        # Nothing was sent yet: no connection is taken until the end.
        assert tx.conn is None  # type: ignore[attr-defined]
    row = await hot.one(COUNT, {"event": event})
    assert row is not None and row["n"] == 2
    # A session for a user that doesn't exist breaks its foreign key: the
    # audit row held with it must not be committed either.
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        async with hot.transaction() as tx:
            await tx.insert(statements.INSERT_AUDIT_EVENT, _audit(event, 3.0))
            await tx.insert(statements.INSERT_SESSION, {
                "id": str(uuid.uuid4()), "user_pk": str(uuid.uuid4()),
                "application_id": str(uuid.uuid4()), "now": 3.0, "expires_at": 4.0})
    row = await hot.one(COUNT, {"event": event})
    assert row is not None and row["n"] == 2
    # Held inserts go out before the next other statement, in order.
    async with hot.transaction() as tx:
        await tx.insert(statements.INSERT_AUDIT_EVENT, _audit(event, 5.0))
        inside = await tx.one(COUNT, {"event": event})
        assert inside is not None and inside["n"] == 3


async def test_reads_inside_a_transaction_use_its_connection(hot: PostgresHot) -> None:
    """Sixteen calls on a pool of four, each reading through the HotDb from
    inside its open transaction: a read that took a second pooled
    connection would leave all four held by calls waiting for a fifth."""
    event = f"nest-{uuid.uuid4().hex[:8]}"

    async def call(i: int) -> None:
        async with hot.transaction() as tx:
            await insert_audit_event(tx, event=event, outcome="ok", now=float(i))
            await asyncio.sleep(0.01)
            row = await hot.one(COUNT, {"event": event})
            # Its own uncommitted row is visible: the same connection.
            assert row is not None and row["n"] >= 1

    await asyncio.wait_for(asyncio.gather(*(call(i) for i in range(16))), timeout=20)
    row = await hot.one(COUNT, {"event": event})
    assert row is not None and row["n"] == 16


async def test_a_transaction_with_no_statement_takes_no_connection(
        hot: PostgresHot, database: str) -> None:
    """A call whose challenge lives in Redis opens its transaction and runs
    nothing on PostgreSQL: that must cost no BEGIN and no connection."""
    await hot.one(COUNT, {"event": "warm"})
    before = hot._pool.get_idle_size()
    async with hot.transaction():
        assert hot._pool.get_idle_size() == before
    assert hot._pool.get_idle_size() == before


# -- Redis -------------------------------------------------------------------------

@pytest.fixture
async def redis() -> AsyncIterator[tuple[Redis, RedisKeys]]:
    require(bool(redis_url()), "AUTHCORE_TEST_REDIS_URL is not set")
    url = redis_url()
    assert url
    client = connect(url)
    keys = RedisKeys(f"authcore-test-{uuid.uuid4().hex[:10]}:")
    try:
        yield client, keys
    finally:
        found = [k async for k in client.scan_iter(match=keys.prefix + "*", count=1000)]
        if found:
            await client.delete(*found)
        await client.aclose()


async def _challenge(client: Redis, keys: RedisKeys, user_pk: str | None,
                     now: float = T0) -> tuple[str, str]:
    """A challenge (token, id) as the flows create it."""
    store = RedisChallengeStore(client, keys=keys)
    token, _ = await store.create(None, application_id="app", user_pk=user_pk,  # type: ignore[arg-type]
                                  authenticator="TOKEN", stage="single", state={"a": [1]},
                                  ttl_seconds=300, now=now)
    raw = await client.hgetall(keys.kind_prefix("challenge") + token_hash(token))
    return token, str(raw["id"])


NO_LIMIT = [("ip:test", RateLimit(10_000, 60.0))]


async def test_open_reads_limits_challenge_and_counters_in_one_script(
        redis: tuple[Redis, RedisKeys]) -> None:
    client, keys = redis
    hot = RedisHot(client, keys=keys)
    lockouts = RedisLockoutStore(client, keys=keys)
    user = str(uuid.uuid4())
    await lockouts.record_failure(None, user_pk=user, authenticator="TOKEN",  # type: ignore[arg-type]
                                  policy=LockoutPolicy(5, 60), now=T0)
    token, challenge_id = await _challenge(client, keys, user)
    opened = await hot.open(NO_LIMIT, token_digest=token_hash(token))
    assert opened.decision.allowed
    assert opened.challenge["id"] == challenge_id
    assert opened.challenge["state"] == '{"a":[1]}'
    assert opened.lockouts == {"TOKEN": LockoutState(failures=1, locked_at=None,
                                                     lockout_expires_at=None)}
    unknown = await hot.open(NO_LIMIT, token_digest=token_hash("nope"))
    assert unknown.decision.allowed and unknown.challenge == {} and unknown.lockouts == {}


async def test_open_refuses_over_the_limit_and_counts_as_the_limiter(
        redis: tuple[Redis, RedisKeys]) -> None:
    client, keys = redis
    hot = RedisHot(client, keys=keys)
    limits = [("ip:x", RateLimit(3, 60.0)), ("user:y", RateLimit(100, 60.0))]
    answers = [await hot.open(limits, token_digest="0" * 64) for _ in range(5)]
    assert [a.decision.allowed for a in answers] == [True, True, True, False, False]
    assert 0 < answers[-1].decision.retry_after <= 20.0 + 1e-3
    # The refused calls counted nothing against the user's own limit: its
    # theoretical arrival time is 3 intervals (0.6 s each) ahead, not 5.
    ttl_ms = await client.pttl(keys.key("rl", "user:y"))
    assert 1500 < ttl_ms <= 1802


async def test_close_counts_failures_as_after_failure(redis: tuple[Redis, RedisKeys]) -> None:
    """CLOSE's lockout arithmetic, step by step against limits.lockout."""
    client, keys = redis
    hot = RedisHot(client, keys=keys)
    policy = LockoutPolicy(max_failures=3, lockout_seconds=60)
    user = str(uuid.uuid4())
    expected = LockoutState.clear()
    for offset in [0, 1, 2, 3, 30, 62, 62.5, 63, 200]:
        now = T0 + offset
        _, challenge_id = await _challenge(client, keys, user, now)
        closed = await hot.close(challenge_id=challenge_id, now=now, user_pk=user,
                                 authenticator="PASSWORD", outcome="F", policy=policy)
        assert closed.claimed, offset
        if is_locked(state=expected, now=now):
            assert closed.refused and closed.lockout == expected, offset
        else:
            expected = after_failure(state=expected, policy=policy, now=now)
            assert not closed.refused and closed.lockout == expected, offset
    stored = await RedisLockoutStore(client, keys=keys).states(None, user_pk=user)  # type: ignore[arg-type]
    assert stored == {"PASSWORD": expected}


async def test_close_success_resets_unless_locked(redis: tuple[Redis, RedisKeys]) -> None:
    client, keys = redis
    hot = RedisHot(client, keys=keys)
    lockouts = RedisLockoutStore(client, keys=keys)
    policy = LockoutPolicy(max_failures=2, lockout_seconds=60)
    user = str(uuid.uuid4())
    for i in range(2):
        await lockouts.record_failure(None, user_pk=user, authenticator="OTP",  # type: ignore[arg-type]
                                      policy=policy, now=T0 + i)
    _, challenge_id = await _challenge(client, keys, user)
    locked = await hot.close(challenge_id=challenge_id, now=T0 + 5, user_pk=user,
                             authenticator="OTP", outcome="S")
    assert locked.claimed and locked.refused
    assert locked.lockout is not None and locked.lockout.locked_at == T0 + 1
    _, challenge_id = await _challenge(client, keys, user)
    later = await hot.close(challenge_id=challenge_id, now=T0 + 100, user_pk=user,
                            authenticator="OTP", outcome="S")
    assert later.claimed and not later.refused and later.lockout is None
    assert await lockouts.states(None, user_pk=user) == {}  # type: ignore[arg-type]


async def test_of_fifty_concurrent_closes_one_claims(redis: tuple[Redis, RedisKeys]) -> None:
    client, keys = redis
    hot = RedisHot(client, keys=keys)
    user = str(uuid.uuid4())
    _, challenge_id = await _challenge(client, keys, user)
    results = await asyncio.gather(*(
        hot.close(challenge_id=challenge_id, now=T0 + 1, user_pk=user, authenticator="TOKEN",
                  outcome="F", policy=LockoutPolicy(10, 60)) for _ in range(50)))
    assert sum(r.claimed for r in results) == 1
    stored = await RedisLockoutStore(client, keys=keys).states(None, user_pk=user)  # type: ignore[arg-type]
    assert stored["TOKEN"].failures == 1
    # An expired challenge can't be claimed either.
    _, late_id = await _challenge(client, keys, user)
    late = await hot.close(challenge_id=late_id, now=T0 + 301, user_pk=user,
                           authenticator="TOKEN", outcome="")
    assert not late.claimed
