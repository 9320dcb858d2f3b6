"""GCRA rate limiter in Redis, shared by every replica.

The same algorithm as limits/memory.py (one theoretical arrival time per
key), run as one Lua script so the read-compare-write is atomic across
replicas. The clock is Redis' own (`TIME`), so replicas with drifting clocks
still agree. Each key expires when its TAT passes: from then on it behaves
exactly like an absent key, so dropping it loses nothing and idle keys
vanish. Keys are attacker-controlled (IPs, user names): they are namespaced
and hashed when long (store/redis.py).

Any Redis failure raises `Unavailable`: without the counter there is no
limit, and an authentication server must not run without one.
"""

from __future__ import annotations

from redis.asyncio import Redis

from authcore.limits.base import Decision, RateLimit
from authcore.store.redis import RedisKeys, redis_errors

__all__ = ["RedisRateLimiter"]

# KEYS[1]: the key's TAT. ARGV: emission interval, period, now ('' = TIME),
# slack. Returns {allowed (0/1), retry_after as a string} (a Lua number would
# come back truncated to an integer).
_GCRA = """
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local now
if ARGV[3] ~= '' then
  now = tonumber(ARGV[3])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local tat = now
local stored = tonumber(redis.call('GET', KEYS[1]) or '')
if stored and stored > now then
  tat = stored
end
local allow_at = tat + interval - period
if allow_at - now > tonumber(ARGV[4]) then
  return {0, string.format('%.6f', allow_at - now)}
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.6f', new_tat),
           'PX', math.ceil((new_tat - now) * 1000) + 1)
return {1, '0'}
"""

# As in limits/memory.py: absorbs float and clock-resolution noise, far
# below any interval an auth rate limit uses.
_EPSILON = 1e-3


class RedisRateLimiter:
    """:class:`~authcore.limits.base.RateLimiter` over one Redis."""

    def __init__(self, client: Redis, *, keys: RedisKeys | None = None) -> None:
        self._client = client
        self._keys = keys or RedisKeys()
        self._gcra = client.register_script(_GCRA)

    def _key(self, key: str) -> str:
        return self._keys.key("rl", key)

    async def hit(self, key: str, limit: RateLimit, *, now: float | None = None) -> Decision:
        with redis_errors("rate limiting"):
            allowed, retry_after = await self._gcra(
                keys=[self._key(key)],
                args=[repr(limit.emission_interval), repr(limit.period_seconds),
                      "" if now is None else repr(now), repr(_EPSILON)],
            )
        if int(allowed) == 1:
            return Decision(allowed=True, retry_after=0.0)
        return Decision(allowed=False, retry_after=float(retry_after))

    async def reset(self, key: str) -> None:
        with redis_errors("rate limiting"):
            await self._client.delete(self._key(key))
