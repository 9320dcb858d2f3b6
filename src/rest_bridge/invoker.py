"""Two ways for the bridge to reach the core, behind one interface.

* InProcessInvoker runs the same handler + interceptor chain a grpc.aio server
  runs, with no socket and no serialization: the default for `authcore serve`.
* RemoteInvoker calls another authcore over a grpc.aio channel, for a bridge
  deployed on its own.

`resolve_handlers` applies an interceptor chain once per method at startup,
so that neither a grpc.aio server nor InProcessInvoker pays it per call.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
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
    "ResolvedHandlers",
    "generic_handlers_for",
    "method_path",
    "resolve_handlers",
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


def _query(handlers: Sequence[grpc.GenericRpcHandler], details: Any) -> Any:
    """The first handler's answer, as grpc.aio's server looks one up."""
    for handler in handlers:
        found = handler.service(details)
        if found is not None:
            return found
    return None


async def _intercepted(handlers: Sequence[grpc.GenericRpcHandler],
                       interceptors: Sequence[grpc.aio.ServerInterceptor],
                       details: Any, index: int = 0) -> Any:
    # grpc.aio's _run_interceptor: each interceptor gets a continuation
    # that runs the rest of the chain, then the handler lookup.
    if index == len(interceptors):
        return _query(handlers, details)

    def continuation(next_details: Any) -> Awaitable[Any]:
        return _intercepted(handlers, interceptors, next_details, index + 1)

    return await interceptors[index].intercept_service(continuation, details)


class ResolvedHandlers(grpc.GenericRpcHandler):
    """A generic handler answering from a fixed method path → handler map:
    one dict lookup per call. Built by `resolve_handlers`."""

    __slots__ = ("_by_method",)

    def __init__(self, by_method: Mapping[str, grpc.RpcMethodHandler]) -> None:
        self._by_method: dict[str, grpc.RpcMethodHandler] = dict(by_method)

    def service(self, handler_call_details: Any) -> grpc.RpcMethodHandler | None:
        return self._by_method.get(handler_call_details.method)

    def lookup(self, method: str) -> grpc.RpcMethodHandler | None:
        """The handler for a method path, or None."""
        return self._by_method.get(method)

    @property
    def methods(self) -> Mapping[str, grpc.RpcMethodHandler]:
        """Every method path served, with its (already intercepted) handler."""
        return self._by_method


async def resolve_handlers(handlers: Sequence[grpc.GenericRpcHandler],
                           interceptors: Sequence[grpc.aio.ServerInterceptor],
                           methods: Iterable[str]) -> ResolvedHandlers:
    """Run `interceptors` (outermost first, as grpc.aio.server takes them) over
    `handlers` once for each method path in `methods`, and return one generic
    handler that serves the results by path; a path not in `methods`, or one
    no handler serves, gets None (grpc answers UNIMPLEMENTED).

    Register the result on a grpc.aio server created WITHOUT these
    interceptors (or give it to InProcessInvoker without them): they have
    already been applied, and applying them again would wrap twice.

    Contract: each interceptor must choose and wrap a handler from the method
    path alone. The chain runs here with empty invocation metadata, and its
    result is reused for every call of the method; anything that depends on
    a call (metadata, peer, deadline) must be read inside the wrapped
    behaviour, from its ServicerContext, at call time. An interceptor that
    rejects or reroutes by metadata in `intercept_service` is not fit for this.
    """
    handlers = tuple(handlers)
    interceptors = tuple(interceptors)
    by_method: dict[str, grpc.RpcMethodHandler] = {}
    for path in dict.fromkeys(methods):
        found = await _intercepted(handlers, interceptors, _HandlerCallDetails(path, ()))
        if found is not None:
            by_method[path] = found
    return ResolvedHandlers(by_method)


def _is_async(behavior: Any) -> bool:
    return inspect.iscoroutinefunction(behavior) or inspect.isawaitable(behavior)


class InProcessInvoker(Invoker):
    """Calls servicers directly through the server's interceptors.

    Pass the same handlers and interceptors given to grpc.aio.server(); the
    first interceptor is the outermost, as in grpc.aio. With interceptors the
    chain runs on every call, as grpc.aio runs it; handlers already resolved
    by `resolve_handlers` (and no interceptors) cost one dict lookup a call.
    """

    def __init__(self, handlers: Sequence[grpc.GenericRpcHandler],
                 interceptors: Sequence[grpc.aio.ServerInterceptor] = ()) -> None:
        self._handlers = tuple(handlers)
        self._interceptors = tuple(interceptors)
        self._paths: dict[MethodDescriptor, str] = {}
        # No interceptors and only resolved handlers: the lookup is by path
        # alone, so merge them (the first one serving a path wins, as in the
        # linear scan) and skip building HandlerCallDetails per call.
        self._by_path: dict[str, grpc.RpcMethodHandler] | None = None
        if not self._interceptors and all(isinstance(h, ResolvedHandlers)
                                          for h in self._handlers):
            merged: dict[str, grpc.RpcMethodHandler] = {}
            for handler in reversed(self._handlers):
                merged.update(handler.methods)
            self._by_path = merged

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
        if self._by_path is not None:
            handler = self._by_path.get(path)
        elif self._interceptors:
            handler = await _intercepted(self._handlers, self._interceptors,
                                         _HandlerCallDetails(path, metadata))
        else:
            handler = _query(self._handlers, _HandlerCallDetails(path, metadata))
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
