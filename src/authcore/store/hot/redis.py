"""The hot paths' Redis work, one script per step (production topology).

A complete reads three things from Redis (its rate limits, its challenge,
the user's lockout counters) and writes two (the claim and the lockout
outcome). Each group is one EVALSHA here instead of a round trip apiece:
`OPEN` before verifying, `CLOSE` inside the call's write transaction.

The claim stays in CLOSE, not OPEN: a request refused before it verifies
anything (a mismatched authenticator, PASSWORD_AND_SECONDFACTOR's token
completed before a second factor was chosen) must leave the challenge
usable, as the SQL store does.

The scripts repeat, line by line, the GCRA of limits/redis.py and the
lockout arithmetic of flows/lockouts.py (tests/integration compare them).
Keys follow those modules' layout; a user key is built in Lua from the
user pk the challenge names (authcore's own UUIDs, never hashed).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from authcore import metrics
from authcore.limits.base import Decision, RateLimit
from authcore.limits.lockout import LockoutPolicy, LockoutState
from authcore.store.redis import RedisKeys, redis_errors
from authcore.store.redis_ha import AckedScript

# As limits/redis.py.
_EPSILON = 1e-3

_GCRA_FUNCTION = """
local function gcra(key, interval, period, now, slack)
  local tat = now
  local stored = tonumber(redis.call('GET', key) or '')
  if stored and stored > now then
    tat = stored
  end
  local allow_at = tat + interval - period
  if allow_at - now > slack then
    return allow_at - now
  end
  local new_tat = tat + interval
  redis.call('SET', key, string.format('%.6f', new_tat),
             'PX', math.ceil((new_tat - now) * 1000) + 1)
  return nil
end
local function hit_all(n, first_arg)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
  local slack = tonumber(ARGV[first_arg + 2 * n])
  for i = 1, n do
    local wait = gcra(KEYS[i], tonumber(ARGV[first_arg + 2 * i - 2]),
                      tonumber(ARGV[first_arg + 2 * i - 1]), now, slack)
    if wait then
      return string.format('%.6f', wait)
    end
  end
  return nil
end
"""

# KEYS: n rate-limit keys. ARGV[1]: n, then interval/period pairs, then the
# slack. {0, retry_after} when one refuses (later ones are not counted), {1}.
HIT_ALL = _GCRA_FUNCTION + """
local wait = hit_all(tonumber(ARGV[1]), 2)
if wait then
  return {0, wait}
end
return {1}
"""

# KEYS: n rate-limit keys, then the challenge. ARGV[1]: n, interval/period
# pairs, the slack, then the lockout key prefix. {0, retry_after} when
# limited; else {1, challenge fields (flat), lockout fields (flat)}.
OPEN = _GCRA_FUNCTION + """
local n = tonumber(ARGV[1])
local wait = hit_all(n, 2)
if wait then
  return {0, wait}
end
local challenge = redis.call('HGETALL', KEYS[n + 1])
local lockouts = {}
for i = 1, #challenge, 2 do
  if challenge[i] == 'user_pk' then
    lockouts = redis.call('HGETALL', ARGV[2 * n + 3] .. challenge[i + 1])
  end
end
return {1, challenge, lockouts}
"""

# KEYS[1]: challenge-id, KEYS[2]: the user's lockout hash. ARGV: now, the
# challenge key prefix, the new state ('' = keep), the authenticator,
# outcome ('S' success, 'F' failure, '' none), max_failures, the expiry a
# lockout starting now gets ('' = never).
# Returns {claimed (0/1), lockout answer}: for F the new value, or 'L' ..
# value when it was locked (nothing counted); for S the value when locked
# (nothing reset), else ''.
CLOSE = """
local h = redis.call('GET', KEYS[1])
if not h then
  return {0, ''}
end
local key = ARGV[2] .. h
local expires = redis.call('HGET', key, 'expires_at')
if not expires or redis.call('HEXISTS', key, 'consumed_at') == 1
   or tonumber(expires) <= tonumber(ARGV[1]) then
  return {0, ''}
end
redis.call('HSET', key, 'consumed_at', ARGV[1])
if ARGV[3] ~= '' then
  redis.call('HSET', key, 'state', ARGV[3])
end
if ARGV[5] == '' then
  return {1, ''}
end
local now = tonumber(ARGV[1])
local raw = redis.call('HGET', KEYS[2], ARGV[4])
local failures, locked_at, lexp = 0, '', ''
if raw then
  local f, l, e = string.match(raw, '^(%d+)|([^|]*)|([^|]*)$')
  if f then
    failures, locked_at, lexp = tonumber(f), l, e
  end
end
local expired = locked_at ~= '' and lexp ~= '' and now >= tonumber(lexp)
local locked = locked_at ~= '' and not expired
if ARGV[5] == 'S' then
  if locked then
    return {1, raw}
  end
  if raw then
    redis.call('HDEL', KEYS[2], ARGV[4])
  end
  return {1, ''}
end
if locked then
  return {1, 'L' .. (raw or '')}
