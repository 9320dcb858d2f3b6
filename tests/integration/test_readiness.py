"""/readyz and the gRPC health service follow the backends: a `--workers 2`
server on a PostgreSQL and a Redis of the test's own turns not ready (503,
NOT_SERVING) when either stops, and ready again when it is back, without a
restart. Both workers are asked each time (new connections), and the
metrics listener (AUTHCORE_METRICS_ADDR, shared by the workers) too."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from authcore.v1 import authentication_pb2
from authcore_testkit.cluster import (
    PrivatePostgres,
    RedisServer,
    can_run_private_postgres,
    has_traceback,
    have_redis_server,
    output_text,
    private_postgres,
    private_redis,
    require,
)
from authcore_testkit.procs import wait_for_children
from authcore_testkit.server import RunningServer, free_port, run_server

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="SO_REUSEPORT spreading is Linux's")

PROBES = 6
DUMP = bool(__import__("os").environ.get("DUMP_READINESS_LOG"))
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]
SERVICE = authentication_pb2.DESCRIPTOR.services_by_name["AuthenticationService"].full_name
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass
class Setup:
    server: RunningServer
    postgres: PrivatePostgres
    redis: RedisServer
    metrics_url: str


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    ok, why = can_run_private_postgres()
    require(ok, why)
    require(have_redis_server(), "redis-server is not installed")
    metrics_addr = f"127.0.0.1:{free_port()}"
    with private_postgres() as pg, private_redis() as redis, run_server(
            backend="postgres", database_url=pg.url, workers=2,
            env={"AUTHCORE_REDIS_URL": redis.url, "AUTHCORE_METRICS_ADDR": metrics_addr}
    ) as srv:
        assert len(wait_for_children(srv.process.pid, 2)) == 2
        yield Setup(srv, pg, redis, f"http://{metrics_addr}")
    # The outages are logged as warnings, never as tracebacks.
    text = output_text(srv)
    assert not has_traceback(text), text[-4000:]
    if DUMP:
        print(text)


async def get(url: str) -> httpx.Response:
    # A new connection per request, so both workers answer some.
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.get(url, headers={"Connection": "close"})


async def readyz(url: str) -> list[httpx.Response]:
    return [await get(url + "/readyz") for _ in range(PROBES)]


async def health(target: str) -> list[tuple[int, int]]:
    """(overall, AuthenticationService) status from PROBES connections."""
    channels = [grpc.aio.insecure_channel(target, options=OWN_CONNECTION)
                for _ in range(PROBES)]
    try:
        out = []
        for channel in channels:
            stub = health_pb2_grpc.HealthStub(channel)
            overall = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
            service = await stub.Check(health_pb2.HealthCheckRequest(service=SERVICE),
                                       timeout=5)
            out.append((overall.status, service.status))
        return out
    finally:
        for channel in channels:
            await channel.close()


async def eventually(check: Callable[[], Awaitable[None]], what: str,
                     within: float = 15.0) -> None:
    """Until `check()` passes (raises no AssertionError)."""
    deadline = time.monotonic() + within
    while True:
        try:
            await check()
            return
        except AssertionError as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: {exc}") from exc
        await asyncio.sleep(0.3)


async def assert_ready(url: str) -> None:
    for r in await readyz(url):
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "ready"
        assert set(body["checks"]) == {"database", "migrations", "redis"}


async def assert_not_ready(url: str, failed: str, secrets: tuple[str, ...]) -> None:
    for r in await readyz(url):
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["status"] == "not_ready"
        assert failed in body["failed"], body
        assert body["checks"][failed]["ok"] is False
        for secret in secrets:
            assert secret not in r.text


async def assert_serving(target: str, status: int) -> None:
    assert await health(target) == [(status, status)] * PROBES


async def test_ready_goes_with_postgres_and_redis(setup: Setup) -> None:
    srv, pg, redis = setup.server, setup.postgres, setup.redis
    # Nothing in a body may give the backends' addresses away.
    hidden = (pg.url, f":{pg.port}", redis.url, f":{redis.port}", "postgresql")
    await eventually(lambda: assert_ready(srv.http_url), "ready at start")
    await assert_ready(setup.metrics_url)
    await eventually(lambda: assert_serving(srv.grpc_target, SERVING), "SERVING at start")

    pg.stop()
    try:
        await eventually(lambda: assert_not_ready(srv.http_url, "database", hidden),
                         "503 without PostgreSQL")
        await assert_not_ready(setup.metrics_url, "database", hidden)
        await eventually(lambda: assert_serving(srv.grpc_target, NOT_SERVING),
                         "NOT_SERVING without PostgreSQL")
        # Alive all the same: /healthz does no I/O.
        assert (await get(srv.http_url + "/healthz")).status_code == 200
    finally:
        pg.start()
    await eventually(lambda: assert_ready(srv.http_url), "ready with PostgreSQL back")
    await eventually(lambda: assert_serving(srv.grpc_target, SERVING),
                     "SERVING with PostgreSQL back")

    redis.kill()
    try:
        await eventually(lambda: assert_not_ready(srv.http_url, "redis", hidden),
                         "503 without Redis")
        await eventually(lambda: assert_serving(srv.grpc_target, NOT_SERVING),
                         "NOT_SERVING without Redis")
    finally:
        redis.start()
    await eventually(lambda: assert_ready(srv.http_url), "ready with Redis back")
    await eventually(lambda: assert_serving(srv.grpc_target, SERVING),
                     "SERVING with Redis back")
    scrape = (await get(setup.metrics_url + "/metrics")).text
    errors = [line for line in scrape.splitlines()
              if line.startswith("authcore_redis_errors_total ")]
    assert errors and float(errors[0].split()[1]) >= 1, errors
