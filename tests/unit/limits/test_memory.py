from __future__ import annotations

import pytest

from authcore.limits.base import Decision, RateLimit, RateLimiter
from authcore.limits.memory import MemoryRateLimiter

LIMIT = RateLimit(limit=5, period_seconds=60)
T0 = 1000.0


def test_satisfies_protocol() -> None:
    limiter: RateLimiter = MemoryRateLimiter()
    assert limiter is not None


async def test_burst_then_denied() -> None:
    limiter = MemoryRateLimiter()
    for _ in range(LIMIT.limit):
        assert await limiter.hit("k", LIMIT, now=T0) == Decision(allowed=True, retry_after=0.0)
    denied = await limiter.hit("k", LIMIT, now=T0)
    assert not denied.allowed
    assert denied.retry_after == pytest.approx(60 / 5)


async def test_denied_hits_do_not_consume() -> None:
    limiter = MemoryRateLimiter()
    for _ in range(LIMIT.limit):
        await limiter.hit("k", LIMIT, now=T0)
    first = await limiter.hit("k", LIMIT, now=T0)
    for _ in range(10):
        again = await limiter.hit("k", LIMIT, now=T0)
        assert again.retry_after == pytest.approx(first.retry_after)


async def test_allowed_again_after_retry_after() -> None:
    limiter = MemoryRateLimiter()
    for _ in range(LIMIT.limit):
        await limiter.hit("k", LIMIT, now=T0)
    denied = await limiter.hit("k", LIMIT, now=T0)

    just_before = await limiter.hit("k", LIMIT, now=T0 + denied.retry_after - 0.01)
    assert not just_before.allowed
    assert just_before.retry_after == pytest.approx(0.01)

    assert (await limiter.hit("k", LIMIT, now=T0 + denied.retry_after)).allowed
    # Only one slot has refilled.
    assert not (await limiter.hit("k", LIMIT, now=T0 + denied.retry_after)).allowed


async def test_retry_after_is_exact_with_awkward_interval() -> None:
    # 60/7 isn't representable exactly; waiting retry_after must still succeed.
    limit = RateLimit(limit=7, period_seconds=60)
    limiter = MemoryRateLimiter()
    now = T0 + 0.1
    for _ in range(7):
        assert (await limiter.hit("k", limit, now=now)).allowed
    for _ in range(50):
        decision = await limiter.hit("k", limit, now=now)
        assert not decision.allowed
        assert decision.retry_after == pytest.approx(60 / 7)
        now += decision.retry_after
        assert (await limiter.hit("k", limit, now=now)).allowed


async def test_steady_rate_refills_fully_after_period() -> None:
    limiter = MemoryRateLimiter()
    for _ in range(LIMIT.limit):
        await limiter.hit("k", LIMIT, now=T0)
    later = T0 + LIMIT.period_seconds
    for _ in range(LIMIT.limit):
        assert (await limiter.hit("k", LIMIT, now=later)).allowed
    assert not (await limiter.hit("k", LIMIT, now=later)).allowed


async def test_keys_are_independent() -> None:
    limiter = MemoryRateLimiter()
    for _ in range(LIMIT.limit):
        await limiter.hit("a", LIMIT, now=T0)
    assert not (await limiter.hit("a", LIMIT, now=T0)).allowed
    assert (await limiter.hit("b", LIMIT, now=T0)).allowed


async def test_reset() -> None:
    limiter = MemoryRateLimiter()
    for _ in range(LIMIT.limit):
        await limiter.hit("k", LIMIT, now=T0)
    assert not (await limiter.hit("k", LIMIT, now=T0)).allowed
    await limiter.reset("k")
    assert (await limiter.hit("k", LIMIT, now=T0)).allowed
    await limiter.reset("never-seen")


async def test_default_clock_works() -> None:
    limiter = MemoryRateLimiter()
    one = RateLimit(limit=1, period_seconds=3600)
    assert (await limiter.hit("k", one)).allowed
    assert not (await limiter.hit("k", one)).allowed


async def test_expired_keys_are_swept() -> None:
    limiter = MemoryRateLimiter(max_keys=100_000)
    short = RateLimit(limit=1, period_seconds=1)
    for i in range(5000):
        await limiter.hit(f"old-{i}", short, now=T0)
    # All of those are idle by now; fresh traffic must not pile on top of them.
    for i in range(5000):
        await limiter.hit(f"new-{i}", short, now=T0 + 10)
    assert len(limiter) <= 2 * 5000 - 1
    assert len(limiter) < 5000 + 2048


async def test_size_bounded_when_all_keys_live() -> None:
    limiter = MemoryRateLimiter(max_keys=1000)
    for i in range(10_000):
        await limiter.hit(f"k{i}", LIMIT, now=T0 + i * 0.001)
        assert len(limiter) <= 1000


async def test_eviction_prefers_earliest_tat() -> None:
    limiter = MemoryRateLimiter(max_keys=10)
    # "victim" is heavily limited; the flood keys each made one request.
    for _ in range(LIMIT.limit):
        await limiter.hit("victim", LIMIT, now=T0)
    for i in range(50):
        await limiter.hit(f"flood-{i}", LIMIT, now=T0)
    assert not (await limiter.hit("victim", LIMIT, now=T0)).allowed


@pytest.mark.parametrize(("limit", "period"), [(0, 60.0), (-1, 60.0), (5, 0.0), (5, -1.0)])
def test_rate_limit_validation(limit: int, period: float) -> None:
    with pytest.raises(ValueError):
        RateLimit(limit=limit, period_seconds=period)


@pytest.mark.parametrize("start", [0.0, 12_345.678, 1_700_000_000.123456])
async def test_float_rounding_at_clock_magnitudes(start: float) -> None:
    # Wall-clock sized `now` values must behave like small ones.
    limiter = MemoryRateLimiter()
    one = RateLimit(limit=1, period_seconds=3600)
    assert (await limiter.hit("k", one, now=start)).allowed
    awkward = RateLimit(limit=7, period_seconds=60)
    now = start
    for _ in range(7):
        assert (await limiter.hit("w", awkward, now=now)).allowed
    for _ in range(200):
        decision = await limiter.hit("w", awkward, now=now)
        assert not decision.allowed
        now += decision.retry_after
        assert (await limiter.hit("w", awkward, now=now)).allowed
