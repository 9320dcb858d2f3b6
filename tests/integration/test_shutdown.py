"""SIGTERM under load, for one process and for a supervisor with two
workers: calls in flight complete, and so does every request the server had
accepted (a TCP connection it accepted, or sat in its accept queue; a gRPC
stream it received). Only new connections may fail, refused at connect, or
a request answered cleanly with 503 (`Connection: close`) / UNAVAILABLE from
the server. Every process is gone within the grace period and nothing prints
a traceback."""

from __future__ import annotations

import asyncio
import random
import re
import signal
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import pytest

from authcore.v1 import authentication_pb2 as authn
from authcore.v1 import authentication_pb2_grpc
from authcore_testkit.api import Admin, GrpcApi, RestApi, error_reason
from authcore_testkit.procs import children, wait_gone
from authcore_testkit.server import RunningServer, run_server
from rest_bridge.codec import json_to_message

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")

GRACE = 10.0
# Processes close their connections and database pool after the last call.
MARGIN = 1.5
SLOW_PASSWORD = "slow password 1"
SLOW_CALLS = 4  # half over each transport
# The load: clients of each kind, each a loop of requests. REST: "keepalive"
# reuses its connection, "pause" too with a short idle gap between requests
# (an idle keep-alive connection when the signal comes), "fresh" opens a new
# connection per request (`Connection: close`: some sit in the accept queue
# when the listener closes). gRPC: one channel (one HTTP/2 connection) per
# client, back to back or with a pause.
KINDS = {"rest": {"keepalive": 3, "pause": 3, "fresh": 6},
         "grpc": {"stream": 3, "pause": 3}}
PAUSE = (0.0, 0.015)

# grpc's own status for a call that never reached the server: the channel
# could not connect (the port is closed).
GRPC_REFUSED = re.compile(r"failed to connect|connection refused", re.IGNORECASE)


@dataclass
class Outcome:
    started: float
    ended: float
    transport: str
    kind: str
    # "ok"; "unavailable" (a clean 503 + Connection: close, or UNAVAILABLE
    # sent by the server); "refused" (the connection was refused, the request
    # never reached the server); anything else is a request the server had
    # accepted and never answered ("lost: ..."), or a wrong answer.
    result: str


CLEAN = ("ok", "unavailable", "refused")


class RestClient:
    transport = "rest"

    def __init__(self, server: RunningServer, kind: str) -> None:
        self.kind = kind
        self.api = RestApi(server)

    async def call(self, n: int, body: dict[str, Any]) -> str:
        path = ("/api/web/v2/authentication/users" if n % 2 else
                "/api/web/v2/authentication/users/authenticate/PASSWORD")
        headers = {"Connection": "close"} if self.kind == "fresh" else {}
        try:
            r = await self.api.http.post(path, json=body, headers=headers)
        except httpx.ConnectError:
            return "refused"
        except httpx.TransportError as exc:  # reset, EOF, no response at all
            return f"lost: {type(exc).__name__} {exc}"
        if r.status_code == 200:
            return "ok"
        if r.status_code == 503 and r.headers.get("connection", "").lower() == "close":
            return "unavailable"
        return f"status {r.status_code} {r.headers.get('connection')} {r.text[:200]}"

    async def close(self) -> None:
        await self.api.close()


class GrpcClient:
    """A channel with its own connection (grpc shares one per target by
    default), so clients spread over the workers."""

    transport = "grpc"

    def __init__(self, server: RunningServer, kind: str) -> None:
        self.kind = kind
        self.channel = grpc.aio.insecure_channel(
            server.grpc_target, options=[("grpc.use_local_subchannel_pool", 1)])
        self.authn = authentication_pb2_grpc.AuthenticationServiceStub(self.channel)

    async def call(self, n: int, body: dict[str, Any]) -> str:
        try:
            if n % 2:
                await self.authn.QueryUserAuthenticators(
                    json_to_message(body, authn.QueryUserAuthenticatorsRequest))
            else:
                await self.authn.RequestUserChallenge(json_to_message(
                    {**body, "authenticator": "PASSWORD"}, authn.RequestUserChallengeRequest))
        except grpc.aio.AioRpcError as exc:
            return grpc_result(exc)
        return "ok"

    async def close(self) -> None:
        await self.channel.close()


class OwnChannelGrpcApi(GrpcApi):
    """GrpcApi on a channel of its own (see GrpcClient)."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.channel = grpc.aio.insecure_channel(
            server.grpc_target, options=[("grpc.use_local_subchannel_pool", 1)])
        self.authn = authentication_pb2_grpc.AuthenticationServiceStub(self.channel)


def grpc_result(exc: grpc.aio.AioRpcError) -> str:
    details = exc.details() or ""
    if exc.code() == grpc.StatusCode.UNAVAILABLE:
        if error_reason(exc) is not None:
            return "unavailable"  # the server's own answer
        if GRPC_REFUSED.search(details):
            return "refused"
    # CANCELLED (an RST_STREAM, no status from the server), UNAVAILABLE for a
    # connection closed under the call, ...: the server had the call.
    return f"lost: {exc.code().name} {details}"


async def steady_stream(client: RestClient | GrpcClient, app: str, user: str,
                        done: asyncio.Event, out: list[Outcome]) -> None:
    """Reads (query) and writes (a new challenge) until `done`."""
    body = {"applicationId": app, "userId": user}
    rng = random.Random()
    n = 0
    while not done.is_set():
        n += 1
        started = time.monotonic()
        result = await client.call(n, body)
        out.append(Outcome(started, time.monotonic(), client.transport, client.kind, result))
        if result != "ok":
            await asyncio.sleep(0.02)
        elif client.kind == "pause":
            await asyncio.sleep(rng.uniform(*PAUSE))


def connect_refused(port: int) -> bool:
    """A fresh connection to the HTTP port is refused (within a few seconds:
    a SYN the kernel drops is sent again after one)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=4.0):
            return False
    except ConnectionRefusedError:
        return True


