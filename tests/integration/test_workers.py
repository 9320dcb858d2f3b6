"""`authcore serve --workers 2` on SQLite: two real worker processes behind
one supervisor share both ports; writes through both stay correct; a taken
port, a dead worker and a dead supervisor stop everything."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pyotp
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from authcore.v1 import authentication_pb2_grpc, management_pb2_grpc
from authcore_testkit.api import Admin, GrpcApi, Reply, RestApi
from authcore_testkit.procs import (
    alive,
    children,
    established_on_port,
    wait_for_children,
    wait_gone,
)
from authcore_testkit.server import RunningServer, free_port, run_server

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="SO_REUSEPORT spreading and /proc are Linux's")

GRACE = 5.0  # the test kit's AUTHCORE_SHUTDOWN_GRACE_SECONDS
PASSWORD = "correct horse battery staple"
CLIENTS = 16
# Our own connection per channel: by default grpc shares one connection
# between channels to the same target, which would all land on one worker.
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]


class OwnChannelGrpcApi(GrpcApi):
    """GrpcApi on a channel with a connection of its own."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.channel = grpc.aio.insecure_channel(server.grpc_target, options=OWN_CONNECTION)
        self.authn = authentication_pb2_grpc.AuthenticationServiceStub(self.channel)
        self.mgmt = management_pb2_grpc.ManagementServiceStub(self.channel)


def port_of(url_or_target: str) -> int:
    return int(url_or_target.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def two_workers() -> Iterator[RunningServer]:
    # A lockout must not decide the replay race below: the directory allows
    # plenty of failures here.
    with run_server(workers=2, env={"AUTHCORE_LOCKOUT_MAX_FAILURES": "100",
                                    "AUTHCORE_LOCKOUT_SECONDS": "60"}) as srv:
        yield srv


@pytest.fixture
async def clients(two_workers: RunningServer
                  ) -> AsyncIterator[tuple[list[RestApi], list[GrpcApi]]]:
    """CLIENTS REST clients and CLIENTS gRPC channels, each connected (one
    call made) on a connection of its own."""
    rest = [RestApi(two_workers) for _ in range(CLIENTS)]
    grpc_apis: list[GrpcApi] = [OwnChannelGrpcApi(two_workers) for _ in range(CLIENTS)]
    body = {"applicationId": two_workers.demo_application_id, "userId": "nobody"}
    replies = await asyncio.gather(*(api.query(body) for api in [*rest, *grpc_apis]))
    # The demo application hides user existence: "nobody" is answered as a user.
    assert {r.status for r in replies} == {200}
    yield rest, grpc_apis
    for api in [*rest, *grpc_apis]:
        await api.close()


def test_the_supervisor_runs_two_workers(two_workers: RunningServer) -> None:
    out = two_workers.output[0]
    assert "(2 worker processes)" in out
    assert f"demo applicationId: {two_workers.demo_application_id}" in out
    workers = wait_for_children(two_workers.process.pid, 2)
    assert len(workers) == 2, workers
    # The demo page of every worker knows the demo application (the
    # supervisor's bootstrap made it, so the workers' own found it).
    with httpx.Client(base_url=two_workers.http_url) as http:
        for _ in range(6):
            page = http.get("/demo/passkeys", headers={"Connection": "close"})
            assert two_workers.demo_application_id in page.text


async def test_both_workers_accept_connections_on_both_ports(
        two_workers: RunningServer, clients: tuple[list[RestApi], list[GrpcApi]]) -> None:
    workers = children(two_workers.process.pid)
    assert len(workers) == 2
    http_port, grpc_port = port_of(two_workers.http_url), port_of(two_workers.grpc_target)
    http_spread = {pid: established_on_port(pid, http_port) for pid in workers}
    grpc_spread = {pid: established_on_port(pid, grpc_port) for pid in workers}
    # 16 connections each; the chance that all 16 hash to one worker is 2^-15.
    assert sum(http_spread.values()) >= CLIENTS and all(http_spread.values()), http_spread
    assert sum(grpc_spread.values()) >= CLIENTS and all(grpc_spread.values()), grpc_spread


async def _enroll(admin: Admin, user_id: str) -> pyotp.TOTP:
    await admin.user(user_id)
    await admin.password(user_id, PASSWORD)
    tok = await admin.req("POST", f"/api/admin/v1/users/{user_id}/tokens",
                          {"type": "TOTP", "algorithm": "SHA256", "digits": 8})
    return pyotp.TOTP(tok["secret"], digits=8, digest="sha256")


async def _login(api: RestApi | GrpcApi, kind: str, app: str, user: str, answer: str) -> Reply:
    ch = await api.challenge(kind, {"applicationId": app, "userId": user})
    assert ch.status == 200, ch
    return await api.complete(kind, {"response": answer}, ch.body["token"])


async def test_concurrent_logins_through_both_workers_all_succeed(
        two_workers: RunningServer, clients: tuple[list[RestApi], list[GrpcApi]]) -> None:
    rest, grpc_apis = clients
    app = two_workers.demo_application_id
    admin = Admin(two_workers)
    users = [f"worker-user-{i}-{time.time_ns()}@example.com" for i in range(CLIENTS)]
    totps = await asyncio.gather(*(_enroll(admin, u) for u in users))
    await admin.close()
    # Every user: a PASSWORD login over REST and over gRPC and one TOTP login
    # (a TOTP code works once), all at once, spread over both workers. Each
    # complete is a write transaction (challenge, session, audit), so the two
    # processes contend for SQLite's one writer.
    calls: list[Any] = []
    for i, (user, totp) in enumerate(zip(users, totps, strict=True)):
        calls.append(_login(rest[i], "PASSWORD", app, user, PASSWORD))
        calls.append(_login(grpc_apis[i], "PASSWORD", app, user, PASSWORD))
        token_api = rest[(i + 1) % CLIENTS] if i % 2 else grpc_apis[(i + 1) % CLIENTS]
        calls.append(_login(token_api, "TOKEN", app, user, totp.now()))
    replies = await asyncio.gather(*calls)
    assert [r.status for r in replies] == [200] * len(calls), [r for r in replies if not r.ok]
    assert all(r.body["authenticationCompleted"] for r in replies)


async def test_one_totp_code_works_once_across_workers(
        two_workers: RunningServer, clients: tuple[list[RestApi], list[GrpcApi]]) -> None:
    rest, grpc_apis = clients
    admin = Admin(two_workers)
    # A lockout must not decide the race (two_workers allows 100 failures).
    app = (await admin.req("POST", "/api/admin/v1/applications", {
        "name": "replay race"}))["applicationId"]
    user = f"replay-{time.time_ns()}@example.com"
    totp = await _enroll(admin, user)
    await admin.close()
    apis = [*rest, *grpc_apis]
    challenges = await asyncio.gather(*(
        api.challenge("TOKEN", {"applicationId": app, "userId": user}) for api in apis))
    code = totp.now()
    replies = await asyncio.gather(*(
        api.complete("TOKEN", {"response": code}, ch.body["token"])
        for api, ch in zip(apis, challenges, strict=True)))
    statuses = sorted(r.status for r in replies)
    assert statuses == [200] + [401] * (len(apis) - 1), [(r.status, r.error_code)
                                                         for r in replies]
    assert {r.error_code for r in replies if not r.ok} == {"replayed_code"}


def _serve(env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "authcore.cli", "serve", "--workers", "2"],
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env}, capture_output=True, text=True,
        timeout=timeout, check=False)


