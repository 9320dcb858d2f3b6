"""Faults under load, on loopback only, each bounded in time: Redis and
PostgreSQL stop in the middle of a steady load through two replicas, and
authentication must fail closed (503 over REST, UNAVAILABLE over gRPC),
leave nothing half-written, and recover by itself when the backend returns.

Nothing is mocked. Each test runs its own backends, so it can kill them
without disturbing the machine's shared servers or other tests:
* Redis: a private `redis-server` on a free port (nothing persisted), killed
  with SIGKILL and restarted on the same port;
* PostgreSQL: a private cluster (initdb into a temporary directory, run as
  the postgres user, which needs root), stopped with `pg_ctl -m immediate`
  (every backend killed at once, as in a crash) and started again on the
  same port.

Skipped without AUTHCORE_TEST_POSTGRES_URL / AUTHCORE_TEST_REDIS_URL (or
without the server binaries); fails instead when CI is set. SIGTERM under
load is tested elsewhere.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import asyncpg
import pytest

from authcore_testkit.api import GrpcApi, Reply, RestApi
from authcore_testkit.cluster import (
    Clients,
    Cluster,
    PrivatePostgres,
    RedisServer,
    can_run_private_postgres,
    has_traceback,
    have_redis_server,
    open_clients,
    output_text,
    private_postgres,
    private_redis,
    require,
    require_postgres_and_redis,
    start_cluster,
)
from authcore_testkit.load import Sample, run_until, timed
from authcore_testkit.scim import Scim, user_doc
from authcore_testkit.server import fresh_postgres_database

PASSWORD = "correct horse battery staple"
WRONG = "not the password"
MAX_FAILURES = 5  # the demo application's lockout policy (the default)
OUTAGE_SECONDS = 3.0
RECOVERY_DEADLINE_SECONDS = 15.0
TEST_DEADLINE_SECONDS = 150.0


def assert_no_bad_answers(samples: list[Sample], allowed: set[int]) -> None:
    """Every call answered (no hang), with an allowed status (so never a 5xx
    other than 503), and no traceback in any body."""
    hung = [str(s) for s in samples if s.status == 0]
    assert not hung, hung[:10]
    wrong = [str(s) for s in samples if s.status not in allowed]
    assert not wrong, wrong[:10]
    leaked = [str(s) for s in samples if has_traceback(s.text) or "File \"/" in s.text]
    assert not leaked, leaked[:5]


def assert_servers_healthy(cluster: Cluster) -> None:
    for replica in cluster.replicas:
        assert replica.process.poll() is None, "a replica exited:\n" + output_text(replica)
        text = output_text(replica)
        assert not has_traceback(text), text[-6000:]
        assert "unhandled error" not in text, text[-6000:]


async def new_user(clients: Clients, password: str = PASSWORD) -> str:
    user_id = f"fault-{uuid.uuid4().hex[:12]}@example.com"
    await clients.admins[0].user(user_id)
    await clients.admins[-1].password(user_id, password)
    return user_id


async def login(api: RestApi | GrpcApi, other: RestApi | GrpcApi, app_id: str, user_id: str,
                password: str, samples: list[Sample], loop: str) -> Reply | None:
    """Challenge on `api`, complete on `other` (the other replica); the
    complete's reply, or None when the challenge was refused."""
    ch = await timed(loop, "challenge", api.challenge(
        "PASSWORD", {"applicationId": app_id, "userId": user_id}), samples, user=user_id)
    if ch is None or ch.status != 200:
        return None
    reply: Reply | None = await timed(loop, "complete", other.complete(
        "PASSWORD", {"response": password}, ch.body["token"]), samples, user=user_id)
    return reply


def summary(samples: list[Sample], down: float, restarting: float, up: float,
            back: float) -> str:
    """What the load saw in each phase (printed; pytest shows it on failure)."""
    phases = {"before": [s for s in samples if s.received < down],
              "outage": [s for s in samples if s.within(down, restarting)],
              "after": [s for s in samples if s.sent >= up]}
    lines = [f"outage {restarting - down:.1f}s, recovered {back - up:.1f}s after restart"]
    lines += [f"after restart +{s.sent - up:.2f}s..+{s.received - up:.2f}s: {s}"
              for s in sorted(samples, key=lambda s: s.received)
              if s.received >= restarting and s.status == 503][:10]
    for name, chosen in phases.items():
        lines.append(f"{name}: " + ", ".join(
            f"{step} {status} {code}: {count}" for (step, status, code), count in
            sorted(Counter((s.step, s.status, s.code) for s in chosen).items(), key=str)))
    return "\n".join(lines)


