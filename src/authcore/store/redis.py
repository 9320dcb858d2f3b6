"""The Redis connection of the production topology (AUTHCORE_REDIS_URL) and
its one failure rule: any Redis error is `Unavailable` (fail closed).

Rate-limit counters, lockout counters and short-lived challenge state live
in Redis when it is configured (limits/redis.py, flows/lockouts.py,
flows/challenges.py). Without a working Redis none of them can be checked,
so a request that needs them is refused with UNAVAILABLE / 503 rather than
let through unlimited. redis-py reconnects by itself once Redis is back.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError

from authcore import metrics
from authcore.errors import Unavailable
from authcore.store.redis_ha import connect_sentinel, is_sentinel_url

__all__ = [
    "CONNECT_TIMEOUT_SECONDS",
    "SOCKET_TIMEOUT_SECONDS",
    "RedisKeys",
    "Throttle",
    "backend_unavailable",
    "connect",
    "redis_errors",
]

log = logging.getLogger("authcore.redis")

# A request waits at most this long for a Redis that stopped answering
# (or for a connection to it) before it is refused: long enough for a busy
# Redis or a CPU-starved replica (asyncio's timers run late when the
# process gets little CPU), short enough that clients see 503 rather than
# their own timeout.
SOCKET_TIMEOUT_SECONDS = 2.0
CONNECT_TIMEOUT_SECONDS = 2.0
MAX_CONNECTIONS = 64
DEFAULT_PREFIX = "authcore:"
# Key parts longer than this (attacker-controlled names) are replaced by
# their SHA-256, so a 1 MB user name can't become a 1 MB Redis key.
MAX_RAW_PART = 64


def connect(url: str) -> Redis:
    """A pooled client; nothing is connected until the first command.

    At most MAX_CONNECTIONS connections per process: a burst of requests
    queues for a connection (each Redis call takes well under a
    millisecond) instead of opening hundreds at once, and many replicas
    times workers stay far below Redis' client limit. A request that waits
    longer than SOCKET_TIMEOUT_SECONDS for one is refused (Unavailable).

    One retry, without delay, on a connection error only: a pooled
    connection that died while Redis restarted is replaced transparently,
    while a Redis that is down still fails at once (connection refused) and
    one that hangs fails after SOCKET_TIMEOUT_SECONDS (no retry on timeouts,
    which would double the wait). A retried command may have run once
    already (the reply was lost): each script here is either idempotent or
    errs on the closed side when run twice (a second claim fails, a
    failure or a hit counts twice).

    A `redis+sentinel://` URL gives the same pool behind Redis Sentinel's
    primary lookup (store/redis_ha.py)."""
    options: dict[str, Any] = {
        "max_connections": MAX_CONNECTIONS,
        "timeout": SOCKET_TIMEOUT_SECONDS,
        "decode_responses": True,
        "socket_timeout": SOCKET_TIMEOUT_SECONDS,
        "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        "health_check_interval": 30,
    }
    if is_sentinel_url(url):
        return connect_sentinel(url, **options)
    return Redis.from_pool(BlockingConnectionPool.from_url(url, **options))


async def durability_warnings(client: Redis) -> list[str]:
    """What in this Redis's configuration can silently unlock accounts:
    lockout counters live only in Redis, so a restart without persistence,
    or an eviction under memory pressure, forgets them."""
    try:
        config = await client.config_get("appendonly", "maxmemory-policy")
    except RedisError:
        return ["Redis refused CONFIG GET, so its persistence could not be checked: "
                "lockouts need appendonly yes and maxmemory-policy noeviction"]
    warnings = []
    if str(config.get("appendonly", "")).lower() != "yes":
        warnings.append("Redis runs without AOF persistence (appendonly no): a restart "
                        "forgets every lockout; set appendonly yes")
    policy = str(config.get("maxmemory-policy", ""))
    if policy and policy != "noeviction":
        warnings.append(f"Redis may evict keys (maxmemory-policy {policy}): an evicted "
                        "counter unlocks its account; set maxmemory-policy noeviction")
    return warnings


def backend_unavailable() -> Unavailable:
    return Unavailable("A storage backend of the server is unavailable; retry shortly.",
                       reason="backend_unavailable")


class Throttle:
    """Logs the first of a burst of identical failures, then at most one
    line per interval with how many were not logged: a Redis outage under
    load must not write a line (or a traceback) per request."""

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self._last = -float("inf")
        self._suppressed = 0

    def log(self, logger: logging.Logger, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last < self.interval:
            self._suppressed += 1
            return
        suffix = f" ({self._suppressed} more since the last report)" if self._suppressed else ""
        self._last, self._suppressed = now, 0
        logger.warning(message + suffix, *args)


_throttle = Throttle()


@contextlib.contextmanager
def redis_errors(what: str) -> Iterator[None]:
    """Turn any Redis failure inside the block into `Unavailable`.

    OSError and TimeoutError (asyncio's, in 3.11) are included in case a socket error
    escapes redis-py's own wrapping. A ResponseError (a script error, OOM,
    a read-only replica) is logged with its text: it is a configuration or
    programming error, but still refused rather than let through."""
    try:
        yield
    except ResponseError as exc:
        metrics.redis_error()
        _throttle.log(log, "redis refused %s: %s", what, exc)
        raise backend_unavailable() from None
    except (RedisError, OSError, TimeoutError) as exc:
        metrics.redis_error()
        _throttle.log(log, "redis unavailable during %s: %s: %s", what,
                      type(exc).__name__, exc)
        raise backend_unavailable() from None


class RedisKeys:
    """Key names under one prefix (AUTHCORE_REDIS_KEY_PREFIX), so several
    deployments, or parallel test servers, can share one Redis."""

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = prefix

    def key(self, kind: str, *parts: str) -> str:
        return self.prefix + kind + ":" + ":".join(opaque(p) for p in parts)

    def kind_prefix(self, kind: str) -> str:
        """What `key(kind, part)` puts before `part` (for keys a Lua script
        builds from a value it read)."""
        return self.prefix + kind + ":"


_PLAIN = re.compile(rf"[A-Za-z0-9._@+=/-]{{1,{MAX_RAW_PART}}}")


def opaque(part: str) -> str:
    """A key part as given when short and plain ASCII, else `#` + its
    SHA-256. A raw part never contains `#` nor `:`, so a hashed and a raw
    part can't collide and parts can't run into each other."""
    if _PLAIN.fullmatch(part):
        return part
    return "#" + hashlib.sha256(part.encode("utf-8", "surrogatepass")).hexdigest()
