from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import grpc.aio
import pytest
from google.rpc import code_pb2, error_details_pb2

from authcore.errors import AuthcoreError, NotFound, Unauthenticated
from authcore.v1 import authentication_pb2 as auth
from authcore.v1 import authentication_pb2_grpc as auth_grpc
from rest_bridge import CallError, InProcessInvoker, RemoteInvoker, generic_handlers_for

SERVICE = auth.DESCRIPTOR.services_by_name["AuthenticationService"]
QUERY = SERVICE.methods_by_name["QueryUserAuthenticators"]
LOGOUT = SERVICE.methods_by_name["Logout"]
PASSKEY = SERVICE.methods_by_name["RequestPasskeyChallenge"]


class Servicer(auth_grpc.AuthenticationServiceServicer):
    def __init__(self) -> None:
        self.metadata: list[dict[str, Any]] = []

    async def QueryUserAuthenticators(self, request: Any, context: Any) -> Any:
        self.metadata.append(dict(context.invocation_metadata()))
        if request.user_id == "missing":
            raise NotFound("user not found", reason="user_not_found",
                           metadata={"userId": request.user_id})
        if request.user_id == "plain-abort":
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "nope")
        if request.user_id == "set-code":
            context.set_code(grpc.StatusCode.FAILED_PRECONDITION)
            context.set_details("not yet")
            return auth.QueryUserAuthenticatorsResponse()
        return auth.QueryUserAuthenticatorsResponse(authentication_completed=True,
                                                    token_details=[request.user_id])


class SyncServicer(auth_grpc.AuthenticationServiceServicer):
    def Logout(self, request: Any, context: Any) -> Any:
        if request.authorization == "bad":
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad token")
        return auth.LogoutResponse()


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    async def intercept_service(self, continuation: Callable[[Any], Awaitable[Any]],
                                details: Any) -> Any:
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary

        async def behavior(request: Any, context: Any) -> Any:
            try:
                return await inner(request, context)
            except AuthcoreError as e:
                await context.abort(e.code, e.message, trailing_metadata=(
                    ("grpc-status-details-bin", e.to_status().SerializeToString()),))

        return grpc.unary_unary_rpc_method_handler(
            behavior, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)


class CatchAllInterceptor(grpc.aio.ServerInterceptor):
    """Like authcore's real one: aborts pass through, anything else becomes INTERNAL."""

    async def intercept_service(self, continuation: Callable[[Any], Awaitable[Any]],
                                details: Any) -> Any:
        handler = await continuation(details)
        inner = handler.unary_unary

        async def behavior(request: Any, context: Any) -> Any:
            try:
                return await inner(request, context)
            except grpc.aio.AbortError:
                raise
            except Exception:
                await context.abort(grpc.StatusCode.INTERNAL, "internal error")

        return grpc.unary_unary_rpc_method_handler(behavior)


class SwallowingInterceptor(grpc.aio.ServerInterceptor):
    """Catches everything and aborts again: the first abort must still win."""

    async def intercept_service(self, continuation: Callable[[Any], Awaitable[Any]],
                                details: Any) -> Any:
        handler = await continuation(details)
        inner = handler.unary_unary

        async def behavior(request: Any, context: Any) -> Any:
            try:
                return await inner(request, context)
            except BaseException:
                await context.abort(grpc.StatusCode.INTERNAL, "second abort")

        return grpc.unary_unary_rpc_method_handler(behavior)


class OrderInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, name: str, log: list[str], *, reject: bool = False) -> None:
        self.name, self.log, self.reject = name, log, reject

    async def intercept_service(self, continuation: Callable[[Any], Awaitable[Any]],
                                details: Any) -> Any:
        self.log.append(self.name)
        if self.reject:
            async def deny(request: Any, context: Any) -> Any:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "no credential",
                                    trailing_metadata=(("grpc-status-details-bin",
                                                        Unauthenticated("no credential")
                                                        .to_status().SerializeToString()),))

            return grpc.unary_unary_rpc_method_handler(deny)
        return await continuation(details)


def in_process(servicer: Any, *interceptors: Any) -> InProcessInvoker:
    add = auth_grpc.add_AuthenticationServiceServicer_to_server
    return InProcessInvoker(generic_handlers_for(servicer, add), interceptors)


def error_info(err: CallError) -> error_details_pb2.ErrorInfo:
    info = error_details_pb2.ErrorInfo()
    assert any(d.Unpack(info) for d in err.status.details)
    return info


def test_generic_handlers_deduplicated() -> None:
    add = auth_grpc.add_AuthenticationServiceServicer_to_server
    assert len(generic_handlers_for(Servicer(), add)) == 1


async def test_in_process_success_and_metadata() -> None:
    servicer = Servicer()
    invoker = in_process(servicer, ErrorInterceptor())
    resp = await invoker.unary(QUERY, auth.QueryUserAuthenticatorsRequest(user_id="u"),
                               metadata=[("authorization", "Bearer k")], peer="::1")
    assert resp.authentication_completed is True
    assert servicer.metadata[-1] == {"authorization": "Bearer k"}


async def test_in_process_rich_error() -> None:
    invoker = in_process(Servicer(), ErrorInterceptor())
    with pytest.raises(CallError) as err:
        await invoker.unary(QUERY, auth.QueryUserAuthenticatorsRequest(user_id="missing"),
                            metadata=(), peer="")
    assert err.value.status.code == code_pb2.NOT_FOUND
    assert error_info(err.value).reason == "user_not_found"


