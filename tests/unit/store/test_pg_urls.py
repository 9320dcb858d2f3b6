"""PostgreSQL multi-host URLs for SQLAlchemy and asyncpg (store/pg_urls.py).

That each driver really connects through them (the first host dead) is
tests/integration/test_postgres_multihost.py."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from authcore.store.pg_urls import asyncpg_dsn, sqlalchemy_url

LIBPQ = "postgresql+asyncpg://app:p%40ss@db1:5432,db2/authcore?target_session_attrs=read-write"
QUERY = ("postgresql+asyncpg://app:p%40ss@/authcore?host=db1:5432&host=db2:5432"
         "&target_session_attrs=read-write")
DSN = "postgresql://app:p%40ss@db1:5432,db2:5432/authcore?target_session_attrs=read-write"


def test_a_host_list_becomes_sqlalchemys_host_parameters() -> None:
    assert sqlalchemy_url(LIBPQ) == QUERY
    assert sqlalchemy_url(QUERY) == QUERY


@pytest.mark.parametrize("url", [LIBPQ, QUERY,
                                 "postgresql+asyncpg://app:p%40ss@/authcore?host=db1,db2"
                                 "&port=5432,5432&target_session_attrs=read-write"])
def test_every_form_gives_asyncpg_the_libpq_host_list(url: str) -> None:
    assert asyncpg_dsn(url) == DSN


def test_sqlalchemy_hands_asyncpg_every_host_and_the_session_attrs() -> None:
    engine = create_async_engine(sqlalchemy_url(LIBPQ))
    _, kwargs = engine.dialect.create_connect_args(engine.url)
    assert kwargs["host"] == ["db1", "db2"] and kwargs["port"] == [5432, 5432]
    assert kwargs["target_session_attrs"] == "read-write"
    assert kwargs["password"] == "p@ss"


@pytest.mark.parametrize("url", [
    "postgresql+asyncpg://u@h:5432/db",
    "postgresql+asyncpg://u@/db?host=/var/run/postgresql",
    "sqlite+aiosqlite:////tmp/x.db",
])
def test_single_hosts_pass_through(url: str) -> None:
    assert sqlalchemy_url(url) == url
    if url.startswith("postgresql"):
        assert asyncpg_dsn(url).startswith("postgresql://u@")


def test_refused_forms_say_why() -> None:
    with pytest.raises(ValueError, match="one form"):
        sqlalchemy_url("postgresql+asyncpg://u@h1,h2/db?host=h3")
    with pytest.raises(ValueError, match="IPv6"):
        sqlalchemy_url("postgresql+asyncpg://u@[::1]:5432,h2/db")
    with pytest.raises(ValueError, match="empty host"):
        sqlalchemy_url("postgresql+asyncpg://u@h1,,h2/db")


def test_settings_refuse_an_unusable_host_list_without_echoing_it() -> None:
    from authcore.config import Settings

    settings = Settings.from_env(
        {"AUTHCORE_DATABASE_URL": "postgresql+asyncpg://u:hunter2@h1,,h2/db"})
    with pytest.raises(SystemExit) as exc:
        settings.check()
    assert "empty host" in str(exc.value) and "hunter2" not in str(exc.value)
