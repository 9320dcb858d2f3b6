"""Start a real `authcore serve` process on free ports, for API tests."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ADMIN_KEY = "test-admin-key-" + "x" * 32


# Ports free_port has handed out in this process: the kernel may offer a
# port again as soon as it is closed, and a test that picks one (e.g. for
# AUTHCORE_METRICS_ADDR) before run_server picks its own would get a clash.
_HANDED_OUT: set[int] = set()


def free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


@dataclass
class RunningServer:
    http_url: str
    grpc_target: str
    admin_key: str
    demo_application_id: str
    data_dir: Path
    process: subprocess.Popen[str]
    backend: str
    output: list[str]
    # With run_server(split_stderr=True): `output` is stdout only and this
    # is stderr (the logs), line by line, live.
    stderr: list[str] = field(default_factory=list)
    # The PostgreSQL database it runs on (for database_rows); None on SQLite.
    database_url: str | None = None


async def database_rows(server: RunningServer, database_url: str | None, sql: str,
                        *args: object) -> list[dict[str, Any]]:
    """Rows of `sql` straight from the server's database: its SQLite file,
    or `database_url` (PostgreSQL). Each `{}` in `sql` is a parameter."""
    if database_url is None:
        with sqlite3.connect(server.data_dir / "authcore.db") as db:
            db.row_factory = sqlite3.Row
            query = sql.format(*("?" for _ in args))
            return [dict(r) for r in db.execute(query, args)]
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        query = sql.format(*(f"${i}" for i in range(1, len(args) + 1)))
        return [dict(r) for r in await conn.fetch(query, *args)]
    finally:
        await conn.close()


def postgres_base_url() -> str | None:
    return os.environ.get("AUTHCORE_TEST_POSTGRES_URL") or None


def redis_base_url() -> str | None:
    return os.environ.get("AUTHCORE_TEST_REDIS_URL") or None


@contextmanager
def redis_namespace() -> Iterator[dict[str, str]]:
    """Server environment for the test Redis under a key prefix no other
    server uses (test servers run in parallel on one Redis); the prefix's
    keys are deleted afterwards."""
    import redis

    base = redis_base_url()
    assert base, "AUTHCORE_TEST_REDIS_URL is not set"
    prefix = f"authcore-test-{uuid.uuid4().hex[:10]}:"
    try:
        yield {"AUTHCORE_REDIS_URL": base, "AUTHCORE_REDIS_KEY_PREFIX": prefix}
    finally:
        client = redis.Redis.from_url(base)
        try:
            batch = []
            for key in client.scan_iter(match=prefix + "*", count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    client.delete(*batch)
                    batch.clear()
            if batch:
                client.delete(*batch)
        finally:
            client.close()


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new database on the test PostgreSQL server, dropped afterwards."""
    import asyncpg

    base = postgres_base_url()
    assert base, "AUTHCORE_TEST_POSTGRES_URL is not set"
    name = f"authcore_test_{uuid.uuid4().hex[:10]}"
    dsn = base.replace("postgresql+asyncpg://", "postgresql://")

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    head, _, _ = base.rpartition("/")
    try:
        yield f"{head}/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def run_server(*, backend: str = "sqlite", env: dict[str, str] | None = None,
               database_url: str | None = None, workers: int = 1,
               split_stderr: bool = False) -> Iterator[RunningServer]:
    data_dir = Path(tempfile.mkdtemp(prefix="authcore-test-"))
    http_port, grpc_port = free_port(), free_port()
    full_env = {
        **os.environ,
        "AUTHCORE_DATA_DIR": str(data_dir),
        "AUTHCORE_ADMIN_KEY": ADMIN_KEY,
        "AUTHCORE_HTTP_ADDR": f"127.0.0.1:{http_port}",
        "AUTHCORE_GRPC_ADDR": f"127.0.0.1:{grpc_port}",
        "AUTHCORE_RATE_LIMIT_IP_PER_MINUTE": "1000000",
        "AUTHCORE_RATE_LIMIT_USER_PER_MINUTE": "1000000",
        # Off for the same reason, and because tests send codes to fixed
        # addresses over both transports within seconds;
        # tests/api/test_message_bombing.py runs servers with them on.
        "AUTHCORE_DELIVERY_RESEND_SECONDS": "0",
        "AUTHCORE_DELIVERY_ADDRESS_PER_HOUR": "0",
        "AUTHCORE_DELIVERY_IP_PER_HOUR": "0",
        "AUTHCORE_SHUTDOWN_GRACE_SECONDS": "5",
        # Several test servers share the one local PostgreSQL (max_connections
        # 100); a process may hold 4 x this (two pools, one with overflow).
        "AUTHCORE_DB_POOL_SIZE": "4",
        # One process unless a test asks for more (the default is one per core).
        "AUTHCORE_WORKERS": str(workers),
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    if database_url:
        full_env["AUTHCORE_DATABASE_URL"] = database_url
    proc = subprocess.Popen(
        [sys.executable, "-m", "authcore.cli", "serve"],
        env=full_env, stdout=subprocess.PIPE, text=True,
        stderr=subprocess.PIPE if split_stderr else subprocess.STDOUT,
    )
    output: list[str] = []
    lines: list[str] = []
    errors: list[str] = []
    assert proc.stdout is not None
    stream = proc.stdout
    # A reader thread drains stdout so the server never blocks on a full pipe.
    reader = threading.Thread(target=lambda: lines.extend(iter(stream.readline, "")),
                              daemon=True)
    reader.start()
    error_reader = None
    if proc.stderr is not None:
        error_stream = proc.stderr
        error_reader = threading.Thread(
            target=lambda: errors.extend(iter(error_stream.readline, "")), daemon=True)
        error_reader.start()
    app_id = ""
    deadline = time.monotonic() + 60
    try:
        while True:
            buf = "".join(lines)
            m = re.search(r"demo applicationId: (\S+)", buf)
            if m:
                app_id = m.group(1)
            if "authcore listening" in buf and app_id:
                break
            if proc.poll() is not None:
                reader.join(timeout=5)
                raise RuntimeError("authcore exited early:\n" + "".join(lines + errors))
            if time.monotonic() > deadline:
                raise RuntimeError("authcore did not start:\n" + buf)
            time.sleep(0.05)
        output.append(buf)
        server = RunningServer(
            http_url=f"http://127.0.0.1:{http_port}",
            grpc_target=f"127.0.0.1:{grpc_port}",
            admin_key=ADMIN_KEY, demo_application_id=app_id, data_dir=data_dir,
            process=proc, backend=backend, output=output, stderr=errors,
            database_url=database_url,
        )
        httpx.get(server.http_url + "/openapi.json", timeout=10).raise_for_status()
        # Self sign-up is off by default, on every application; the LoginID
        # tests sign users up through the demo application. (A test that
        # unsets the admin key gets the default.)
        if full_env["AUTHCORE_ADMIN_KEY"] == ADMIN_KEY:
            httpx.patch(f"{server.http_url}/api/admin/v1/applications/{app_id}",
                        json={"access": {"selfSignUp": True}}, timeout=10,
                        headers={"Authorization": f"Bearer {ADMIN_KEY}"}).raise_for_status()
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        reader.join(timeout=5)
        if error_reader is not None:
            error_reader.join(timeout=5)
        output[:] = ["".join(lines)]