end
if expired then
  failures, locked_at, lexp = 0, '', ''
end
failures = failures + 1
if failures >= tonumber(ARGV[6]) then
  locked_at, lexp = ARGV[1], ARGV[7]
end
local value = string.format('%d', failures) .. '|' .. locked_at .. '|' .. lexp
redis.call('HSET', KEYS[2], ARGV[4], value)
return {1, value}
"""


def float_text(value: float | None) -> str:
    # The lockout hash's text form (flows/lockouts.py writes it too).
    return "" if value is None else repr(float(value))


def parse_lockout(value: str) -> LockoutState:
    try:
        failures, locked_at, expires = value.split("|")
        return LockoutState(failures=int(failures),
                            locked_at=float(locked_at) if locked_at else None,
                            lockout_expires_at=float(expires) if expires else None)
    except ValueError:
        return LockoutState.clear()


@dataclass(frozen=True)
class Opened:
    decision: Decision
    # The challenge hash's fields (empty when there is none) and the user's
    # lockout counters by authenticator.
    challenge: dict[str, str]
    lockouts: dict[str, LockoutState]


@dataclass(frozen=True)
class Closed:
    claimed: bool
    # Failure: the new state, or the lock that refused counting it.
    # Success: the lock that refused the reset, else None.
    lockout: LockoutState | None
    refused: bool


def _pairs(flat: Sequence[Any]) -> dict[str, str]:
    return {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat), 2)}


class RedisHot:
    def __init__(self, client: Redis, *, keys: RedisKeys, ack_replicas: int = 0) -> None:
        self._keys = keys
        self._hit_all = client.register_script(HIT_ALL)
        self._open = client.register_script(OPEN)
        # The claim and the counted failure must survive a failover
        # (store/redis_ha.py); rate-limit hits may be lost.
        self._close = AckedScript(client, CLOSE, replicas=ack_replicas)

    def _limit_args(self, limits: Sequence[tuple[str, RateLimit]]
                    ) -> tuple[list[str], list[str]]:
        keys = [self._keys.key("rl", key) for key, _ in limits]
        args = [str(len(limits))]
        for _, limit in limits:
            args += [repr(limit.emission_interval), repr(limit.period_seconds)]
        args.append(repr(_EPSILON))
        return keys, args

    async def hit_all(self, limits: Sequence[tuple[str, RateLimit]]) -> Decision:
        keys, args = self._limit_args(limits)
        with redis_errors("rate limiting"):
            answer = await self._hit_all(keys=keys, args=args)
        if int(answer[0]) == 1:
            return Decision(allowed=True, retry_after=0.0)
        return Decision(allowed=False, retry_after=float(answer[1]))

    async def open(self, limits: Sequence[tuple[str, RateLimit]], *, token_digest: str
                   ) -> Opened:
        keys, args = self._limit_args(limits)
        keys.append(self._keys.kind_prefix("challenge") + token_digest)
        args.append(self._keys.kind_prefix("lockout"))
        with redis_errors("opening a challenge"):
            answer = await self._open(keys=keys, args=args)
        if int(answer[0]) != 1:
            return Opened(decision=Decision(allowed=False, retry_after=float(answer[1])),
                          challenge={}, lockouts={})
        lockouts = {name: parse_lockout(value) for name, value in _pairs(answer[2]).items()}
        return Opened(decision=Decision(allowed=True, retry_after=0.0),
                      challenge=_pairs(answer[1]), lockouts=lockouts)

    async def close(self, *, challenge_id: str, now: float, user_pk: str | None,
                    authenticator: str, outcome: str, policy: LockoutPolicy | None = None,
                    state: dict[str, Any] | None = None) -> Closed:
        """Claim the challenge and, in the same step, record the outcome
        ('S', 'F' or '' for none) on the user's counter."""
        expires = None
        if policy is not None and policy.lockout_seconds > 0:
            expires = now + policy.lockout_seconds
        with redis_errors("closing a challenge"):
            claimed, value = await self._close(
                keys=[self._keys.kind_prefix("challenge-id") + challenge_id,
                      self._keys.key("lockout", user_pk or "-")],
                args=[repr(float(now)), self._keys.kind_prefix("challenge"),
                      "" if state is None else json.dumps(state, separators=(",", ":")),
                      authenticator, outcome if user_pk else "",
                      str(policy.max_failures if policy else 1), float_text(expires)])
        text = str(value or "")
        if int(claimed) != 1:
            return Closed(claimed=False, lockout=None, refused=False)
        if outcome == "F" and user_pk:
            if text.startswith("L"):
                return Closed(claimed=True, lockout=parse_lockout(text[1:]), refused=True)
            lockout = parse_lockout(text)
            if lockout.locked_at == float(now):  # this failure locked it
                metrics.lockout(authenticator)
            return Closed(claimed=True, lockout=lockout, refused=False)
        if outcome == "S" and text:
            return Closed(claimed=True, lockout=parse_lockout(text), refused=True)
        return Closed(claimed=True, lockout=None, refused=False)