async def stop_load(stop: asyncio.Event, tasks: list[asyncio.Task[None]]) -> None:
    """Stop the load loops; re-raise the first error one of them died of."""
    stop.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise result


async def wait_until(check: Callable[[], Any], deadline: float, what: str) -> float:
    """Poll the coroutine function `check` until it returns true; the time
    it first did. Fails at `deadline` (time.monotonic())."""
    while True:
        if await check():
            return time.monotonic()
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen in time", pytrace=False)
        await asyncio.sleep(0.2)


# -- Redis -------------------------------------------------------------------------

@pytest.fixture
def redis_cluster() -> Iterator[tuple[Cluster, RedisServer]]:
    """Two replicas on a fresh database of the test PostgreSQL server and a
    private redis-server."""
    require_postgres_and_redis()
    require(have_redis_server(), "redis-server is not installed")
    with ExitStack() as stack:
        database = stack.enter_context(fresh_postgres_database())
        redis = stack.enter_context(private_redis())
        yield stack.enter_context(start_cluster(database_url=database, redis=redis.url)), redis


async def test_redis_down_fails_closed_and_recovers_by_itself(
    redis_cluster: tuple[Cluster, RedisServer]
) -> None:
    cluster, redis = redis_cluster
    async with open_clients(cluster) as clients, asyncio.timeout(TEST_DEADLINE_SECONDS):
        await redis_outage(cluster, clients, redis)
    assert_servers_healthy(cluster)


