"""rest_bridge.resolve_handlers: the interceptor chain applied once per method
at startup, served by a dict lookup, on a grpc.aio server and in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import grpc.aio
import pytest
from google.rpc import code_pb2, error_details_pb2, status_pb2

from authcore.errors import NotFound, Unauthenticated
from authcore.interceptors import STATUS_DETAILS_KEY, AdminAuthInterceptor, ErrorInterceptor
from authcore.v1 import authentication_pb2 as auth
from authcore.v1 import authentication_pb2_grpc as auth_grpc
from authcore.v1 import management_pb2 as mgmt
from authcore.v1 import management_pb2_grpc as mgmt_grpc
from rest_bridge import (
    CallError,
    InProcessInvoker,
    ResolvedHandlers,
    generic_handlers_for,
    resolve_handlers,
)
from rest_bridge.invoker import method_path

AUTH = auth.DESCRIPTOR.services_by_name["AuthenticationService"]
MGMT = mgmt.DESCRIPTOR.services_by_name["ManagementService"]
QUERY = AUTH.methods_by_name["QueryUserAuthenticators"]
LOGOUT = AUTH.methods_by_name["Logout"]
GET_USER = MGMT.methods_by_name["GetUser"]  # (authcore.v1.method).auth = admin key
GET_JWKS = MGMT.methods_by_name["GetJwks"]  # no admin key
ADMIN_KEY = "Bearer good-key"


def paths(*services: Any) -> list[str]:
    return [f"/{svc.full_name}/{m.name}" for svc in services for m in svc.methods]


class AuthServicer(auth_grpc.AuthenticationServiceServicer):
    async def QueryUserAuthenticators(self, request: Any, context: Any) -> Any:
        if request.user_id == "missing":
            raise NotFound("user not found", reason="user_not_found",
                           metadata={"userId": request.user_id})
        if request.user_id == "bug":
            raise RuntimeError("a bug with a secret in it")
        return auth.QueryUserAuthenticatorsResponse(token_details=[request.user_id])


class MgmtServicer(mgmt_grpc.ManagementServiceServicer):
    def __init__(self) -> None:
        self.calls = 0

    async def GetUser(self, request: Any, context: Any) -> Any:
        self.calls += 1
        return mgmt.GetUserResponse()

    async def GetJwks(self, request: Any, context: Any) -> Any:
        return mgmt.GetJwksResponse()


class CountingInterceptor(grpc.aio.ServerInterceptor):
    """Counts intercept_service runs per path; passes the handler through."""

    def __init__(self, name: str = "", order: list[str] | None = None) -> None:
        self.seen: list[str] = []
        self.name, self.order = name, order

    async def intercept_service(self, continuation: Callable[[Any], Awaitable[Any]],
                                details: Any) -> Any:
        self.seen.append(details.method)
        if self.order is not None:
            self.order.append(self.name)
        return await continuation(details)


class FakeKeyAuth(AdminAuthInterceptor):
    """The real interceptor's per-path decision; the key check without a database."""

    def __init__(self) -> None:
        super().__init__(hot=None)  # type: ignore[arg-type]
        self.checked: list[tuple[str, str]] = []

    async def check(self, authorization: str, scope: str) -> None:
        self.checked.append((authorization, scope))
        if authorization != ADMIN_KEY:
            raise Unauthenticated("An admin key is required.", reason="missing_admin_key")


ADD_AUTH = auth_grpc.add_AuthenticationServiceServicer_to_server


def handlers(mgmt_servicer: MgmtServicer | None = None) -> list[grpc.GenericRpcHandler]:
    return [
        *generic_handlers_for(AuthServicer(), ADD_AUTH),
        *generic_handlers_for(mgmt_servicer or MgmtServicer(),
                              mgmt_grpc.add_ManagementServiceServicer_to_server),
    ]


def error_info(status: status_pb2.Status) -> error_details_pb2.ErrorInfo:
    info = error_details_pb2.ErrorInfo()
    assert any(d.Unpack(info) for d in status.details)
    return info