@pytest.mark.parametrize("workers", [1, 2])
async def test_sigterm_under_load(workers: int) -> None:
    # The slow user's argon2 cost makes the four password checks take one to
    # three seconds: surely in flight when SIGTERM comes, and still when the
    # HTTP port is probed.
    env = {"AUTHCORE_SHUTDOWN_GRACE_SECONDS": str(int(GRACE)),
           "AUTHCORE_ARGON2_TIME_COST": "60", "AUTHCORE_ARGON2_MEMORY_KIB": "16384"}
    outcomes: list[Outcome] = []
    with run_server(workers=workers, env=env) as srv:
        app = srv.demo_application_id
        http_port = int(srv.http_url.rsplit(":", 1)[1])
        admin = Admin(srv)
        await admin.user("slow@example.com")
        await admin.password("slow@example.com", SLOW_PASSWORD)
        await admin.user("steady@example.com")
        await admin.password("steady@example.com", "steady password 1")  # challenged only
        await admin.close()
        pids = children(srv.process.pid) if workers > 1 else [srv.process.pid]
        assert len(pids) == workers

        clients: list[RestClient | GrpcClient] = [
            RestClient(srv, kind) if transport == "rest" else GrpcClient(srv, kind)
            for transport, kinds in KINDS.items() for kind, count in kinds.items()
            for _ in range(count)]
        slow_apis: list[RestApi | GrpcApi] = [
            *(RestApi(srv) for _ in range(SLOW_CALLS // 2)),
            *(OwnChannelGrpcApi(srv) for _ in range(SLOW_CALLS // 2))]
        done = asyncio.Event()
        streams = [asyncio.create_task(steady_stream(c, app, "steady@example.com", done,
                                                     outcomes)) for c in clients]
        try:
            await asyncio.sleep(1.0)
            slow_body = {"applicationId": app, "userId": "slow@example.com"}
            tokens = [(await api.challenge("PASSWORD", slow_body)).body["token"]
                      for api in slow_apis]
            in_flight = [asyncio.create_task(api.complete("PASSWORD",
                                                          {"response": SLOW_PASSWORD}, t))
                         for api, t in zip(slow_apis, tokens, strict=True)]
            await asyncio.sleep(0.3)
            slow_enough = not any(t.done() for t in in_flight)
            signalled = time.monotonic()
            srv.process.send_signal(signal.SIGTERM)
            # Stop accepting first: new connections are refused while the
            # calls in flight are still being answered.
            await asyncio.sleep(0.4)
            refused_while_draining = await asyncio.to_thread(connect_refused, http_port)
            still_draining = not all(t.done() for t in in_flight)
            finished = await asyncio.gather(*in_flight)
            code = await asyncio.to_thread(srv.process.wait, GRACE + 10)
            exited = time.monotonic() - signalled
            left = wait_gone(pids, 0.5)
            await asyncio.sleep(0.3)  # the streams now meet closed ports
        finally:
            done.set()
            await asyncio.gather(*streams)
            for c in clients:
                await c.close()
            for api in slow_apis:
                await api.close()
    # Asserted here, where the server's output is complete.
    out = srv.output[0][-6000:]
    assert "Traceback" not in srv.output[0], srv.output[0]
    assert slow_enough, "the slow calls were not slow: nothing was in flight"
    # In flight when the signal came: all complete normally.
    assert [r.status for r in finished] == [200] * SLOW_CALLS, (finished, out)
    assert all(r.body["authenticationCompleted"] for r in finished)
    assert code == 0, out
    assert exited < GRACE + MARGIN, (exited, out)
    assert left == []

    after = [o for o in outcomes if o.ended >= signalled]
    summary = Counter((o.transport, o.result.split(":")[0]) for o in after)
    # The point of the test: nothing the server accepted goes unanswered.
    failures = [o for o in outcomes if o.result not in CLEAN]
    assert failures == [], "\n".join(
        [f"{len(failures)} lost or wrong; after the signal: {dict(summary)}",
         *(f"  {o.transport} {o.kind}, sent at signal{o.started - signalled:+.3f}s: {o.result}"
           for o in failures[:12]),
         out[-1500:]])
    before = [o for o in outcomes if o.ended < signalled]
    assert len(before) > 20, "no load"
    assert {o.result for o in before} == {"ok"}
    refused = [o for o in outcomes if o.result != "ok"]
    assert all(o.started > signalled - 0.25 for o in refused), refused[:3]
    # Once the processes are gone, every transport is refused.
    for transport in KINDS:
        last = [o for o in outcomes if o.transport == transport][-1]
        assert last.result == "refused", last
    assert still_draining, "the slow calls all ended before the HTTP port was probed"
    assert refused_while_draining, "the HTTP port still accepted connections"

