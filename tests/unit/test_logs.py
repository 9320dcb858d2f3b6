"""authcore.logs and its two users on the request path: request ids
(validated or made), the request context through the REST bridge into the
in-process gRPC handlers and over a real grpc.aio server, the JSON and text
formats, the access lines' levels, the setup, and the audit rows' ids."""

from __future__ import annotations

import datetime
import json
import logging
import re
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import grpc.aio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from authcore import logs
from authcore.config import Settings
from authcore.errors import NotFound
from authcore.flows import audit
from authcore.interceptors import ErrorInterceptor
from authcore.store.hot import statements as q
from authcore.store.hot.sqlite import SqliteHot
from authcore.v1 import authentication_pb2 as auth
from authcore.v1 import authentication_pb2_grpc as auth_grpc
from rest_bridge import InProcessInvoker, create_app, generic_handlers_for, resolve_handlers
from rest_bridge.request_ids import RequestIds

SERVICE = auth.DESCRIPTOR.services_by_name["AuthenticationService"]
QUERY_PATH = "/authcore.v1.AuthenticationService/QueryUserAuthenticators"
HEX16 = re.compile(r"[0-9a-f]{16}")
RFC3339_MS_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


# -- request ids -----------------------------------------------------------------

@pytest.mark.parametrize("good", ["a", "req-42", "A1b2_C3.d4:e5/f6", "x" * 64,
                                  "!\"#$%&'()*+,-./~"])
def test_a_usable_request_id_is_kept(good: str) -> None:
    assert logs.accept_request_id(good) == good


@pytest.mark.parametrize("bad", [None, "", "x" * 65, "has space", "new\nline", "tab\t",
                                 "nul\x00", "café", "\x7f", "é" * 10])
def test_an_unusable_request_id_is_replaced(bad: str | None) -> None:
    made = logs.accept_request_id(bad)
    assert HEX16.fullmatch(made), made
    assert made != bad


