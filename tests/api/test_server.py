"""The process: health, reflection, rate limits, first start and SIGTERM."""

from __future__ import annotations

import asyncio
import re
import signal
import time

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from authcore_testkit.api import Admin, GrpcApi, RestApi
from authcore_testkit.server import RunningServer, run_server


async def test_health_and_reflection(server: RunningServer) -> None:
    async with grpc.aio.insecure_channel(server.grpc_target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "authcore.v1.AuthenticationService"):
            reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)

        async def ask() -> list[str]:
            call = stub.ServerReflectionInfo()
            await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
            reply = await call.read()
            await call.done_writing()
            return [s.name for s in reply.list_services_response.service]

        names = await ask()
        assert "authcore.v1.AuthenticationService" in names
        assert "authcore.v1.ManagementService" in names


def test_openapi_lists_the_documented_paths(server: RunningServer) -> None:
    doc = httpx.get(server.http_url + "/openapi.json").json()
    for path in ("/api/web/v2/authentication/users",
                 "/api/web/v2/authentication/users/authenticate/{authenticator}",
                 "/api/web/v1/authentication/users/authenticate/{authenticator}/complete",
                 "/api/web/v1/authentication/passkey",
                 "/api/web/v1/authentication/logout",
                 "/.well-known/jwks.json"):
        assert path in doc["paths"], path


async def test_rate_limits_answer_429_with_retry_after() -> None:
    env = {"AUTHCORE_RATE_LIMIT_IP_PER_MINUTE": "5",
           "AUTHCORE_RATE_LIMIT_USER_PER_MINUTE": "1000"}
    with run_server(env=env) as srv:
        rest, grpc_api = RestApi(srv), GrpcApi(srv)
        try:
            # Unknown users are answered like known ones (hideUserExistence).
            body = {"applicationId": srv.demo_application_id, "userId": "nobody"}
            statuses = [(await rest.query(body)).status for _ in range(5)]
            assert statuses == [200] * 5
            limited = await rest.query(body)
            assert limited.status == 429
            assert int(limited.headers["retry-after"]) >= 1
            assert limited.body["errorCode"] == "rate_limited"
            over_grpc = await grpc_api.query(body)
            assert over_grpc.status == 429
        finally:
            await rest.close()
            await grpc_api.close()


async def test_per_user_rate_limit() -> None:
    env = {"AUTHCORE_RATE_LIMIT_USER_PER_MINUTE": "3"}
    with run_server(env=env) as srv:
        rest = RestApi(srv)
        try:
            body = {"applicationId": srv.demo_application_id, "userId": "victim"}
            assert [(await rest.query(body)).status for _ in range(3)] == [200] * 3
            assert (await rest.query(body)).status == 429
            other = {"applicationId": srv.demo_application_id, "userId": "someone-else"}
            assert (await rest.query(other)).status == 200
        finally:
            await rest.close()


