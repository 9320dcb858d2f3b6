"""The start-up check of Redis's configuration (store/redis.durability_warnings),
against a real Redis: lockouts live only there, so a Redis without AOF, or one
that may evict keys, can silently unlock accounts."""

from __future__ import annotations

from pathlib import Path

from authcore.store.redis import connect, durability_warnings
from authcore_testkit.cluster import RedisServer, have_redis_server, require


async def test_warns_without_aof_or_with_eviction_and_not_when_durable(tmp_path: Path) -> None:
    require(have_redis_server(), "redis-server is not installed")
    server = RedisServer(dir=tmp_path)  # AOF files go there
    server.start()
    client = connect(server.url)
    try:
        await client.config_set("maxmemory-policy", "allkeys-lru")
        warned = await durability_warnings(client)
        assert len(warned) == 2
        assert "appendonly" in warned[0] and "allkeys-lru" in warned[1]
        await client.config_set("appendonly", "yes")
        await client.config_set("maxmemory-policy", "noeviction")
        assert await durability_warnings(client) == []
    finally:
        await client.aclose()
        server.kill()
