"""A storage backend that can't be reached is UNAVAILABLE (503
backend_unavailable), decided in one place: the error interceptor. Real
exceptions, as SQLAlchemy, asyncpg, aiosqlite and redis-py raise them."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from authcore.interceptors import STATUS_DETAILS_KEY, ErrorInterceptor, backend_unavailable_error
from authcore.store.db import create_engine
from authcore_testkit.server import free_port


async def raised_by(engine_url: str, sql: str = "SELECT 1") -> BaseException:
    engine = create_engine(engine_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    except Exception as exc:
        return exc
    finally:
        await engine.dispose()
    raise AssertionError("no error")


async def test_postgresql_not_listening() -> None:
    exc = await raised_by(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x")
    assert backend_unavailable_error(exc), repr(exc)


async def test_sqlite_file_that_cannot_be_opened(tmp_path: Path) -> None:
    exc = await raised_by(f"sqlite+aiosqlite:///{tmp_path}/missing-dir/x.db")
    assert isinstance(exc, OperationalError)
    assert backend_unavailable_error(exc)


def test_bugs_and_bad_input_are_not_unavailability() -> None:
    assert not backend_unavailable_error(ValueError("bug"))
    assert not backend_unavailable_error(KeyError("bug"))
    assert not backend_unavailable_error(
        IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed")))

    class DataError(Exception):
        sqlstate = "22021"  # invalid byte sequence: the client's input

    assert not backend_unavailable_error(DBAPIError("INSERT", {}, DataError("bad")))


def test_sqlstates_of_an_unavailable_server() -> None:
    for sqlstate in ("08006", "57P01", "57P03", "53300"):
        class PgError(Exception):
            pass

        error = PgError("down")
        error.sqlstate = sqlstate  # type: ignore[attr-defined]
        assert backend_unavailable_error(DBAPIError("SELECT 1", {}, error)), sqlstate


def test_redis_errors() -> None:
    assert backend_unavailable_error(RedisConnectionError("Connection refused"))


class _Context:
    def __init__(self) -> None:
        self.aborted: tuple[Any, ...] | None = None

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return ()

    def peer(self) -> str:
        return "ipv4:127.0.0.1:5000"

    async def abort(self, code: grpc.StatusCode, message: str,
                    trailing_metadata: tuple[tuple[str, bytes], ...] = ()) -> None:
        self.aborted = (code, message, dict(trailing_metadata))


async def run_interceptor(error: BaseException) -> tuple[grpc.StatusCode, status_pb2.Status]:
    async def behavior(request: Any, context: Any) -> Any:
        raise error

    async def continuation(details: Any) -> grpc.RpcMethodHandler:
        return grpc.unary_unary_rpc_method_handler(behavior)

    class Details:
        method = "/authcore.v1.Test/Call"

    handler = await ErrorInterceptor().intercept_service(continuation, Details())
    context = _Context()
    await handler.unary_unary(object(), context)
    assert context.aborted is not None
    code, _, trailers = context.aborted
    return code, status_pb2.Status.FromString(trailers[STATUS_DETAILS_KEY])


async def test_interceptor_answers_unavailable(caplog: pytest.LogCaptureFixture) -> None:
    down = await raised_by(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x")
    code, status = await run_interceptor(down)
    assert code == grpc.StatusCode.UNAVAILABLE
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info) and info.reason == "backend_unavailable"
    assert "Traceback" not in caplog.text

    code, _ = await run_interceptor(RuntimeError("a bug"))
    assert code == grpc.StatusCode.INTERNAL


@pytest.mark.skipif(not os.environ.get("AUTHCORE_TEST_POSTGRES_URL"),
                    reason="AUTHCORE_TEST_POSTGRES_URL is not set")
async def test_postgresql_connection_killed_mid_session() -> None:
    """The server ends our connection (as a restart or failover does): the
    next statement on it is unavailability, not a bug."""
    url = os.environ["AUTHCORE_TEST_POSTGRES_URL"]
    engine = create_engine(url)
    killer = create_engine(url)
    try:
        async with engine.connect() as conn:
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            async with killer.connect() as other:
                await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            with pytest.raises(Exception) as failed:
                await conn.execute(text("SELECT 1"))
        assert backend_unavailable_error(failed.value), repr(failed.value)
    finally:
        await engine.dispose()
        await killer.dispose()


