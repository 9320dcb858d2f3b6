"""`authcore serve --workers N`: one supervisor and N worker processes.

Every worker is a whole `authcore serve` (gRPC server and REST bridge on one
event loop); they share the gRPC and HTTP ports through SO_REUSEPORT, so the
kernel spreads incoming connections over them and one host uses all its
cores. Nothing is shared in memory: what must hold across workers (lockouts,
single-use challenges) is in the database, or in Redis when it is configured;
the in-memory rate limiter counts per process.

The supervisor imports little (no gRPC, no SQLAlchemy) and never touches the
database. It

1. checks the two addresses are free: a worker binds with SO_REUSEPORT, which
   would otherwise join a port another server of the same user already
   listens on instead of failing;
2. runs `authcore.cli serve --prepare` once, a child that applies the
   migrations and the first-start bootstrap (master key, signing key, admin
   key, demo application), so workers never race to create them;
3. starts the workers (`authcore.cli serve --worker`, a fresh interpreter
   each: never fork after gRPC is imported); each writes "ready" on a pipe
   once both its listeners accept;
4. prints the start-up lines (`authcore listening: ...`) when all are ready;
5. forwards SIGTERM/SIGINT to the workers, gives them the grace period (and
   `KILL_MARGIN_SECONDS` to close connections and the database pool), then
   kills stragglers. If a worker dies on its own, the others are stopped and
   the supervisor exits non-zero: never a half-alive server.

A worker whose supervisor disappears (SIGKILL) shuts itself down too.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authcore.config import SANDBOX_WARNING, Settings, split_addr
from authcore.delivery.setup import describe as describe_delivery
from authcore.metrics_dir import mark_dead

log = logging.getLogger("authcore.workers")

# Workers import everything and load the AAGUID table: a few seconds each on
# a busy machine, never minutes.
STARTUP_TIMEOUT_SECONDS = 120.0
# After the grace period, how long workers get to close their connections and
# database pool before they are killed.
KILL_MARGIN_SECONDS = 1.0
READY = b"ready\n"


ADMIN_KEY_FILE = "admin.key"


def write_admin_key(data_dir: Path, key: str) -> Path:
    """The generated all-scope key goes to a 0600 file, not to stdout, which
    ends up in journald, container logs and CI output."""
    path = data_dir / ADMIN_KEY_FILE
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (key + "\n").encode())
    finally:
        os.close(fd)
    return path


def announce(settings: Settings, grpc_port: int, *, new_admin_key: str | None,
             new_application_id: str | None, workers: int = 1) -> None:
    """The start-up lines on stdout (the test kit and operators wait for
    "authcore listening"). The generated admin key is written to a file,
    never printed or logged."""
    listening = (f"authcore listening: gRPC {split_addr(settings.grpc_addr)[0]}:{grpc_port}, "
                 f"HTTP {settings.http_addr}")
    if settings.mtls_addr is not None:
        listening += f", mTLS {settings.mtls_addr}"
    if workers > 1:
        listening += f" ({workers} worker processes)"
    lines = [
        listening,
        f"database: {'SQLite in ' + str(settings.data_dir) if settings.is_sqlite else 'external'}",
        describe_delivery(settings),
    ]
    if new_admin_key:
        path = write_admin_key(settings.data_dir, new_admin_key)
        lines.append(f"admin key (all scopes) written to {path}: readable only by this "
                     "user; store it elsewhere and delete the file")
    if new_application_id:
        lines.append(f"demo applicationId: {new_application_id}")
    print("\n".join(lines), file=sys.stdout, flush=True)


# -- the one-time work, in the `--prepare` child ------------------------------

async def prepare(settings: Settings) -> dict[str, str | None]:
    """The first-start bootstrap (migrations already ran): what a worker's
    own bootstrap then finds in place. Returns what must be shown once."""
    from authcore.bootstrap import bootstrap
    from authcore.crypto.seal import Sealer, load_or_create_master_key
    from authcore.store.db import create_engine, session_factory

    settings.check()
    engine = create_engine(settings.effective_database_url, pool_size=1)
    try:
        master = load_or_create_master_key(path=settings.data_dir / "master.key",
                                           env_value=settings.master_key)
        boot = await bootstrap(settings, session_factory(engine), Sealer(master),
                               now=time.time())
    finally:
        await engine.dispose()
    return {"new_admin_key": boot.new_admin_key,
            "new_application_id": boot.new_application_id}


# -- the supervisor -----------------------------------------------------------

def check_addresses(settings: Settings) -> None:
    """SystemExit unless both addresses can be bound now (see the module doc)."""
    grpc_host, grpc_port = split_addr(settings.grpc_addr)
    http_host, http_port = split_addr(settings.http_addr)
    if grpc_port == 0 or http_port == 0:
        raise SystemExit("--workers above 1 needs explicit ports (workers must share them), "
                         "not port 0")
    if grpc_port == http_port:
        raise SystemExit(f"the gRPC and HTTP addresses need different ports, both are "
                         f"{grpc_port}")
    # gRPC binds IPv6 wildcards dual-stack; asyncio (the HTTP side) binds v6-only.
    _check_free("gRPC", settings.grpc_addr, grpc_host, grpc_port, v6only=False)
    _check_free("HTTP", settings.http_addr, http_host, http_port, v6only=True)
    metrics_addr = settings.separate_metrics_addr
    if metrics_addr is not None:
        metrics_host, metrics_port = split_addr(metrics_addr)
        if metrics_port == 0:
            raise SystemExit("--workers above 1 needs an explicit AUTHCORE_METRICS_ADDR port, "
                             "not port 0")
        _check_free("metrics", metrics_addr, metrics_host, metrics_port, v6only=True)
    if settings.mtls_addr is not None:
        mtls_host, mtls_port = split_addr(settings.mtls_addr)
        if mtls_port == 0:
            raise SystemExit("--workers above 1 needs an explicit AUTHCORE_MTLS_ADDR port, "
                             "not port 0")
        _check_free("mTLS", settings.mtls_addr, mtls_host, mtls_port, v6only=True)


def _check_free(what: str, addr: str, host: str, port: int, *, v6only: bool) -> None:
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise SystemExit(f"cannot bind {what} to {addr}: {exc}") from exc
    bound = False
    failure: OSError | None = None
    for family, kind, proto, _, sockaddr in infos:
        with socket.socket(family, kind, proto) as sock:
            # As the real listeners do (TIME_WAIT leftovers are no conflict),
            # but without SO_REUSEPORT: a listener of any kind refuses this.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
            try:
                sock.bind(sockaddr)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise SystemExit(f"cannot bind {what} to {addr}: address already in use"
                                     ) from exc
                failure = exc  # e.g. ::1 on a host without IPv6; asyncio skips it too
                continue
            bound = True
    if not bound:
        raise SystemExit(f"cannot bind {what} to {addr}: {failure}")


def _serve_argv(settings: Settings, *extra: str) -> list[str]:
    # The rest of the settings reach the children through the environment
    # they inherit; the addresses may have come from flags. Children run in
    # their own process group (process_group=0): a terminal's Ctrl-C reaches
    # the supervisor only, which decides (a migration is never interrupted).
    # --workers too: a worker sizes its hashing threads by its share of the cores.
    return [sys.executable, "-m", "authcore.cli", "serve", *extra,
            "--grpc-addr", settings.grpc_addr, "--http-addr", settings.http_addr,
            "--workers", str(settings.effective_workers)]


async def _run_prepare(settings: Settings) -> dict[str, str | None]:
    proc = await asyncio.create_subprocess_exec(
        *_serve_argv(settings, "--prepare"), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, process_group=0)
    out, _ = await proc.communicate()
    mark_dead(proc.pid)
    if proc.returncode != 0:
        # The child printed why on stderr (it shares ours).
        raise SystemExit(proc.returncode if proc.returncode and proc.returncode > 0 else 1)
    lines = out.decode().strip().splitlines()
    result: dict[str, str | None] = json.loads(lines[-1])
    return result


@dataclass
class _Worker:
    proc: asyncio.subprocess.Process
    ready_fd: int  # read end of the worker's ready pipe
    killed: bool = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def signal(self, sig: int) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.killed = True
            self.signal(signal.SIGKILL)


def _worker_env() -> dict[str, str]:
    """glibc tuning for a worker's RSS, unless the deployer set their own.
    Each thread that allocates gets its own malloc arena, which keeps what
    gRPC's threads once used; two arenas are enough here. A fixed mmap
    threshold keeps glibc from raising it after the first argon2 hash is
    freed (7 MiB each): every hash then gets fresh pages and gives them back,
    instead of leaving them resident in the hashing thread's arena."""
    env = dict(os.environ)
    env.setdefault("MALLOC_ARENA_MAX", "2")
    env.setdefault("MALLOC_MMAP_THRESHOLD_", str(256 * 1024))
    return env


