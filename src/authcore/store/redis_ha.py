"""Redis high availability: Sentinel URLs, and writes that must survive a
failover.

AUTHCORE_REDIS_URL may name Redis Sentinels instead of one Redis:

    redis+sentinel://[[user]:password@]host1[:26379][,host2[:26379]...]/service[/db][?options]
    rediss+sentinel://...   (TLS to the sentinels and to the primary)

`service` is the name the sentinels monitor (`sentinel monitor <service> ...`);
`user`/`password` are the primary's (AUTH), `db` its database (default 0).
Options: `sentinel_username` / `sentinel_password` when the sentinels
themselves want AUTH (`requirepass` in sentinel.conf); with rediss,
`ssl_ca_certs` (a CA bundle path) and `ssl_cert_reqs` (none, optional,
required). Anything else is refused, so a typo doesn't silently do nothing.

Every new connection asks the sentinels where the primary is (redis-py's
`Sentinel.master_for`). During a failover, commands fail (the primary is
gone, or answers READONLY once demoted) and are refused as Unavailable like
any Redis outage (store/redis.py); once the sentinels name the new primary,
new connections go there. Scripts are loaded again on the new primary by
the first EVALSHA that gets NOSCRIPT (redis-py's Script does that).

What a failover can lose: replication is asynchronous, so a write the old
primary acknowledged may not have reached the replica that is promoted. For
the writes whose loss would reopen something (a claimed challenge, which
could be completed a second time; a counted failure, an extra guess), set
AUTHCORE_REDIS_WAIT_REPLICAS=N: such a write is followed by
`WAIT N <WAIT_TIMEOUT_MS>` on the same connection and is answered only once
N replicas have it; otherwise the call is refused (503) and the client
retries with a new challenge. Sentinel promotes the most up-to-date
reachable replica, so an acknowledged claim survives the failover of its
primary. The price: with fewer than N replicas connected, every completion
is refused. Run at least N + 1 replicas to keep serving through the loss of
one Redis server.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, RedisError

__all__ = [
    "DEFAULT_SENTINEL_PORT",
    "SENTINEL_SCHEMES",
    "WAIT_TIMEOUT_MS",
    "AckedScript",
    "NotAcknowledged",
    "SentinelUrl",
    "connect_sentinel",
    "is_sentinel_url",
    "parse_sentinel_url",
    "replica_warnings",
]

SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
DEFAULT_SENTINEL_PORT = 26379
# How long a write waits for its replicas before the call is refused. Below
# store/redis.SOCKET_TIMEOUT_SECONDS, or the socket read would give up first.
WAIT_TIMEOUT_MS = 1000
# A sentinel is asked once per new connection; one that stopped answering
# should not cost the full command timeout before the next one is asked.
SENTINEL_TIMEOUT_SECONDS = 1.0

_CERT_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL,
              "required": ssl.CERT_REQUIRED}
_OPTIONS = frozenset({"sentinel_username", "sentinel_password", "ssl_ca_certs",
                      "ssl_cert_reqs"})


@dataclass(frozen=True)
class SentinelUrl:
    sentinels: tuple[tuple[str, int], ...]
    service_name: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None
    ssl: bool = False
    ssl_ca_certs: str | None = None
    ssl_cert_reqs: str | None = None

    def __repr__(self) -> str:
        # Never the passwords: this may end up in a log line.
        hosts = ",".join(f"{h}:{p}" for h, p in self.sentinels)
        return f"SentinelUrl({hosts}/{self.service_name}/{self.db})"


def is_sentinel_url(url: str) -> bool:
    return url.partition("://")[0].lower() in SENTINEL_SCHEMES


def _host_port(entry: str) -> tuple[str, int]:
    if entry.startswith("["):  # [IPv6]:port
        host, bracket, tail = entry[1:].partition("]")
        if not bracket or (tail and not tail.startswith(":")):
            raise ValueError(f"sentinel address {entry!r} is not [IPv6]:port")
        port_text = tail[1:]
    else:
        host, _, port_text = entry.partition(":")
    if not host:
        raise ValueError("a sentinel address has no host")
    if not port_text:
        return host, DEFAULT_SENTINEL_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"sentinel address {entry!r} has an invalid port")
    return host, int(port_text)


def parse_sentinel_url(url: str) -> SentinelUrl:
    """ValueError (naming the part, never echoing a password) when `url`
    is not a sentinel URL of the form in the module doc."""
    scheme, sep, tail = url.partition("://")
    if not sep or scheme.lower() not in SENTINEL_SCHEMES:
        raise ValueError("a sentinel URL starts with redis+sentinel:// or rediss+sentinel://")
    tail, _, fragment = tail.partition("#")
    if fragment:
        raise ValueError("a sentinel URL has no #fragment")
    rest, _, query = tail.partition("?")
    netloc, slash, path = rest.partition("/")
    userinfo, at, hostlist = netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
        if not colon:
            # redis://secret@host means a password, as redis-py reads it.
            username, password = None, unquote(user) or None
    sentinels = tuple(_host_port(e.strip()) for e in hostlist.split(","))
    parts = [p for p in path.split("/")] if slash else []
    if parts and parts[-1] == "":
        parts.pop()  # a trailing slash
    if not parts or not parts[0]:
        raise ValueError("a sentinel URL names the monitored service: "
                         "redis+sentinel://host:26379/<service>[/db]")
    if len(parts) > 2:
        raise ValueError("a sentinel URL's path is /<service>[/db]")
    db = 0
    if len(parts) == 2:
        if not parts[1].isdigit():
            raise ValueError("the database in a sentinel URL (/<service>/<db>) is a number")
        db = int(parts[1])
    options: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in _OPTIONS:
            raise ValueError(f"unknown sentinel URL option {key!r} (known: "
                             f"{', '.join(sorted(_OPTIONS))})")
        options[key] = value
    tls = scheme.lower() == "rediss+sentinel"
    if not tls and ("ssl_ca_certs" in options or "ssl_cert_reqs" in options):
        raise ValueError("ssl_ca_certs / ssl_cert_reqs need rediss+sentinel://")
    reqs = options.get("ssl_cert_reqs")
    if reqs is not None and reqs not in _CERT_REQS:
        raise ValueError("ssl_cert_reqs is one of none, optional, required")
    return SentinelUrl(
        sentinels=sentinels, service_name=unquote(parts[0]), db=db, username=username,
        password=password, sentinel_username=options.get("sentinel_username") or None,
        sentinel_password=options.get("sentinel_password") or None, ssl=tls,
        ssl_ca_certs=options.get("ssl_ca_certs") or None, ssl_cert_reqs=reqs)


class _BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's primary lookup with BlockingConnectionPool's queueing: a
    burst waits for one of max_connections, as on a plain Redis URL, rather
    than failing with "Too many connections"."""