async def test_in_process_plain_abort_and_set_code() -> None:
    invoker = in_process(Servicer(), ErrorInterceptor())
    with pytest.raises(CallError) as err:
        await invoker.unary(QUERY, auth.QueryUserAuthenticatorsRequest(user_id="plain-abort"),
                            metadata=(), peer="")
    assert (err.value.status.code, err.value.status.message) == (code_pb2.PERMISSION_DENIED,
                                                                 "nope")
    with pytest.raises(CallError) as err:
        await invoker.unary(QUERY, auth.QueryUserAuthenticatorsRequest(user_id="set-code"),
                            metadata=(), peer="")
    assert (err.value.status.code, err.value.status.message) == (code_pb2.FAILED_PRECONDITION,
                                                                 "not yet")


async def test_servicer_abort_passes_through_abort_aware_interceptor() -> None:
    invoker = in_process(Servicer(), CatchAllInterceptor())
    with pytest.raises(CallError) as err:
        await invoker.unary(QUERY, auth.QueryUserAuthenticatorsRequest(user_id="plain-abort"),
                            metadata=(), peer="")
    assert err.value.status.code == code_pb2.PERMISSION_DENIED


async def test_first_abort_wins() -> None:
    invoker = in_process(Servicer(), SwallowingInterceptor())
    with pytest.raises(CallError) as err:
        await invoker.unary(QUERY, auth.QueryUserAuthenticatorsRequest(user_id="plain-abort"),
                            metadata=(), peer="")
    assert (err.value.status.code, err.value.status.message) == (code_pb2.PERMISSION_DENIED,
                                                                 "nope")


async def test_in_process_interceptor_order_and_rejection() -> None:
    log: list[str] = []
    invoker = in_process(Servicer(), OrderInterceptor("outer", log),
                         OrderInterceptor("inner", log, reject=True))
    with pytest.raises(CallError) as err:
        await invoker.unary(QUERY, auth.QueryUserAuthenticatorsRequest(), metadata=(), peer="")
    assert log == ["outer", "inner"]
    assert err.value.status.code == code_pb2.UNAUTHENTICATED
    assert error_info(err.value).reason == "unauthenticated"


async def test_in_process_unimplemented_default() -> None:
    invoker = in_process(Servicer())
    with pytest.raises(CallError) as err:
        await invoker.unary(PASSKEY, auth.RequestPasskeyChallengeRequest(), metadata=(), peer="")
    assert err.value.status.code == code_pb2.UNIMPLEMENTED


async def test_in_process_unknown_method() -> None:
    invoker = InProcessInvoker([])
    with pytest.raises(CallError) as err:
        await invoker.unary(QUERY, auth.QueryUserAuthenticatorsRequest(), metadata=(), peer="")
    assert err.value.status.code == code_pb2.UNIMPLEMENTED


async def test_in_process_sync_servicer() -> None:
    invoker = in_process(SyncServicer())
    assert await invoker.unary(LOGOUT, auth.LogoutRequest(authorization="ok"),
                               metadata=(), peer="") == auth.LogoutResponse()
    with pytest.raises(CallError) as err:
        await invoker.unary(LOGOUT, auth.LogoutRequest(authorization="bad"), metadata=(), peer="")
    assert err.value.status.code == code_pb2.UNAUTHENTICATED


# ------------------------------------------------------------------- remote

@pytest.fixture
async def remote() -> AsyncIterator[tuple[RemoteInvoker, Servicer]]:
    servicer = Servicer()
    server = grpc.aio.server(interceptors=[ErrorInterceptor()])
    auth_grpc.add_AuthenticationServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield RemoteInvoker(channel, timeout=10), servicer
    finally:
        await channel.close()
        await server.stop(None)


async def test_remote_success(remote: tuple[RemoteInvoker, Servicer]) -> None:
    invoker, servicer = remote
    resp = await invoker.unary(QUERY, auth.QueryUserAuthenticatorsRequest(user_id="alice"),
                               metadata=[("authorization", "Bearer k")], peer="203.0.113.9")
    assert isinstance(resp, auth.QueryUserAuthenticatorsResponse)
    assert list(resp.token_details) == ["alice"]
    seen = servicer.metadata[-1]
    assert seen["authorization"] == "Bearer k"
    assert seen["x-forwarded-for"] == "203.0.113.9"


async def test_remote_detailed_error(remote: tuple[RemoteInvoker, Servicer]) -> None:
    invoker, _ = remote
    with pytest.raises(CallError) as err:
        await invoker.unary(QUERY, auth.QueryUserAuthenticatorsRequest(user_id="missing"),
                            metadata=(), peer="")
    assert err.value.status.code == code_pb2.NOT_FOUND
    assert err.value.status.message == "user not found"
    info = error_info(err.value)
    assert (info.reason, info.domain, dict(info.metadata)) == (
        "user_not_found", "authcore", {"userId": "missing"})


async def test_remote_plain_error(remote: tuple[RemoteInvoker, Servicer]) -> None:
    invoker, _ = remote
    with pytest.raises(CallError) as err:
        await invoker.unary(QUERY, auth.QueryUserAuthenticatorsRequest(user_id="plain-abort"),
                            metadata=(), peer="")
    assert (err.value.status.code, err.value.status.message) == (code_pb2.PERMISSION_DENIED,
                                                                 "nope")