async def redis_outage(cluster: Cluster, clients: Clients, redis: RedisServer) -> None:
    app_id = cluster.app_id
    samples: list[Sample] = []
    stop = asyncio.Event()
    n = len(clients.apis)
    # Loops 0..n-1 keep hammering one user each, who locks after
    # MAX_FAILURES; loops n..2n-1 move to a fresh user after 3 failures, so
    # their password checks never stop being evaluated while Redis is up.
    locked_users = [await new_user(clients) for _ in range(n)]
    probe_users = [await new_user(clients) for _ in range(2 * n)]
    # Made beforehand: the load itself must only need what the outage takes away.
    pools = [[await new_user(clients) for _ in range(6)] for _ in range(n)]

    def hammer(i: int) -> Callable[[], Any]:
        async def attempt() -> None:
            await login(clients.api(i), clients.api(i + 1), app_id, locked_users[i], WRONG,
                        samples, f"locked{i}")
        return attempt

    def rotate(i: int) -> Callable[[], Any]:
        verdicts = Counter[str]()

        async def attempt() -> None:
            # The first user of the pool with fewer than 3 failures (the
            # last one when all have had theirs: it may then lock).
            user = next((u for u in pools[i] if verdicts[u] < 3), pools[i][-1])
            reply = await login(clients.api(i), clients.api(i + 1), app_id, user, WRONG,
                                samples, f"rotate{i}")
            if reply is not None and reply.error_code == "invalid_password":
                verdicts[user] += 1
        return attempt

    tasks = [asyncio.create_task(run_until(stop, hammer(i))) for i in range(n)]
    tasks += [asyncio.create_task(run_until(stop, rotate(i))) for i in range(n)]
    try:
        async def all_locked() -> bool:
            refused = {s.loop for s in samples
                       if s.step == "challenge" and s.code == "authenticator_locked"}
            return len(refused) == n
        await wait_until(all_locked, time.monotonic() + 30, "locking the hammered users")
        await asyncio.sleep(0.5)

        redis.kill()
        down = time.monotonic()
        await asyncio.sleep(OUTAGE_SECONDS)
        # While Redis is down nothing needing it can be answered, not even
        # for a user who has never failed.
        during = await login(clients.api(0), clients.api(1), app_id, probe_users[0], PASSWORD,
                             samples, "probe")
        assert during is None, during
        restarting = time.monotonic()
        redis.start()
        up = time.monotonic()

        recovered: dict[int, bool] = {}

        async def logins_work() -> bool:
            async def probe(i: int) -> None:
                reply = await login(clients.api(i), clients.api(i + 1), app_id,
                                    probe_users[n + i], PASSWORD, samples, "recovery")
                recovered[i] = reply is not None and reply.status == 200
            await asyncio.gather(*[probe(i) for i in range(n) if not recovered.get(i)])
            return all(recovered.get(i) for i in range(n))
        back = await wait_until(logins_work, up + RECOVERY_DEADLINE_SECONDS,
                                "recovery after Redis came back")
        await asyncio.sleep(1.0)
    finally:
        await stop_load(stop, tasks)

    print(summary(samples, down, restarting, up, back))
    assert_no_bad_answers(samples, {200, 401, 403, 503})
    outage = [s for s in samples if s.within(down, restarting)]
    assert len(outage) >= 20, f"only {len(outage)} calls during the outage"
    # Fail closed: every call made while Redis was down is refused as
    # unavailable. In particular no password was evaluated without its
    # limiter (no "invalid_password" 401) and no lockout state was guessed
    # (no 403 authenticator_locked, no 200).
    not_503 = [str(s) for s in outage if s.status != 503]
    assert not not_503, not_503[:10]
    # Wrong passwords never succeed, whatever the moment.
    wins = [str(s) for s in samples if s.loop != "recovery" and s.step == "complete"
            and s.status == 200]
    assert not wins, wins[:5]

    # Counted failures: the hammered users got exactly MAX_FAILURES verdicts
    # before the outage. Redis keeps nothing (no persistence), so its
    # counters start from zero when it comes back: a user locked in Redis
    # gets MAX_FAILURES fresh attempts after a Redis restart, never more.
    for i, user in enumerate(locked_users):
        verdicts = [s for s in samples
                    if s.extra.get("user") == user and s.code == "invalid_password"]
        before = [s for s in verdicts if s.received < down]
        after = [s for s in verdicts if s.sent >= up]
        assert len(before) == MAX_FAILURES, (i, [str(s) for s in before])
        assert len(after) <= MAX_FAILURES, (i, [str(s) for s in after])
        assert len(before) + len(after) == len(verdicts), [str(s) for s in verdicts]
    per_user: dict[tuple[str, bool], int] = defaultdict(int)
    for s in samples:
        if s.code == "invalid_password":
            per_user[(str(s.extra.get("user")), s.sent >= up)] += 1
    assert max(per_user.values()) <= MAX_FAILURES, per_user

    # Recovered by itself, and stays recovered.
    assert back - up < RECOVERY_DEADLINE_SECONDS
    late = [str(s) for s in samples if s.sent >= back and s.status == 503]
    assert not late, late[:10]
    successes = Counter(s.loop for s in samples if s.status == 200 and s.step == "complete")
    assert successes["recovery"] >= n, successes


# -- PostgreSQL --------------------------------------------------------------------

@pytest.fixture
def postgres_cluster() -> Iterator[tuple[Cluster, PrivatePostgres]]:
    """Two replicas on a private PostgreSQL cluster and a private redis-server."""
    require_postgres_and_redis()
    require(have_redis_server(), "redis-server is not installed")
    ok, why = can_run_private_postgres()
    require(ok, why)
    with ExitStack() as stack:
        pg = stack.enter_context(private_postgres())
        redis = stack.enter_context(private_redis())
        yield stack.enter_context(start_cluster(database_url=pg.url, redis=redis.url)), pg


async def test_postgres_down_fails_closed_leaves_nothing_half_written_and_recovers(
    postgres_cluster: tuple[Cluster, PrivatePostgres]
) -> None:
    cluster, pg = postgres_cluster
    async with open_clients(cluster) as clients, asyncio.timeout(TEST_DEADLINE_SECONDS):
        await postgres_outage(cluster, clients, pg)
    assert_servers_healthy(cluster)


async def scim_create(scim: Scim, samples: list[Sample], loop: str) -> Any:
    name = f"enrol-{uuid.uuid4().hex[:12]}"
    doc = user_doc(name, name={"givenName": "Ada", "familyName": "Lovelace"},
                   emails=[{"value": f"{name}@work.example.com", "type": "work",
                            "primary": True},
                           {"value": f"{name}@home.example.com", "type": "home"}],
                   password="Enrol-passw0rd!")
    return await timed(loop, "create", scim.create("Users", doc), samples, user=name)


