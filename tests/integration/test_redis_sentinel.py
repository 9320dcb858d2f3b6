"""Redis Sentinel failover under load, and what it may not lose.

A primary, one replica and three sentinels run on loopback
(authcore_testkit/sentinel.py); authcore (`--workers 2`, PostgreSQL) reaches
Redis through a `redis+sentinel://` URL with AUTHCORE_REDIS_WAIT_REPLICAS=1.
TOTP challenge + complete loops run while the primary is killed:

* every answer is a login answer or 503 backend_unavailable, never a 500,
  and none takes longer than a bound (no hangs);
* calls are refused (503) while the sentinels fail over, and while the new
  primary has no replica to acknowledge claims; once the old primary is back
  as its replica, logins succeed again, with the same authcore processes;
* no challenge whose completion was answered (before the kill or after it)
  can be completed again: each claim reached the replica before it was
  answered (WAIT), so the promoted replica has it. The scripts were not on
  the replica (Redis 7 replicates their effects, not SCRIPT LOAD) and are
  reloaded there after NOSCRIPT.

A second test pins WAIT down without a failover: with the replica frozen a
claim is refused instead of answered.

Skipped without the redis-server binary or AUTHCORE_TEST_POSTGRES_URL
(failed when CI is set).
"""

from __future__ import annotations

import asyncio
import hashlib
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyotp
import pytest

from authcore.errors import Unavailable
from authcore.flows.challenges import RedisChallengeStore
from authcore.flows.lockouts import RedisLockoutStore
from authcore.limits.lockout import LockoutPolicy
from authcore.store.hot.redis import CLOSE
from authcore.store.redis import connect
from authcore.store.redis_ha import WAIT_TIMEOUT_MS
from authcore_testkit import procs
from authcore_testkit.api import Admin, GrpcApi, Reply, RestApi
from authcore_testkit.cluster import has_traceback, postgres_url, require
from authcore_testkit.sentinel import (
    SentinelGroup,
    command,
    data_node,
    have_redis_server,
    replicas_of,
    sentinel_group,
    wait_for,
)
from authcore_testkit.server import RunningServer, fresh_postgres_database, run_server

USERS = 6
# Completions with an answer needed before the kill, and after recovery.
BEFORE, AFTER = 30, 30
# No call may take longer: the Redis socket timeout (2 s) plus WAIT (1 s),
# with room for a CPU-starved box.
MAX_CALL_SECONDS = 6.0
# A call not answered by then is reported as hung (and the loop goes on).
HUNG_SECONDS = 10.0
LOGIN_ANSWERS = {(200, None), (401, "invalid_code"), (401, "replayed_code")}
USED_UP = {"invalid_token", "expired_token"}


@pytest.fixture
def group() -> Iterator[SentinelGroup]:
    require(have_redis_server(), "the redis-server binary is not installed")
    require(bool(postgres_url()), "AUTHCORE_TEST_POSTGRES_URL is not set")
    with sentinel_group() as g:
        yield g


@pytest.fixture
def server(group: SentinelGroup) -> Iterator[RunningServer]:
    env = {"AUTHCORE_REDIS_URL": group.url, "AUTHCORE_REDIS_WAIT_REPLICAS": "1",
           # Wrong codes count failures; the loops make a few hundred.
           "AUTHCORE_LOCKOUT_MAX_FAILURES": "1000"}
    with fresh_postgres_database() as database, \
            run_server(backend="postgres", database_url=database, env=env,
                       workers=2) as running:
        yield running
    output = "".join(running.output)
    assert not has_traceback(output), output[-4000:]
    assert "backend_unavailable" in output


@dataclass
class Completed:
    token: str
    at: float  # monotonic time of the answer