def rpc_status(err: grpc.aio.AioRpcError) -> status_pb2.Status:
    trailers = dict(err.trailing_metadata() or ())
    return status_pb2.Status.FromString(trailers[STATUS_DETAILS_KEY])


class Details:
    def __init__(self, method: str) -> None:
        self.method = method
        self.invocation_metadata = ()


# ------------------------------------------------------------------ in-process

async def test_chain_runs_once_per_method_not_per_call() -> None:
    counter = CountingInterceptor()
    resolved = await resolve_handlers(handlers(), [counter], paths(AUTH, MGMT))
    every = paths(AUTH, MGMT)
    assert sorted(counter.seen) == sorted(every)  # once each, at resolve time
    invoker = InProcessInvoker([resolved])
    for user in ("a", "b", "c"):
        resp = await invoker.unary(QUERY, auth.QueryUserAuthenticatorsRequest(user_id=user),
                                   metadata=[("authorization", "x")], peer="::1")
        assert list(resp.token_details) == [user]
    assert len(counter.seen) == len(every)  # no call ran the chain again


async def test_duplicate_paths_resolved_once() -> None:
    counter = CountingInterceptor()
    path = method_path(QUERY)
    await resolve_handlers(handlers(), [counter], [path, path, path])
    assert counter.seen == [path]


async def test_interceptor_order_is_kept() -> None:
    order: list[str] = []
    await resolve_handlers(handlers(), [CountingInterceptor("outer", order),
                                        CountingInterceptor("inner", order)],
                           [method_path(QUERY)])
    assert order == ["outer", "inner"]


async def test_unknown_and_unserved_methods() -> None:
    # LOGOUT is served by the servicer base class but not resolved; a path
    # resolved with no handler serving it is left out.
    resolved = await resolve_handlers(handlers(), [ErrorInterceptor()],
                                      [method_path(QUERY), "/nope.v1.Nothing/Call"])
    assert isinstance(resolved, ResolvedHandlers)
    assert set(resolved.methods) == {method_path(QUERY)}
    assert resolved.service(Details("/nope.v1.Nothing/Call")) is None
    assert resolved.service(Details(method_path(LOGOUT))) is None
    assert resolved.lookup(method_path(QUERY)) is resolved.service(Details(method_path(QUERY)))
    invoker = InProcessInvoker([resolved])
    with pytest.raises(CallError) as err:
        await invoker.unary(LOGOUT, auth.LogoutRequest(), metadata=(), peer="")
    assert err.value.status.code == code_pb2.UNIMPLEMENTED


async def test_in_process_errors_translated() -> None:
    resolved = await resolve_handlers(handlers(), [ErrorInterceptor()], paths(AUTH))
    invoker = InProcessInvoker([resolved])
    with pytest.raises(CallError) as err:
        await invoker.unary(QUERY, auth.QueryUserAuthenticatorsRequest(user_id="missing"),
                            metadata=(), peer="")
    assert err.value.status.code == code_pb2.NOT_FOUND
    assert error_info(err.value.status).reason == "user_not_found"
    with pytest.raises(CallError) as err:
        await invoker.unary(QUERY, auth.QueryUserAuthenticatorsRequest(user_id="bug"),
                            metadata=(), peer="")
    assert err.value.status.code == code_pb2.INTERNAL
    assert "secret" not in err.value.status.message


async def test_admin_key_read_per_call_through_resolved() -> None:
    servicer = MgmtServicer()
    key_auth = FakeKeyAuth()
    resolved = await resolve_handlers(handlers(servicer), [ErrorInterceptor(), key_auth],
                                      paths(MGMT))
    invoker = InProcessInvoker([resolved])
    with pytest.raises(CallError) as err:
        await invoker.unary(GET_USER, mgmt.GetUserRequest(user_id="u"), metadata=(), peer="")
    assert err.value.status.code == code_pb2.UNAUTHENTICATED
    assert error_info(err.value.status).reason == "missing_admin_key"
    await invoker.unary(GET_USER, mgmt.GetUserRequest(user_id="u"),
                        metadata=[("authorization", ADMIN_KEY)], peer="")
    await invoker.unary(GET_JWKS, mgmt.GetJwksRequest(), metadata=(), peer="")  # no key needed
    assert servicer.calls == 1
    assert key_auth.checked == [("", "admin"), (ADMIN_KEY, "admin")]


