"""grpc.aio server interceptors: admin-key auth from the method options, and
the one place where AuthcoreError becomes a gRPC status.

The REST bridge's in-process invoker runs these same interceptors, so REST and
gRPC share one error path.

Both choose and wrap a handler from the method path alone (anything a call
carries, such as the Authorization metadata, is read inside the wrapped
behaviour from its context), so server.build_runtime applies them once per
method at startup with rest_bridge.resolve_handlers instead of on every call.
Keep it that way: an interceptor here must not decide by the call's metadata
in `intercept_service`.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import grpc
from google.protobuf import descriptor_pool
from google.rpc import status_pb2
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from authcore import logs, metrics
from authcore.errors import (
    AuthcoreError,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
    internal_status,
)
from authcore.store.hot import HotDb
from authcore.store.hot import queries as hq
from authcore.store.redis import Throttle, backend_unavailable
from authcore.v1 import options_pb2

log = logging.getLogger("authcore.rpc")

Handler = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]

STATUS_DETAILS_KEY = "grpc-status-details-bin"


def metadata_value(context: grpc.aio.ServicerContext, key: str) -> str:
    for k, v in context.invocation_metadata() or ():
        if k == key:
            return v if isinstance(v, str) else v.decode()
    return ""


def _wrap(handler: grpc.RpcMethodHandler, wrapper: Callable[[Handler], Handler]
          ) -> grpc.RpcMethodHandler:
    if handler is None or handler.unary_unary is None:
        return handler
    return grpc.unary_unary_rpc_method_handler(
        wrapper(handler.unary_unary),
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """AuthcoreError → status with google.rpc.Status details; a database or
    Redis that can't be reached → UNAVAILABLE (503) backend_unavailable,
    logged as one throttled line; anything else → INTERNAL with no text,
    logged here with its traceback.

    It is also where a call's outcome is known, so it keeps the request
    context (authcore.logs): a gRPC call gets one here, from metadata
    `x-request-id` or made up, returned in the trailing metadata of every
    answer (and, when the client sent one, in the initial metadata), and
    ends with one access line. A REST call arrives with the bridge's
    context, which it only completes (RPC, status, reason): the bridge
    writes that request's access line and X-Request-Id header."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        names_application = _has_application_id(method)

        def wrapper(behavior: Handler) -> Handler:
            # On every RPC's path: the context, one try around the call, and
            # an access line that is DEBUG (so normally not formatted) on
            # success.
            async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
                started = time.perf_counter()
                ctx = logs.current()
                token = None
                sent = ""
                if ctx is None:  # a gRPC call; REST ones come with the bridge's
                    sent = metadata_value(context, logs.REQUEST_ID_HEADER)
                    ctx = logs.RequestContext(logs.accept_request_id(sent), transport="grpc",
                                              rpc=method, grpc_context=context)
                    token = logs.enter(ctx)
                else:
                    ctx.rpc = method
                if names_application and request.application_id:
                    ctx.application_id = request.application_id[:64]
                try:
                    if sent:
                        # An extra HEADERS send (~35 us of server CPU per
                        # call, measured): only for clients that asked by
                        # sending an id. Everyone gets it in the trailers.
                        await context.send_initial_metadata(
                            ((logs.REQUEST_ID_HEADER, ctx.request_id),))
                    try:
                        response = await behavior(request, context)
                    except AuthcoreError as exc:
                        status = exc.to_status()
                        ctx.reason = exc.reason
                    except (grpc.aio.AbortError, grpc.RpcError) as exc:
                        ctx.status = _aborted_status(exc, context)
                        raise
                    except Exception as exc:
                        status = unexpected_error_status(exc, method)
                    else:
                        ctx.status = "OK"
                        if token is not None:
                            context.set_trailing_metadata(
                                ((logs.REQUEST_ID_HEADER, ctx.request_id),))
                        return response
                    code = _STATUS_CODES.get(status.code, grpc.StatusCode.UNKNOWN)
                    ctx.status = code.name
                    trailing: tuple[tuple[str, str | bytes], ...] = (
                        (STATUS_DETAILS_KEY, status.SerializeToString()),)
                    if token is not None:
                        trailing += ((logs.REQUEST_ID_HEADER, ctx.request_id),)
                    await context.abort(code, status.message, trailing_metadata=trailing)
                finally:
                    if token is not None:
                        logs.log_access(ctx, started)
                        logs.leave(token)
            return call

        return _wrap(handler, wrapper)


def _has_application_id(method: str) -> bool:
    """Whether the method's request message has a top-level string
    `application_id` (the caller's claim: log lines name it until a flow's
    audit row names the application it resolved)."""
    service, _, name = method.lstrip("/").rpartition("/")
    try:
        svc = descriptor_pool.Default().FindServiceByName(service)
        field = svc.methods_by_name[name].input_type.fields_by_name.get("application_id")
    except KeyError:
        return False
    return field is not None and field.type == field.TYPE_STRING and not field.is_repeated


def _aborted_status(exc: BaseException, context: grpc.aio.ServicerContext) -> str:
    """The status name of a call a servicer aborted itself."""
    status = getattr(exc, "status", None)  # the REST bridge's in-process AbortCall
    if isinstance(status, status_pb2.Status):
        return str(_STATUS_CODES.get(status.code, grpc.StatusCode.UNKNOWN).name)
    code = context.code()
    return code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"