async def _spawn(settings: Settings, demo_application_id: str | None) -> _Worker:
    read_fd, write_fd = os.pipe()
    extra = ["--worker", "--ready-fd", str(write_fd)]
    if demo_application_id:
        extra += ["--demo-application-id", demo_application_id]
    try:
        proc = await asyncio.create_subprocess_exec(
            *_serve_argv(settings, *extra), stdin=subprocess.DEVNULL, pass_fds=(write_fd,),
            process_group=0, env=_worker_env())
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    return _Worker(proc, read_fd)


async def _ready(worker: _Worker) -> bool:
    """True once the worker says it listens; False if it exits first (EOF)."""
    loop = asyncio.get_running_loop()
    got: asyncio.Future[bytes] = loop.create_future()
    fd = worker.ready_fd

    def readable() -> None:
        try:
            data = os.read(fd, 64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not got.done():
            got.set_result(data)

    os.set_blocking(fd, False)
    loop.add_reader(fd, readable)
    try:
        return (await got).startswith(READY)
    finally:
        loop.remove_reader(fd)
        os.close(fd)


def _marks_dead(pid: int) -> Any:
    def done(_: asyncio.Future[Any]) -> None:
        mark_dead(pid)
    return done


# Exit statuses of a worker that was asked to stop.
_STOPPED = {0, -signal.SIGTERM, -signal.SIGINT}


async def supervise(settings: Settings) -> int:
    """Run `settings.effective_workers` workers until a signal or a failure;
    the process exit status."""
    count = settings.effective_workers
    settings.check()
    check_addresses(settings)
    if settings.sandbox:
        log.warning(SANDBOX_WARNING)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    workers: list[_Worker] = []

    def on_signal() -> None:
        if stop.is_set():
            log.warning("second signal: killing the workers now")
            for w in workers:
                w.kill()
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)

    # A signal during this step lets it finish: never interrupt a migration.
    prepared = await _run_prepare(settings)
    if stop.is_set():
        return 0

    for _ in range(count):
        workers.append(await _spawn(settings, prepared.get("new_application_id")))
    exits = {asyncio.create_task(w.proc.wait()): w for w in workers}
    for task, w in exits.items():
        # Its live gauges stop counting in the scrapes the others answer.
        task.add_done_callback(_marks_dead(w.pid))
    readiness = asyncio.ensure_future(asyncio.gather(*(_ready(w) for w in workers)))
    stopping = asyncio.create_task(stop.wait())

    failed = False
    starting: set[asyncio.Future[Any]] = {readiness, stopping, *exits}
    done, _ = await asyncio.wait(starting, timeout=STARTUP_TIMEOUT_SECONDS,
                                 return_when=asyncio.FIRST_COMPLETED)
    if readiness in done and all(readiness.result()):
        log.info("%d workers ready: pids %s", count, " ".join(str(w.pid) for w in workers))
        announce(settings, split_addr(settings.grpc_addr)[1],
                 new_admin_key=prepared.get("new_admin_key"),
                 new_application_id=prepared.get("new_application_id"), workers=count)
        running: set[asyncio.Future[Any]] = {stopping, *exits}
        await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
    elif readiness in done:
        failed = True
        log.error("a worker failed to start; stopping the others")
    elif not done:
        failed = True
        log.error("the workers did not start within %.0fs; stopping",
                  STARTUP_TIMEOUT_SECONDS)

    for task, w in exits.items():
        if task.done() and not stop.is_set():
            failed = True
            log.error("worker %d exited unexpectedly (status %s); stopping the others",
                      w.pid, w.proc.returncode)
    readiness.cancel()
    stopping.cancel()
    if not failed:
        log.info("shutting down %d workers (grace %.0fs)", count,
                 settings.shutdown_grace_seconds)
    clean = await _stop_all(workers, settings.shutdown_grace_seconds + KILL_MARGIN_SECONDS)
    with contextlib.suppress(asyncio.CancelledError):
        await readiness
    if failed or not clean:
        return 1
    log.info("stopped")
    return 0


async def _stop_all(workers: list[_Worker], deadline_seconds: float) -> bool:
    """SIGTERM every live worker, wait, kill stragglers. True when every
    worker stopped as asked."""
    for w in workers:
        w.signal(signal.SIGTERM)
    waits = [w.proc.wait() for w in workers]
    try:
        await asyncio.wait_for(asyncio.gather(*waits), deadline_seconds)
    except TimeoutError:
        for w in workers:
            if w.proc.returncode is None:
                log.error("worker %d still running %.0fs after SIGTERM; killing it",
                          w.pid, deadline_seconds)
                w.kill()
        await asyncio.gather(*(w.proc.wait() for w in workers))
    return all(not w.killed and w.proc.returncode in _STOPPED for w in workers)
