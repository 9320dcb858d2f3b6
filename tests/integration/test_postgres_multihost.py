"""PostgreSQL multi-host URLs with target_session_attrs=read-write: the first
host listed is a dead port, the second the test PostgreSQL. Both drivers
(SQLAlchemy's engine and the hot paths' asyncpg pool) skip the dead host,
and a server on such a URL migrates, starts and serves a login.

Skipped without AUTHCORE_TEST_POSTGRES_URL (failed when CI is set).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from authcore.store.db import create_engine
from authcore.store.hot.postgres import PostgresHot
from authcore.store.hot.statements import Stmt
from authcore.store.pg_urls import asyncpg_dsn
from authcore_testkit.api import Admin, GrpcApi, RestApi
from authcore_testkit.cluster import postgres_url, require
from authcore_testkit.server import free_port, fresh_postgres_database, run_server

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    require(bool(postgres_url()), "AUTHCORE_TEST_POSTGRES_URL is not set")
    with fresh_postgres_database() as url:
        yield url


def multi_host(database: str, *, form: str = "libpq") -> str:
    """`database` behind a dead first host (a free port nobody listens on)."""
    url = make_url(database)
    auth = url.username or ""
    if url.password is not None:
        auth += ":" + str(url.password)
    dead, live = f"127.0.0.1:{free_port()}", f"{url.host}:{url.port or 5432}"
    attrs = "target_session_attrs=read-write"
    if form == "libpq":
        return f"postgresql+asyncpg://{auth}@{dead},{live}/{url.database}?{attrs}"
    return f"postgresql+asyncpg://{auth}@/{url.database}?host={dead}&host={live}&{attrs}"


@pytest.mark.parametrize("form", ["libpq", "query"])
async def test_both_drivers_skip_the_dead_host(database: str, form: str) -> None:
    url = multi_host(database, form=form)
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(text(
                "SELECT current_database(), pg_is_in_recovery()"))).one()
        assert row == (make_url(database).database, False)
    finally:
        await engine.dispose()

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        assert await conn.fetchval("SELECT current_database()") == make_url(database).database
    finally:
        await conn.close()

    hot = PostgresHot(url, pool_size=1)
    try:
        stmt = Stmt(name="multihost_probe", sql="SELECT pg_is_in_recovery() AS standby",
                    pg="SELECT pg_is_in_recovery() AS standby", params=())
        row = await hot.one(stmt, {})
        assert row is not None and row["standby"] is False
    finally:
        await hot.close()


async def test_a_server_on_a_multi_host_url_serves_a_login(database: str) -> None:
    user_id = f"mh-{uuid.uuid4().hex[:10]}"
    with run_server(backend="postgres", database_url=multi_host(database)) as server:
        admin = Admin(server)
        apis = [RestApi(server), GrpcApi(server)]
        try:
            await admin.user(user_id)
            await admin.password(user_id, PASSWORD)
            for api in apis:
                ch = await api.challenge("PASSWORD", {"applicationId": server.demo_application_id,
                                                      "userId": user_id})
                assert ch.status == 200, ch
                done = await api.complete("PASSWORD", {"response": PASSWORD}, ch.body["token"])
                assert done.status == 200 and done.body["authenticationCompleted"], done
        finally:
            for client in [admin, *apis]:
                await client.close()
    assert "Traceback" not in "".join(server.output)


async def _sql(database: str, *statements: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(database))
    try:
        # This session must write even while the database's default is read-only.
        await conn.execute("SET default_transaction_read_only = off")
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture
def own_database() -> Iterator[str]:
    # Its own: the test makes it read-only for a while.
    require(bool(postgres_url()), "AUTHCORE_TEST_POSTGRES_URL is not set")
    with fresh_postgres_database() as url:
        yield url


async def test_a_read_only_server_answers_503_and_the_pools_recover(own_database: str) -> None:
    """A primary demoted under open connections answers writes with SQLSTATE
    25006. Simulated on one server: the database's sessions are made
    read-only (ALTER DATABASE ... default_transaction_read_only, then every
    session ended, so the pools reconnect read-only). Writes must answer 503
    backend_unavailable, never 500; once the database takes writes again,
    both pools (the hot asyncpg one and SQLAlchemy's) must drop their
    read-only connections and serve without a restart."""
    url = own_database
    name = make_url(url).database
    user_id = f"ro-{uuid.uuid4().hex[:10]}"
    with run_server(backend="postgres", database_url=url) as server:
        admin, api = Admin(server), RestApi(server)
        app = server.demo_application_id

        async def login() -> tuple[int, str | None]:
            ch = await api.challenge("PASSWORD", {"applicationId": app, "userId": user_id})
            if ch.status != 200:
                return ch.status, ch.error_code
            done = await api.complete("PASSWORD", {"response": PASSWORD}, ch.body["token"])
            return done.status, done.error_code

        async def admin_write() -> int:
            r = await admin.http.post("/api/admin/v1/users",
                                      json={"userId": f"ro-{uuid.uuid4().hex[:10]}"})
            assert r.status_code in (201, 200, 503), r.text
            if r.status_code == 503:
                assert r.json()["errorCode"] == "backend_unavailable", r.text
            return r.status_code

        try:
            await admin.user(user_id)
            await admin.password(user_id, PASSWORD)
            assert await login() == (200, None)
            await _sql(url, f'ALTER DATABASE "{name}" SET default_transaction_read_only = on',
                       "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       f"WHERE datname = '{name}' AND pid <> pg_backend_pid()")
            for _ in range(3):
                assert await login() == (503, "backend_unavailable")
                assert await admin_write() == 503
            await _sql(url, f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
            # Sessions opened while the database was read-only stay so:
            # each pool drops them at their first refused write. (Idle,
            # they would live on 30 s in the hot pool and for ever in
            # SQLAlchemy's.) A connection opened since the last refusal
            # (by a read) may fail once more, so allow a few tries.
            deadline = time.monotonic() + 5
            while await login() != (200, None) or await admin_write() == 503:
                assert time.monotonic() < deadline, "no recovery without a restart"
                await asyncio.sleep(0.2)
            for _ in range(3):
                assert await login() == (200, None)
                assert await admin_write() in (200, 201)
        finally:
            await _sql(url, f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
            await admin.close()
            await api.close()
    output = "".join(server.output)
    assert "Traceback" not in output, output