@pytest.mark.parametrize("taken", ["gRPC", "HTTP"])
def test_a_second_server_on_the_same_port_fails_loudly(two_workers: RunningServer,
                                                       tmp_path: Path, taken: str) -> None:
    # The running server's workers hold the port with SO_REUSEPORT; a second
    # server of the same user must not silently join it.
    env = {"AUTHCORE_DATA_DIR": str(tmp_path),
           "AUTHCORE_GRPC_ADDR": (two_workers.grpc_target if taken == "gRPC"
                                  else f"127.0.0.1:{free_port()}"),
           "AUTHCORE_HTTP_ADDR": (two_workers.http_url.removeprefix("http://")
                                  if taken == "HTTP" else f"127.0.0.1:{free_port()}")}
    result = _serve(env)
    assert result.returncode != 0
    assert f"cannot bind {taken} to" in result.stderr
    assert "address already in use" in result.stderr
    assert "authcore listening" not in result.stdout
    assert "Traceback" not in result.stderr


def test_a_port_held_by_another_program_fails_loudly(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = _serve({"AUTHCORE_DATA_DIR": str(tmp_path),
                         "AUTHCORE_GRPC_ADDR": f"127.0.0.1:{free_port()}",
                         "AUTHCORE_HTTP_ADDR": f"127.0.0.1:{port}"})
    assert result.returncode != 0
    assert f"cannot bind HTTP to 127.0.0.1:{port}: address already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_dead_worker_stops_the_server_with_an_error() -> None:
    with run_server(workers=2) as srv:
        workers = wait_for_children(srv.process.pid, 2)
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        started = time.monotonic()
        code = srv.process.wait(timeout=GRACE + 10)
        assert code != 0
        assert time.monotonic() - started < GRACE + 3
        assert wait_gone(workers, 1.0) == []
        with pytest.raises(httpx.TransportError):
            httpx.get(srv.http_url + "/openapi.json", timeout=2)
    out = srv.output[0]
    assert f"worker {workers[0]} exited unexpectedly" in out
    assert "Traceback" not in out


def test_workers_stop_when_the_supervisor_is_killed() -> None:
    with run_server(workers=2) as srv:
        workers = wait_for_children(srv.process.pid, 2)
        assert len(workers) == 2
        srv.process.kill()
        srv.process.wait()
        # They notice within a second and then shut down gracefully.
        assert wait_gone(workers, GRACE + 3) == []
    assert "the supervisor (pid" in srv.output[0]


async def test_health_answers_serving_on_the_shared_port(two_workers: RunningServer) -> None:
    channels = [grpc.aio.insecure_channel(two_workers.grpc_target, options=OWN_CONNECTION)
                for _ in range(8)]
    try:
        for channel in channels:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        for channel in channels:
            await channel.close()


def test_a_graceful_stop_leaves_no_process(two_workers: RunningServer) -> None:
    # Last in this module: stops the shared server.
    workers = children(two_workers.process.pid)
    two_workers.process.send_signal(signal.SIGTERM)
    assert two_workers.process.wait(timeout=GRACE + 5) == 0
    assert wait_gone(workers, 1.0) == []
    assert all(not alive(pid) for pid in workers)
