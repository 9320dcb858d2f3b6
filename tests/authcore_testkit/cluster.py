"""Several `authcore serve` replicas on one shared database (and Redis), plus
private, killable Redis and PostgreSQL servers, for tests/integration's race
and fault tests.

Everything listens on 127.0.0.1 only. Replicas run one process each
(AUTHCORE_WORKERS=1), so a replica's pid is the process that serves it.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from authcore_testkit.api import Admin, GrpcApi, RestApi
from authcore_testkit.scim import Scim, ScimGrpc, ScimRest
from authcore_testkit.server import ADMIN_KEY, RunningServer, free_port, fresh_postgres_database

IN_CI = bool(os.environ.get("CI"))


def require(condition: bool, why: str) -> None:
    """Skip the calling module/test when `condition` is false, unless CI is set:
    then fail (the same policy as tests/e2e for Chromium)."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI is set but {why}", pytrace=False)
    pytest.skip(why)


def postgres_url() -> str | None:
    return os.environ.get("AUTHCORE_TEST_POSTGRES_URL") or None


def redis_url() -> str | None:
    return os.environ.get("AUTHCORE_TEST_REDIS_URL") or None


def require_postgres_and_redis() -> None:
    require(bool(postgres_url()), "AUTHCORE_TEST_POSTGRES_URL is not set")
    require(bool(redis_url()), "AUTHCORE_TEST_REDIS_URL is not set")


def new_master_key() -> str:
    """32 random bytes, base64url: AUTHCORE_MASTER_KEY, shared by all replicas
    (they open each other's sealed rows: signing keys, TOTP seeds)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def output_text(server: RunningServer) -> str:
    return "".join(server.output)


def has_traceback(text: str) -> bool:
    return "Traceback (most recent call last)" in text


# -- authcore replicas ---------------------------------------------------------

@contextmanager
def start_replica(*, database_url: str, master_key: str, env: dict[str, str] | None = None,
                  demo_application_id: str = "", name: str = "replica",
                  timeout: float = 60.0) -> Iterator[RunningServer]:
    """One `authcore serve` process on free ports.

    Unlike `server.run_server`, it does not wait for "demo applicationId": a
    replica started on an already bootstrapped database creates no demo
    application and prints none; pass the first replica's id instead.
    `RunningServer.output` is the live list of the process's output lines
    (stdout and stderr), appended by a reader thread.
    """
    data_dir = Path(tempfile.mkdtemp(prefix=f"authcore-{name}-"))
    http_port, grpc_port = free_port(), free_port()
    full_env = {
        **os.environ,
        "AUTHCORE_DATA_DIR": str(data_dir),
        "AUTHCORE_DATABASE_URL": database_url,
        "AUTHCORE_MASTER_KEY": master_key,
        "AUTHCORE_ADMIN_KEY": ADMIN_KEY,
        "AUTHCORE_HTTP_ADDR": f"127.0.0.1:{http_port}",
        "AUTHCORE_GRPC_ADDR": f"127.0.0.1:{grpc_port}",
        "AUTHCORE_RATE_LIMIT_IP_PER_MINUTE": "1000000",
        "AUTHCORE_RATE_LIMIT_USER_PER_MINUTE": "1000000",
        "AUTHCORE_SHUTDOWN_GRACE_SECONDS": "3",
        # Several test servers share the one local PostgreSQL (max_connections
        # 100); a process may hold 4 x this (two pools, one with overflow).
        "AUTHCORE_DB_POOL_SIZE": "4",
        "AUTHCORE_WORKERS": "1",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "authcore.cli", "serve"],
        env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    assert proc.stdout is not None
    stream = proc.stdout
    reader = threading.Thread(target=lambda: lines.extend(iter(stream.readline, "")),
                              daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    try:
        app_id = demo_application_id
        while True:
            text = "".join(lines)
            found = re.search(r"demo applicationId: (\S+)", text)
            if found:
                app_id = found.group(1)
            if "authcore listening" in text:
                break
            if proc.poll() is not None:
                reader.join(timeout=5)
                raise RuntimeError(f"{name} exited early:\n" + "".join(lines))
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start:\n" + text)
            time.sleep(0.05)
        server = RunningServer(
            http_url=f"http://127.0.0.1:{http_port}", grpc_target=f"127.0.0.1:{grpc_port}",
            admin_key=ADMIN_KEY, demo_application_id=app_id, data_dir=data_dir,
            process=proc, backend="postgres", output=lines,
        )
        httpx.get(server.http_url + "/openapi.json", timeout=10).raise_for_status()
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
        shutil.rmtree(data_dir, ignore_errors=True)


@dataclass
class Cluster:
    replicas: list[RunningServer]
    app_id: str
    database_url: str
    redis_url: str | None
    master_key: str

    def outputs(self) -> str:
        return "\n".join(output_text(r) for r in self.replicas)

    def warnings(self, last: int = 10) -> list[str]:
        """The replicas' latest WARNING/ERROR log lines (for failure messages)."""
        return [line for line in self.outputs().splitlines()
                if " WARNING " in line or " ERROR " in line][-last:]