def test_made_request_ids_are_16_hex_and_distinct() -> None:
    ids = {logs.new_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(HEX16.fullmatch(i) for i in ids)


def test_peer_strings_give_the_address() -> None:
    assert logs.ip_from_peer("ipv4:203.0.113.7:5001") == "203.0.113.7"
    assert logs.ip_from_peer("ipv6:[2001:db8::1]:443") == "2001:db8::1"
    assert logs.ip_from_peer("unix:/tmp/s") == "unix:/tmp/s"
    assert logs.ip_from_peer("") is None


# -- formats ---------------------------------------------------------------------

def _record(msg: str, *args: Any, exc_info: Any = None, name: str = "authcore.test",
            level: int = logging.INFO, **extra: Any) -> logging.LogRecord:
    record = logging.getLogger(name).makeRecord(name, level, __file__, 1, msg, args,
                                                exc_info, extra=extra or None)
    return record


def test_json_lines_have_the_fields_outside_a_request() -> None:
    line = logs.JsonFormatter().format(_record("hello %s", "world"))
    data = json.loads(line)
    assert data["message"] == "hello world"
    assert data["level"] == "INFO" and data["logger"] == "authcore.test"
    assert RFC3339_MS_UTC.fullmatch(data["time"]), data["time"]
    parsed = datetime.datetime.fromisoformat(data["time"].replace("Z", "+00:00"))
    now = datetime.datetime.now(datetime.UTC)
    assert abs((now - parsed).total_seconds()) < 5
    assert isinstance(data["pid"], int)
    assert "request_id" not in data and "rpc" not in data


def test_rfc3339_is_utc_with_milliseconds() -> None:
    assert logs.rfc3339(0.0) == "1970-01-01T00:00:00.000Z"
    assert logs.rfc3339(1_700_000_000.9876) == "2023-11-14T22:13:20.987Z"


async def test_json_lines_inside_a_request_carry_its_fields() -> None:
    ctx = logs.RequestContext("rid-1", transport="http", rpc="/x.Y/Z", client_ip="192.0.2.1")
    token = logs.enter(ctx)
    try:
        logs.note_application("app-9")
        inside = json.loads(logs.JsonFormatter().format(_record("in")))
    finally:
        logs.leave(token)
    assert inside["request_id"] == "rid-1"
    assert inside["rpc"] == "/x.Y/Z"
    assert inside["client_ip"] == "192.0.2.1"
    assert inside["application_id"] == "app-9"
    assert "status" not in inside  # the outcome is not known yet
    after = json.loads(logs.JsonFormatter().format(_record("out")))
    assert "request_id" not in after


def test_a_json_line_is_one_ascii_line_even_with_a_traceback() -> None:
    try:
        raise ValueError("boom\nsecond line \u2028 café")
    except ValueError:
        record = _record("failed: %s", "x\ny", exc_info=sys.exc_info(), level=logging.ERROR)
    line = logs.JsonFormatter().format(record)
    assert "\n" not in line and line.isascii()
    # str.splitlines splits at U+2028 too: the line must survive it.
    assert len(line.splitlines()) == 1
    data = json.loads(line)
    assert data["message"] == "failed: x\ny"
    assert "Traceback (most recent call last)" in data["exc_info"]
    assert "café" in data["exc_info"]


def test_access_fields_join_the_json_line() -> None:
    data = json.loads(logs.JsonFormatter().format(
        _record("a", access={"duration_ms": 1.5, "http_status": 404})))
    assert data["duration_ms"] == 1.5 and data["http_status"] == 404


def test_text_lines_end_with_the_request_id_inside_a_request() -> None:
    formatter = logs.TextFormatter(logs.LOG_FORMAT)
    assert formatter.format(_record("plain")).endswith("INFO authcore.test plain")
    token = logs.enter(logs.RequestContext("rid-7", transport="grpc"))
    try:
        assert formatter.format(_record("inside")).endswith(" inside request_id=rid-7")
    finally:
        logs.leave(token)


# -- setup -----------------------------------------------------------------------

@pytest.fixture
def saved_logging() -> Iterator[None]:
    root = logging.getLogger()
    names = ["authcore", "rest_bridge", "alembic", "uvicorn", "uvicorn.error", "grpc"]
    state = (root.handlers[:], root.level,
             {n: (logging.getLogger(n).level, logging.getLogger(n).handlers[:],
                  logging.getLogger(n).propagate) for n in names})
    yield
    root.handlers[:] = state[0]
    root.setLevel(state[1])
    for name, (level, handlers, propagate) in state[2].items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate = propagate
    logging.captureWarnings(False)


@pytest.mark.usefixtures("saved_logging")
def test_setup_debug_is_for_authcore_only_and_libraries_propagate() -> None:
    logging.getLogger("uvicorn.error").addHandler(logging.NullHandler())
    logs.setup(level="debug", fmt="json")
    root = logging.getLogger()
    assert len(root.handlers) == 1
    assert isinstance(root.handlers[0].formatter, logs.JsonFormatter)
    assert root.level == logging.INFO
    assert logging.getLogger("authcore.audit").isEnabledFor(logging.DEBUG)
    assert logging.getLogger("rest_bridge.endpoint").isEnabledFor(logging.DEBUG)
    # aiosqlite logs each statement at DEBUG; aiosmtplib the SMTP dialogue.
    assert not logging.getLogger("aiosqlite").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("aiosmtplib").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("alembic").isEnabledFor(logging.INFO)
    uvicorn_error = logging.getLogger("uvicorn.error")
    assert uvicorn_error.handlers == [] and uvicorn_error.propagate


@pytest.mark.usefixtures("saved_logging")
def test_setup_text_with_pids_and_warning_level() -> None:
    logs.setup(level="WARNING", fmt="text", with_pid=True)
    formatter = logging.getLogger().handlers[0].formatter
    assert isinstance(formatter, logs.TextFormatter)
    assert "[%(process)d]" in (formatter._fmt or "")
    assert not logging.getLogger("authcore").isEnabledFor(logging.INFO)
    assert logging.getLogger().level == logging.WARNING


def test_the_format_comes_from_the_environment() -> None:
    assert Settings.from_env({}).log_format == "text"
    assert Settings.from_env({"AUTHCORE_LOG_FORMAT": " JSON "}).log_format == "json"


@pytest.mark.usefixtures("saved_logging")
@pytest.mark.parametrize(("level", "fmt", "says"), [
    ("INFO", "yaml", "AUTHCORE_LOG_FORMAT must be text or json"),
    ("LOUD", "json", "AUTHCORE_LOG_LEVEL must be"),
])
def test_setup_refuses_unknown_values(level: str, fmt: str, says: str) -> None:
    with pytest.raises(SystemExit, match=says):
        logs.setup(level=level, fmt=fmt)


# -- access lines ----------------------------------------------------------------

def _access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "authcore.access"]