async def postgres_outage(cluster: Cluster, clients: Clients, pg: PrivatePostgres) -> None:
    app_id = cluster.app_id
    samples: list[Sample] = []
    stop = asyncio.Event()
    n = len(clients.apis)
    users = [await new_user(clients) for _ in range(n)]

    def logins(i: int) -> Callable[[], Any]:
        async def attempt() -> None:
            await login(clients.api(i), clients.api(i + 1), app_id, users[i], PASSWORD,
                        samples, f"login{i}")
        return attempt

    def creates(i: int) -> Callable[[], Any]:
        async def attempt() -> None:
            await scim_create(clients.scim(i), samples, f"scim{i}")
        return attempt

    tasks = [asyncio.create_task(run_until(stop, logins(i))) for i in range(n)]
    tasks += [asyncio.create_task(run_until(stop, creates(i))) for i in range(n)]
    try:
        async def loaded() -> bool:
            done = Counter(s.loop for s in samples if s.status in (200, 201))
            return all(done[f"login{i}"] >= 2 and done[f"scim{i}"] >= 2 for i in range(n))
        await wait_until(loaded, time.monotonic() + 30, "a steady load before the outage")

        stopping = time.monotonic()
        pg.stop()
        down = time.monotonic()
        await asyncio.sleep(OUTAGE_SECONDS)
        for replica in cluster.replicas:
            assert replica.process.poll() is None, output_text(replica)
        restarting = time.monotonic()
        pg.start()
        up = time.monotonic()

        recovered: dict[str, bool] = {}

        async def everything_works() -> bool:
            async def probe_login(i: int) -> None:
                reply = await login(clients.api(i), clients.api(i + 1), app_id, users[i],
                                    PASSWORD, samples, "recovery")
                recovered[f"login{i}"] = reply is not None and reply.status == 200

            async def probe_create(i: int) -> None:
                made = await scim_create(clients.scim(i), samples, "recovery")
                recovered[f"scim{i}"] = made is not None and made.status == 201
            await asyncio.gather(
                *[probe_login(i) for i in range(n) if not recovered.get(f"login{i}")],
                *[probe_create(i) for i in range(n) if not recovered.get(f"scim{i}")])
            return len(recovered) == 2 * n and all(recovered.values())
        back = await wait_until(everything_works, up + RECOVERY_DEADLINE_SECONDS,
                                "recovery after PostgreSQL came back")
        await asyncio.sleep(1.0)
    finally:
        await stop_load(stop, tasks)

    print(summary(samples, down, restarting, up, back))
    assert_no_bad_answers(samples, {200, 201, 503})
    outage = [s for s in samples if s.within(down, restarting)]
    assert len(outage) >= 20, f"only {len(outage)} calls during the outage"
    not_503 = [str(s) for s in outage if s.status != 503]
    assert not not_503, not_503[:10]
    assert stopping < down
    late = [str(s) for s in samples if s.sent >= back and s.status == 503]
    assert not late, late[:10]

    # No half-written enrollment: every create that answered 201 exists
    # completely; one that failed either exists completely (committed just
    # before the connection died) or not at all.
    creates = [s for s in samples if s.step == "create"]
    assert any(s.status == 503 for s in creates), "no SCIM create ran into the outage"
    rows = await enrollment_rows(pg.url, [str(s.extra["user"]) for s in creates])
    half: list[str] = []
    for s in creates:
        name = str(s.extra["user"])
        row = rows.get(name)
        if s.status == 201 and row is None:
            half.append(f"201 but missing: {s}")
        if row is not None and row != (f"{name}@work.example.com", 2, 1):
            half.append(f"incomplete {row}: {s}")
    assert not half, half[:10]


async def enrollment_rows(url: str, names: list[str]) -> dict[str, tuple[str | None, int, int]]:
    """userName -> (users.email, number of emails rows, number of passwords
    rows), read straight from the database."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        records = await conn.fetch(
            """SELECT u.user_id, u.email,
                      (SELECT count(*) FROM user_values v
                        WHERE v.user_pk = u.pk AND v.attribute = 'emails') AS emails,
                      (SELECT count(*) FROM passwords p WHERE p.user_pk = u.pk) AS passwords
                 FROM users u WHERE u.user_id = ANY($1::text[])""", names)
    finally:
        await conn.close()
    return {r["user_id"]: (r["email"], int(r["emails"]), int(r["passwords"])) for r in records}