class _SentinelRedis(Redis):
    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        pool = self.connection_pool
        await super().aclose(close_connection_pool)
        manager = getattr(pool, "sentinel_manager", None)
        if isinstance(manager, Sentinel):
            await manager.aclose()


def connect_sentinel(url: str, **pool_kwargs: Any) -> Redis:
    """A client of the primary the sentinels of `url` name; `pool_kwargs`
    as for a plain URL's pool (timeouts, max_connections, retry...)."""
    parsed = parse_sentinel_url(url)
    tls: dict[str, Any] = {}
    if parsed.ssl:
        tls["ssl"] = True
        if parsed.ssl_ca_certs:
            tls["ssl_ca_certs"] = parsed.ssl_ca_certs
        if parsed.ssl_cert_reqs:
            tls["ssl_cert_reqs"] = _CERT_REQS[parsed.ssl_cert_reqs]
    sentinel_kwargs: dict[str, Any] = {
        "socket_timeout": SENTINEL_TIMEOUT_SECONDS,
        "socket_connect_timeout": SENTINEL_TIMEOUT_SECONDS,
        "username": parsed.sentinel_username,
        "password": parsed.sentinel_password,
        **tls,
    }
    sentinel = Sentinel(list(parsed.sentinels), sentinel_kwargs=sentinel_kwargs)
    client: Redis = sentinel.master_for(
        parsed.service_name, redis_class=_SentinelRedis,
        connection_pool_class=_BlockingSentinelPool,
        db=parsed.db, username=parsed.username, password=parsed.password,
        **tls, **pool_kwargs)
    return client


class NotAcknowledged(RedisError):
    """Fewer replicas than AUTHCORE_REDIS_WAIT_REPLICAS confirmed a write in
    time: it may be lost by a failover, so the call is refused."""


class AckedScript:
    """A registered script whose writes are answered only once `replicas`
    replicas have them (WAIT, pipelined on the script's connection: WAIT
    counts that connection's writes). With 0 it is the plain script."""

    def __init__(self, client: Redis, source: str, *, replicas: int = 0) -> None:
        self._client = client
        self._script: AsyncScript = client.register_script(source)
        self.replicas = replicas

    async def __call__(self, *, keys: Sequence[str], args: Sequence[Any]) -> Any:
        if self.replicas <= 0:
            return await self._script(keys=keys, args=args)
        for attempt in range(2):
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.evalsha(self._script.sha, len(keys), *keys, *args)
                pipe.execute_command("WAIT", self.replicas, WAIT_TIMEOUT_MS)
                answer, acked = await pipe.execute(raise_on_error=False)
            if isinstance(answer, NoScriptError) and attempt == 0:
                # A new primary after a failover, or a restarted Redis:
                # scripts are not replicated, load it there and run again.
                self._script.sha = await self._client.script_load(self._script.script)
                continue
            if isinstance(answer, BaseException):
                raise answer
            if isinstance(acked, BaseException):
                raise acked
            if int(acked) < self.replicas:
                raise NotAcknowledged(f"{acked} of {self.replicas} replicas acknowledged "
                                      f"the write within {WAIT_TIMEOUT_MS} ms")
            return answer
        raise NoScriptError("the script could not be loaded")  # pragma: no cover


async def replica_warnings(client: Redis, wanted: int) -> list[str]:
    """Said at start: with fewer replicas than AUTHCORE_REDIS_WAIT_REPLICAS
    connected, every completion is refused until enough are."""
    if wanted <= 0:
        return []
    try:
        info = await client.info("replication")
    except RedisError:
        return []
    connected = int(info.get("connected_slaves", 0))
    if connected >= wanted:
        return []
    return [f"AUTHCORE_REDIS_WAIT_REPLICAS is {wanted} but the Redis primary has {connected} "
            "connected replica(s): challenge completions are refused (503) until enough "
            "replicas connect"]