@dataclass
class Load:
    """What the login loops saw."""

    answered: list[Completed] = field(default_factory=list)
    refused: list[float] = field(default_factory=list)  # times of 503s
    successes: list[float] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    slowest: float = 0.0
    stop: bool = False

    def answered_since(self, t: float) -> int:
        return sum(1 for c in self.answered if c.at >= t)

    def summary(self) -> str:
        now = time.monotonic()
        last = now - self.answered[-1].at if self.answered else None
        return (f"{len(self.answered)} answered (last {last} s ago), "
                f"{len(self.refused)} refused, unexpected {self.unexpected[:5]}")


async def _timed(load: Load, call: Any) -> Reply:
    started = time.monotonic()
    try:
        reply: Reply = await asyncio.wait_for(call, HUNG_SECONDS)
    except TimeoutError:
        reply = Reply(0, None, "hung")  # reported as unexpected
    load.slowest = max(load.slowest, time.monotonic() - started)
    return reply


async def login_loop(load: Load, api: RestApi | GrpcApi, app_id: str, user_id: str,
                     totp: pyotp.TOTP) -> None:
    used_steps: set[int] = set()
    body = {"applicationId": app_id, "userId": user_id}
    while not load.stop:
        ch = await _timed(load, api.challenge("TOKEN", body))
        if ch.status == 503 and ch.error_code == "backend_unavailable":
            load.refused.append(time.monotonic())
            await asyncio.sleep(0.02)
            continue
        if ch.status != 200:
            load.unexpected.append(f"challenge {ch.status} {ch.error_code}")
            continue
        step = int(time.time()) // 30
        # The right code once per step, else a wrong one (it uses the
        # challenge up as well, without argon2 or a TOTP step).
        right = step not in used_steps
        code = totp.now() if right else totp.at(time.time() + 600)
        done = await _timed(load, api.complete("TOKEN", {"response": code},
                                               ch.body["token"]))
        now = time.monotonic()
        if done.status == 503 and done.error_code == "backend_unavailable":
            load.refused.append(now)
            continue
        if (done.status, done.error_code) not in LOGIN_ANSWERS:
            load.unexpected.append(f"complete {done.status} {done.error_code}")
            continue
        load.answered.append(Completed(ch.body["token"], now))
        if done.status == 200:
            used_steps.add(step)
            load.successes.append(now)


async def wait_until(what: str, check: Any, seconds: float, load: Load) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {load.summary()}")
        await asyncio.sleep(0.05)