def _terminate_all(replicas: list[RunningServer]) -> None:
    for replica in replicas:
        if replica.process.poll() is None:
            replica.process.terminate()


@contextmanager
def start_cluster(*, database_url: str, redis: str | None, count: int = 2,
                  env: dict[str, str] | None = None) -> Iterator[Cluster]:
    """`count` replicas on one database (and one Redis when `redis` is a URL).

    The first one bootstraps the database (signing key, admin key, demo
    application); the others start against it already bootstrapped, with the
    same AUTHCORE_MASTER_KEY and AUTHCORE_ADMIN_KEY."""
    master = new_master_key()
    common = dict(env or {})
    if redis:
        common["AUTHCORE_REDIS_URL"] = redis
    with ExitStack() as stack:
        first = stack.enter_context(start_replica(
            database_url=database_url, master_key=master, env=common, name="replica-a"))
        assert first.demo_application_id, "the first replica created no demo application"
        replicas = [first]
        for i in range(1, count):
            replicas.append(stack.enter_context(start_replica(
                database_url=database_url, master_key=master, env=common,
                demo_application_id=first.demo_application_id,
                name=f"replica-{chr(ord('a') + i)}")))
        # Runs first on exit: every replica starts its graceful shutdown at
        # once, instead of one grace period after the other.
        stack.callback(_terminate_all, replicas)
        yield Cluster(replicas=replicas, app_id=first.demo_application_id,
                      database_url=database_url, redis_url=redis, master_key=master)


@dataclass
class Clients:
    """Both transports on every replica. `apis[i]` / `scims[i]` alternate
    replica first, then transport: [A rest, B rest, A grpc, B grpc] for two
    replicas, so consecutive indexes always change replica."""

    apis: list[RestApi | GrpcApi]
    scims: list[Scim]
    admins: list[Admin]

    def api(self, i: int) -> RestApi | GrpcApi:
        return self.apis[i % len(self.apis)]

    def scim(self, i: int) -> Scim:
        return self.scims[i % len(self.scims)]


@asynccontextmanager
async def open_clients(cluster: Cluster) -> AsyncIterator[Clients]:
    apis: list[RestApi | GrpcApi] = []
    scims: list[Scim] = []
    for make_api, make_scim in ((RestApi, ScimRest), (GrpcApi, ScimGrpc)):
        for replica in cluster.replicas:
            apis.append(make_api(replica))
            scims.append(make_scim(replica))
    admins = [Admin(r) for r in cluster.replicas]
    try:
        yield Clients(apis=apis, scims=scims, admins=admins)
    finally:
        for client in [*apis, *scims, *admins]:
            await client.close()


# -- a private redis-server ----------------------------------------------------

def have_redis_server() -> bool:
    return shutil.which("redis-server") is not None


