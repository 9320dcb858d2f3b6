"""Two `authcore serve` replicas on one PostgreSQL database (and one Redis):
PASSWORD lockouts count failures from both and hold on both.

Each topology gets its own pair of replicas on a fresh database: "postgres"
(lockouts and challenges in SQL, rate limits per process) and
"postgres+redis" (the production topology: AUTHCORE_REDIS_URL set on both).
The second replica always starts against the database the first one
bootstrapped, with the same AUTHCORE_MASTER_KEY and AUTHCORE_ADMIN_KEY.

Skipped without AUTHCORE_TEST_POSTGRES_URL / AUTHCORE_TEST_REDIS_URL; fails
instead when CI is set.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from authcore_testkit.cluster import (
    TOPOLOGIES,
    Clients,
    Cluster,
    has_traceback,
    open_clients,
    require_postgres_and_redis,
    shared_replica_cluster,
)

PASSWORD = "correct horse battery staple"
WRONG = "not the password"
MAX_FAILURES = 5  # the demo application's lockout policy (the default)


@pytest.fixture(scope="module", params=TOPOLOGIES)
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    require_postgres_and_redis()
    running = shared_replica_cluster(request, request.param)
    yield running
    assert not has_traceback(running.outputs()), running.outputs()[-4000:]


@pytest.fixture
async def clients(cluster: Cluster) -> AsyncIterator[Clients]:
    async with open_clients(cluster) as opened:
        yield opened


async def new_password_user(clients: Clients) -> str:
    """Created through replica A, its password set through replica B."""
    user_id = f"rep-{uuid.uuid4().hex[:12]}@example.com"
    await clients.admins[0].user(user_id)
    await clients.admins[-1].password(user_id, PASSWORD)
    return user_id


async def password_status(clients: Clients, app_id: str, user_id: str
                          ) -> list[dict[str, Any]]:
    """The PASSWORD lockout status as each replica reports it (Entrust query)."""
    out = []
    for api in clients.apis[:len(clients.admins)]:  # one per replica
        q = await api.query({"applicationId": app_id, "userId": user_id})
        assert q.status == 200, q
        [status] = [s for s in q.body["authenticatorLockoutStatus"] if s["type"] == "PASSWORD"]
        out.append(status)
    return out


async def challenge(clients: Clients, i: int, app_id: str, user_id: str) -> str:
    ch = await clients.api(i).challenge("PASSWORD", {"applicationId": app_id,
                                                     "userId": user_id})
    assert ch.status == 200, ch
    return str(ch.body["token"])


async def test_second_replica_completes_the_first_ones_challenge(
    cluster: Cluster, clients: Clients
) -> None:
    app_id = cluster.app_id
    user_id = await new_password_user(clients)
    for i in range(len(clients.apis)):
        # Challenge on one replica, complete on the other (transports mixed).
        token = await challenge(clients, i, app_id, user_id)
        done = await clients.api(i + 1).complete("PASSWORD", {"response": PASSWORD}, token)
        assert done.status == 200 and done.body["authenticationCompleted"] is True, done
        again = await clients.api(i).complete("PASSWORD", {"response": PASSWORD}, token)
        assert again.status == 401 and again.error_code == "invalid_token", again


async def test_alternating_failures_lock_after_exactly_the_limit_on_both(
    cluster: Cluster, clients: Clients
) -> None:
    app_id = cluster.app_id
    user_id = await new_password_user(clients)
    assert [s["remainingAuthenticationAttempts"] for s in
            await password_status(clients, app_id, user_id)] == [MAX_FAILURES] * 2
    held: list[str] = []
    for attempt in range(MAX_FAILURES):
        if attempt == MAX_FAILURES - 1:
            # Challenges issued before the lock, one per replica, answered
            # with the right password after it.
            held = [await challenge(clients, i, app_id, user_id) for i in range(2)]
        token = await challenge(clients, attempt, app_id, user_id)
        bad = await clients.api(attempt + 1).complete("PASSWORD", {"response": WRONG}, token)
        assert bad.status == 401 and bad.error_code == "invalid_password", bad
        statuses = await password_status(clients, app_id, user_id)
        left = MAX_FAILURES - 1 - attempt
        assert [s["remainingAuthenticationAttempts"] for s in statuses] == [left, left], \
            (attempt, statuses)
        assert [s["locked"] for s in statuses] == [left == 0] * 2, (attempt, statuses)

    for status in await password_status(clients, app_id, user_id):
        assert status["locked"] is True and status["lockoutDate"], status
    for i, api in enumerate(clients.apis):
        ch = await api.challenge("PASSWORD", {"applicationId": app_id, "userId": user_id})
        assert ch.status == 403 and ch.error_code == "authenticator_locked", (i, ch)
    for i, token in enumerate(held):
        # The right password on either replica is refused once locked.
        done = await clients.api(i + 1).complete("PASSWORD", {"response": PASSWORD}, token)
        assert done.status == 403 and done.error_code == "authenticator_locked", (i, done)


async def test_concurrent_failures_on_both_replicas_lock_after_exactly_the_limit(
    cluster: Cluster, clients: Clients
) -> None:
    """More wrong passwords than the limit, fired at once through both
    replicas and both transports, each on its own challenge (all issued
    while the account was still open, as an attacker would prepare them).

    Exactly MAX_FAILURES of them may be evaluated and answered "wrong
    password"; every other one must be refused as locked: answering more
    would give a concurrent attacker as many guesses as requests in flight."""
    app_id = cluster.app_id
    user_id = await new_password_user(clients)
    attempts = 4 * MAX_FAILURES
    tokens = [await challenge(clients, i, app_id, user_id) for i in range(attempts)]
    replies = await asyncio.gather(*[
        clients.api(i + 1).complete("PASSWORD", {"response": WRONG}, token)
        for i, token in enumerate(tokens)])
    outcomes = sorted((r.status, r.error_code) for r in replies)
    assert all(r.status in (401, 403) for r in replies), outcomes
    statuses = await password_status(clients, app_id, user_id)
    for status in statuses:
        assert status["locked"] is True and status["remainingAuthenticationAttempts"] == 0, \
            statuses
    for i, api in enumerate(clients.apis):
        ch = await api.challenge("PASSWORD", {"applicationId": app_id, "userId": user_id})
        assert ch.status == 403 and ch.error_code == "authenticator_locked", (i, ch)
    assert all(r.error_code in ("invalid_password", "authenticator_locked")
               for r in replies), outcomes
    evaluated = sum(r.error_code == "invalid_password" for r in replies)
    assert evaluated == MAX_FAILURES, (
        f"{evaluated} of {attempts} concurrent wrong passwords were evaluated and answered "
        f"'invalid_password'; the limit is {MAX_FAILURES}: {outcomes}")


async def test_unlock_through_one_replica_is_seen_by_the_other(
    cluster: Cluster, clients: Clients
) -> None:
    app_id = cluster.app_id
    user_id = await new_password_user(clients)
    for attempt in range(MAX_FAILURES):
        token = await challenge(clients, attempt, app_id, user_id)
        await clients.api(attempt + 1).complete("PASSWORD", {"response": WRONG}, token)
    assert [s["locked"] for s in await password_status(clients, app_id, user_id)] == [True] * 2
    await clients.admins[0].req("POST", f"/api/admin/v1/users/{user_id}/unlock", {})
    statuses = await password_status(clients, app_id, user_id)
    assert [(s["locked"], s["remainingAuthenticationAttempts"]) for s in statuses] == \
        [(False, MAX_FAILURES)] * 2, statuses
    token = await challenge(clients, 1, app_id, user_id)
    done = await clients.api(0).complete("PASSWORD", {"response": PASSWORD}, token)
    assert done.status == 200, done


async def test_the_redis_topology_keeps_challenges_and_counters_in_redis(
    cluster: Cluster, clients: Clients
) -> None:
    """With AUTHCORE_REDIS_URL both replicas keep PASSWORD challenges and
    failure counters in that Redis, not in SQL (so the "postgres+redis"
    runs of this module test the Redis stores, not SQL again)."""
    if cluster.redis_url is None:
        pytest.skip("this topology has no Redis")
    import asyncpg
    from redis.asyncio import Redis

    user_id = await new_password_user(clients)
    redis = Redis.from_url(cluster.redis_url)
    sql = await asyncpg.connect(cluster.database_url.replace("postgresql+asyncpg://",
                                                             "postgresql://"))
    try:
        before = set(await redis.keys("*"))
        sql_challenges = await sql.fetchval("SELECT count(*) FROM challenges")
        token = await challenge(clients, 0, cluster.app_id, user_id)
        bad = await clients.api(1).complete("PASSWORD", {"response": WRONG}, token)
        assert bad.status == 401 and bad.error_code == "invalid_password", bad
        assert set(await redis.keys("*")) - before, "nothing was written to Redis"
        assert await sql.fetchval("SELECT count(*) FROM challenges") == sql_challenges
        assert await sql.fetchval(
            "SELECT count(*) FROM lockouts l JOIN users u ON u.pk = l.user_pk "
            "WHERE u.user_id = $1", user_id) == 0
        statuses = await password_status(clients, cluster.app_id, user_id)
        assert [s["remainingAuthenticationAttempts"] for s in statuses] == \
            [MAX_FAILURES - 1] * 2
    finally:
        await sql.close()
        await redis.aclose()
