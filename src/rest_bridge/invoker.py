"""Two ways for the bridge to reach the core, behind one interface.

* InProcessInvoker runs the same handler + interceptor chain a grpc.aio server
  runs, with no socket and no serialization: the default for `authcore serve`.
* RemoteInvoker calls another authcore over a grpc.aio channel, for a bridge
  deployed on its own.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple, Protocol

import grpc
import grpc.aio
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from google.rpc import code_pb2, status_pb2

from authcore.errors import internal_status
from rest_bridge.context import (
    AbortCall,
    InProcessContext,
    SyncContextView,
    format_peer,
    status_from,
)

logger = logging.getLogger(__name__)

__all__ = [
    "CallError",
    "InProcessInvoker",
    "Invoker",
    "RemoteInvoker",
    "generic_handlers_for",
    "method_path",
]


class CallError(Exception):
    """The core answered with a non-OK status."""

    def __init__(self, status: status_pb2.Status) -> None:
        super().__init__(f"status {status.code}: {status.message}")
        self.status = status


class Invoker(Protocol):
    async def unary(self, method: MethodDescriptor, request: Message, *,
                    metadata: Sequence[tuple[str, str]], peer: str) -> Message:
        """Call one unary RPC; `peer` is the client's IP address ("" if unknown).

        Raises CallError for a non-OK status.
        """
        ...


def method_path(method: MethodDescriptor) -> str:
    """The gRPC path, e.g. "/authcore.v1.AuthenticationService/Logout"."""
    return f"/{method.containing_service.full_name}/{method.name}"


# ================================================================ in-process

class _HandlerCallDetails(NamedTuple):
    """What grpc.HandlerCallDetails carries (grpc.aio passes the same two fields)."""

    method: str
    invocation_metadata: tuple[tuple[str, str | bytes], ...]


class _Collector:
    """Stands in for a grpc server so a generated add_*_to_server can register."""

    def __init__(self) -> None:
        self.generic: list[Any] = []
        self.registered: dict[str, dict[str, Any]] = {}

    def add_generic_rpc_handlers(self, handlers: Sequence[Any]) -> None:
        self.generic.extend(handlers)

    def add_registered_method_handlers(self, service_name: str,
                                       method_handlers: dict[str, Any]) -> None:
        self.registered[service_name] = dict(method_handlers)


def generic_handlers_for(servicer: object,
                         add_fn: Callable[[Any, Any], None]) -> list[grpc.GenericRpcHandler]:
    """The handlers `add_fn(servicer, server)` would register on a server.

    Generated code registers every service twice, as a generic handler and
    as registered method handlers; registered ones take precedence in grpc,
    so they come first and generic duplicates of the same service are dropped.
    """
    collector = _Collector()
    add_fn(servicer, collector)
    handlers: list[grpc.GenericRpcHandler] = [
        grpc.method_handlers_generic_handler(name, methods)
        for name, methods in collector.registered.items()
    ]
    for handler in collector.generic:
        service_name = getattr(handler, "service_name", None)
        if callable(service_name) and service_name() in collector.registered:
            continue
        handlers.append(handler)
    return handlers


def _is_async(behavior: Any) -> bool:
    return inspect.iscoroutinefunction(behavior) or inspect.isawaitable(behavior)


class InProcessInvoker(Invoker):
    """Calls servicers directly through the server's interceptors.

    Pass the same handlers and interceptors given to grpc.aio.server(); the
    first interceptor is the outermost, as in grpc.aio.
    """

    def __init__(self, handlers: Sequence[grpc.GenericRpcHandler],
                 interceptors: Sequence[grpc.aio.ServerInterceptor] = ()) -> None:
        self._handlers = tuple(handlers)
        self._interceptors = tuple(interceptors)
        self._paths: dict[MethodDescriptor, str] = {}

    def _query_handlers(self, details: Any) -> Any:
        for handler in self._handlers:
            found = handler.service(details)
            if found is not None:
                return found
        return None

    async def _find_handler(self, details: Any, index: int = 0) -> Any:
        # grpc.aio's _run_interceptor: each interceptor gets a continuation
        # that runs the rest of the chain, then the handler lookup.
        if index == len(self._interceptors):
            return self._query_handlers(details)

        def continuation(next_details: Any) -> Awaitable[Any]:
            return self._find_handler(next_details, index + 1)

        return await self._interceptors[index].intercept_service(continuation, details)

    async def unary(self, method: MethodDescriptor, request: Message, *,
                    metadata: Sequence[tuple[str, str]], peer: str) -> Message:
        path = self._paths.get(method)
        if path is None:
            path = self._paths[method] = method_path(method)
        pairs = tuple(metadata)
        context = InProcessContext(pairs, format_peer(peer))
        try:
            response = await self._run(path, pairs, request, context)
        except AbortCall as abort:
            raise CallError(abort.status) from None
        except Exception:  # CancelledError is a BaseException and passes through
            if context.aborted is not None:
                # An abort the servicer swallowed still decides the status.
                raise CallError(context.aborted) from None
            set_status = context.status_set()
            if set_status is not None:
                # e.g. the generated base class: set_code(UNIMPLEMENTED), then raise.
                raise CallError(set_status) from None
            logger.exception("unexpected error in %s", path)
            raise CallError(internal_status()) from None
        if context.aborted is not None:
            raise CallError(context.aborted)
        set_status = context.status_set()
        if set_status is not None:
            raise CallError(set_status)
        if response is None:
            logger.error("%s returned no response", path)
            raise CallError(internal_status())
        return response

    async def _run(self, path: str, metadata: tuple[tuple[str, str], ...],
                   request: Message, context: InProcessContext) -> Message | None:
        handler = await self._find_handler(_HandlerCallDetails(path, metadata))
        if handler is None:
            raise AbortCall(status_pb2.Status(code=code_pb2.UNIMPLEMENTED,
                                              message="Method not found!"))
        behavior = handler.unary_unary
        if behavior is None:
            raise AbortCall(status_pb2.Status(code=code_pb2.UNIMPLEMENTED,
                                              message="Method is not unary-unary"))
        # In-process the request is already a message: no (de)serializers.
        if _is_async(behavior):
            result: Message | None = await behavior(request, context)
            return result
        # Like grpc.aio, a synchronous behaviour runs off the event loop.
        result = await asyncio.to_thread(behavior, request, SyncContextView(context))
        if inspect.isawaitable(result):
            result = await result
        return result


# ==================================================================== remote

class RemoteInvoker(Invoker):
    """Calls another authcore over a grpc.aio channel.

    The client address travels as "x-forwarded-for" metadata; the remote
    server should trust it only from bridges it knows.
    """

    def __init__(self, channel: grpc.aio.Channel, *, timeout: float | None = None) -> None:
        self._channel = channel
        self._timeout = timeout
        self._calls: dict[MethodDescriptor, Any] = {}

    def _callable(self, method: MethodDescriptor) -> Any:
        call = self._calls.get(method)
        if call is None:
            response_cls = message_factory.GetMessageClass(method.output_type)
            call = self._channel.unary_unary(
                method_path(method),
                request_serializer=_serialize,
                response_deserializer=response_cls.FromString,
            )
            self._calls[method] = call
        return call

    async def unary(self, method: MethodDescriptor, request: Message, *,
                    metadata: Sequence[tuple[str, str]], peer: str) -> Message:
        pairs = list(metadata)
        if peer:
            pairs.append(("x-forwarded-for", peer))
        try:
            response: Message = await self._callable(method)(
                request, metadata=pairs, timeout=self._timeout)
        except grpc.aio.AioRpcError as err:
            trailing = tuple(err.trailing_metadata() or ())
            raise CallError(status_from(err.code(), err.details(), trailing)) from None
        return response


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()
