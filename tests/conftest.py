"""Shared fixtures: a real authcore server per storage backend (SQLite always,
PostgreSQL when AUTHCORE_TEST_POSTGRES_URL is set, with Redis too when
AUTHCORE_TEST_REDIS_URL is set: the production topology), and clients for
both transports."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack

import pytest

from authcore_testkit.api import Admin, GrpcApi, RestApi
from authcore_testkit.server import (
    RunningServer,
    fresh_postgres_database,
    postgres_base_url,
    redis_base_url,
    redis_namespace,
    run_server,
)

BACKENDS = ["sqlite"] + (["postgres"] if postgres_base_url() else [])


@pytest.fixture(scope="session", params=BACKENDS)
def server(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    with ExitStack() as stack:
        url = None
        env: dict[str, str] = {}
        if request.param == "postgres":
            url = stack.enter_context(fresh_postgres_database())
            if redis_base_url():
                env = stack.enter_context(redis_namespace())
        yield stack.enter_context(run_server(backend=request.param, database_url=url, env=env))


@pytest.fixture(params=["rest", "grpc"])
async def api(request: pytest.FixtureRequest, server: RunningServer
              ) -> AsyncIterator[RestApi | GrpcApi]:
    client = RestApi(server) if request.param == "rest" else GrpcApi(server)
    yield client
    await client.close()


@pytest.fixture
async def admin(server: RunningServer) -> AsyncIterator[Admin]:
    client = Admin(server)
    yield client
    await client.close()


@pytest.fixture
def app_id(server: RunningServer) -> str:
    return server.demo_application_id


@pytest.fixture
def user_id() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"