def test_first_start_writes_the_admin_key_to_a_private_file() -> None:
    """The generated all-scope key never reaches stdout or the log: it goes
    to a 0600 file in the data directory, whose path is printed."""
    with run_server(env={"AUTHCORE_ADMIN_KEY": ""}) as srv:
        out = "\n".join(srv.output)
        path = srv.data_dir / "admin.key"
        assert f"admin key (all scopes) written to {path}" in out
        key = path.read_text().strip()
        assert key.startswith("ak_")
        assert key not in out
        assert path.stat().st_mode & 0o077 == 0
        app = srv.demo_application_id
        r = httpx.get(f"{srv.http_url}/api/admin/v1/applications/{app}",
                      headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200
        assert r.json()["application"]["lockoutPolicy"] == {"maxFailures": 5,
                                                            "lockoutSeconds": 1800}
        assert (srv.data_dir / "master.key").stat().st_mode & 0o077 == 0


async def test_sigterm_lets_in_flight_calls_finish() -> None:
    # A slow argon2 cost makes each login take long enough to be in flight.
    env = {"AUTHCORE_ARGON2_TIME_COST": "40", "AUTHCORE_ARGON2_MEMORY_KIB": "16384"}
    with run_server(env=env) as srv:
        admin = Admin(srv)
        await admin.user("slow@example.com")
        await admin.password("slow@example.com", "slow-password-1")
        await admin.close()
        rest, grpc_api = RestApi(srv), GrpcApi(srv)
        app = srv.demo_application_id
        body = {"applicationId": app, "userId": "slow@example.com"}
        tokens = [(await rest.challenge("PASSWORD", body)).body["token"] for _ in range(4)]
        calls = [asyncio.create_task(api.complete("PASSWORD", {"response": "slow-password-1"}, t))
                 for api, t in zip([rest, grpc_api, rest, grpc_api], tokens, strict=True)]
        await asyncio.sleep(0.15)
        started = time.monotonic()
        srv.process.send_signal(signal.SIGTERM)
        results = await asyncio.gather(*calls)
        assert [r.status for r in results] == [200] * 4
        assert all(r.body["authenticationCompleted"] for r in results)
        code = await asyncio.to_thread(srv.process.wait, 20)
        assert code == 0
        assert time.monotonic() - started < 10
        # The process is gone, so new calls are refused at the socket.
        try:
            await rest.query(body)
        except httpx.TransportError:
            pass
        else:
            raise AssertionError("a request was served after shutdown")
        await rest.close()
        await grpc_api.close()


async def test_management_over_grpc_needs_the_admin_key(server: RunningServer,
                                                        user_id: str) -> None:
    from authcore.v1 import management_pb2 as mgmt

    api = GrpcApi(server)
    try:
        anonymous = await api._call(api.mgmt.CreateUser, mgmt.CreateUserRequest(user_id=user_id))
        assert anonymous.status == 401 and anonymous.error_code == "missing_admin_key"
        md = (("authorization", f"Bearer {server.admin_key}"),)
        created = await api._call(api.mgmt.CreateUser, mgmt.CreateUserRequest(user_id=user_id),
                                  metadata=md)
        assert created.status == 200 and created.body["user"]["userId"] == user_id
        jwks = await api._call(api.mgmt.GetJwks, mgmt.GetJwksRequest())
        assert jwks.body["keys"][0]["alg"] == "ES256"
    finally:
        await api.close()


def test_every_response_is_nosniff_and_never_cached(server: RunningServer) -> None:
    """RFC 6749 section 5.1: answers that may carry tokens, seeds or codes
    send Cache-Control: no-store and Pragma: no-cache; every response sends
    X-Content-Type-Options: nosniff, errors and unknown paths included."""
    with httpx.Client(base_url=server.http_url) as client:
        replies = [
            # A session token in the body.
            client.post("/consumer/v1/login", json={"email": "nobody@example.com",
                                                    "password": "wrong password"}),
            client.post("/api/web/v2/authentication/users", content=b"{not json"),
            client.get("/no/such/path"),
            client.get("/openapi.json"),
        ]
    for reply in replies:
        assert reply.headers.get("x-content-type-options") == "nosniff", reply.url
        assert reply.headers.get("cache-control") == "no-store", reply.url
        assert reply.headers.get("pragma") == "no-cache", reply.url


def test_docs_are_served_locally_under_a_csp(server: RunningServer) -> None:
    """/docs loads Swagger UI from the server itself (a pinned package), not
    a CDN, and the page's CSP allows scripts from this origin only."""
    with httpx.Client(base_url=server.http_url) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "default-src 'none'" in csp
        assert "https://" not in page.text and "<script>" not in page.text
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sorted(sources) == ["docs/init.js", "docs/swagger-ui-bundle.js",
                                   "docs/swagger-ui.css"]
        for source in sources:
            asset = client.get("/" + source)
            assert asset.status_code == 200, source
            kind = "text/css" if source.endswith(".css") else "text/javascript"
            assert asset.headers["content-type"].startswith(kind), source
        bundle = client.get("/docs/swagger-ui-bundle.js")
        assert len(bundle.content) > 500_000 and b"SwaggerUIBundle" in bundle.content