def test_access_lines_are_debug_on_success_and_info_otherwise(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="authcore.access")
    ok = logs.RequestContext("a", transport="grpc", rpc="/s.S/M")
    ok.status = "OK"
    logs.log_access(ok, 0.0)
    failed = logs.RequestContext("b", transport="grpc", rpc="/s.S/M")
    failed.status, failed.reason = "UNAUTHENTICATED", "invalid_password"
    logs.log_access(failed, 0.0)
    http_404 = logs.RequestContext("c", transport="http")
    logs.log_access(http_404, 0.0, http_status=404, http_method="GET", path="/nope")
    levels = [r.levelno for r in _access_records(caplog)]
    assert levels == [logging.DEBUG, logging.INFO, logging.INFO]
    assert "reason=invalid_password" in _access_records(caplog)[1].getMessage()


def test_success_access_lines_are_not_built_at_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="authcore.access")
    ctx = logs.RequestContext("a", transport="grpc", rpc="/s.S/M")
    ctx.status = "OK"
    logs.log_access(ctx, 0.0)
    assert _access_records(caplog) == []


# -- the request context through the bridge and the interceptor --------------------

class Servicer(auth_grpc.AuthenticationServiceServicer):
    """Answers with what the handler sees of the request context."""

    async def QueryUserAuthenticators(self, request: Any, context: Any) -> Any:
        ctx = logs.current()
        assert ctx is not None
        if request.user_id == "missing":
            raise NotFound("user not found", reason="user_not_found")
        return auth.QueryUserAuthenticatorsResponse(
            token_details=[ctx.request_id, ctx.rpc or "", ctx.transport,
                           ctx.application_id or ""])


@pytest.fixture(scope="module")
async def resolved() -> Any:
    handlers = generic_handlers_for(
        Servicer(), auth_grpc.add_AuthenticationServiceServicer_to_server)
    return await resolve_handlers(handlers, [ErrorInterceptor()],
                                  [f"/{SERVICE.full_name}/{m.name}" for m in SERVICE.methods])