async def test_in_process_mixed_and_several_resolved() -> None:
    plain = generic_handlers_for(AuthServicer(), ADD_AUTH)
    first = await resolve_handlers(plain, [], [method_path(QUERY)])
    empty = ResolvedHandlers({})
    for hs in ([empty, first], [empty, *plain], [first, *plain]):
        resp = await InProcessInvoker(hs).unary(
            QUERY, auth.QueryUserAuthenticatorsRequest(user_id="m"), metadata=(), peer="")
        assert list(resp.token_details) == ["m"]


async def test_in_process_with_interceptors_still_runs_them_per_call() -> None:
    counter = CountingInterceptor()
    invoker = InProcessInvoker(handlers(), [counter])
    for _ in range(2):
        await invoker.unary(QUERY, auth.QueryUserAuthenticatorsRequest(user_id="u"),
                            metadata=(), peer="")
    assert counter.seen == [method_path(QUERY)] * 2


# ------------------------------------------------------------- grpc.aio server

@pytest.fixture
async def channel() -> AsyncIterator[tuple[grpc.aio.Channel, CountingInterceptor, MgmtServicer]]:
    counter = CountingInterceptor()
    servicer = MgmtServicer()
    resolved = await resolve_handlers(handlers(servicer),
                                      [ErrorInterceptor(), FakeKeyAuth(), counter],
                                      paths(AUTH, MGMT))
    server = grpc.aio.server()  # no interceptors: resolved has them
    server.add_generic_rpc_handlers([resolved])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    chan = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield chan, counter, servicer
    finally:
        await chan.close()
        await server.stop(None)


async def test_server_errors_translated(
        channel: tuple[grpc.aio.Channel, CountingInterceptor, MgmtServicer]) -> None:
    chan, counter, _ = channel
    resolved_count = len(counter.seen)
    stub = auth_grpc.AuthenticationServiceStub(chan)
    resp = await stub.QueryUserAuthenticators(auth.QueryUserAuthenticatorsRequest(user_id="ok"),
                                              timeout=10)
    assert list(resp.token_details) == ["ok"]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.QueryUserAuthenticators(
            auth.QueryUserAuthenticatorsRequest(user_id="missing"), timeout=10)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert err.value.details() == "user not found"
    info = error_info(rpc_status(err.value))
    assert (info.reason, dict(info.metadata)) == ("user_not_found", {"userId": "missing"})
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.QueryUserAuthenticators(
            auth.QueryUserAuthenticatorsRequest(user_id="bug"), timeout=10)
    assert err.value.code() == grpc.StatusCode.INTERNAL
    assert "secret" not in (err.value.details() or "")
    assert len(counter.seen) == resolved_count  # the calls ran no interceptor


async def test_server_admin_key_and_unknown_method(
        channel: tuple[grpc.aio.Channel, CountingInterceptor, MgmtServicer]) -> None:
    chan, _, servicer = channel
    stub = mgmt_grpc.ManagementServiceStub(chan)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetUser(mgmt.GetUserRequest(user_id="u"), timeout=10)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_info(rpc_status(err.value)).reason == "missing_admin_key"
    await stub.GetUser(mgmt.GetUserRequest(user_id="u"), timeout=10,
                       metadata=[("authorization", ADMIN_KEY)])
    assert servicer.calls == 1
    unknown = chan.unary_unary("/nope.v1.Nothing/Call")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await unknown(b"", timeout=10)
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
