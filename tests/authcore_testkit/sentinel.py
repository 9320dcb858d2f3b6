"""A Redis primary, replicas and Sentinels on free loopback ports, for the
failover tests (tests/integration/test_redis_sentinel.py).

Nothing is persisted (--save '' --appendonly no). Sentinels detect a dead
primary after DOWN_AFTER_MS and may retry a failover after
FAILOVER_TIMEOUT_MS, so a failover completes in a few seconds. Each
instance gets its own directory (Sentinel rewrites its config file).
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from authcore_testkit.server import free_port

SERVICE = "authcore-test"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 4000
QUORUM = 2


def have_redis_server() -> bool:
    return shutil.which("redis-server") is not None


def command(port: int, *args: str, timeout: float = 2.0) -> str:
    """One RESP command, the reply as text (enough for the assertions and
    polls here: integers, simple strings, INFO and flat arrays)."""
    payload = f"*{len(args)}\r\n".encode() + b"".join(
        f"${len(a.encode())}\r\n".encode() + a.encode() + b"\r\n" for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        chunks = [s.recv(65536)]
        # INFO replies may come in several segments: read until the bulk is whole.
        while chunks[0].startswith(b"$"):
            head, _, body = b"".join(chunks).partition(b"\r\n")
            if len(body) >= int(head[1:]) + 2:
                break
            more = s.recv(65536)
            if not more:
                break
            chunks.append(more)
        return b"".join(chunks).decode(errors="replace")


def alive(port: int) -> bool:
    try:
        return "PONG" in command(port, "PING", timeout=0.5)
    except OSError:
        return False


@dataclass
class Instance:
    """One redis-server process (data node or sentinel)."""

    port: int
    dir: Path
    args: list[str]
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.dir / "redis.log"

    def start(self, *, extra: list[str] | None = None, timeout: float = 10.0) -> None:
        assert self.process is None or self.process.poll() is not None
        self.process = subprocess.Popen(
            ["redis-server", *self.args, *(extra or []), "--logfile", str(self.log)],
            cwd=self.dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not alive(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server on {self.port} exited: {self.log_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on {self.port} did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def data_node(root: Path, name: str, *, replica_of: int | None = None) -> Instance:
    port = free_port()
    path = root / name
    path.mkdir()
    args = ["--port", str(port), "--bind", "127.0.0.1", "--protected-mode", "no",
            "--save", "", "--appendonly", "no", "--dir", str(path),
            # A (re)joining replica syncs at once, not after the default 5 s.
            "--repl-diskless-sync-delay", "0"]
    if replica_of is not None:
        args += ["--replicaof", "127.0.0.1", str(replica_of)]
    return Instance(port=port, dir=path, args=args)


def replicas_of(primary: Instance) -> int:
    """Replicas done with their initial sync (connected_slaves also counts
    those still waiting for it, which acknowledge nothing)."""
    info = command(primary.port, "INFO", "replication")
    return sum(1 for line in info.splitlines()
               if line.startswith("slave") and "state=online" in line)


def wait_for(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass
class SentinelGroup:
    primary: Instance
    replica: Instance
    sentinels: list[Instance]

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def master_port(self) -> int | None:
        """The primary's port as the first answering sentinel names it."""
        for s in self.sentinels:
            try:
                reply = command(s.port, "SENTINEL", "get-master-addr-by-name", SERVICE)
            except OSError:
                continue
            lines = reply.split("\r\n")
            if reply.startswith("*2") and len(lines) >= 5:
                return int(lines[4])
        return None

    def all_agree(self, port: int) -> bool:
        for s in self.sentinels:
            reply = command(s.port, "SENTINEL", "get-master-addr-by-name", SERVICE)
            if f"\r\n{port}\r\n" not in reply + "\r\n":
                return False
        return True

    def sentinels_ready(self) -> bool:
        """Every sentinel knows the replica and both other sentinels."""
        for s in self.sentinels:
            reply = command(s.port, "SENTINEL", "master", SERVICE)
            fields = reply.split("\r\n")
            values = {fields[i]: fields[i + 2] for i in range(2, len(fields) - 2, 4)}
            if values.get("num-slaves") != "1" or values.get("num-other-sentinels") != "2":
                return False
        return True


@contextmanager
def sentinel_group(timeout: float = 20.0) -> Iterator[SentinelGroup]:
    root = Path(tempfile.mkdtemp(prefix="authcore-sentinel-"))
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, root, True)
        primary = data_node(root, "primary")
        primary.start()
        stack.callback(primary.kill)
        replica = data_node(root, "replica", replica_of=primary.port)
        replica.start()
        stack.callback(replica.kill)
        wait_for("the replica to sync", lambda: replicas_of(primary) == 1, timeout)
        sentinels = []
        for i in range(3):
            port = free_port()
            path = root / f"sentinel{i}"
            path.mkdir()
            conf = path / "sentinel.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\nprotected-mode no\ndir {path}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {primary.port} {QUORUM}\n"
                f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}\n"
                f"sentinel parallel-syncs {SERVICE} 1\n")
            sentinel = Instance(port=port, dir=path, args=[str(conf), "--sentinel"])
            sentinel.start()
            stack.callback(sentinel.kill)
            sentinels.append(sentinel)
        group = SentinelGroup(primary=primary, replica=replica, sentinels=sentinels)
        # Sentinels find the replica in the primary's INFO and each other by
        # hello messages (every 2 s): a failover needs both.
        wait_for("the sentinels to know each other and the replica",
                 group.sentinels_ready, timeout)
        yield group