@pytest.fixture
async def rest(resolved: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = RequestIds(create_app(InProcessInvoker([resolved]), [SERVICE]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://bridge") as client:
        yield client


async def test_the_rest_request_id_reaches_the_in_process_handler(
        rest: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="authcore.access")
    r = await rest.post("/api/web/v2/authentication/users",
                        json={"userId": "u", "applicationId": "app-1"},
                        headers={"X-Request-Id": "from-client-1"})
    assert r.status_code == 200, r.text
    assert r.headers["x-request-id"] == "from-client-1"
    assert r.json()["tokenDetails"] == ["from-client-1", QUERY_PATH, "http", "app-1"]
    # One access line, the bridge's (the interceptor adds no second one).
    (line,) = _access_records(caplog)
    assert line.levelno == logging.DEBUG
    assert line.__dict__["access"]["http_status"] == 200


async def test_rest_errors_carry_the_request_id_and_an_info_line(
        rest: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="authcore.access")
    r = await rest.post("/api/web/v2/authentication/users", json={"userId": "missing"},
                        headers={"X-Request-Id": "err-1"})
    assert r.status_code == 404 and r.headers["x-request-id"] == "err-1"
    malformed = await rest.post("/api/web/v2/authentication/users", content=b"{nope",
                                headers={"X-Request-Id": "bad id"})
    assert malformed.status_code == 400
    assert HEX16.fullmatch(malformed.headers["x-request-id"])
    unknown = await rest.get("/no/such/path")
    assert unknown.status_code == 404 and HEX16.fullmatch(unknown.headers["x-request-id"])
    lines = _access_records(caplog)
    assert [r.levelno for r in lines] == [logging.INFO] * 3
    assert "reason=user_not_found" in lines[0].getMessage()
    assert lines[1].__dict__["access"]["http_status"] == 400


async def test_an_unhandled_exception_still_answers_with_the_id() -> None:
    async def boom(request: Request) -> PlainTextResponse:
        raise RuntimeError("bug")

    app = RequestIds(Starlette(routes=[Route("/boom", boom)]))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
        r = await client.get("/boom", headers={"X-Request-Id": "r500"})
    assert r.status_code == 500 and r.headers["x-request-id"] == "r500"


async def test_in_process_calls_without_the_bridge_get_their_own_context(
        resolved: Any, caplog: pytest.LogCaptureFixture) -> None:
    """With no request context (a gRPC call) the interceptor makes one from
    `x-request-id` metadata and writes the access line itself."""
    caplog.set_level(logging.DEBUG, logger="authcore.access")
    invoker = InProcessInvoker([resolved])
    method = SERVICE.methods_by_name["QueryUserAuthenticators"]
    response: Any = await invoker.unary(
        method, auth.QueryUserAuthenticatorsRequest(user_id="u"),
        metadata=[("x-request-id", "md-1")], peer="198.51.100.4")
    assert list(response.token_details) == ["md-1", QUERY_PATH, "grpc", ""]
    (line,) = _access_records(caplog)
    assert line.levelno == logging.DEBUG
    data = json.loads(logs.JsonFormatter().format(line))
    assert data["status"] == "OK" and data["transport"] == "grpc"
    assert data["client_ip"] == "198.51.100.4"  # read from the call's peer when logged
    assert logs.current() is None  # the context ended with the call


# -- over a real grpc.aio server --------------------------------------------------

@pytest.fixture(scope="module")
async def grpc_stub(resolved: Any) -> AsyncIterator[Any]:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers([resolved])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    yield auth_grpc.AuthenticationServiceStub(channel)
    await channel.close()
    await server.stop(0)


def _value(metadata: Any, key: str = "x-request-id") -> str | None:
    for k, v in metadata or ():
        if k == key:
            return str(v)
    return None


async def test_grpc_echoes_a_sent_id_in_initial_and_trailing_metadata(grpc_stub: Any) -> None:
    call = grpc_stub.QueryUserAuthenticators(
        auth.QueryUserAuthenticatorsRequest(user_id="u", application_id="app-2"),
        metadata=(("x-request-id", "grpc-7"),))
    response = await call
    assert list(response.token_details) == ["grpc-7", QUERY_PATH, "grpc", "app-2"]
    assert _value(await call.initial_metadata()) == "grpc-7"
    assert _value(await call.trailing_metadata()) == "grpc-7"


async def test_grpc_makes_an_id_and_returns_it_in_the_trailers(grpc_stub: Any) -> None:
    call = grpc_stub.QueryUserAuthenticators(auth.QueryUserAuthenticatorsRequest(user_id="u"))
    response = await call
    made = response.token_details[0]
    assert HEX16.fullmatch(made)
    assert _value(await call.trailing_metadata()) == made
    # Not sent in the initial metadata when the client sent none (see the
    # interceptor: an extra HEADERS send per call).
    assert _value(await call.initial_metadata()) is None


async def test_grpc_replaces_a_bad_id_and_errors_carry_it(grpc_stub: Any) -> None:
    call = grpc_stub.QueryUserAuthenticators(
        auth.QueryUserAuthenticatorsRequest(user_id="missing"),
        metadata=(("x-request-id", "y" * 65),))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    replaced = _value(err.value.trailing_metadata())
    assert replaced is not None and HEX16.fullmatch(replaced)
    assert _value(await call.initial_metadata()) == replaced
    # The rich status is still there next to it.
    assert _value(err.value.trailing_metadata(), "grpc-status-details-bin") is not None


# -- audit rows ------------------------------------------------------------------

ROWS = q._stmt("audit_by_event", "SELECT request_id, application_id FROM audit_events "
                                 "WHERE event = :event")


async def test_hot_audit_rows_carry_the_request_id(hot: SqliteHot) -> None:
    ctx = logs.RequestContext("audit-rid", transport="http")
    token = logs.enter(ctx)
    try:
        async with hot.transaction() as tx:
            await audit.hot_record(tx, event="log-test", outcome="success", now=1.0,
                                   application_id="app-3")
    finally:
        logs.leave(token)
    async with hot.transaction() as tx:
        await audit.hot_record(tx, event="log-test-outside", outcome="success", now=2.0)
    assert [dict(r) for r in await hot.all(ROWS, {"event": "log-test"})] == [
        {"request_id": "audit-rid", "application_id": "app-3"}]
    assert ctx.application_id == "app-3"  # named in the request's later lines
    assert [r["request_id"] for r in await hot.all(ROWS, {"event": "log-test-outside"})] \
        == [None]


def test_orm_audit_rows_carry_the_request_id() -> None:
    class Session:
        added: list[Any] = []

        def add(self, row: Any) -> None:
            self.added.append(row)

    session = Session()
    token = logs.enter(logs.RequestContext("orm-rid", transport="grpc"))
    try:
        audit.record(session, event="e", outcome="success", now=1.0)  # type: ignore[arg-type]
    finally:
        logs.leave(token)
    (row,) = session.added
    assert row.request_id == "orm-rid"
