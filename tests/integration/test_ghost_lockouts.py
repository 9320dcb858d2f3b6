"""Ghost lockout counters (flows/ghosts.py): in memory and in Redis they
decide exactly as an account's counter (limits.lockout.after_failure), and
forget a ghost GHOST_MEMORY_SECONDS after its last failure. Redis runs when
AUTHCORE_TEST_REDIS_URL is set."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from authcore.flows.ghosts import (
    GHOST_MEMORY_SECONDS,
    GhostLockouts,
    MemoryGhostLockouts,
    RedisGhostLockouts,
    ghost_credential_id,
    ghost_id,
)
from authcore.limits.lockout import LockoutPolicy, LockoutState, after_failure, is_locked
from authcore.store.redis import RedisKeys, connect
from authcore_testkit.cluster import redis_url

T0 = 1_700_000_000.25
POLICY = LockoutPolicy(max_failures=3, lockout_seconds=60)


@pytest.fixture(params=["memory", "redis"])
async def ghosts(request: pytest.FixtureRequest) -> AsyncIterator[GhostLockouts]:
    if request.param == "memory":
        yield MemoryGhostLockouts()
        return
    url = redis_url()
    if not url:
        pytest.skip("AUTHCORE_TEST_REDIS_URL is not set")
    keys = RedisKeys(f"authcore-test-{uuid.uuid4().hex[:10]}:")
    client = connect(url)
    try:
        yield RedisGhostLockouts(client, keys=keys)
        found = [k async for k in client.scan_iter(match=keys.prefix + "*", count=1000)]
        if found:
            await client.delete(*found)
    finally:
        await client.aclose()


async def test_counts_and_locks_like_an_account(ghosts: GhostLockouts) -> None:
    expected = LockoutState.clear()
    # Failures, the lock, refusals while locked, and a fresh count after it.
    for at in (0, 1, 2, 3, 30, 61, 62, 63, 64):
        now = T0 + at
        counted = await ghosts.record_failure("g1", "PASSWORD", policy=POLICY, now=now)
        if is_locked(state=expected, now=now):
            assert counted.refused and counted.state == expected, at
        else:
            expected = after_failure(state=expected, policy=POLICY, now=now)
            assert not counted.refused and counted.state == expected, at
        assert await ghosts.state("g1", "PASSWORD", now=now) == expected
    # Per ghost and per authenticator.
    assert await ghosts.state("g2", "PASSWORD", now=T0) == LockoutState.clear()
    assert await ghosts.state("g1", "OTP", now=T0) == LockoutState.clear()


async def test_memory_forgets_after_a_day() -> None:
    ghosts = MemoryGhostLockouts()
    await ghosts.record_failure("g", "PASSWORD", policy=POLICY, now=T0)
    assert (await ghosts.state("g", "PASSWORD", now=T0 + 10)).failures == 1
    assert await ghosts.state("g", "PASSWORD",
                              now=T0 + GHOST_MEMORY_SECONDS) == LockoutState.clear()


async def test_memory_is_bounded() -> None:
    ghosts = MemoryGhostLockouts(max_keys=100)
    for i in range(1000):
        await ghosts.record_failure(f"g{i}", "PASSWORD", policy=POLICY, now=T0)
    assert len(ghosts) <= 100
    # The newest are kept.
    assert (await ghosts.state("g999", "PASSWORD", now=T0)).failures == 1


def test_ids_are_keyed_stable_and_fold_case() -> None:
    key, other_key = b"k" * 32, b"o" * 32
    assert ghost_id(key, "Ada@Example.com") == ghost_id(key, "ada@example.com")
    assert ghost_id(key, "ada@example.com") != ghost_id(other_key, "ada@example.com")
    first = ghost_credential_id(key, "app", "ada")
    assert len(first) == 32 and first == ghost_credential_id(key, "app", "ada")
    assert first != ghost_credential_id(key, "app2", "ada")
    assert first != ghost_credential_id(key, "app", "bob")


async def test_redis_counters_expire() -> None:
    url = redis_url()
    if not url:
        pytest.skip("AUTHCORE_TEST_REDIS_URL is not set")
    keys = RedisKeys(f"authcore-test-{uuid.uuid4().hex[:10]}:")
    client = connect(url)
    try:
        await RedisGhostLockouts(client, keys=keys).record_failure(
            "g", "PASSWORD", policy=POLICY, now=T0)
        ttl_ms = await client.pttl(keys.key("ghost-lockout", "g"))
        assert (GHOST_MEMORY_SECONDS - 5) * 1000 < ttl_ms <= (
            GHOST_MEMORY_SECONDS + POLICY.lockout_seconds) * 1000
        await client.delete(keys.key("ghost-lockout", "g"))
    finally:
        await client.aclose()