@dataclass
class RedisServer:
    """A throw-away `redis-server` on a free loopback port, with nothing
    persisted (--save '' --appendonly no): a restart comes back empty."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    # Where it writes, should a test turn persistence on (default: the cwd).
    dir: Path | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        assert self.process is None or self.process.poll() is not None
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--protected-mode", "no",
             *(["--dir", str(self.dir)] if self.dir is not None else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not self.ping():
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} exited")
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: the way a crashed or unplugged Redis goes, no goodbye."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def command(self, *args: str) -> bytes:
        """One raw RESP command (for assertions such as DBSIZE)."""
        payload = f"*{len(args)}\r\n".encode() + b"".join(
            f"${len(a.encode())}\r\n".encode() + a.encode() + b"\r\n" for a in args)
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            s.sendall(payload)
            return s.recv(65536)


@contextmanager
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.kill()


@contextmanager
def isolated_redis() -> Iterator[str]:
    """A Redis URL no other test uses: a private redis-server when the binary
    is installed, else database 13 of AUTHCORE_TEST_REDIS_URL, flushed."""
    if have_redis_server():
        with private_redis() as server:
            yield server.url
        return
    import redis as redis_client

    base = redis_url()
    assert base, "AUTHCORE_TEST_REDIS_URL is not set"
    url = base.rsplit("/", 1)[0] + "/13" if base.count("/") >= 3 else base + "/13"
    client = redis_client.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


TOPOLOGIES = ("postgres", "postgres+redis")


@contextmanager
def replica_cluster(topology: str, *, count: int = 2,
                    env: dict[str, str] | None = None) -> Iterator[Cluster]:
    """`count` replicas on a fresh database of the test PostgreSQL server,
    sharing one Redis when `topology` is "postgres+redis"."""
    assert topology in TOPOLOGIES, topology
    with ExitStack() as stack:
        database = stack.enter_context(fresh_postgres_database())
        redis = stack.enter_context(isolated_redis()) if topology.endswith("redis") else None
        yield stack.enter_context(start_cluster(database_url=database, redis=redis,
                                                count=count, env=env))


_SHARED_CLUSTERS = pytest.StashKey[dict[str, Cluster]]()


def shared_replica_cluster(request: pytest.FixtureRequest, topology: str) -> Cluster:
    """`replica_cluster(topology)` started once per test session and shared
    by the modules that ask for it (starting a pair of replicas costs
    seconds on a busy 2-core machine); stopped at the end of the session."""
    clusters = request.config.stash.setdefault(_SHARED_CLUSTERS, {})
    if topology not in clusters:
        stack = ExitStack()
        clusters[topology] = stack.enter_context(replica_cluster(topology))

        def close() -> None:
            clusters.pop(topology, None)
            stack.close()
        request.session.addfinalizer(close)
    return clusters[topology]


# -- a private PostgreSQL cluster ----------------------------------------------

def postgres_bin_dir() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                        else 0)
    return candidates[-1].parent if candidates else None


def can_run_private_postgres() -> tuple[bool, str]:
    if postgres_bin_dir() is None:
        return False, "no PostgreSQL server binaries under /usr/lib/postgresql"
    if os.geteuid() != 0:
        return False, "a private PostgreSQL needs root (initdb runs as the postgres user)"
    if shutil.which("runuser") is None:
        return False, "runuser is missing"
    return True, ""


@dataclass
class PrivatePostgres:
    """A throw-away PostgreSQL cluster (initdb in a temporary directory, run
    as the postgres user) on a free loopback port, so a test can stop it
    abruptly without disturbing the machine's shared PostgreSQL."""

    root: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        bindir = postgres_bin_dir()
        assert bindir is not None
        subprocess.run(["runuser", "-u", "postgres", "--", str(bindir / args[0]), *args[1:]],
                       check=True, timeout=timeout, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)

    def init(self) -> None:
        shutil.chown(self.root, user="postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        # fsync=off only skips flushing the OS cache (this machine does not
        # crash in a test). synchronous_commit stays on: an acknowledged
        # commit must survive `-m immediate`, which the tests check.
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l",
                  str(self.root / "postgres.log"), "-w", "-t", "30", "start")

    def stop(self) -> None:
        """`-m immediate`: every backend is killed at once, no checkpoint, no
        goodbye to the clients (crash recovery runs at the next start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    root = Path(tempfile.mkdtemp(prefix="authcore-pg-"))
    pg = PrivatePostgres(root=root)
    try:
        pg.init()
        pg.start()
        yield pg
    finally:
        if pg.running():
            try:
                pg.stop()
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(root, ignore_errors=True)


__all__ = [
    "IN_CI",
    "TOPOLOGIES",
    "Clients",
    "Cluster",
    "PrivatePostgres",
    "RedisServer",
    "can_run_private_postgres",
    "has_traceback",
    "have_redis_server",
    "isolated_redis",
    "new_master_key",
    "open_clients",
    "output_text",
    "postgres_url",
    "private_postgres",
    "private_redis",
    "redis_url",
    "replica_cluster",
    "require",
    "require_postgres_and_redis",
    "shared_replica_cluster",
    "start_cluster",
    "start_replica",
]
