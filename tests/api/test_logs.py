"""Structured logs and request ids against a real `authcore serve` with
AUTHCORE_LOG_FORMAT=json and AUTHCORE_LOG_LEVEL=DEBUG, on SQLite and on
PostgreSQL (+ Redis when the suite has it).

* Every line on stderr is one JSON object with the documented fields; the
  request id sent as X-Request-Id comes back in the header and is on the
  request's access line and on its audit rows (read from the database: the
  admin API lists no audit rows).
* gRPC: `x-request-id` metadata comes back in the initial and trailing
  metadata, errors included, and reaches the audit rows.
* A full login run (admin set-up, PASSWORD, TOKEN, OTP by email, a
  temporary access code, a consumer login, gRPC, a failed login) leaves no
  password, code, seed, token or admin key in stdout or stderr.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import pyotp
import pytest

from authcore.v1 import authentication_pb2 as authn
from authcore.v1 import authentication_pb2_grpc, authenticators_pb2
from authcore_testkit.api import Admin, RestApi
from authcore_testkit.consumer import ConsumerClient
from authcore_testkit.server import (
    ADMIN_KEY,
    RunningServer,
    database_rows,
    fresh_postgres_database,
    postgres_base_url,
    redis_base_url,
    redis_namespace,
    run_server,
)

BACKENDS = ["sqlite"] + (["postgres"] if postgres_base_url() else [])
LOG_ENV = {"AUTHCORE_LOG_FORMAT": "json", "AUTHCORE_LOG_LEVEL": "DEBUG"}
FIELDS = ("time", "level", "logger", "message", "pid")
RFC3339_MS_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
HEX16 = re.compile(r"[0-9a-f]{16}")


@dataclass
class Logged:
    server: RunningServer
    database_url: str | None


@contextmanager
def logged_server(backend: str) -> Iterator[Logged]:
    with ExitStack() as stack:
        url = None
        env = dict(LOG_ENV)
        if backend == "postgres":
            url = stack.enter_context(fresh_postgres_database())
            if redis_base_url():
                env.update(stack.enter_context(redis_namespace()))
        server = stack.enter_context(run_server(backend=backend, database_url=url, env=env,
                                                split_stderr=True))
        yield Logged(server, url)


@pytest.fixture(scope="module", params=BACKENDS)
def logged(request: pytest.FixtureRequest) -> Iterator[Logged]:
    with logged_server(request.param) as running:
        yield running


def log_lines(server: RunningServer) -> list[dict[str, Any]]:
    """Every stderr line, each of which must be one JSON object."""
    out = []
    for line in "".join(server.stderr).splitlines():
        try:
            data = json.loads(line)
        except ValueError:
            pytest.fail(f"not a JSON line on stderr: {line!r}")
        assert isinstance(data, dict), line
        out.append(data)
    return out


async def wait_for_line(server: RunningServer, match: Callable[[dict[str, Any]], bool],
                        timeout: float = 10.0) -> dict[str, Any]:  # noqa: ASYNC109
    """The first log line matching; access lines are written just after the
    response, so they may trail it a little."""
    deadline = time.monotonic() + timeout
    while True:
        found = [line for line in log_lines(server) if match(line)]
        if found:
            return found[0]
        assert time.monotonic() < deadline, "no such log line"
        await asyncio.sleep(0.05)


def access_line(request_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda line: (line.get("logger") == "authcore.access"
                         and line.get("request_id") == request_id)


async def audit_rows(logged: Logged, request_id: str) -> list[dict[str, Any]]:
    return await database_rows(
        logged.server, logged.database_url,
        "SELECT event, outcome, reason, application_id, user_id, request_id "
        "FROM audit_events WHERE request_id = {} ORDER BY id", request_id)


def rid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def user_name() -> str:
    return f"logs-{uuid.uuid4().hex[:12]}@example.com"


# -- the JSON format and REST request ids ------------------------------------------

async def test_json_lines_request_ids_and_audit_rows_over_rest(logged: Logged) -> None:
    server = logged.server
    app_id = server.demo_application_id
    user, password = user_name(), "pw-" + secrets.token_urlsafe(12)
    admin = Admin(server)
    http = httpx.AsyncClient(base_url=server.http_url, timeout=30)
    try:
        await admin.user(user)
        await admin.password(user, password)
        challenge_id, complete_id, failed_id = rid("ch"), rid("done"), rid("fail")
        ch = await http.post("/api/web/v2/authentication/users/authenticate/PASSWORD",
                             json={"applicationId": app_id, "userId": user},
                             headers={"X-Request-Id": challenge_id})
        assert ch.status_code == 200, ch.text
        assert ch.headers["x-request-id"] == challenge_id
        done = await http.post(
            "/api/web/v1/authentication/users/authenticate/PASSWORD/complete",
            json={"response": password},
            headers={"Authorization": ch.json()["token"], "X-Request-Id": complete_id})
        assert done.status_code == 200 and done.json()["authenticationCompleted"] is True
        assert done.headers["x-request-id"] == complete_id

        ch2 = await http.post("/api/web/v2/authentication/users/authenticate/PASSWORD",
                              json={"applicationId": app_id, "userId": user})
        made = ch2.headers["x-request-id"]
        assert HEX16.fullmatch(made), made  # none sent: one is made
        bad = await http.post(
            "/api/web/v1/authentication/users/authenticate/PASSWORD/complete",
            json={"response": password + "-wrong"},
            headers={"Authorization": ch2.json()["token"], "X-Request-Id": failed_id})
        assert bad.status_code == 401 and bad.headers["x-request-id"] == failed_id
    finally:
        await admin.close()
        await http.aclose()

    # The access lines: DEBUG for the successes, INFO with the reason for the refusal.
    line = await wait_for_line(server, access_line(complete_id))
    for key in (*FIELDS, "request_id", "rpc", "status", "duration_ms", "client_ip",
                "application_id", "http_status"):
        assert key in line, (key, line)
    assert RFC3339_MS_UTC.fullmatch(line["time"]), line
    assert line["level"] == "DEBUG" and line["status"] == "OK" and line["http_status"] == 200
    assert line["rpc"] == "/authcore.v1.AuthenticationService/AuthenticateUserChallenge"
    assert line["client_ip"] == "127.0.0.1" and line["application_id"] == app_id
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    refused = await wait_for_line(server, access_line(failed_id))
    assert refused["level"] == "INFO" and refused["http_status"] == 401
    assert refused["status"] == "UNAUTHENTICATED" and refused["reason"] == "invalid_password"
    # The audit writer's own lines name the request too.
    audit_line = await wait_for_line(server, lambda x: x.get("logger") == "authcore.audit"
                                     and x.get("request_id") == failed_id)
    assert audit_line["level"] == "INFO" and audit_line["application_id"] == app_id

    # The audit rows carry the ids.
    issued = await audit_rows(logged, challenge_id)
    assert [(r["event"], r["outcome"]) for r in issued] == [("challenge", "issued")]
    assert issued[0]["user_id"] == user and issued[0]["application_id"] == app_id
    assert any(r["outcome"] == "success" for r in await audit_rows(logged, complete_id))
    failed = await audit_rows(logged, failed_id)
    assert [(r["outcome"], r["reason"]) for r in failed] == [("failure", "invalid_password")]
    assert await audit_rows(logged, made)  # a made-up id is recorded as well

    for parsed in log_lines(server):
        for key in FIELDS:
            assert key in parsed, (key, parsed)
        assert parsed["level"] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


async def test_every_rest_response_carries_a_request_id(logged: Logged) -> None:
    url = logged.server.http_url
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        cases = [
            await http.get("/openapi.json"),
            await http.get("/no/such/path"),
            await http.delete("/openapi.json"),
            await http.post("/api/web/v2/authentication/users", content=b"{not json"),
            await http.get("/api/admin/v1/outbox"),  # no admin key: 401
            await http.post("/api/web/v2/authentication/users", json={},
                            headers={"X-Request-Id": "x" * 65}),
        ]
        kept = await http.get("/openapi.json", headers={"X-Request-Id": "k" * 64})
    assert [r.status_code for r in cases[:5]] == [200, 404, 405, 400, 401]
    for response in cases:
        assert HEX16.fullmatch(response.headers["x-request-id"]), response.headers
    assert len({r.headers["x-request-id"] for r in cases}) == len(cases)
    assert kept.headers["x-request-id"] == "k" * 64


# -- gRPC metadata -----------------------------------------------------------------

def _md(metadata: Any, key: str = "x-request-id") -> str | None:
    for k, v in metadata or ():
        if k == key:
            return str(v)
    return None


async def test_grpc_request_ids_in_metadata_log_lines_and_audit_rows(logged: Logged) -> None:
    server = logged.server
    app_id = server.demo_application_id
    user, password = user_name(), "pw-" + secrets.token_urlsafe(12)
    admin = Admin(server)
    try:
        await admin.user(user)
        await admin.password(user, password)
    finally:
        await admin.close()
    async with grpc.aio.insecure_channel(server.grpc_target) as channel:
        stub = authentication_pb2_grpc.AuthenticationServiceStub(channel)
        query_id = rid("gq")
        call = stub.QueryUserAuthenticators(
            authn.QueryUserAuthenticatorsRequest(application_id=app_id, user_id=user),
            metadata=(("x-request-id", query_id),))
        await call
        assert _md(await call.initial_metadata()) == query_id
        assert _md(await call.trailing_metadata()) == query_id

        plain = stub.RequestUserChallenge(
            authn.RequestUserChallengeRequest(application_id=app_id, user_id=user,
                                              authenticator=authn_type("PASSWORD")))
        token = (await plain).authenticated.token
        made = _md(await plain.trailing_metadata())
        assert made is not None and HEX16.fullmatch(made)

        failed_id = rid("gfail")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.AuthenticateUserChallenge(
                authn.AuthenticateUserChallengeRequest(
                    authenticator=authn_type("PASSWORD"), response="wrong-" + password),
                metadata=(("authorization", token), ("x-request-id", failed_id)))
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert _md(err.value.trailing_metadata()) == failed_id
        assert _md(err.value.initial_metadata()) == failed_id

    line = await wait_for_line(server, access_line(failed_id))
    assert line["transport"] == "grpc" and line["level"] == "INFO"
    assert line["rpc"] == "/authcore.v1.AuthenticationService/AuthenticateUserChallenge"
    assert line["status"] == "UNAUTHENTICATED" and line["reason"] == "invalid_password"
    assert line["client_ip"] == "127.0.0.1" and line["application_id"] == app_id
    assert line["duration_ms"] > 0
    ok_line = await wait_for_line(server, access_line(query_id))
    assert ok_line["level"] == "DEBUG" and ok_line["status"] == "OK"
    rows = await audit_rows(logged, failed_id)
    assert [(r["outcome"], r["reason"]) for r in rows] == [("failure", "invalid_password")]
    assert [r["event"] for r in await audit_rows(logged, made)] == ["challenge"]


def authn_type(name: str) -> int:
    return int(authenticators_pb2.AuthenticatorType.Value(f"AUTHENTICATOR_TYPE_{name}"))


# -- no secret in the logs of a full run ------------------------------------------------

@dataclass
class Secrets:
    """Every secret value of the run, with the forms it could be written in."""

    plain: set[str]
    codes: set[str]  # short digit strings: matched as whole tokens only

    def add(self, value: str, *, encodings: bool = True) -> None:
        assert len(value) >= 8, value
        self.plain.add(value)
        if encodings:
            raw = value.encode()
            self.plain.add(base64.b64encode(raw).decode().rstrip("="))
            self.plain.add(base64.urlsafe_b64encode(raw).decode().rstrip("="))

    def add_jwt(self, token: str) -> None:
        self.plain.add(token)
        self.plain.add(token.rsplit(".", 1)[1])  # the signature alone

    def add_seed(self, base32: str) -> None:
        self.plain.add(base32)
        self.plain.add(base32.rstrip("="))
        raw = base64.b32decode(base32 + "=" * (-len(base32) % 8))
        self.plain.add(binascii.hexlify(raw).decode())
        self.plain.add(base64.b64encode(raw).decode().rstrip("="))
        self.plain.add(base64.urlsafe_b64encode(raw).decode().rstrip("="))

    def leaks(self, text: str) -> list[str]:
        found = [s for s in self.plain if s in text]
        found += [c for c in self.codes
                  if re.search(rf"(?<![0-9A-Za-z]){re.escape(c)}(?![0-9A-Za-z])", text)]
        return found


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_secret_in_the_logs_of_a_full_login_run(backend: str) -> None:
    """Synchronous, so that its own server (created, run, stopped) can set up
    a PostgreSQL database with asyncio.run; the run itself is async."""
    found = Secrets(plain=set(), codes=set())
    found.add(ADMIN_KEY)
    with logged_server(backend) as running:
        server = running.server
        asyncio.run(full_login_run(server, found))
    stdout = "".join(server.output)
    stderr = "".join(server.stderr)
    lines = log_lines(server)
    # The run was logged, and verbosely: DEBUG access and audit lines.
    assert any(x["logger"] == "authcore.access" and x["level"] == "DEBUG" for x in lines)
    assert any(x["logger"] == "authcore.audit" and x["level"] == "DEBUG" for x in lines)
    assert any(x["logger"] == "authcore.access" and x["level"] == "INFO" for x in lines)
    assert len(found.plain) > 20 and len(found.codes) == 2  # the TOTP and the mailed code
    assert found.leaks(stdout) == []
    assert found.leaks(stderr) == []


async def full_login_run(server: RunningServer, found: Secrets) -> None:
    app_id = server.demo_application_id
    user = user_name()
    password = "pw-" + secrets.token_urlsafe(16)
    wrong = "wrong-" + secrets.token_urlsafe(16)
    found.add(password)
    found.add(wrong)
    admin = Admin(server)
    api = RestApi(server)
    try:
        await admin.user(user, email=user)
        await admin.password(user, password)
        token = await admin.req("POST", f"/api/admin/v1/users/{user}/tokens", {"type": "TOTP"})
        found.add_seed(token["secret"])
        found.plain.add(token["otpauthUri"])
        issued = await admin.req("POST", f"/api/admin/v1/users/{user}/tempaccesscodes",
                                 {"expiresInSeconds": 600, "maxUses": 1})
        found.add(issued["code"])

        async def login(kind: str, answer: Callable[[], Any], extra: dict[str, Any] | None = None
                        ) -> Any:
            ch = await api.challenge(kind, {"applicationId": app_id, "userId": user,
                                            **(extra or {})})
            assert ch.status == 200, ch
            found.add(ch.body["token"], encodings=False)
            return await api.complete(kind, {"response": await answer()}, ch.body["token"])

        async def the_password() -> str:
            return password

        async def a_totp_code() -> str:
            code = pyotp.TOTP(token["secret"]).now()
            found.codes.add(code)
            return code

        async def the_mailed_code() -> str:
            (last,) = [m for m in await admin.outbox(user) if m.get("channel") == "EMAIL"][-1:]
            code = re.search(r"\b(\d{6})\b", last["text"])
            assert code, last
            found.codes.add(code.group(1))
            return code.group(1)

        async def the_temp_code() -> str:
            return str(issued["code"])

        async def the_wrong_password() -> str:
            return wrong

        for kind, answer, extra in (("PASSWORD", the_password, None),
                                    ("TOKEN", a_totp_code, None),
                                    ("OTP", the_mailed_code, {"otpDeliveryType": "EMAIL"}),
                                    ("TEMP_ACCESS_CODE", the_temp_code, None)):
            done = await login(kind, answer, extra)
            assert done.status == 200 and done.body["authenticationCompleted"], (kind, done)
            found.add_jwt(done.body["token"])
        refused = await login("PASSWORD", the_wrong_password)
        assert refused.status == 401 and refused.error_code == "invalid_password"

        # Consumer login: email + password, an opaque session token back.
        async with ConsumerClient(server, "rest") as consumer:
            session = await consumer.login_ok(user, password)
            found.add(session, encodings=False)
            bad = await consumer.login(user, wrong)
            assert bad.status == 401

        # And one PASSWORD login over gRPC (tokens in metadata).
        async with grpc.aio.insecure_channel(server.grpc_target) as channel:
            stub = authentication_pb2_grpc.AuthenticationServiceStub(channel)
            ch = await stub.RequestUserChallenge(authn.RequestUserChallengeRequest(
                application_id=app_id, user_id=user, authenticator=authn_type("PASSWORD")))
            found.add(ch.authenticated.token, encodings=False)
            done = await stub.AuthenticateUserChallenge(
                authn.AuthenticateUserChallengeRequest(
                    authenticator=authn_type("PASSWORD"), response=password),
                metadata=(("authorization", ch.authenticated.token),))
            assert done.authenticated.authentication_completed
            found.add_jwt(done.authenticated.token)
    finally:
        await admin.close()
        await api.close()


def test_every_process_of_a_two_worker_server_writes_json() -> None:
    """The supervisor, the `--prepare` child and each worker set up logging
    alike: every stderr line parses, and both workers wrote access lines."""
    with run_server(env=LOG_ENV, workers=2, split_stderr=True) as server:
        with httpx.Client(base_url=server.http_url, timeout=30) as http:
            for i in range(24):
                # A new connection each: SO_REUSEPORT spreads them over the workers.
                r = http.get(f"/openapi.json?n={i}", headers={"Connection": "close",
                                                             "X-Request-Id": f"w-{i}"})
                assert r.headers["x-request-id"] == f"w-{i}"
    lines = log_lines(server)
    access = {x["pid"] for x in lines if x["logger"] == "authcore.access"
              and str(x.get("request_id", "")).startswith("w-")}
    assert len(access) == 2, access
    assert any(x["logger"] == "authcore.workers" for x in lines)  # the supervisor's