def unexpected_error_status(exc: Exception, method: str) -> status_pb2.Status:
    """The status for an exception that is not an AuthcoreError; called while
    it is being handled, so log.exception has its traceback."""
    if backend_unavailable_error(exc):
        if isinstance(exc, RedisError):  # raised outside store.redis.redis_errors
            metrics.redis_error()
        _unavailable_log.log(log, "%s -> UNAVAILABLE: %s: %s", method,
                             type(exc).__name__, _first_line(exc))
        return backend_unavailable().to_status()
    if isinstance(exc, DBAPIError | asyncpg.PostgresError
                  | asyncpg.exceptions.DataError | sqlite3.Error):
        return _database_error_status(exc, method)
    log.exception("unhandled error in %s", method)
    return internal_status()


# SQLSTATE classes meaning "the database can't serve now", not "this
# request is wrong": 08 connection exception, 53 insufficient resources
# (too many connections, disk full), 57P operator intervention (admin or
# crash shutdown, starting up).
# Connection exceptions, insufficient resources, operator intervention, and
# read_only_sql_transaction (a primary demoted by a failover; the pools then
# drop their connections, store/db.py and store/hot/postgres.py).
_UNAVAILABLE_SQLSTATES = ("08", "53", "57P", "25006")
_unavailable_log = Throttle()


def backend_unavailable_error(exc: BaseException) -> bool:
    """Whether `exc` means a storage backend (PostgreSQL, SQLite, Redis) is
    unreachable or refusing work for now, rather than a bug or bad input:
    clients get 503 and retry, and the server recovers by itself."""
    if isinstance(exc, RedisError | PoolTimeoutError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or isinstance(exc, OperationalError):
            return True
        sqlstate = str(getattr(exc.orig, "sqlstate", "") or "")
        if sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
            return True
        cause = exc.orig.__cause__ if exc.orig is not None else None
        return cause is not None and backend_unavailable_error(cause)
    # The hot paths' raw drivers (store/hot), unwrapped.
    if isinstance(exc, asyncpg.PostgresError):
        return str(getattr(exc, "sqlstate", "") or "").startswith(_UNAVAILABLE_SQLSTATES)
    if isinstance(exc, sqlite3.OperationalError):
        return True
    # Raised as they are while connecting (SQLAlchemy wraps only DBAPI errors).
    return isinstance(exc, ConnectionError | TimeoutError | socket.gaierror
                      | asyncpg.PostgresConnectionError | asyncpg.CannotConnectNowError
                      | asyncpg.exceptions.ConnectionDoesNotExistError
                      | asyncpg.exceptions.InternalClientError)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else ""


def _database_error_status(exc: Exception, method: str) -> status_pb2.Status:
    """SQLSTATE class 22 ("data exception") is a value the database refuses,
    e.g. a NUL character in text on PostgreSQL: the client's input, so a 400
    (nothing was written; the transaction rolled back). So is a value asyncpg
    can't encode for its column. Anything else is ours."""
    origin = exc.orig if isinstance(exc, DBAPIError) else exc
    sqlstate = str(getattr(origin, "sqlstate", "") or "")
    if sqlstate.startswith("22") or isinstance(exc, asyncpg.exceptions.DataError):
        log.info("%s -> INVALID_ARGUMENT data exception %s", method, sqlstate)
        return InvalidArgument(
            "The request contains a value that cannot be stored (for example a NUL "
            "character or an out-of-range number).", reason="invalid_value",
        ).to_status()
    log.exception("database error in %s", method)
    return internal_status()


# google.rpc code number → grpc.StatusCode (a number grpc lacks → UNKNOWN).
_STATUS_CODES: dict[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}


def hash_admin_key(key: str) -> str:
    # Admin keys are 256-bit random values, so a plain SHA-256 is enough to
    # keep the stored form useless; no slow hash is needed on every call.
    return hashlib.sha256(key.encode()).hexdigest()


class AdminAuthInterceptor(grpc.aio.ServerInterceptor):
    """Checks `Authorization: Bearer <admin key>` for methods whose
    (authcore.v1.method).auth is AUTH_KIND_ADMIN_KEY. Must run inside
    ErrorInterceptor so its errors are rendered. Which methods need a key is
    decided by the path; the header is read per call, in the wrapper."""

    def __init__(self, hot: HotDb) -> None:
        # The raw driver (store/hot): the key is checked on every SCIM call.
        self._hot = hot
        self._required: dict[str, str | None] = {}

    def _scope_for(self, method: str) -> str | None:
        if method not in self._required:
            scope: str | None = None
            service, _, name = method.lstrip("/").rpartition("/")
            try:
                svc = descriptor_pool.Default().FindServiceByName(service)
                opts = svc.methods_by_name[name].GetOptions().Extensions[options_pb2.method]
                if opts.auth == options_pb2.AUTH_KIND_ADMIN_KEY:
                    scope = opts.admin_scope or "admin"
            except KeyError:
                scope = None
            self._required[method] = scope
        return self._required[method]

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        scope = self._scope_for(handler_call_details.method)
        if scope is None:
            return handler

        def wrapper(behavior: Handler) -> Handler:
            async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
                await self.check(metadata_value(context, "authorization"), scope)
                return await behavior(request, context)
            return call

        return _wrap(handler, wrapper)

    async def check(self, authorization: str, scope: str) -> None:
        value = authorization.strip()
        if value[:7].lower() != "bearer " or not value[7:].strip():
            raise Unauthenticated("An admin key is required as 'Authorization: Bearer <key>'.",
                                  reason="missing_admin_key")
        scopes = await hq.admin_key_scopes(self._hot, hash_admin_key(value[7:].strip()))
        if scopes is None:
            raise Unauthenticated("The admin key is not valid.", reason="invalid_admin_key")
        if scope not in scopes and "*" not in scopes:
            raise PermissionDenied(f"The admin key lacks the {scope!r} scope.",
                                   reason="insufficient_scope")
