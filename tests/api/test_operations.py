"""/healthz, /readyz and /metrics on real servers: `--workers 2` on the HTTP
port (the default, behind a token or an admin key), and one process with
AUTHCORE_METRICS_ADDR of its own. A scrape answered by either worker shows
both workers' counts."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import grpc
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from authcore.operations import migration_heads
from authcore.v1 import authentication_pb2_grpc, management_pb2_grpc
from authcore_testkit.api import Admin, GrpcApi, Reply, RestApi
from authcore_testkit.procs import children, established_on_port, wait_for_children
from authcore_testkit.server import (
    RunningServer,
    free_port,
    fresh_postgres_database,
    postgres_base_url,
    redis_base_url,
    redis_namespace,
    run_server,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="SO_REUSEPORT spreading and /proc are Linux's")

BACKENDS = ["sqlite"] + (["postgres"] if postgres_base_url() else [])
TOKEN = "metrics-token-" + "y" * 32
PASSWORD = "correct horse battery staple"
CLIENTS = 12
COMPLETE = "authcore.v1.AuthenticationService/AuthenticateUserChallenge"
# Our own connection per channel, so the kernel spreads them over the workers.
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@dataclass
class Served:
    server: RunningServer
    database_url: str | None
    env: dict[str, str]


@pytest.fixture(scope="module", params=BACKENDS)
def two_workers(request: pytest.FixtureRequest) -> Iterator[Served]:
    with ExitStack() as stack:
        url = None
        env = {"AUTHCORE_METRICS_TOKEN": TOKEN}
        if request.param == "postgres":
            url = stack.enter_context(fresh_postgres_database())
            if redis_base_url():
                env.update(stack.enter_context(redis_namespace()))
        srv = stack.enter_context(run_server(backend=request.param, database_url=url,
                                             env=env, workers=2))
        yield Served(srv, url, env)


def scrape(server: RunningServer, token: str = TOKEN) -> Samples:
    # A new connection each time: any worker may answer.
    r = httpx.get(server.http_url + "/metrics", timeout=10,
                  headers={"Authorization": f"Bearer {token}", "Connection": "close"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return parse(r.text)


def test_healthz_and_readyz_answer_on_every_worker(two_workers: Served) -> None:
    srv = two_workers.server
    assert len(wait_for_children(srv.process.pid, 2)) == 2
    for _ in range(6):
        with httpx.Client(base_url=srv.http_url, headers={"Connection": "close"}) as http:
            health = http.get("/healthz")
            assert (health.status_code, health.json()) == (200, {"status": "ok"})
            ready = http.get("/readyz")
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert body["status"] == "ready"
        assert body["checks"]["database"] == {"ok": True}
        assert body["checks"]["migrations"] == {"ok": True,
                                                "revision": sorted(migration_heads())}
        assert ("redis" in body["checks"]) == ("AUTHCORE_REDIS_URL" in two_workers.env)
        assert all(check["ok"] for check in body["checks"].values())


def _create_key(served: Served, scope: str) -> str:
    env = {**os.environ, "AUTHCORE_DATA_DIR": str(served.server.data_dir),
           "AUTHCORE_WORKERS": "1"}
    if served.database_url:
        env["AUTHCORE_DATABASE_URL"] = served.database_url
    result = subprocess.run(
        [sys.executable, "-m", "authcore.cli", "admin", "create-key", "--name",
         f"ops-{scope}", "--scope", scope], env=env, capture_output=True, text=True,
        timeout=60, check=True)
    return result.stdout.strip().splitlines()[-1]


def test_metrics_on_the_http_port_need_the_token_or_an_admin_key(two_workers: Served) -> None:
    srv = two_workers.server
    with httpx.Client(base_url=srv.http_url, timeout=10) as http:
        missing = http.get("/metrics")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert missing.json()["error"] == "missing_token"
        assert "authcore_" not in missing.text
        wrong = http.get("/metrics", headers={"Authorization": "Bearer " + "z" * 40})
        assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_token")
        scim_only = _create_key(two_workers, "scim")
        refused = http.get("/metrics", headers={"Authorization": f"Bearer {scim_only}"})
        assert (refused.status_code, refused.json()["error"]) == (403, "insufficient_scope")
        for key in (TOKEN, srv.admin_key, _create_key(two_workers, "metrics")):
            r = http.get("/metrics", headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 200, r.text
            assert "authcore_info{" in r.text


class OwnChannelGrpcApi(GrpcApi):
    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.channel = grpc.aio.insecure_channel(server.grpc_target, options=OWN_CONNECTION)
        self.authn = authentication_pb2_grpc.AuthenticationServiceStub(self.channel)
        self.mgmt = management_pb2_grpc.ManagementServiceStub(self.channel)


@pytest.fixture
async def clients(two_workers: Served) -> AsyncIterator[tuple[list[RestApi], list[GrpcApi]]]:
    srv = two_workers.server
    rest = [RestApi(srv) for _ in range(CLIENTS)]
    grpc_apis: list[GrpcApi] = [OwnChannelGrpcApi(srv) for _ in range(CLIENTS)]
    yield rest, grpc_apis
    apis: list[RestApi | GrpcApi] = [*rest, *grpc_apis]
    for api in apis:
        await api.close()


async def _login(api: RestApi | GrpcApi, app: str, user: str, password: str) -> Reply:
    ch = await api.challenge("PASSWORD", {"applicationId": app, "userId": user})
    assert ch.status == 200, ch
    return await api.complete("PASSWORD", {"response": password}, ch.body["token"])


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def test_counters_add_up_across_both_workers(
        two_workers: Served, clients: tuple[list[RestApi], list[GrpcApi]]) -> None:
    srv = two_workers.server
    rest, grpc_apis = clients
    app = srv.demo_application_id
    user = f"metrics-{uuid.uuid4().hex[:10]}@example.com"
    admin = Admin(srv)
    await admin.user(user)
    await admin.password(user, PASSWORD)
    await admin.close()
    before = scrape(srv)

    # Every client logs in once on its own connection, and once more with a
    # wrong password; the connections are spread over both workers.
    apis: list[RestApi | GrpcApi] = [*rest, *grpc_apis]
    good = await asyncio.gather(*(_login(api, app, user, PASSWORD) for api in apis))
    assert [r.status for r in good] == [200] * (2 * CLIENTS), [r for r in good if not r.ok]
    bad = await asyncio.gather(*(_login(api, app, user, "wrong " + PASSWORD)
                                 for api in rest[:3]))
    assert [r.status for r in bad] == [401] * 3
    workers = children(srv.process.pid)
    assert len(workers) == 2
    for port in (_port(srv.http_url), _port(srv.grpc_target)):
        spread = {pid: established_on_port(pid, port) for pid in workers}
        # 12 connections each; all on one worker has a chance of 2^-11.
        assert all(spread.values()), spread

    # Whichever worker answers a scrape, it shows both workers' calls.
    for _ in range(6):
        _check_counts(before, scrape(srv))


def _check_counts(before: Samples, after: Samples) -> None:
    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("authcore_rpc_requests_total", transport="rest", rpc=COMPLETE,
                 code="OK") == CLIENTS
    assert delta("authcore_rpc_requests_total", transport="grpc", rpc=COMPLETE,
                 code="OK") == CLIENTS
    assert delta("authcore_rpc_requests_total", transport="rest", rpc=COMPLETE,
                 code="UNAUTHENTICATED") == 3
    assert delta("authcore_authentications_total", authenticator="PASSWORD",
                 outcome="success") == 2 * CLIENTS
    assert delta("authcore_authentications_total", authenticator="PASSWORD",
                 outcome="failure") == 3
    # The latency histogram: every call in +Inf and in _count, buckets
    # cumulative, some time spent.
    for transport, calls in (("rest", CLIENTS + 3), ("grpc", CLIENTS)):
        labels = {"transport": transport, "rpc": COMPLETE}
        assert delta("authcore_rpc_duration_seconds_count", **labels) == calls
        assert delta("authcore_rpc_duration_seconds_bucket", le="+Inf", **labels) == calls
        assert delta("authcore_rpc_duration_seconds_sum", **labels) > 0
        buckets = sorted(
            (float(dict(key)["le"]), count) for (name, key), count in after.items()
            if name == "authcore_rpc_duration_seconds_bucket"
            and dict(key)["transport"] == transport and dict(key)["rpc"] == COMPLETE)
        counts = [count for _, count in buckets]
        assert len(counts) >= 10 and counts == sorted(counts), buckets


# -- one process, /metrics on an address of its own ---------------------------

@pytest.fixture(scope="module", params=BACKENDS)
def own_address(request: pytest.FixtureRequest) -> Iterator[tuple[RunningServer, str]]:
    metrics_addr = f"127.0.0.1:{free_port()}"
    env = {"AUTHCORE_METRICS_ADDR": metrics_addr,
           # Small limits, so that this test can hit them.
           "AUTHCORE_LOCKOUT_MAX_FAILURES": "2", "AUTHCORE_LOCKOUT_SECONDS": "600",
           "AUTHCORE_RATE_LIMIT_USER_PER_MINUTE": "6"}
    with ExitStack() as stack:
        url = None
        if request.param == "postgres":
            # Lockouts and limits then go through Redis' scripts, when configured.
            url = stack.enter_context(fresh_postgres_database())
            if redis_base_url():
                env.update(stack.enter_context(redis_namespace()))
        srv = stack.enter_context(run_server(backend=request.param, database_url=url,
                                             env=env))
        yield srv, f"http://{metrics_addr}"


def test_its_own_address_serves_metrics_openly_and_the_http_port_does_not(
        own_address: tuple[RunningServer, str]) -> None:
    srv, metrics_url = own_address
    with httpx.Client(timeout=10) as http:
        r = http.get(metrics_url + "/metrics")
        assert r.status_code == 200
        assert "authcore_info{" in r.text
        assert http.get(metrics_url + "/healthz").json() == {"status": "ok"}
        assert http.get(metrics_url + "/readyz").json()["status"] == "ready"
        assert http.get(metrics_url + "/").status_code == 404
        # Not on the port the clients reach, not even with the admin key.
        hidden = http.get(srv.http_url + "/metrics",
                          headers={"Authorization": f"Bearer {srv.admin_key}"})
        assert hidden.status_code == 404
        assert http.get(srv.http_url + "/healthz").status_code == 200


async def test_lockouts_and_rate_limit_refusals_are_counted(
        own_address: tuple[RunningServer, str]) -> None:
    srv, metrics_url = own_address
    app = srv.demo_application_id
    locked, limited = (f"{what}-{uuid.uuid4().hex[:10]}@example.com"
                       for what in ("locked", "limited"))
    admin = Admin(srv)
    for user in (locked, limited):
        await admin.user(user)
        await admin.password(user, PASSWORD)
    await admin.close()

    def now() -> Samples:
        return parse(httpx.get(metrics_url + "/metrics", timeout=10).text)

    before = now()
    api = RestApi(srv)
    try:
        # Two failures lock the password (AUTHCORE_LOCKOUT_MAX_FAILURES=2).
        first = await _login(api, app, locked, "wrong")
        second = await _login(api, app, locked, "wrong")
        assert first.status == 401 and 400 <= second.status < 500, (first, second)
        statuses = [(await api.challenge("PASSWORD", {"applicationId": app,
                                                      "userId": limited})).status
                    for _ in range(10)]
    finally:
        await api.close()
    refused = statuses.count(429)
    assert refused >= 1, statuses
    after = now()
    assert (value(after, "authcore_lockouts_total", authenticator="PASSWORD")
            - value(before, "authcore_lockouts_total", authenticator="PASSWORD")) == 1
    assert (value(after, "authcore_authentications_total", authenticator="PASSWORD",
                  outcome="failure")
            - value(before, "authcore_authentications_total", authenticator="PASSWORD",
                    outcome="failure")) == 2
    assert (value(after, "authcore_rate_limited_total", scope="auth")
            - value(before, "authcore_rate_limited_total", scope="auth")) == refused
    assert (value(after, "authcore_rpc_requests_total", transport="rest",
                  rpc="authcore.v1.AuthenticationService/RequestUserChallenge",
                  code="RESOURCE_EXHAUSTED")
            - value(before, "authcore_rpc_requests_total", transport="rest",
                    rpc="authcore.v1.AuthenticationService/RequestUserChallenge",
                    code="RESOURCE_EXHAUSTED")) == refused
