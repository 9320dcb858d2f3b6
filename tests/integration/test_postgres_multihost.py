"""PostgreSQL multi-host URLs with target_session_attrs=read-write: the first
host listed is a dead port, the second the test PostgreSQL. Both drivers
(SQLAlchemy's engine and the hot paths' asyncpg pool) skip the dead host,
and a server on such a URL migrates, starts and serves a login.

Skipped without AUTHCORE_TEST_POSTGRES_URL (failed when CI is set).
"""

from __future__ import annotations

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
