"""authcore.operations, authcore.metrics and authcore.metrics_dir without a
server: migration heads, readiness on a real SQLite file, the /metrics
access rules, the per-start metrics directory, label caps and status codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from google.rpc import status_pb2
from prometheus_client import CollectorRegistry, Counter
from starlette.testclient import TestClient

from authcore import metrics, metrics_dir
from authcore.config import Settings
from authcore.operations import MetricsAccess, Readiness, metrics_app, migration_heads
from authcore.store.db import alembic_config, create_engine
from rest_bridge.context import AbortCall

TOKEN = "t" * 32


def test_migration_heads_are_alembics() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite:///unused.db"))
    assert migration_heads() == frozenset(script.get_heads())
    assert len(migration_heads()) == 1


def test_migration_heads_follow_branches_and_merges(tmp_path: Path) -> None:
    for name, rev, down in (("a", "0001", "None"), ("b", "0002", '"0001"'),
                            ("c", "0003", '"0001"')):
        (tmp_path / f"{name}.py").write_text(
            f'revision: str = "{rev}"\ndown_revision: str | None = {down}\n')
    assert migration_heads(tmp_path) == {"0002", "0003"}
    (tmp_path / "d.py").write_text('revision = "0004"\ndown_revision = ("0002", "0003")\n')
    assert migration_heads(tmp_path) == {"0004"}


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('ready') / 'authcore.db'}"
    # Alembic's async env runs a loop of its own: not inside the test's.
    subprocess.run([sys.executable, "-c",
                    f"from authcore.store.db import migrate; migrate({url!r})"],
                   check=True, timeout=120)
    return url


async def test_ready_on_a_migrated_database(migrated: str) -> None:
    engine = create_engine(migrated)
    try:
        readiness = Readiness(engine=engine, heads=migration_heads())
        report = await readiness.check()
        assert report.ready
        assert report.body() == {"status": "ready", "checks": {
            "database": {"ok": True},
            "migrations": {"ok": True, "revision": sorted(migration_heads())}}}
        # Reused within CACHE_SECONDS: the same object.
        assert await readiness.check() is report
        readiness.draining = True
        drained = await readiness.check()
        assert not drained.ready and drained.body()["status"] == "draining"
    finally:
        await engine.dispose()


async def test_not_ready_behind_or_without_the_schema(migrated: str, tmp_path: Path) -> None:
    engine = create_engine(migrated)
    try:
        behind = await Readiness(engine=engine, heads=frozenset({"9999"})).check()
        assert not behind.ready and behind.failed == ["migrations"]
        assert behind.checks["migrations"]["expected"] == ["9999"]
    finally:
        await engine.dispose()
    empty = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    try:
        report = await Readiness(engine=empty, heads=migration_heads()).check()
        assert report.failed == ["migrations"]
        assert report.body()["status"] == "not_ready"
        assert report.checks["database"] == {"ok": True}
    finally:
        await empty.dispose()


async def test_the_database_unreachable() -> None:
    # A port nobody listens on; the body names the check and an error class only.
    engine = create_engine("postgresql+asyncpg://authcore:s3cret@127.0.0.1:9/authcore")
    try:
        report = await Readiness(engine=engine, heads=migration_heads()).check()
    finally:
        await engine.dispose()
    assert report.failed == ["database", "migrations"]
    assert report.checks["database"]["error"] in ("ConnectionRefusedError", "OSError",
                                                  "timeout")
    assert "s3cret" not in str(report.body()) and "127.0.0.1" not in str(report.body())


def test_metrics_on_their_own_address_need_the_token_when_one_is_set(migrated: str) -> None:
    engine = create_engine(migrated)
    readiness = Readiness(engine=engine, heads=migration_heads())
    with TestClient(metrics_app(readiness, MetricsAccess(token=TOKEN))) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}
                          ).status_code == 401
        ok = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and "authcore_info" in ok.text
        assert client.get("/healthz").json() == {"status": "ok"}
    with TestClient(metrics_app(readiness, MetricsAccess(open=True))) as client:
        assert client.get("/metrics").status_code == 200


def test_each_start_gets_a_fresh_directory(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(metrics_dir.ENV, "unset-by-the-test")
    parent = tmp_path / metrics_dir.PARENT
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (parent / str(dead.pid)).mkdir(parents=True)
    (parent / str(dead.pid) / "counter_1.db").write_bytes(b"x")
    (parent / "1").mkdir()  # pid 1 is alive: another server's files stay
    mine = parent / str(os.getpid())
    mine.mkdir()
    (mine / "counter_2.db").write_bytes(b"stale")

    path = metrics_dir.prepare(tmp_path)
    assert path == mine and os.environ[metrics_dir.ENV] == str(path)
    assert list(path.iterdir()) == []
    assert not (parent / str(dead.pid)).exists()
    assert (parent / "1").is_dir()
    assert (path.stat().st_mode & 0o777) == 0o700
    metrics_dir.remove(path)
    assert not path.exists()


def test_live_gauges_of_dead_workers_are_dropped(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(metrics_dir.ENV, str(tmp_path))
    for name in ("gauge_livemax_4242.db", "gauge_livesum_4242.db", "counter_4242.db",
                 "gauge_livesum_4343.db"):
        (tmp_path / name).write_bytes(b"")
    metrics_dir.mark_dead(4242)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_4242.db",
                                                         "gauge_livesum_4343.db"]


def test_label_sets_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    family = Counter("capped", "test", ["who"], registry=CollectorRegistry())
    children = metrics._Children(family)
    monkeypatch.setattr(metrics, "MAX_LABEL_SETS", 2)
    for who in ("a", "b", "c", "d", "a"):
        children.get(who).inc()
    counts = {s.labels["who"]: s.value for s in next(iter(family.collect())).samples
              if s.name == "capped_total"}
    assert counts == {"a": 2.0, "b": 1.0, "other": 2.0}


class _Context:
    def __init__(self, code: grpc.StatusCode | None) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode | None:
        return self._code


def test_the_status_a_call_ends_with() -> None:
    rest = AbortCall(status_pb2.Status(code=grpc.StatusCode.NOT_FOUND.value[0]))
    assert metrics._code_of(rest, _Context(None)) == "NOT_FOUND"
    assert metrics._code_of(grpc.aio.AbortError(), _Context(grpc.StatusCode.UNAUTHENTICATED)
                            ) == "UNAUTHENTICATED"
    assert metrics._code_of(RuntimeError(), _Context(None)) == "UNKNOWN"


def test_observe_rpc_counts_and_times() -> None:
    before = metrics.RPC_REQUESTS.labels("grpc", "t.S/M", "OK")._value.get()
    metrics.observe_rpc("/t.S/M", "OK", 0.02)
    metrics.observe_rpc("t.S/M", "OK", 0.5)
    assert metrics.RPC_REQUESTS.labels("grpc", "t.S/M", "OK")._value.get() == before + 2


@pytest.mark.parametrize(("env", "message"), [
    ({"AUTHCORE_METRICS_ADDR": "nonsense"}, "AUTHCORE_METRICS_ADDR must be host:port"),
    ({"AUTHCORE_METRICS_ADDR": "127.0.0.1:50051"}, "needs a port of its own"),
    ({"AUTHCORE_METRICS_TOKEN": "short"}, "at least 16 bytes"),
])
def test_metrics_settings_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        Settings.from_env(env).check()


def test_metrics_addr_equal_to_the_http_addr_is_the_http_port() -> None:
    settings = Settings.from_env({"AUTHCORE_METRICS_ADDR": "127.0.0.1:8080",
                                  "AUTHCORE_HTTP_ADDR": "127.0.0.1:8080"})
    settings.check()
    assert settings.separate_metrics_addr is None
    assert Settings.from_env({"AUTHCORE_METRICS_ADDR": "127.0.0.1:9464"}
                             ).separate_metrics_addr == "127.0.0.1:9464"
    assert "secret" not in repr(Settings.from_env({"AUTHCORE_METRICS_TOKEN": "secret" * 4}))


def test_a_worker_does_not_import_alembic() -> None:
    # Readiness reads the heads itself: Alembic is ~10 MB of a worker's memory.
    code = "import sys, authcore.server; print('alembic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout.strip()
    assert out == "False"
