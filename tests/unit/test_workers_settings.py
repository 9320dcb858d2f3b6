"""Settings and address checks behind `authcore serve --workers` (no processes)."""

from __future__ import annotations

import dataclasses
import os
import socket

import pytest

from authcore.config import Settings, split_addr
from authcore.workers import check_addresses


def test_split_addr() -> None:
    assert split_addr("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert split_addr("[::]:50051") == ("::", 50051)
    with pytest.raises(SystemExit):
        split_addr("8080")


def test_workers_and_pool_size_from_env() -> None:
    s = Settings.from_env({"AUTHCORE_WORKERS": "3", "AUTHCORE_DB_POOL_SIZE": "4"})
    assert (s.workers, s.effective_workers, s.db_pool_size) == (3, 3, 4)
    default = Settings.from_env({})
    assert default.workers == 0 and default.db_pool_size == 10
    if hasattr(os, "sched_getaffinity"):  # the cores this process may use
        assert default.effective_workers == len(os.sched_getaffinity(0))


def test_hashing_threads_share_the_cores_between_workers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(8)), raising=False)
    assert Settings(workers=1).hashing_threads == 8
    assert Settings(workers=4).hashing_threads == 2
    assert Settings(workers=0).hashing_threads == 1  # one worker per core
    assert Settings(workers=16).hashing_threads == 1  # never none


def test_workers_are_told_how_many_they_are() -> None:
    """A worker sizes its hashing threads from --workers, so the supervisor
    passes on a count that came from the command line, not the environment."""
    from authcore.workers import _serve_argv

    argv = _serve_argv(Settings(workers=3), "--worker")
    assert argv[argv.index("--workers") + 1] == "3"


@pytest.mark.parametrize("env", [{"AUTHCORE_WORKERS": "-1"}, {"AUTHCORE_DB_POOL_SIZE": "0"}])
def test_nonsense_is_refused(env: dict[str, str]) -> None:
    with pytest.raises(SystemExit):
        Settings.from_env(env).check()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_check_addresses() -> None:
    a, b = _free_port(), _free_port()
    ok = dataclasses.replace(Settings(), grpc_addr=f"127.0.0.1:{a}", http_addr=f"127.0.0.1:{b}")
    check_addresses(ok)
    for grpc_addr, http_addr in ((f"127.0.0.1:{a}", f"127.0.0.1:{a}"),
                                 ("127.0.0.1:0", f"127.0.0.1:{b}")):
        with pytest.raises(SystemExit):
            check_addresses(dataclasses.replace(ok, grpc_addr=grpc_addr, http_addr=http_addr))
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", b))
        holder.listen()
        with pytest.raises(SystemExit, match="address already in use"):
            check_addresses(ok)