async def test_failover_under_load_refuses_then_recovers_and_loses_no_claim(
        group: SentinelGroup, server: RunningServer) -> None:
    workers = sorted(procs.wait_for_children(server.process.pid, 2))
    admin = Admin(server)
    apis: list[RestApi | GrpcApi] = [RestApi(server) if i % 2 == 0 else GrpcApi(server)
                                     for i in range(USERS)]
    load = Load()
    try:
        # Twice as many users as loops: the second half logs in only after
        # recovery, with a TOTP step of its own (a user's right code works
        # once per 30 s step, and the first half may have used theirs).
        totps = []
        for i in range(2 * USERS):
            user_id = f"sentinel-{i}-{uuid.uuid4().hex[:8]}"
            await admin.user(user_id)
            tok = await admin.req("POST", f"/api/admin/v1/users/{user_id}/tokens",
                                  {"type": "TOTP", "algorithm": "SHA1", "digits": 6})
            totps.append((user_id, pyotp.TOTP(tok["secret"])))
        def start(first: int) -> list[asyncio.Task[None]]:
            return [asyncio.create_task(login_loop(load, apis[i % USERS],
                                                   server.demo_application_id, *totps[i]))
                    for i in range(first, first + USERS)]
        loops = start(0)
        try:
            await wait_until("logins before the kill",
                             lambda: len(load.answered) >= BEFORE and load.successes, 20, load)
            assert not load.refused, "503s before the kill"
            old, new = group.primary, group.replica
            killed_at = time.monotonic()
            old.kill()

            await wait_until("the sentinels to promote the replica",
                             lambda: group.all_agree(new.port), 20, load)
            # The dead primary comes back as the new one's replica, as a
            # Sentinel-aware restart (or Sentinel itself, later) makes it.
            old.start(extra=["--replicaof", "127.0.0.1", str(new.port)])
            await wait_until("the old primary to sync as a replica",
                             lambda: replicas_of(new) == 1, 15, load)
            recovered_at = time.monotonic()
            loops += start(USERS)
            await wait_until(
                "logins after recovery",
                lambda: load.answered_since(recovered_at) >= AFTER
                and any(t >= recovered_at for t in load.successes), 20, load)
        finally:
            load.stop = True
            await asyncio.gather(*loops)

        assert not load.unexpected, load.unexpected[:10]
        assert load.slowest < MAX_CALL_SECONDS, load.slowest
        assert any(killed_at <= t <= recovered_at for t in load.refused), \
            "no call was refused during the failover"

        # Every answered completion used its challenge up for good. (Over
        # REST: the answer is Redis's, whichever transport asks.)
        rest, gate = apis[0], asyncio.Semaphore(16)

        async def replay(c: Completed) -> tuple[int, str | None]:
            async with gate:
                again = await rest.complete("TOKEN", {"response": "000000"}, c.token)
            return again.status, again.error_code
        replays = await asyncio.gather(*(replay(c) for c in load.answered))
        reopened = [r for r in replays if r[0] != 401 or r[1] not in USED_UP]
        assert not reopened, (len(reopened), len(replays), reopened[:5])

        # Scripts were loaded again on the promoted replica.
        sha = hashlib.sha1(CLOSE.encode()).hexdigest()
        assert command(new.port, "SCRIPT", "EXISTS", sha).startswith("*1\r\n:1"), sha
        # Same processes: authcore recovered without a restart.
        assert server.process.poll() is None
        assert sorted(procs.children(server.process.pid)) == workers
    finally:
        for client in [admin, *apis]:
            await client.close()


async def test_a_claim_is_refused_when_no_replica_acknowledges_it(tmp_path: Any) -> None:
    require(have_redis_server(), "the redis-server binary is not installed")
    primary = data_node(tmp_path, "primary")
    primary.start()
    replica = data_node(tmp_path, "replica", replica_of=primary.port)
    try:
        replica.start()
        wait_for("the replica to sync", lambda: replicas_of(primary) == 1, 15)
        client = connect(f"redis://127.0.0.1:{primary.port}/0")
        acked = RedisChallengeStore(client, ack_replicas=1)
        plain = RedisChallengeStore(client)
        lockouts = RedisLockoutStore(client, ack_replicas=1)
        db: Any = None  # the Redis stores don't touch the session
        now = time.time()

        async def new_challenge() -> str:
            token, _ = await acked.create(db, application_id="a", user_pk="u1",
                                          authenticator="TOKEN", stage="single", state={},
                                          ttl_seconds=60, now=now)
            return (await acked.load(db, token=token, now=now)).id

        first, second, third = [await new_challenge() for _ in range(3)]
        await acked.claim(db, challenge_id=first, now=now)  # acknowledged: answered

        replica.signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            with pytest.raises(Unavailable) as refused:
                await acked.claim(db, challenge_id=second, now=now)
            assert refused.value.reason == "backend_unavailable"
            waited = time.monotonic() - started
            assert WAIT_TIMEOUT_MS / 1000 * 0.9 <= waited < WAIT_TIMEOUT_MS / 1000 + 2
            with pytest.raises(Unavailable):
                await lockouts.record_failure(db, user_pk="u1", authenticator="TOKEN",
                                              policy=LockoutPolicy(), now=now)
            # Without the setting the same claim would have been answered.
            await plain.claim(db, challenge_id=third, now=now)
        finally:
            replica.signal(signal.SIGCONT)
        fourth = await new_challenge()
        await acked.claim(db, challenge_id=fourth, now=now)
        await client.aclose()
    finally:
        replica.kill()
        primary.kill()
